"""Results of s3plan's evidence query downloaded from the Athena console as CSV, read back into evidence.

The console writes column labels in lower case, NULL as an empty field, booleans as true/false, arrays as
`[a, b]` and maps as `{k=v, k2=v2}`. (Array elements that themselves contain ", " cannot be told apart in
that rendering: such key prefixes come back split.)"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.model import ScanResult, SkippedFile
from planner.sources.cloudtrail import to_scan_result

COLUMNS = (
    "kind", "bucket", "bucket_account_id", "region", "event_name", "principal", "principal_type", "account_id",
    "user_agent", "signature_version", "auth_method", "acl_required", "acl_header", "records", "requests", "errors",
    "first_seen", "last_seen", "source_ips", "session_names", "key_prefixes", "key_prefix_count",
    "versioned_requests", "sigv2_days",
)
INTEGERS = frozenset({"records", "requests", "errors", "key_prefix_count", "versioned_requests"})
ARRAYS = frozenset({"source_ips", "session_names", "key_prefixes"})


@dataclass(frozen=True)
class AthenaResultCsv:
    """CSV files of the evidence query's results, as the Athena console downloads them."""

    paths: tuple[Path, ...]
    name: str = "athena-csv"

    def scan(self) -> ScanResult:
        rows: list[dict[str, Any]] = []
        for path in self.paths:
            rows.extend(read_result(path))
        return to_scan_result(rows, files_read=len(self.paths), files_pruned=0, skipped=tuple[SkippedFile, ...]())


def read_result(path: Path) -> list[dict[str, Any]]:
    """The rows of one result CSV; a CSV with other columns is an error naming the columns expected."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            body = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: cannot read the CSV ({err})") from err
    if set(header) != set(COLUMNS):
        raise InputError(f"{path}: not a result of s3plan's evidence query; expected the columns "
                         f"{', '.join(COLUMNS)} (got {', '.join(header) or 'none'})")
    return [{name: _value(name, cell) for name, cell in zip(header, row, strict=True)} for row in body if row]


def _value(name: str, cell: str) -> Any:
    if cell == "":
        return None
    if name in INTEGERS:
        return int(cell)
    if name == "acl_required":
        return cell.lower() == "true"
    if name in ARRAYS:
        return _array(cell)
    if name == "sigv2_days":
        return {k: int(v) for k, v in (item.split("=", 1) for item in _array(cell, "{}"))}
    return cell


def _array(cell: str, brackets: str = "[]") -> Sequence[str]:
    inner = cell.strip()
    if inner[:1] == brackets[0] and inner[-1:] == brackets[1]:
        inner = inner[1:-1]
    return [item for item in inner.split(", ") if item != ""] if inner else []

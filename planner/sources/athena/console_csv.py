"""Results of s3plan's evidence query downloaded from the Athena console as CSV, read back into evidence.

The console writes column labels in lower case, NULL as an empty field, booleans as true/false, arrays as
`[a, b]` and maps as `{k=v, k2=v2}`. (Array elements that themselves contain ", " cannot be told apart in
that rendering: such key prefixes come back split.)"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.model import ScanResult, SkippedFile
from planner.sources.base import to_scan_result

REQUIRED_COLUMNS = (
    "kind", "bucket", "bucket_account_id", "region", "event_name", "principal", "principal_type", "account_id",
    "user_agent", "signature_version", "auth_method", "acl_required", "acl_header", "records", "requests", "errors",
    "first_seen", "last_seen", "source_ips", "session_names", "key_prefixes", "key_prefix_count",
    "versioned_requests", "sigv2_days",
)
# Added since (the access-log source; data events, without which no bucket's readiness can be proven): results
# of an older query, without them, still read.
LATER_COLUMNS = ("access_log_records", "cloudtrail_requests", "access_log_requests", "first_error", "last_error",
                 "error_codes", "data_reads", "data_writes", "request_headers", "key_count", "copy_sources",
                 "arn_partition", "prefix_depth", "tls_requests", "vpc_endpoint", "source_ip_count")
COLUMNS = REQUIRED_COLUMNS + LATER_COLUMNS
INTEGERS = frozenset({"records", "requests", "errors", "key_prefix_count", "versioned_requests",
                      "access_log_records", "cloudtrail_requests", "access_log_requests", "data_reads",
                      "data_writes", "key_count", "prefix_depth", "tls_requests", "source_ip_count"})
ARRAYS = frozenset({"source_ips", "session_names", "key_prefixes", "error_codes", "copy_sources"})


@dataclass(frozen=True)
class AthenaResultCsv:
    """CSV files of the evidence query's results, as the Athena console downloads them."""

    paths: tuple[Path, ...]
    prefix_depth: int = 1  # the --prefix-depth the query ran with, for results that do not say it
    name: str = "athena-csv"

    def scan(self) -> ScanResult:
        rows: list[dict[str, Any]] = []
        for path in self.paths:
            rows.extend(read_result(path))
        for row in rows:
            if row.get("prefix_depth") is None:
                row["prefix_depth"] = self.prefix_depth
        return to_scan_result(rows, files_read=len(self.paths), files_pruned=0, skipped=tuple[SkippedFile, ...]())


# The AWS guide's example queries (facts §7b), by their downloaded header: what each can tell.
GUIDE_SIGV2_ROWS = ("eventtime", "s3_action", "request_parameters", "aws_region", "source_ip", "user_agent")
GUIDE_SIGV2_COUNTS = ("arn", "requestcount")
GUIDE_ACL_ROWS = ("eventtime", "eventname", "eventsource", "sourceipaddress", "useragent", "userarn", "bucketname",
                  "object", "aclrequired")
KNOWN = {
    "s3plan's evidence query": COLUMNS, "the guide's SigV2 requests query": GUIDE_SIGV2_ROWS,
    "the guide's SigV2 requests by ARN query": GUIDE_SIGV2_COUNTS,
    "the guide's ACL-dependent requests query": GUIDE_ACL_ROWS,
}


def read_result(path: Path) -> list[dict[str, Any]]:
    """Evidence-query rows from one result CSV (s3plan's query or one of the guide's); other CSVs are an error
    naming the column sets expected."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            body = [dict(zip(header, row, strict=False)) for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: cannot read the CSV ({err})") from err
    columns = set(header)
    if set(REQUIRED_COLUMNS) <= columns <= set(COLUMNS):
        rows = []
        for number, row in enumerate(body, start=2):  # the header is row 1
            try:
                rows.append({name: _value(name, cell) for name, cell in row.items()})
            except ValueError as err:
                raise InputError(f"{path}: row {number}: {err}; re-download the query's results as CSV") from err
        return rows
    if columns == set(GUIDE_SIGV2_ROWS):
        return merge_rows([guide_row(r.get("aws_region"), r.get("s3_action"), None, r.get("user_agent"),
                                     r.get("eventtime"), r.get("source_ip"), sigv2=True,
                                     bucket=_bucket_of(r.get("request_parameters"))) for r in body])
    if columns == set(GUIDE_SIGV2_COUNTS):
        return merge_rows([guide_row(None, "(any S3 operation)", r.get("arn"), None, None, None, sigv2=True,
                                     requests=int(r.get("requestcount") or 0)) for r in body])
    if columns == set(GUIDE_ACL_ROWS):
        return merge_rows([guide_row(None, r.get("eventname"), r.get("userarn"), r.get("useragent"),
                                     r.get("eventtime"), r.get("sourceipaddress"), acl=r.get("aclrequired") == "Yes",
                                     bucket=r.get("bucketname"), key=r.get("object")) for r in body])
    expected = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in KNOWN.items())
    raise InputError(f"{path}: not a result s3plan knows; expected the columns of {expected} "
                     f"(got {', '.join(header) or 'none'})")


def guide_row(region: str | None, event: str | None, arn: str | None, agent: str | None, time: str | None,
              ip: str | None, *, sigv2: bool = False, acl: bool = False, bucket: str | None = None,
              key: str | None = None, requests: int = 1) -> dict[str, Any]:
    """One evidence row from a guide query's row. Those queries keep no account, principal type or request id,
    so each row counts as its own request(s) and callers without an ARN are `unknown`."""
    prefix = None if not key else (key.split("/", 1)[0] + "/" if "/" in key else key)
    user_agent = agent[1:-1] if agent and agent.startswith("[") and agent.endswith("]") else agent
    return {
        "kind": "evidence", "bucket": bucket or None, "bucket_account_id": None, "region": region or None,
        "event_name": event or "unknown", "principal": arn or "unknown",
        "principal_type": "IAM" if arn else "Unknown", "account_id": _account(arn), "user_agent": user_agent,
        "signature_version": "SigV2" if sigv2 else None, "auth_method": None, "acl_required": acl,
        "acl_header": None, "records": requests, "requests": requests, "errors": 0, "first_seen": time or None,
        "last_seen": time or None, "source_ips": [ip] if ip else [], "session_names": [],
        "key_prefixes": [prefix] if prefix else [], "key_prefix_count": 1 if prefix else 0,
        "versioned_requests": 0, "sigv2_days": {time[:10]: requests} if sigv2 and time else {},
    }


KEY_COLUMNS = REQUIRED_COLUMNS[:13]


def merge_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Guide rows that share every key column, as one row: summed counts, first/last seen, united samples."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[c] for c in KEY_COLUMNS)
        into = merged.get(key)
        if into is None:
            merged[key] = dict(row)
            continue
        for name in ("records", "requests"):
            into[name] += row[name]
        times = [t for t in (into["first_seen"], row["first_seen"], into["last_seen"], row["last_seen"]) if t]
        into["first_seen"], into["last_seen"] = (min(times), max(times)) if times else (None, None)
        for name in ("source_ips", "key_prefixes"):
            into[name] = sorted(set(into[name]) | set(row[name]))[:50]
        into["key_prefix_count"] = len(into["key_prefixes"])
        for day, n in row["sigv2_days"].items():
            into["sigv2_days"][day] = into["sigv2_days"].get(day, 0) + n
    return list(merged.values())


def _account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _bucket_of(params: str | None) -> str | None:
    """bucketName from the requestParameters JSON the guide's query returns."""
    try:
        value = json.loads(params or "{}").get("bucketName")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _value(name: str, cell: str) -> Any:
    if cell == "":
        return None
    if name in INTEGERS:
        return count(name, cell)
    if name == "acl_required":
        return cell.lower() == "true"
    if name in ARRAYS:
        return _array(cell)
    if name == "sigv2_days":
        return {k: count(name, v) for k, v in (item.split("=", 1) for item in _array(cell, "{}"))}
    return cell


def count(name: str, cell: str) -> int:
    """A count as the console or a spreadsheet may write it: 12, or 12.0 (a whole number); anything else is
    a ValueError naming the column."""
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{name} {cell!r} is not a count") from None
    if not value.is_integer() or value < 0:
        raise ValueError(f"{name} {cell!r} is not a whole count")
    return int(value)


def _array(cell: str, brackets: str = "[]") -> Sequence[str]:
    inner = cell.strip()
    if inner[:1] == brackets[0] and inner[-1:] == brackets[1]:
        inner = inner[1:-1]
    return [item for item in inner.split(", ") if item != ""] if inner else []

"""Find CloudTrail log files on disk, prune them by path as Athena partition projection would, sniff their layout."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from planner.errors import InputError
from planner.model import SkippedFile
from planner.sources.base import Selection

# AWSLogs/[o-xxxx/]<acct>/CloudTrail/<region>/YYYY/MM/DD/<file> (facts §6)
TREE_RE = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[^/]+$"
)
IGNORED_SEGMENTS = ("CloudTrail-Digest", "CloudTrail-Insight")
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Listing:
    """The files found under one input path, after pruning, and the accounts, regions and days their paths name
    (so a --regions or --accounts value that matches nothing can be said)."""

    selected: tuple[Path, ...]
    pruned: int
    ignored: int
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    days: tuple[date, ...] = ()  # the first and last day in the tree, when it has any


def list_files(root: Path, selection: Selection) -> Listing:
    """Every CloudTrail file under `root` that the selection keeps; digest/insight files are ignored."""
    if not root.exists():
        raise InputError(f"{root}: no such file or folder; give a CloudTrail folder (AWSLogs/...) or log files")
    candidates = [root] if root.is_file() else sorted(_walk(root))
    in_tree = root.is_dir() and any(TREE_RE.search(p.as_posix()) for p in candidates)
    selected: list[Path] = []
    pruned = ignored = 0
    accounts: set[str] = set()
    regions: set[str] = set()
    days: set[date] = set()
    for path in candidates:
        posix = path.as_posix()
        if any(f"/{seg}/" in posix for seg in IGNORED_SEGMENTS):
            ignored += 1
            continue
        match = TREE_RE.search(posix)
        if match is None:
            if in_tree:
                ignored += 1
            else:
                selected.append(path)
            continue
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        accounts.add(match["account"])
        regions.add(match["region"])
        days.add(day)
        if selection.keeps(match["account"], match["region"], day):
            selected.append(path)
        else:
            pruned += 1
    return Listing(tuple(selected), pruned, ignored, frozenset(accounts), frozenset(regions),
                   (min(days), max(days)) if days else ())


def unmatched(selection: Selection, listings: Sequence[Listing]) -> list[str]:
    """What the selection asked for that no path of a CloudTrail tree holds, with what the trees do hold."""
    trees = [lst for lst in listings if lst.regions]
    if not trees:
        return []  # folders of loose files name no account or region
    accounts = frozenset().union(*(lst.accounts for lst in trees))
    regions = frozenset().union(*(lst.regions for lst in trees))
    out = []
    asked_for = (("--accounts", selection.accounts, accounts), ("--regions", selection.regions, regions))
    for option, asked, held in asked_for:
        missing = sorted(asked - held)
        if missing:
            out.append(f"{option} {', '.join(missing)} matched no log file (the logs hold {', '.join(sorted(held))})")
    first = min(d for lst in trees for d in lst.days)
    last = max(d for lst in trees for d in lst.days)
    if (selection.since and selection.since > last) or (selection.until and selection.until < first):
        out.append(f"--since/--until {selection.since or '…'} to {selection.until or '…'} matched no log file "
                   f"(the logs hold {first} to {last})")
    return out


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith((".json", ".json.gz")):
                yield Path(dirpath) / name


def sniff(path: Path) -> str | SkippedFile:
    """The file's layout ("wrapped", "lines", "arrays"), or why it cannot be read as CloudTrail."""
    try:
        head = _head(path)
    except (OSError, EOFError, zlib.error) as err:
        return SkippedFile(str(path), f"cannot read: {err}")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        return SkippedFile(str(path), "empty file")
    if re.match(r'\{\s*"Records"\s*:\s*\[', text):
        return "wrapped"
    looks_like_events = any(k in text for k in ('"eventSource"', '"eventName"', '"eventVersion"'))
    if text[0] == "{" and '"digestS3Object"' in text:
        return SkippedFile(str(path), "a CloudTrail digest file, not a log file")
    if text[0] == "{" and looks_like_events:
        return "lines"
    if text[0] == "[" and looks_like_events:
        return "arrays"
    return SkippedFile(str(path), "not a CloudTrail log file (no Records array and no CloudTrail events)")


def _head(path: Path) -> bytes:
    """The first bytes of the (decompressed) content; the engine picks gzip by the name, so both must agree."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if gzipped != path.name.endswith(".gz"):
            state = "gzip-compressed" if gzipped else "not gzip-compressed"
            raise OSError(f"the file is {state} but named {path.name}; rename it to match")
        if gzipped:
            with gzip.GzipFile(fileobj=raw) as gz:
                return gz.read(SNIFF_BYTES)
        return raw.read(SNIFF_BYTES)

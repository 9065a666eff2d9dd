"""Local S3 server access log files -> candidate records for the evidence query, and counts of the rest.

One pass over each file, line by line (plain or gzip), with memory bounded by the number of buckets: lines that
could be evidence (SigV2, aclRequired, ACL calls, anonymous callers, requests refused for carrying an ACL) are
written as CloudTrail-shaped newline-delimited records that the same query reads; every other line is only
counted per bucket, inside the window."""

from __future__ import annotations

import functools
import gzip
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from isal import igzip

from planner.errors import InputError
from planner.model import SkippedFile
from planner.sources.access_logs.parse import (
    AccessLogLine,
    BadLine,
    event_name,
    is_read,
    line_partition,
    parse_line,
    parse_time,
    shows_signals,
    to_record,
)
from planner.sources.access_logs.reader import EngineCannotRead, LineGroup, group_lines, read_groups

ACL_EVENTS = frozenset({"PutObjectAcl", "PutBucketAcl"})
GZIP_BATCH = 16  # gzip files inflated to disk at a time for the engine
_GLOB = re.compile(r"[*?\[\]{}]")  # characters the engine reads as a pattern in a file's path
# The date-based delivery layout names the source bucket's account (facts §8):
# <prefix>/<account-id>/<region>/<source-bucket>/YYYY/MM/DD/<file>
DATED_PATH = re.compile(r"(?:^|/)(?P<account>\d{12})/[a-z0-9-]+/(?P<bucket>[a-z0-9.-]{3,63})/\d{4}/\d{2}/\d{2}/[^/]+$")


@dataclass(frozen=True)
class Converted:
    """What the access logs gave: candidate files for the query, per-bucket counts of the other lines."""

    candidates: tuple[str, ...]
    groups: tuple[dict[str, Any], ...]
    files_read: int
    skipped: tuple[SkippedFile, ...]


@dataclass(frozen=True)
class AccessLogFiles:
    """Server access log files under local paths (every regular file; `.gz` ones decompressed)."""

    paths: tuple[Path, ...]
    since: date | None = None
    until: date | None = None
    name: str = "access-log"
    threads: int | None = None

    def convert(self, out_dir: Path, engine: bool = True) -> Converted:
        """Write the candidates of every file to `out_dir`, count the rest; bad files are reported, not fatal.
        `engine` False reads every file with parse_line (the reference the engine's reading is tested against)."""
        files = [f for p in self.paths for f in _files(p)]
        if not files:
            raise InputError(f"{', '.join(map(str, self.paths))}: no access log files found; point --access-logs "
                             "at the folder the bucket's server access logs are delivered to")
        target = out_dir / "access-log-candidates.json"
        counter = _Counter(self._bounds())
        skipped: list[SkippedFile] = []
        with target.open("w", encoding="utf-8") as out:
            left = _read_with_engine(files, out, counter, out_dir, self.threads) if engine else {str(f) for f in files}
            for path in (f for f in files if str(f) in left):
                problem = _convert_file(path, out, counter)
                if problem is not None:
                    skipped.append(problem)
        read = len(files) - sum(1 for s in skipped if s.reason.startswith("no access-log line"))
        return Converted((str(target),), tuple(counter.rows()), read, tuple(skipped))

    def _bounds(self) -> tuple[str | None, str | None]:
        since = f"{self.since.isoformat()}T00:00:00Z" if self.since else None
        until = f"{(self.until + timedelta(days=1)).isoformat()}T00:00:00Z" if self.until else None
        return since, until


def _read_with_engine(files: Sequence[Path], out: IO[str], counter: _Counter, work_dir: Path,
                      threads: int | None) -> set[str]:
    """Read the files with the engine (reader.py); returns the files left to parse_line: gzip files that do not
    inflate, files the engine refused (found by halving the list), files with a line that is not an access-log
    line, and empty ones. gzip files are inflated (and checked) into `work_dir` a batch at a time."""
    if _GLOB.search(str(work_dir)):  # the engine would read its own files' paths as patterns
        return {str(f) for f in files}
    left: set[str] = set()
    plain: dict[str, str] = {}  # the path the engine reads -> the file it stands for
    packed: list[Path] = []
    for n, path in enumerate(files):
        kind = _kind(path)
        if kind is None:
            left.add(str(path))  # parse_line says why it cannot be read
        elif kind == "gzip":
            packed.append(path)
        elif not _GLOB.search(str(path)):
            plain[str(path)] = str(path)
        elif (link := _linked(path, work_dir / f"linked-{n}.log")) is not None:
            plain[str(link)] = str(path)  # a path with * ? [ ] { } is read through a plain-named link
        else:
            left.add(str(path))
    try:
        left |= _engine_batch([Path(p) for p in plain], plain, out, counter, work_dir, threads)
    finally:
        for name, source in plain.items():
            if name != source:
                Path(name).unlink(missing_ok=True)
    for start in range(0, len(packed), GZIP_BATCH):
        inflated: dict[str, str] = {}
        for n, path in enumerate(packed[start:start + GZIP_BATCH]):
            copy = work_dir / f"inflated-{n}.log"
            if _inflate(path, copy):
                inflated[str(copy)] = str(path)
            else:
                left.add(str(path))
        try:
            left |= _engine_batch([Path(c) for c in inflated], inflated, out, counter, work_dir, threads)
        finally:
            for name in inflated:
                Path(name).unlink(missing_ok=True)
    return left


def _engine_batch(files: list[Path], original: dict[str, str], out: IO[str], counter: _Counter, work_dir: Path,
                  threads: int | None) -> set[str]:
    """One engine pass over `files` (halved while the engine refuses); `original` maps each to the file it
    stands for. Returns the original files left to parse_line."""
    left: set[str] = set()
    todo = [files] if files else []
    result = work_dir / "access-log-groups.json"
    while todo:
        batch = todo.pop()
        try:
            group_lines(batch, counter.since, counter.until, result, threads)
        except EngineCannotRead:
            if len(batch) == 1:
                left.add(original[str(batch[0])])
            else:
                todo += [batch[:len(batch) // 2], batch[len(batch) // 2:]]
            continue
        seen: set[str] = set()
        odd: set[str] = set()
        try:
            for group in read_groups(result):  # the groups of lines that are not log lines come first
                seen.add(group.path)
                if not group.valid:
                    odd.add(group.path)
                elif group.path not in odd:
                    counter.take_group(group, out, _dated_owner(original[group.path], group.bucket))
        finally:
            result.unlink(missing_ok=True)
        left |= {original[path] for path in odd | ({str(f) for f in batch} - seen)}  # and empty files
    return left


def _kind(path: Path) -> str | None:
    """"gzip" or "plain" by the file's first bytes; None when it cannot be read."""
    try:
        with path.open("rb") as raw:
            return "gzip" if raw.read(2) == b"\x1f\x8b" else "plain"
    except OSError:
        return None


def _linked(path: Path, link: Path) -> Path | None:
    try:
        os.symlink(path.resolve(), link)
    except OSError:
        return None
    return link


def _inflate(path: Path, copy: Path) -> bool:
    """Inflate a gzip file to `copy`, checking it (CRC, length, every member); False when it does not inflate."""
    try:
        with igzip.open(path, "rb") as packed, copy.open("wb") as plain:  # type: ignore[no-untyped-call]
            while chunk := packed.read(1 << 20):
                plain.write(chunk)
    except Exception:  # OSError, EOFError, zlib.error, and isal's IsalError, a plain Exception
        copy.unlink(missing_ok=True)
        return False
    return True


@functools.lru_cache(maxsize=4_096)
def _dated_owner(path: str, bucket: str | None) -> str | None:
    dated = DATED_PATH.search(Path(path).as_posix())
    return dated["account"] if dated and dated["bucket"] == bucket else None


def _files(root: Path) -> list[Path]:
    if not root.exists():
        raise InputError(f"{root}: no such file or folder; give the folder of the server access logs")
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded as UTF-8 (a bad byte becomes U+FFFD rather than stopping the file)."""
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    if gz:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as unpacked:
            yield from unpacked
    else:
        with path.open(encoding="utf-8", errors="replace") as plain:
            yield from plain


def _convert_file(path: Path, out: IO[str], counter: _Counter) -> SkippedFile | None:
    """Convert one file; a file with no valid line is skipped, bad lines among good ones are reported."""
    good = bad = 0
    first_bad = ""
    dated = DATED_PATH.search(path.as_posix())
    try:
        for number, text in enumerate(_lines(path), start=1):
            if not text.strip():
                continue
            line = parse_line(text)
            if isinstance(line, BadLine):
                bad += 1
                first_bad = first_bad or f"line {number}: {line.reason}"
                continue
            good += 1
            owner = dated["account"] if dated and dated["bucket"] == line["bucket_name"] else None
            counter.take(line, out, owner)
    except (OSError, EOFError, ValueError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        return SkippedFile(str(path), f"cannot read ({err}); {good} line(s) read before the error")
    if not good:
        return SkippedFile(str(path), f"no access-log line ({first_bad or 'empty'}); is it a server access log?")
    if bad:
        return SkippedFile(str(path), f"{bad} of {good + bad} lines are not access-log records and were left out "
                                      f"(first at {first_bad}); the other lines were read")
    return None


class _Counter:
    """Writes candidate records; counts the other lines per bucket with their first and last time."""

    def __init__(self, bounds: tuple[str | None, str | None]) -> None:
        self.since, self.until = bounds
        self.buckets: dict[str | None, list[Any]] = {}

    def take(self, line: AccessLogLine, out: IO[str], bucket_account: str | None) -> None:
        if event_name(line) is None:  # not a request of its own (the GET side of a copy, a batch delete's key, ...)
            self._count(None, _time(line))
            return
        if not _may_be_candidate(line):  # most lines: counted without building a record
            self._count(line["bucket_name"], _time(line), bucket_account,
                        is_read(line) if shows_signals(line) else None, line_partition(line))
            return
        record = to_record(line, bucket_account)
        assert record is not None
        if _is_candidate(record):
            out.write(orjson.dumps(record).decode() + os.linesep)  # the query counts it
        else:
            self._count(line["bucket_name"], record["eventTime"], bucket_account,
                        is_read(line) if shows_signals(line) else None, line_partition(line))

    def take_group(self, group: LineGroup, out: IO[str], bucket_account: str | None) -> None:
        """A group the engine read: a candidate line goes through `take` as parse_line would have given it; the
        other lines are counted as `take` counts them, all at once."""
        if group.fields is not None:
            line = AccessLogLine(group.fields)
            for _ in range(group.lines):  # the same line written more than once: each is a line of the log
                self.take(line, out, bucket_account)
            return
        if not group.inside or group.first is None or group.last is None:
            return
        # the fields event_name, shows_signals, is_read and line_partition read, as the group holds them
        signals = {"sigv": None, "aclrequired": None} if group.shows_signals else {}
        requester = f"arn:{group.requester_partition}:" if group.requester_partition else None
        line = AccessLogLine({"operation": group.operation, "endpoint": group.endpoint, "requester": requester,
                              "key": None, "request_uri": None, **signals})
        if event_name(line) is None:
            self._count(None, group.first, lines=group.lines, last=group.last)
            return
        self._count(group.bucket, group.first, bucket_account, is_read(line) if shows_signals(line) else None,
                    line_partition(line), lines=group.lines, last=group.last)

    def _inside(self, when: str | None) -> bool:
        return when is not None and not (self.since and when < self.since) and not (self.until and when >= self.until)

    def _count(self, bucket: str | None, when: str | None, account: str | None = None,
               read: bool | None = None, partition: str | None = None, lines: int = 1,
               last: str | None = None) -> None:
        """Count `lines` lines of `bucket` (None: not a request of its own) seen from `when` to `last` (inside
        the window, both); `read` says which data event they are."""
        if not self._inside(when):
            return
        assert when is not None
        last = last or when
        entry = self.buckets.setdefault(bucket, [0, when, last, account, 0, 0, partition])
        entry[0] += lines
        # the same whatever order the lines come in (the engine's groups come in no set order)
        entry[1], entry[2], entry[3] = min(entry[1], when), max(entry[2], last), _least(entry[3], account)
        entry[6] = _least(entry[6], partition)
        if read is not None:
            entry[4 if read else 5] += lines

    def rows(self) -> list[dict[str, Any]]:
        """The counts as rows shaped like the query's `s3` (per bucket) and `other` rows."""
        return [{"kind": "s3" if bucket else "other", "bucket": bucket, "bucket_account_id": account, "records": n,
                 "access_log_records": n, "requests": 0, "first_seen": first, "last_seen": last, "data_reads": reads,
                 "data_writes": writes, "arn_partition": partition if bucket else None}
                for bucket, (n, first, last, account, reads, writes, partition) in sorted(self.buckets.items(),
                                                                                         key=lambda kv: kv[0] or "")]


def _least(known: str | None, seen: str | None) -> str | None:
    """Of two values (None: not known), the smaller: a bucket named with two owners or partitions gets one."""
    return min(v for v in (known, seen) if v) if known or seen else None


def _time(line: AccessLogLine) -> str | None:
    return parse_time(line["requestdatetime"] or "")


def _may_be_candidate(line: AccessLogLine) -> bool:
    """A quick superset of _is_candidate on the line's own fields."""
    return (line["sigv"] == "SigV2" or line["aclrequired"] == "Yes" or line["requester"] is None
            or line["operation"] == "REST.PUT.ACL" or line["errorcode"] == "AccessControlListNotSupported")


def _is_candidate(record: dict[str, Any]) -> bool:
    """A superset of the query's evidence for these records: SigV2, aclRequired, ACL calls, ACL headers (refused
    ones), anonymous callers."""
    extra, params = record["additionalEventData"], record["requestParameters"]
    return (extra.get("SignatureVersion") == "SigV2" or extra.get("aclRequired") == "Yes"
            or record["eventName"] in ACL_EVENTS or "x-amz-acl" in params
            or record["userIdentity"].get("accountId") == "anonymous")

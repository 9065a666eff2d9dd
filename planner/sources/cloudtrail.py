"""Local CloudTrail source: files on disk -> DuckDB evidence query -> ScanResult."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from planner.errors import InputError
from planner.model import DataEvents, Evidence, ScanResult, SkippedFile, Window, partition_of
from planner.sources import conform, engine, prefilter
from planner.sources.files import Listing, Selection, list_files, sniff, unmatched

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CloudTrailFiles:
    """CloudTrail log files under one or more local paths."""

    paths: tuple[Path, ...]
    selection: Selection = field(default_factory=Selection)
    threads: int | None = None
    progress: Progress | None = None
    use_prefilter: bool = True
    prefix_depth: int = 1
    extra_lines: tuple[str, ...] = ()  # records of another source (server access logs), read by the same query
    extra_rows: tuple[dict[str, Any], ...] = ()  # that source's counted rows (kind s3 / other)
    name: str = "cloudtrail"

    def scan(self) -> ScanResult:
        """List, prune, sniff, then aggregate every readable file in one engine pass."""
        listings = [list_files(p, self.selection) for p in self.paths]
        files = [f for lst in listings for f in lst.selected]
        pruned = sum(lst.pruned for lst in listings)
        if not files and (self.paths or not self.extra_lines):
            raise InputError("; ".join([_nothing_found(self.paths, listings), *unmatched(self.selection, listings)]))
        sets, skipped = _sort_by_layout(files)
        if self.use_prefilter and prefilter.available():
            found = self._scan_prefiltered(sets)
        else:
            self._say(f"scanning {len(_all(sets))} files")
            sets = engine.FileSets(sets.wrapped, sets.lines + self.extra_lines, sets.arrays)
            found = _run_tolerant(self._query(), sets, self._params(), self.threads)
        skipped.extend(found.skipped)
        read = len(files) - len(skipped)
        if read == 0 and files:
            raise InputError(f"{', '.join(map(str, self.paths))}: no readable CloudTrail log file "
                             f"({len(skipped)} skipped, first: {skipped[0].path}: {skipped[0].reason})")
        result = to_scan_result([*found.rows, *self.extra_rows], files_read=read, files_pruned=pruned,
                                skipped=tuple(skipped))
        missing = [prefilter.MISSING] if self.use_prefilter and not prefilter.available() else []
        warnings = (*missing, *unmatched(self.selection, listings), *_odd_records(found.conformed))
        return dataclasses.replace(result, warnings=warnings)

    def _params(self) -> dict[str, Any]:
        """Bound query parameters: the window."""
        return dict(_window_params(self.selection))

    def _query(self) -> exp.Expr:
        params = self._params()
        condition = engine.window_condition(params.get("since"), params.get("until"))
        query = engine.fill_integers(engine.parse_athena("evidence"), {"prefix_depth": self.prefix_depth})
        return engine.with_filter(query, condition)

    def _scan_prefiltered(self, sets: engine.FileSets) -> EngineRead:
        """Pre-filter in worker processes, then run the query on the candidates and on files it gave back."""
        params = self._params()
        pairs = [(p, layout) for layout in ("wrapped", "lines", "arrays") for p in getattr(sets, layout)]
        workers = self.threads or os.cpu_count() or 1
        with tempfile.TemporaryDirectory(prefix="s3plan-scan-") as tmp:
            meter = _Meter(len(pairs), self.progress)
            results = prefilter.filter_files(pairs, params.get("since"), params.get("until"), Path(tmp), workers,
                                             meter.file_done)
            candidates = tuple(sorted(str(p) for p in Path(tmp).glob("candidates-*.json")))
            work = _engine_share(results, candidates + self.extra_lines)
            read = _run_tolerant(self._query(), work, params, self.threads, as_is=frozenset(candidates))
        if any(b.path in candidates for b in read.skipped):
            # an odd record among the candidates: the engine reads (and fits) each file that sent any, whole
            self._say("the engine refused pre-filtered records; reading the files they came from with the engine")
            results = [r if r.fallback or not r.sent else dataclasses.replace(r, fallback=True) for r in results]
            work = _engine_share(results, self.extra_lines)
            read = _run_tolerant(self._query(), work, params, self.threads)
        counted = prefilter.group_rows([r for r in results if not r.fallback])
        return EngineRead(read.rows + counted, read.skipped, read.conformed)

    def _say(self, text: str) -> None:
        if self.progress:
            self.progress(text)


class _Meter:
    """Progress of the pre-filter: files, records, records/s and ETA, reported about twice a second."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress = total, progress
        self.files = self.records = 0
        self.start = self.last = time.monotonic()

    def file_done(self, item: prefilter.Filtered) -> None:
        self.files += 1
        self.records += item.records
        now = time.monotonic()
        if self.progress and (now - self.last >= 0.5 or self.files == self.total):
            self.last = now
            rate = self.records / max(now - self.start, 1e-6)
            eta = (self.total - self.files) * (now - self.start) / self.files
            self.progress(f"{self.files}/{self.total} files, {self.records:,} records, {rate:,.0f} records/s, "
                          f"ETA {eta:.0f} s")


def _engine_share(results: Sequence[prefilter.Filtered], lines: tuple[str, ...]) -> engine.FileSets:
    """What the engine reads after the pre-filter: the files it gave back, by layout, and NDJSON `lines`."""
    back = {layout: tuple(r.path for r in results if r.fallback and r.layout == layout)
            for layout in ("wrapped", "lines", "arrays")}
    return engine.FileSets(back["wrapped"], back["lines"] + lines, back["arrays"])


def _odd_records(fitted: Sequence[conform.Conformed]) -> list[str]:
    """One warning for every record the engine could read only with its odd parts read as empty."""
    odd = [f for f in fitted if f.odd]
    if not odd:
        return []
    total = sum(f.odd for f in odd)
    records = f"1 record in {len(odd)} file did not" if total == 1 else f"{total} records in {len(odd)} file" + (
        "s" if len(odd) > 1 else "") + " did not"
    return [f"{records} have the shape CloudTrail writes; the odd parts were read as empty (first: {odd[0].source}, "
            f"{odd[0].first_problem})"]


def _nothing_found(paths: Sequence[Path], listings: Sequence[Listing]) -> str:
    where = ", ".join(map(str, paths))
    pruned = sum(lst.pruned for lst in listings)
    if pruned:
        return f"{where}: {pruned} CloudTrail files found but none inside --since/--until/--regions/--accounts"
    return (f"{where}: no CloudTrail log files (*.json, *.json.gz) found; "
            "point --cloudtrail at AWSLogs/ or a folder of logs")


def _window_params(sel: Selection) -> dict[str, str]:
    params = {}
    if sel.since:
        params["since"] = f"{sel.since.isoformat()}T00:00:00Z"
    if sel.until:
        params["until"] = f"{(sel.until + timedelta(days=1)).isoformat()}T00:00:00Z"
    return params


def _sort_by_layout(files: Sequence[Path]) -> tuple[engine.FileSets, list[SkippedFile]]:
    groups: dict[str, list[str]] = defaultdict(list)
    skipped: list[SkippedFile] = []
    for path in files:
        if any(c in str(path) for c in "*?[]{}"):  # the engine would take the name for a glob pattern
            skipped.append(SkippedFile(str(path), "the name contains one of * ? [ ] { }; rename the file"))
            continue
        layout = sniff(path)
        if isinstance(layout, SkippedFile):
            skipped.append(layout)
        else:
            groups[layout].append(str(path))
    sets = engine.FileSets(tuple(groups["wrapped"]), tuple(groups["lines"]), tuple(groups["arrays"]))
    return sets, skipped


@dataclass(frozen=True)
class EngineRead:
    """The engine's rows, the files it could not read, and the files it read only once their odd records were
    fitted to the declared shape (conform.py)."""

    rows: list[dict[str, Any]]
    skipped: list[SkippedFile]
    conformed: list[conform.Conformed]


def _run_tolerant(query: exp.Expr, sets: engine.FileSets, params: dict[str, Any], threads: int | None,
                  as_is: frozenset[str] = frozenset()) -> EngineRead:
    """Run the query; a file the engine refuses is re-written with its odd records fitted (but for those `as_is`),
    or set aside with the reason when it is not CloudTrail's JSON at all, and the rest re-run."""
    small = not (sets.wrapped or sets.arrays)  # only records one per line: small read buffers
    with tempfile.TemporaryDirectory(prefix="s3plan-spill-") as spill, \
            tempfile.TemporaryDirectory(prefix="s3plan-conformed-") as fitted:
        con = engine.connect(threads, spill, small)
        try:
            return _run_until_read(query, sets, params, con, fitted, as_is)
        except duckdb.OutOfMemoryException as err:
            raise InputError(f"the engine ran out of memory reading the logs ({str(err).splitlines()[0][:120]}); "
                             "run with fewer --threads, or without --no-prefilter") from None
        finally:
            con.close()  # before its spill folder goes, and before an interrupted run exits


def _run_until_read(query: exp.Expr, sets: engine.FileSets, params: dict[str, Any],
                    con: duckdb.DuckDBPyConnection, fitted_dir: str, as_is: frozenset[str]) -> EngineRead:
    bad: list[SkippedFile] = []
    fitted: dict[str, conform.Conformed] = {}  # by the re-written file's path
    while sets:
        try:
            rows = engine.run_query(con, query, sets, params)
            return EngineRead(rows, bad, sorted(fitted.values(), key=lambda c: c.source))
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as err:
            message = str(err).splitlines()[0]
            culprit = engine.input_error_file(message, _all(sets)) or _find_bad_file(con, query, sets, params)
            if culprit is None:
                raise InputError(f"the engine could not read the logs: {message}") from err
            layout = next(k for k in ("wrapped", "lines", "arrays") if culprit in getattr(sets, k))
            sets = _without(sets, culprit)
            refit = fitted.pop(culprit, None)  # a re-written file refused again: the original is skipped
            fit = refit is None and culprit not in as_is
            result = conform.conform_file(culprit, layout, fitted_dir) if fit else None
            if isinstance(result, conform.Conformed):
                fitted[result.path] = result
                sets = engine.FileSets(sets.wrapped, (*sets.lines, result.path), sets.arrays)
            elif isinstance(result, SkippedFile) and conform.TOO_LARGE in result.reason:
                bad.append(result)
            else:  # the engine's reason names where the file stops being JSON
                bad.append(SkippedFile(refit.source if refit else culprit, _reason(message)))
    return EngineRead([], bad, sorted(fitted.values(), key=lambda c: c.source))


def _find_bad_file(con: duckdb.DuckDBPyConnection, query: exp.Expr, sets: engine.FileSets,
                   params: dict[str, Any]) -> str | None:
    """When the engine's message names no file, try each file alone (slow, but only on failure)."""
    for path in _all(sets):
        one = engine.FileSets(*((path,) if path in getattr(sets, k) else () for k in ("wrapped", "lines", "arrays")))
        try:
            engine.run_query(con, query, one, params)
        except duckdb.Error:
            return path
    return None


def _all(sets: engine.FileSets) -> list[str]:
    return [*sets.wrapped, *sets.lines, *sets.arrays]


def _without(sets: engine.FileSets, path: str) -> engine.FileSets:
    return engine.FileSets(*(tuple(p for p in getattr(sets, k) if p != path) for k in ("wrapped", "lines", "arrays")))


def _reason(message: str) -> str:
    for prefix in ("IO Error: ", "Invalid Input Error: ", "Conversion Error: "):
        message = message.removeprefix(prefix)
    return message.strip()[:300]


def to_scan_result(rows: Sequence[dict[str, Any]], *, files_read: int, files_pruned: int,
                   skipped: tuple[SkippedFile, ...]) -> ScanResult:
    """Fold the query's rows (kinds evidence / s3 / other) into evidence, bucket totals and the window seen."""
    evidence: list[Evidence] = []
    totals = _BucketTotals()
    bucket_accounts: dict[str, str] = {}
    partitions: dict[str, str] = {}
    records = 0
    firsts, lasts = [], []
    for row in rows:
        records += int(row["records"])
        if row["first_seen"]:
            firsts.append(row["first_seen"])
            lasts.append(row["last_seen"])
        if row["bucket"]:
            totals.add(row)
            if row["bucket_account_id"]:
                bucket_accounts.setdefault(row["bucket"], row["bucket_account_id"])
            if row.get("arn_partition"):
                partitions.setdefault(row["bucket"], row["arn_partition"])
        if row["kind"] == "evidence":
            evidence.append(evidence_from_row(row))
    evidence.sort(key=lambda e: tuple("" if v is None else str(v) for v in e.key))
    window = Window(_day(min(firsts)) if firsts else None, _day(max(lasts)) if lasts else None)
    return ScanResult(tuple(evidence), totals.requests(), bucket_accounts, records, window,
                      files_read, files_pruned, skipped, bucket_data=totals.data_events(),
                      bucket_partitions=partitions)


class _BucketTotals:
    """Requests per bucket: its evidence requests (each counted once), plus its other requests as CloudTrail
    counted them where CloudTrail saw the bucket, else as the server access logs did (both record the same
    requests, so adding them would count each twice)."""

    def __init__(self) -> None:
        self.evidence: dict[str, int] = defaultdict(int)
        self.cloudtrail: dict[str, int] = defaultdict(int)
        self.access_log: dict[str, int] = defaultdict(int)
        self.seen_by_cloudtrail: set[str] = set()
        self.data: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.data_known = True

    def add(self, row: dict[str, Any]) -> None:
        bucket = row["bucket"]
        if row.get("data_reads") is None or row.get("data_writes") is None:
            self.data_known = False  # results of the query before it counted data events
        else:
            self.data[bucket][0] += int(row["data_reads"])
            self.data[bucket][1] += int(row["data_writes"])
        if row["kind"] == "evidence":
            self.evidence[bucket] += int(row["requests"])
            if int(row["cloudtrail_requests"] if "cloudtrail_requests" in row else row["requests"]) > 0:
                self.seen_by_cloudtrail.add(bucket)
            return
        logs = int(row.get("access_log_records") or 0)
        self.cloudtrail[bucket] += int(row["records"]) - logs
        self.access_log[bucket] += logs
        if int(row["records"]) > logs:
            self.seen_by_cloudtrail.add(bucket)

    def data_events(self) -> dict[str, DataEvents] | None:
        """Per bucket, the data events the rows counted; None when some row could not say."""
        if not self.data_known:
            return None
        return {b: DataEvents(reads, writes) for b, (reads, writes) in sorted(self.data.items())}

    def requests(self) -> dict[str, int]:
        buckets = set(self.evidence) | set(self.cloudtrail) | set(self.access_log)
        return {b: self.evidence[b] + (self.cloudtrail[b] if b in self.seen_by_cloudtrail else self.access_log[b])
                for b in sorted(buckets)}


def with_files(result: ScanResult, files_read: int, skipped: Sequence[SkippedFile]) -> ScanResult:
    """The result with another source's files read and skipped added (its rows went through the same query)."""
    return dataclasses.replace(result, files_read=result.files_read + files_read,
                               skipped=result.skipped + tuple(skipped))


def evidence_from_row(row: dict[str, Any]) -> Evidence:
    """One evidence row from the query's columns; its source says which logs saw its requests."""
    # results of the query before the access-log source have no per-source counts: all their requests are CloudTrail's
    cloudtrail = int(row["cloudtrail_requests"] if "cloudtrail_requests" in row else row["requests"])
    access_log = int(row.get("access_log_requests") or 0)
    source = "access-log" if access_log and not cloudtrail else "cloudtrail+access-log" if access_log else "cloudtrail"
    return Evidence(
        source=source, bucket=row["bucket"], bucket_account_id=row["bucket_account_id"], region=row["region"],
        event_name=row["event_name"], principal=row["principal"], principal_type=row["principal_type"],
        account_id=row["account_id"], user_agent=row["user_agent"], signature_version=row["signature_version"],
        auth_method=row["auth_method"], acl_required=bool(row["acl_required"]), acl_header=row["acl_header"],
        requests=int(row["requests"]), errors=int(row["errors"]), first_seen=row["first_seen"],
        last_seen=row["last_seen"], source_ips=tuple(row["source_ips"] or ()),
        session_names=tuple(row["session_names"] or ()), key_prefixes=tuple(row["key_prefixes"] or ()),
        key_prefix_count=int(row["key_prefix_count"] or 0), versioned_requests=int(row.get("versioned_requests") or 0),
        sigv2_days=tuple(sorted((str(day), int(n)) for day, n in (row.get("sigv2_days") or {}).items())),
        cloudtrail_requests=cloudtrail, access_log_requests=access_log, first_error=row.get("first_error"),
        last_error=row.get("last_error"), error_codes=tuple(row.get("error_codes") or ()),
        request_headers=tuple(h for h in (row.get("request_headers") or "").split(",") if h),
        key_count=int(row.get("key_count") or 0), copy_sources=tuple(row.get("copy_sources") or ()),
        partition=row.get("arn_partition") or partition_of(row["region"]),
        prefix_depth=int(row.get("prefix_depth") or 1),
    )


def _day(timestamp: str) -> str:
    return timestamp[:10]

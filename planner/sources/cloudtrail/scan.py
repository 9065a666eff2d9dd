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
from planner.model import ScanResult, SkippedFile
from planner.sources import base
from planner.sources.base import NO_SHARED_RECORDS, Selection, SharedRecords, to_scan_result
from planner.sources.cloudtrail import conform, engine, prefilter
from planner.sources.cloudtrail.files import Listing, list_files, sniff, unmatched

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

    def scan(self, shared: SharedRecords = NO_SHARED_RECORDS) -> ScanResult:
        """List, prune, sniff, then aggregate every readable file in one engine pass, with the `shared` records of
        another local source (planner.sources.local) in the same query."""
        listings = [list_files(p, self.selection) for p in self.paths]
        files = [f for lst in listings for f in lst.selected]
        pruned = sum(lst.pruned for lst in listings)
        if not files and (self.paths or not shared.lines):
            raise InputError("; ".join([_nothing_found(self.paths, listings), *unmatched(self.selection, listings)]))
        sets, skipped = _sort_by_layout(files)
        if self.use_prefilter and prefilter.available():
            found = self._scan_prefiltered(sets, shared.lines)
        else:
            self._say(f"scanning {len(_all(sets))} files")
            sets = engine.FileSets(sets.wrapped, sets.lines + shared.lines, sets.arrays)
            found = _run_tolerant(self._query(), sets, self._params(), self.threads)
        skipped.extend(found.skipped)
        read = len(files) - len(skipped)
        if read == 0 and files:
            raise InputError(f"{', '.join(map(str, self.paths))}: no readable CloudTrail log file "
                             f"({len(skipped)} skipped, first: {skipped[0].path}: {skipped[0].reason})")
        result = to_scan_result([*found.rows, *shared.rows], files_read=read, files_pruned=pruned,
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
        query = base.fill_integers(base.parse_athena("evidence"), {"prefix_depth": self.prefix_depth})
        return base.with_filter(query, condition)

    def _scan_prefiltered(self, sets: engine.FileSets, shared_lines: tuple[str, ...]) -> EngineRead:
        """Pre-filter in worker processes, then run the query on the candidates and on files it gave back."""
        params = self._params()
        pairs = [(p, layout) for layout in ("wrapped", "lines", "arrays") for p in getattr(sets, layout)]
        workers = self.threads or os.cpu_count() or 1
        with tempfile.TemporaryDirectory(prefix="s3plan-scan-") as tmp:
            meter = _Meter(len(pairs), self.progress)
            results = prefilter.filter_files(pairs, params.get("since"), params.get("until"), Path(tmp), workers,
                                             meter.file_done)
            candidates = tuple(sorted(str(p) for p in Path(tmp).glob("candidates-*.json")))
            work = _engine_share(results, candidates + shared_lines)
            read = _run_tolerant(self._query(), work, params, self.threads, as_is=frozenset(candidates))
        if any(b.path in candidates for b in read.skipped):
            # an odd record among the candidates: the engine reads (and fits) each file that sent any, whole
            self._say("the engine refused pre-filtered records; reading the files they came from with the engine")
            results = [r if r.fallback or not r.sent else dataclasses.replace(r, fallback=True) for r in results]
            work = _engine_share(results, shared_lines)
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
    # Aggregates that gather lists (key prefixes, IPs, days) do not all spill: past the cap, one thread (half the
    # working memory), then the larger cap, before giving up
    attempts = [(threads, small), (1, small), (1, False)] if small else [(threads, small), (1, small)]
    with tempfile.TemporaryDirectory(prefix="s3plan-spill-") as spill, \
            tempfile.TemporaryDirectory(prefix="s3plan-conformed-") as fitted:
        for attempt, (workers, small_cap) in enumerate(attempts, start=1):
            con = engine.connect(workers, spill, small_cap)
            try:
                return _run_until_read(query, sets, params, con, fitted, as_is)
            except duckdb.OutOfMemoryException as err:
                if attempt == len(attempts):
                    raise InputError(f"the engine ran out of memory reading the logs "
                                     f"({str(err).splitlines()[0][:120]}); run with fewer --threads, or without "
                                     "--no-prefilter") from None
            finally:
                con.close()  # before its spill folder goes, and before an interrupted run exits
    raise AssertionError("unreachable: the last attempt returns or raises")


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

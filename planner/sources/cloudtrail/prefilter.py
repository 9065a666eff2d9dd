"""The fast local scan: worker processes decompress each file and run the C pre-filter over it; only records
that could be evidence reach the engine, which runs the same SQL on them. The rest are counted in C."""

from __future__ import annotations

import os
import signal
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.model import partition_of

_prefilter: types.ModuleType | None
try:  # the C extension is optional: without a compiler the engine reads every file itself
    from planner.sources.cloudtrail import _prefilter
except ImportError:  # pragma: no cover - exercised only where the build failed
    _prefilter = None

_inflate: types.ModuleType
try:
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    _inflate = zlib

RECORD_DEPTH = {"wrapped": 2, "arrays": 1, "lines": 0}
PIECE = 1 << 18  # bytes of an uncompressed file handed to the scanner at a time
COMPRESSED_SLICE = 1 << 15  # compressed bytes given to the inflater at a time: ~250 KB out, which stays in cache


@dataclass(frozen=True)
class Filtered:
    """What the pre-filter made of one file: counted groups, or a fall-back to the engine."""

    path: str
    layout: str
    records: int
    groups: tuple[tuple[bool, str | None, int, str | None, str | None, str | None, int, int, str | None], ...]
    fallback: bool
    sent: bool = False  # some of its records went to the engine as candidates


# measured with `s3plan plan` on bench/bench_scan.py's 2,000,000 records, 2 cores: 10-13 s with it, 34-46 s without
MISSING = ("the C pre-filter is not built (no C compiler when s3plan was installed), so the engine reads every "
           "record and the scan is 3 to 5 times slower; reinstall s3plan where a C compiler is present")


def available() -> bool:
    """True when the C pre-filter was built."""
    return _prefilter is not None


def scan_path() -> str:
    """Which path local scans take, as `s3plan --version` says it."""
    return "C pre-filter + DuckDB" if available() else "DuckDB only (the C pre-filter is not built)"


def filter_file(path: str, layout: str, since: str | None, until: str | None, out_dir: str) -> Filtered:
    """Decompress and pre-filter one file in pieces (memory stays flat, the data stays in cache); candidates are
    appended to this worker's NDJSON file in `out_dir`."""
    assert _prefilter is not None
    scanner = _prefilter.Scanner(RECORD_DEPTH[layout], since, until)
    try:
        for piece in read_pieces(path):
            scanner.feed(piece)
        result = scanner.finish()
    except (OSError, ValueError, EOFError, MemoryError, zlib.error, _inflate.error):
        result = None  # the engine reads the file itself and reports what is wrong with it
    if result is None:
        return Filtered(path, layout, 0, (), True)
    candidates, records, groups = result
    if candidates:
        target = os.path.join(out_dir, f"candidates-{os.getpid()}.json")
        try:
            with open(target, "ab") as fh:
                fh.write(candidates)
        except OSError as err:
            raise InputError(f"{target}: cannot write pre-filtered records ({err.strerror}); free some space in "
                             "the temporary folder (TMPDIR) or run with --no-prefilter") from None
    return Filtered(path, layout, records, tuple(groups), False, bool(candidates))


def read_pieces(path: str) -> Iterator[bytes]:
    """The file's bytes in pieces of about PIECE bytes, decompressed when it is gzip."""
    with open(path, "rb") as fh:
        head = fh.read(PIECE)
        if head[:2] != b"\x1f\x8b":
            while head:
                yield head
                head = fh.read(PIECE)
            return
        yield from inflate_pieces(head + fh.read())


def inflate_pieces(raw: bytes) -> Iterator[bytes]:
    """Decompress every gzip member (a file may hold several, one after another, as gzip itself reads them),
    feeding the inflater compressed slices so each piece it gives back stays small."""
    view, at = memoryview(raw), 0
    while at < len(raw):
        inflater = _inflate.decompressobj(31)
        while not inflater.eof:
            if at >= len(raw):
                raise EOFError("compressed data ended before the end-of-stream marker")
            piece = inflater.decompress(view[at:at + COMPRESSED_SLICE])
            at = min(at + COMPRESSED_SLICE, len(raw))
            if piece:
                yield piece
        at -= len(inflater.unused_data)
        if at < len(raw) and raw[at:at + 2] != b"\x1f\x8b":
            raise ValueError("trailing data after the gzip stream")


def filter_files(files: Sequence[tuple[str, str]], since: str | None, until: str | None, out_dir: Path,
                 workers: int, on_file: Callable[[Filtered], None] | None = None) -> list[Filtered]:
    """Pre-filter every (path, layout) in `workers` processes; results in completion order."""
    done: list[Filtered] = []
    for item in _map(files, since, until, str(out_dir), workers):
        done.append(item)
        if on_file:
            on_file(item)
    return done


def _map(files: Sequence[tuple[str, str]], since: str | None, until: str | None, out_dir: str,
         workers: int) -> Iterator[Filtered]:
    if workers <= 1 or len(files) <= 1:
        for path, layout in files:
            yield filter_file(path, layout, since, until, out_dir)
        return
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_leave_ctrl_c_to_the_parent)
    try:
        futures = [pool.submit(filter_file, path, layout, since, until, out_dir) for path, layout in files]
        for future in futures:
            yield future.result()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _leave_ctrl_c_to_the_parent() -> None:
    """Workers ignore SIGINT (Ctrl-C reaches the whole process group): the parent stops them, at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers now, work under way included: the executor has no public way to (before Python 3.14's
    terminate_workers), so its processes are terminated one by one."""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)


def group_rows(results: Sequence[Filtered]) -> list[dict[str, Any]]:
    """The counted groups as rows shaped like the evidence query's `s3` and `other` rows."""
    rows = []
    for item in results:
        for is_s3, bucket, count, first, last, owner, reads, writes, region in item.groups:
            rows.append({"kind": "s3" if is_s3 else "other", "bucket": bucket, "bucket_account_id": owner,
                         "records": count, "requests": 0, "first_seen": first, "last_seen": last,
                         "data_reads": reads, "data_writes": writes,
                         "arn_partition": partition_of(region) if is_s3 else None})
    return rows

"""Deterministic sample CloudTrail S3 logs (AWS tree layout, digests) plus the ground truth the planner must find.

Everything is drawn from one `random.Random(seed)`; no wall clock. Record shapes follow the shared
s3-migration-facts reference, §2 (user agents), §5 (records) and §6 (file layout)."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from planner.samples.busy import busy_catalog
from planner.samples.people import (
    _ALNUM,
    _ORG_RE,
    DUP_RATE,
    GROUND_TRUTH,
    LAST_SECOND,
    STREAMS,
    TRAIL_BUCKET,
    TRAIL_NAME,
    Rec,
    _rand,
)
from planner.samples.profiles import _catalog, _Profile
from planner.samples.records import _Builder, _Meta, _Truth

SHAPES = ("default", "busy")


@dataclass(frozen=True)
class SampleSummary:
    """What write_sample_logs wrote."""

    root: Path
    files: int            # log files written (not counting digest files)
    digest_files: int
    records: int          # records written, duplicates included
    ground_truth: Path    # path of the ground-truth JSON




@dataclass
class _Slot:
    """One (day, account, region): its log files' sizes and what gets written there."""

    day: date
    account: str
    region: str
    sizes: list[int]
    logs: list[Rec] = field(default_factory=list)  # digest logFiles entries


def _plan(rng: random.Random, records: int, per_file: int, start: date, days: int) -> list[_Slot]:
    """Split the records into files, at least two per used (day, stream) where the total allows it."""
    n_slots = days * len(STREAMS)
    files = min(records, max(math.ceil(records / per_file), min(2 * n_slots, math.ceil(records / 100))))
    used = min(n_slots, max(1, files // 2))
    picks = _pick_slots(rng, used, days)
    file_sizes = _split(records, files)
    per_slot = _split(files, used)
    out, i = [], 0
    for (day_index, stream), count in zip(picks, per_slot, strict=True):
        acct, region = STREAMS[stream]
        out.append(_Slot(start + timedelta(days=day_index), acct, region, file_sizes[i:i + count]))
        i += count
    return out


def _pick_slots(rng: random.Random, used: int, days: int) -> list[tuple[int, int]]:
    """`used` (day, stream) pairs covering every stream as evenly as possible, in (day, stream) order."""
    n = len(STREAMS)
    picks = []
    for stream in range(n):
        count = used // n + (stream < used % n)
        picks += [(d, stream) for d in rng.sample(range(days), count)]
    return sorted(picks)


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def _clock(day: str, secs: int) -> str:
    return f"{day}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"


class _Writer:
    """Writes the tree file by file, feeding the ground truth as it goes."""

    def __init__(self, root: Path, seed: int, start: date, org_id: str | None, shape: str = "default") -> None:
        self.root = root
        self.rng = random.Random(seed)  # noqa: S311, RUF100 (reproducible sample data)
        self.catalog = _catalog(self.rng, start)
        if shape == "busy":
            self.catalog = busy_catalog(self.rng, start, self.catalog)
        self.cum = {s: list(accumulate(p.weight for p in ps)) for s, ps in self.catalog.items()}
        self.builder = _Builder(self.rng, spread_keys=shape == "busy")
        self.truth = _Truth()
        self.prefix = f"AWSLogs/{org_id}/" if org_id else "AWSLogs/"
        self.seen_streams: set[tuple[str, str]] = set()
        self.prev_digest: dict[tuple[str, str], str] = {}
        self.files = 0
        self.digests = 0

    def slot(self, slot: _Slot) -> None:
        """Write every log file of one slot, then its digest."""
        stream = (slot.account, slot.region)
        k = len(slot.sizes)
        windows = _split(LAST_SECOND, k)
        carry: list[tuple[Rec, _Meta]] = []
        w0 = 0
        for j, size in enumerate(slot.sizes):
            w1 = w0 + windows[j]
            fresh = size - len(carry) if k > 1 else size - round(size * DUP_RATE)
            new = self._fresh(stream, slot.day.isoformat(), w0, w1, max(0, fresh))
            batch = carry + new
            if k == 1:
                batch += self.rng.sample(new, min(len(new), size - len(batch)))
            carry = self._carry(new, size, k) if j < k - 1 else []
            self._log_file(slot, batch[:size])
            w0 = w1
        self._digest(slot)

    def _carry(self, new: list[tuple[Rec, _Meta]], size: int, k: int) -> list[tuple[Rec, _Meta]]:
        """Records of this file that CloudTrail will deliver again in the next one (k-1 of k files carry)."""
        want = max(1, round(size * DUP_RATE * k / (k - 1)))
        return self.rng.sample(new, min(len(new), want))

    def _fresh(self, stream: tuple[str, str], day: str, w0: int, w1: int, n: int) -> list[tuple[Rec, _Meta]]:
        profiles = self.catalog[stream]
        chosen: list[_Profile] = []
        if stream not in self.seen_streams:  # first file of a stream: every profile at least once
            self.seen_streams.add(stream)
            chosen = profiles[:n]
        chosen += self.rng.choices(profiles, cum_weights=self.cum[stream], k=n - len(chosen))
        rng, record = self.rng, self.builder.record
        rnd, span = rng.random, w1 - w0
        return [record(p, _clock(day, w0 + int(rnd() * span))) for p in chosen]

    def _log_file(self, slot: _Slot, batch: list[tuple[Rec, _Meta]]) -> None:
        for rec, meta in batch:
            self.truth.add(rec, meta)
        times = [rec["eventTime"] for rec, _ in batch]
        oldest, newest = min(times), max(times)
        self.truth.first, self.truth.last = min(self.truth.first, oldest), max(self.truth.last, newest)
        secs = int(newest[11:13]) * 3600 + int(newest[14:16]) * 60 + self.rng.randrange(60, 540)
        stamp = f"{slot.day:%Y%m%d}T{secs // 3600:02d}{secs // 60 % 60:02d}Z"
        name = f"{slot.account}_CloudTrail_{slot.region}_{stamp}_{_rand(self.rng, _ALNUM, 16)}.json.gz"
        key = f"{self._dir(slot, 'CloudTrail')}/{name}"
        body = json.dumps({"Records": [rec for rec, _ in batch]}, separators=(",", ":")).encode()
        data = gzip.compress(body, compresslevel=1, mtime=0)
        self._put(key, data)
        self.files += 1
        slot.logs.append({"s3Bucket": TRAIL_BUCKET, "s3Object": key, "hashValue": hashlib.sha256(data).hexdigest(),
                          "hashAlgorithm": "SHA-256", "newestEventTime": newest, "oldestEventTime": oldest})

    def _digest(self, slot: _Slot) -> None:
        day = slot.day.isoformat()
        name = (f"{slot.account}_CloudTrail-Digest_{slot.region}_{TRAIL_NAME}_{slot.region}_"
                f"{slot.day:%Y%m%d}T235959Z.json.gz")
        key = f"{self._dir(slot, 'CloudTrail-Digest')}/{name}"
        stream = (slot.account, slot.region)
        prev = self.prev_digest.get(stream)
        doc = {"awsAccountId": slot.account, "digestStartTime": f"{day}T00:00:00Z",
               "digestEndTime": f"{day}T23:59:59Z", "digestS3Bucket": TRAIL_BUCKET, "digestS3Object": key,
               "digestPublicKeyFingerprint": _rand(self.rng, "0123456789abcdef", 32),
               "digestSignatureAlgorithm": "SHA256withRSA",
               "newestEventTime": max(f["newestEventTime"] for f in slot.logs),
               "oldestEventTime": min(f["oldestEventTime"] for f in slot.logs),
               "previousDigestS3Bucket": TRAIL_BUCKET if prev else None, "previousDigestS3Object": prev,
               "previousDigestHashValue": _rand(self.rng, "0123456789abcdef", 64) if prev else None,
               "previousDigestHashAlgorithm": "SHA-256" if prev else None,
               "previousDigestSignature": _rand(self.rng, "0123456789abcdef", 64) if prev else None,
               "logFiles": slot.logs}
        self._put(key, gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=1, mtime=0))
        self.prev_digest[stream] = key
        self.digests += 1

    def _dir(self, slot: _Slot, kind: str) -> str:
        return f"{self.prefix}{slot.account}/{kind}/{slot.region}/{slot.day:%Y/%m/%d}"

    def _put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_sample_logs(root: Path, *, records: int = 20_000, seed: int = 7,
                      start: date = date(2026, 11, 1), days: int = 7,
                      records_per_file: int = 5_000, org_id: str | None = None,
                      shape: str = "default", on_progress: Callable[[int, int, int], None] | None = None
                      ) -> SampleSummary:
    """Write a deterministic CloudTrail tree of S3 (and other) events under `root`, plus ground-truth.json.

    `records_per_file` is an upper bound: small samples are spread over more, smaller files so that
    every (account, region) stream and several days appear. `shape` "busy" gives the variety of a large
    organisation (samples/busy.py): ~3% candidate records over hundreds of principals and thousands of agents.
    `on_progress(files, records, planned)` is called after each (account, Region, day) slot is written.
    """
    if records < 1 or days < 1 or records_per_file < 1:
        raise ValueError("records, days and records_per_file must be at least 1")
    if shape not in SHAPES:
        raise ValueError(f"shape {shape!r} is not one of {', '.join(SHAPES)}")
    if org_id is not None and not _ORG_RE.fullmatch(org_id):
        raise ValueError(f"org_id {org_id!r} is not an organization id (o-xxxxxxxxxx)")
    root = Path(root)
    writer = _Writer(root, seed, start, org_id, shape)
    slots = _plan(writer.rng, records, records_per_file, start, days)
    planned = sum(sum(slot.sizes) for slot in slots)
    for slot in slots:
        writer.slot(slot)
        if on_progress is not None:
            on_progress(writer.files, writer.truth.records, planned)
    truth = writer.truth.to_json(seed, writer.files, writer.digests)
    gt_path = root / GROUND_TRUTH
    _atomic_write(gt_path, (json.dumps(truth, indent=1) + "\n").encode())
    return SampleSummary(root, writer.files, writer.digests, writer.truth.records, gt_path)


__all__ = ["SampleSummary", "write_sample_logs"]

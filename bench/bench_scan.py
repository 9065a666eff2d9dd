"""Benchmark of the local scan: records/s and peak memory of `s3plan plan` against baselines, in one run.

Generates a synthetic CloudTrail tree once (cached under bench/out/), then runs, alternating, each in its own
process: a plain Python loop (gzip + json + Counter), plain DuckDB `read_json` with narrow columns, and
`s3plan plan`. Prints records/s, peak memory (RSS of the process and its threads) and ratios, and FAIL next to
a target missed. A benchmark, not a test: it never fails the build.

    make bench                      # 2,000,000 records
    .venv/bin/python bench/bench_scan.py --records 200000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_MEMORY_MB = 1024

PLAIN_PYTHON = r"""
import gzip, json, sys
from collections import Counter
from pathlib import Path
counts, n = Counter(), 0
for path in sorted(Path(sys.argv[1]).rglob("*_CloudTrail_*.json.gz")):
    for rec in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
        n += 1
        extra = rec.get("additionalEventData") or {}
        if rec.get("eventSource") == "s3.amazonaws.com" and (
                extra.get("SignatureVersion") == "SigV2" or extra.get("aclRequired") == "Yes"):
            counts[((rec.get("requestParameters") or {}).get("bucketName"), rec["eventName"])] += 1
print(n)
"""

PLAIN_DUCKDB = r"""
import sys
from pathlib import Path
import duckdb
files = [str(p) for p in sorted(Path(sys.argv[1]).rglob("*_CloudTrail_*.json.gz"))]
record = ("STRUCT(eventSource VARCHAR, eventName VARCHAR, userIdentity STRUCT(arn VARCHAR, accountId VARCHAR), "
          "requestParameters STRUCT(bucketName VARCHAR), "
          "additionalEventData STRUCT(SignatureVersion VARCHAR, aclRequired VARCHAR))")
con = duckdb.connect()
rows = con.execute(
    "SELECT count(*) FROM (SELECT unnest(Records) AS r FROM read_json($f, columns = {'Records': '" + record + "[]'}, "
    "records = true, format = 'unstructured', maximum_object_size = 67108864)) "
    "WHERE r.eventSource = 's3.amazonaws.com' AND (r.additionalEventData.SignatureVersion = 'SigV2' "
    "OR r.additionalEventData.aclRequired = 'Yes')", {"f": files}).fetchall()
print(rows)
"""


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc), in MB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds, and peak memory in MB summed over the process and its workers (sampled every 20 ms)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:3])} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return elapsed, peak


def ensure_tree(records: int, seed: int) -> Path:
    root = HERE / "out" / f"tree-{records}-{seed}"
    if not (root / "ground-truth.json").exists():
        print(f"generating {records:,} records in {root} ...", flush=True)
        subprocess.run([sys.executable, "-m", "planner.cli", "sample-logs", str(root), "--records", str(records),
                        "--seed", str(seed)], check=True, cwd=HERE.parent)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-python", action="store_true", help="leave out the slow plain-Python baseline")
    args = parser.parse_args()
    root = ensure_tree(args.records, args.seed)
    out = HERE / "out" / "plan"
    contenders = {
        "plain Python loop": [sys.executable, "-c", PLAIN_PYTHON, str(root)],
        "plain DuckDB read_json": [sys.executable, "-c", PLAIN_DUCKDB, str(root)],
        "s3plan plan": [sys.executable, "-m", "planner.cli", "plan", "--cloudtrail", str(root), "--out", str(out)],
    }
    if args.skip_python:
        del contenders["plain Python loop"]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, cmd in contenders.items():
            results[name].append(measure(cmd))
    report(results, args.records)


def report(results: dict[str, list[tuple[float, float]]], records: int) -> None:
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{records:,} records")
    best = {name: (min(t for t, _ in runs), max(m for _, m in runs)) for name, runs in results.items()}
    ours_rate = records / best["s3plan plan"][0]
    print(f"{'':24} {'records/s':>12} {'peak MB':>9} {'s3plan is':>10}")
    for name, (seconds, peak) in best.items():
        rate = records / seconds
        ratio = "" if name == "s3plan plan" else f"{ours_rate / rate:9.2f}x"
        print(f"{name:24} {rate:12,.0f} {peak:9.0f} {ratio:>10}")
    duck_rate = records / best["plain DuckDB read_json"][0]
    ok_speed = ours_rate >= duck_rate
    ok_memory = best["s3plan plan"][1] < TARGET_MEMORY_MB
    print(f"target: s3plan >= plain DuckDB read_json: {ours_rate:,.0f} vs {duck_rate:,.0f} records/s"
          f" {'ok' if ok_speed else 'FAIL'}")
    peak = best["s3plan plan"][1]
    print(f"target: peak memory < {TARGET_MEMORY_MB} MB: {peak:.0f} MB {'ok' if ok_memory else 'FAIL'}")


if __name__ == "__main__":
    main()

"""Benchmark of the local scan: records/s and peak memory of `s3plan plan` against baselines, in one run.

Generates a synthetic CloudTrail tree once (cached under bench/out/; `--shape busy` for one whose evidence is as
rich as a large organisation's: ~9,000 evidence rows and ~360 tasks per million records), then runs, alternating,
each in its own process: a plain Python loop (gzip + json + Counter), plain DuckDB `read_json` with narrow columns, and
`s3plan plan`, three rounds by default. Prints the best records/s, the peak memory (RSS of the process and all
its workers, summed) and the ratios, with `ok` or `FAIL` against each target (600k records/s, < 512 MB, >= 2x
plain DuckDB, >= 10x plain Python); then a pruned run (one day, one region) with the files read and never
opened. A benchmark, not a test: it never fails the build.

    make bench                      # 2,000,000 records, 1,000,000 of the busy shape, the tail, the access logs
    .venv/bin/python bench/bench_scan.py --shape busy --records 1000000
    .venv/bin/python bench/bench_scan.py --records 20000000 --runs 1 --only-s3plan   # memory at 20M records
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_RATE = 600_000  # records/s end to end
TARGET_MEMORY_MB = 512  # peak, summed over the process and its workers
TARGET_VS_DUCKDB = 2.0
TARGET_VS_PYTHON = 10.0

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


def ensure_tree(records: int, seed: int, shape: str = "default") -> Path:
    root = HERE / "out" / (f"tree-{records}-{seed}" if shape == "default" else f"tree-{shape}-{records}-{seed}")
    if not (root / "ground-truth.json").exists():
        print(f"generating {records:,} records ({shape} shape) in {root} ...", flush=True)
        subprocess.run([sys.executable, "-m", "planner.cli", "sample-logs", str(root), "--records", str(records),
                        "--seed", str(seed), "--shape", shape], check=True, cwd=HERE.parent)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="rounds; each round runs every contender once, in turn")
    parser.add_argument("--only-s3plan", action="store_true", help="leave out the baselines (e.g. for 20M records)")
    parser.add_argument("--shape", choices=("default", "busy"), default="default",
                        help="busy: sample-logs --shape busy, evidence as rich as a large organisation's")
    parser.add_argument("--no-pruning", action="store_true", help="leave out the pruned run")
    args = parser.parse_args()
    root = ensure_tree(args.records, args.seed, args.shape)
    out = HERE / "out" / "plan"
    contenders = {
        "plain Python loop": [sys.executable, "-c", PLAIN_PYTHON, str(root)],
        "plain DuckDB read_json": [sys.executable, "-c", PLAIN_DUCKDB, str(root)],
        "s3plan plan": [sys.executable, "-m", "planner.cli", "plan", "--cloudtrail", str(root), "--out", str(out)],
    }
    if args.only_s3plan:
        contenders = {"s3plan plan": contenders["s3plan plan"]}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, cmd in contenders.items():
            results[name].append(measure(cmd))
    report(results, args.records, args.shape, out)
    if not args.no_pruning:
        pruning(root, out)


def pruning(root: Path, out: Path) -> None:
    """One day of one region out of the tree: how many files were read and how many never opened."""
    truth = json.loads((root / "ground-truth.json").read_text())
    day = truth["first_event_time"][:10]
    cmd = [sys.executable, "-m", "planner.cli", "plan", "--cloudtrail", str(root), "--out", str(out),
           "--since", day, "--until", day, "--regions", "us-east-1"]
    seconds, peak = measure(cmd)
    run = json.loads((out / "plan.json").read_text())["run"]
    print(f"pruning: --since/--until {day} --regions us-east-1: {run['files_read']} files read, "
          f"{run['files_pruned']} never opened, {run['records']:,} records in {seconds:.1f} s, peak {peak:.0f} MB")


def report(results: dict[str, list[tuple[float, float]]], records: int, shape: str, out: Path) -> None:
    run = json.loads((out / "plan.json").read_text())
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{records:,} records ({shape} shape: {len(run['evidence']):,} evidence rows, {len(run['tasks']):,} tasks, "
          f"{len(run['statements']):,} statements); best of {len(next(iter(results.values())))} run(s)")
    best = {name: (min(t for t, _ in runs), max(m for _, m in runs)) for name, runs in results.items()}
    ours_rate = records / best["s3plan plan"][0]
    print(f"{'':24} {'records/s':>12} {'peak MB':>9} {'s3plan is':>10}")
    for name, (seconds, peak) in best.items():
        rate = records / seconds
        ratio = "" if name == "s3plan plan" else f"{ours_rate / rate:9.2f}x"
        print(f"{name:24} {rate:12,.0f} {peak:9.0f} {ratio:>10}")
    peak = best["s3plan plan"][1]
    target("s3plan end to end", f"{ours_rate:,.0f} records/s", ours_rate >= TARGET_RATE, f">= {TARGET_RATE:,}")
    target("peak memory", f"{peak:.0f} MB", peak < TARGET_MEMORY_MB, f"< {TARGET_MEMORY_MB} MB")
    for name, goal in (("plain DuckDB read_json", TARGET_VS_DUCKDB), ("plain Python loop", TARGET_VS_PYTHON)):
        if name in best:
            ratio = ours_rate / (records / best[name][0])
            target(f"vs {name}", f"{ratio:.2f}x", ratio >= goal, f">= {goal:g}x")


def target(name: str, measured: str, ok: bool, goal: str) -> None:
    print(f"target: {name} {goal}: {measured} {'ok' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()

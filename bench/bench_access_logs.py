"""Benchmark of server access logs end to end: lines/s of `s3plan plan --access-logs` against the target and a
plain Python loop (read, split, count per bucket), measured alternately in one run, each in its own process.

The logs are generated once (cached under bench/out/): 1,000,000 lines in 100 files by default, shaped like a busy
bucket fleet: 20 buckets, 300 requesters running one or two of 1,000 user agents each, about 3% candidate lines
(SigV2, aclRequired, anonymous, ACL calls). A benchmark, not a test: it never fails the build.

    make bench
    .venv/bin/python bench/bench_access_logs.py --lines 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import measure, target

from planner.sources.access_logs.parse import format_line

HERE = Path(__file__).resolve().parent
TARGET_RATE = 500_000  # lines/s end to end, on 2 cores
LINES_PER_FILE = 10_000
OPERATIONS = (("REST.GET.OBJECT", 50), ("REST.PUT.OBJECT", 20), ("REST.HEAD.OBJECT", 15), ("REST.GET.BUCKET", 8),
              ("REST.DELETE.OBJECT", 4), ("REST.COPY.OBJECT_GET", 1), ("BATCH.DELETE.OBJECT", 1),
              ("REST.PUT.ACL", 0.2), ("REST.GET.ACL", 0.8))

PLAIN_PYTHON = r"""
import sys
from collections import Counter
from pathlib import Path
counts, n = Counter(), 0
for path in sorted(Path(sys.argv[1]).glob("*.log")):
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            words = line.split(" ")
            n += 1
            counts[(words[1], "SigV2" in words)] += 1
print(n)
"""


def write_logs(root: Path, lines: int, seed: int) -> None:
    """`lines` access-log lines in files of LINES_PER_FILE, from one random.Random(seed)."""
    rnd = random.Random(seed)
    buckets = [f"fleet-bucket-{n:02d}" for n in range(20)]
    owner = {b: f"{rnd.getrandbits(256):064x}" for b in buckets}
    accounts = [f"{rnd.randrange(10**11, 10**12):012d}" for _ in range(40)]
    requesters = [f"arn:aws:sts::{rnd.choice(accounts)}:assumed-role/app-{n}/session-{n}" for n in range(250)]
    requesters += [f"arn:aws:iam::{rnd.choice(accounts)}:user/svc-{n}" for n in range(50)]
    agents = [f"aws-sdk-java/1.12.{n} Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.{n % 20}" for n in range(500)]
    agents += [f"Boto3/1.{n % 40}.{n} md/Botocore#1.{n % 40}.{n} ua/2.0 os/linux#5.10 lang/python#3.11.{n % 9}"
               for n in range(500)]
    clients = {who: rnd.sample(agents, 2) for who in requesters}  # an application runs one or two clients
    names, weights = zip(*OPERATIONS, strict=True)
    start = datetime(2026, 11, 1)
    root.mkdir(parents=True, exist_ok=True)
    for file_number in range(0, lines, LINES_PER_FILE):
        out = []
        for _ in range(min(LINES_PER_FILE, lines - file_number)):
            bucket = rnd.choice(buckets)
            operation = rnd.choices(names, weights)[0]
            key = f"data/{rnd.randrange(2000):04d}/{rnd.getrandbits(40):010x}.parquet"
            roll = rnd.random()
            requester = rnd.choice(requesters)
            moment = start + timedelta(seconds=rnd.randrange(7 * 86_400))
            out.append(format_line({
                "bucketowner": owner[bucket], "bucket_name": bucket,
                "requestdatetime": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "remoteip": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
                "requester": None if roll < 0.005 else requester,
                "requestid": f"{rnd.getrandbits(64):016X}", "operation": operation,
                "key": None if operation == "REST.GET.BUCKET" else key,
                "request_uri": f"{operation.split('.')[1]} /{bucket}/{key} HTTP/1.1", "httpstatus": "200",
                "errorcode": None, "bytessent": str(rnd.randrange(100, 10**7)), "objectsize": "1024",
                "totaltime": str(rnd.randrange(1, 300)), "turnaroundtime": str(rnd.randrange(1, 50)),
                "referrer": None, "useragent": rnd.choice(clients[requester]), "versionid": None,
                "hostid": f"{rnd.getrandbits(200):050x}", "sigv": "SigV2" if 0.005 <= roll < 0.02 else "SigV4",
                "ciphersuite": "ECDHE-RSA-AES128-GCM-SHA256", "authtype": "AuthHeader",
                "endpoint": f"{bucket}.s3.us-east-1.amazonaws.com", "tlsversion": "TLSv1.2", "accesspointarn": None,
                "aclrequired": "Yes" if 0.02 <= roll < 0.03 else None, "sourceregion": "us-east-1"}))
        (root / f"access-{file_number // LINES_PER_FILE:05d}.log").write_text("\n".join(out) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = HERE / "out" / f"access-logs-v2-{args.lines}-{args.seed}"
    if not (root / "done").exists():
        print(f"generating {args.lines:,} access-log lines in {root} ...", flush=True)
        write_logs(root, args.lines, args.seed)
        (root / "done").write_text("")
    out = HERE / "out" / "plan-access-logs"
    contenders = {
        "plain Python loop": [sys.executable, "-c", PLAIN_PYTHON, str(root)],
        "s3plan plan": [sys.executable, "-m", "planner.cli", "plan", "--access-logs", str(root), "--out", str(out)],
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, cmd in contenders.items():
            results[name].append(measure(cmd))
    best = {name: (min(t for t, _ in runs), max(m for _, m in runs)) for name, runs in results.items()}
    print(f"\naccess logs: {args.lines:,} lines in {args.lines // LINES_PER_FILE} files; best of {args.runs} run(s)")
    print(f"{'':24} {'lines/s':>12} {'peak MB':>9}")
    for name, (seconds, peak) in best.items():
        print(f"{name:24} {args.lines / seconds:12,.0f} {peak:9.0f}")
    ours = args.lines / best["s3plan plan"][0]
    target("access logs end to end", f"{ours:,.0f} lines/s", ours >= TARGET_RATE, f">= {TARGET_RATE:,}")
    ratio = ours / (args.lines / best["plain Python loop"][0])
    print(f"s3plan is {ratio:.2f}x the plain Python loop (which only splits and counts)")


if __name__ == "__main__":
    main()

"""Benchmark of the workbook writer: a plan with 100,000 evidence rows (varied principals, user agents, buckets,
SigV2 and ACL rows) written as migration-plan.xlsx. Prints seconds and rows/s, and FAIL past the 10 s target.

    make bench                      # runs this after the scan benchmark
    .venv/bin/python bench/bench_workbook.py --rows 100000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from planner.config import make_config
from planner.model import Evidence, ScanResult, Window
from planner.outputs.workbook import write_workbook
from planner.pipeline import make_plan

TARGET_SECONDS = 10.0
AGENTS = ("aws-sdk-java/1.11.{n} Linux/4.14 OpenJDK_64-Bit_Server_VM/25.292-b10 java/1.8.0_292",
          "Boto/2.49.0 Python/2.7.{n} Linux/4.14", "aws-cli/1.16.{n} Python/3.6.8 Linux/4.14 botocore/1.12.{n}",
          "S3Console/0.4, aws-internal/3 aws-sdk-java/1.11.{n}", "curl/7.{n}.0", "=HYPERLINK(\"x{n}\")")


def evidence_rows(count: int, seed: int = 1) -> tuple[Evidence, ...]:
    """`count` evidence rows with distinct keys (as a source gives them), shaped like a busy organisation's."""
    rnd = random.Random(seed)
    accounts = [f"{rnd.randrange(10**11, 10**12):012d}" for _ in range(300)]
    rows: dict[tuple[object, ...], Evidence] = {}
    n = 0
    while len(rows) < count:
        account = accounts[n % len(accounts)]
        sigv2 = rnd.random() < 0.6
        row = Evidence(
            source="cloudtrail", bucket=f"bucket-{n % 40}", bucket_account_id="111122223333", region="us-east-1",
            event_name=rnd.choice(("GetObject", "PutObject", "ListObjects", "PutObjectAcl")),
            principal=f"arn:aws:iam::{account}:role/app-{(n // 300) % 10}", principal_type="AssumedRole",
            account_id=account, user_agent=rnd.choice(AGENTS).format(n=n % 300),
            signature_version="SigV2" if sigv2 else "SigV4", auth_method="AuthHeader",
            acl_required=not sigv2 and rnd.random() < 0.5, acl_header=None, requests=rnd.randrange(1, 10_000),
            errors=0, first_seen="2026-11-01T00:00:00Z", last_seen="2026-11-07T23:59:59Z",
            source_ips=(f"10.0.{n % 250}.{n % 7}",), key_prefixes=(f"data{n % 9}/",), key_prefix_count=1,
            sigv2_days=(("2026-11-01", 3),) if sigv2 else ())
        rows.setdefault(row.key, row)
        n += 1
    return tuple(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    evidence = evidence_rows(args.rows)
    result = ScanResult(evidence, {f"bucket-{n}": 1_000_000 for n in range(40)},
                        {f"bucket-{n}": "111122223333" for n in range(40)}, 10_000_000,
                        Window("2026-11-01T00:00:00Z", "2026-11-07T23:59:59Z"), 1, 0)
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(cloudtrail=[tmp], out=tmp)
        start = time.perf_counter()
        plan = make_plan(config, result)
        planned = time.perf_counter() - start
        path = Path(tmp) / "migration-plan.xlsx"
        start = time.perf_counter()
        write_workbook(plan, path)
        seconds = time.perf_counter() - start
        size = path.stat().st_size
    print(f"workbook: {args.rows:,} evidence rows, {len(plan.tasks):,} tasks: planned in {planned:.1f} s, "
          f"written in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s, {size / 1e6:.1f} MB)")
    print(f"target: {args.rows:,} evidence rows written in < {TARGET_SECONDS:.0f} s: {seconds:.1f} s "
          f"{'ok' if seconds < TARGET_SECONDS else 'FAIL'}")


if __name__ == "__main__":
    main()

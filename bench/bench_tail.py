"""Benchmark of the tail after the scan: a plan with 100,000 evidence rows (varied principals, user agents,
buckets, SigV2 and ACL rows; 26,278 tasks) planned and written (plan.json, graph, workbook, drafts) as
`s3plan plan` writes them, with the time split per stage; then the same at half the rows, to show whether
anything in the tail grows faster than the evidence (a doubling should cost at most 2.2x). A benchmark, not a
test: it never fails the build.

    make bench
    .venv/bin/python bench/bench_tail.py --rows 100000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from planner.config import make_config
from planner.model import Evidence, Plan, ScanResult, Window
from planner.outputs.graph_file import write_graphml
from planner.outputs.plan_json import write_plan_json
from planner.outputs.policy_files import write_policy_files
from planner.outputs.workbook import write_workbook
from planner.pipeline import make_plan, write_outputs

TARGET_SECONDS = 5.0  # 100,000 evidence rows planned and written
TARGET_DOUBLING = 2.2  # time for 2x the rows
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


def scan_result(rows: int) -> ScanResult:
    return ScanResult(evidence_rows(rows), {f"bucket-{n}": 1_000_000 for n in range(40)},
                      {f"bucket-{n}": "111122223333" for n in range(40)}, 10_000_000,
                      Window("2026-11-01T00:00:00Z", "2026-11-07T23:59:59Z"), 1, 0)


def tail(rows: int) -> tuple[Plan, float, float]:
    """Plan and write as `s3plan plan` does (the workbook beside the other outputs); seconds of each."""
    result = scan_result(rows)
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(cloudtrail=[tmp], out=tmp)
        start = time.perf_counter()
        plan = make_plan(config, result)
        planned = time.perf_counter() - start
        start = time.perf_counter()
        write_outputs(plan, Path(tmp) / "out")
        written = time.perf_counter() - start
    return plan, planned, written


def stages(plan: Plan) -> dict[str, float]:
    """Each output written on its own, in turn: where the writing time goes."""
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name, write in (("plan.json", lambda: write_plan_json(plan, out / "plan.json")),
                            ("graph", lambda: write_graphml(plan, out / "plan.graphml")),
                            ("workbook", lambda: write_workbook(plan, out / "migration-plan.xlsx")),
                            ("drafts", lambda: write_policy_files(plan, out / "policies"))):
            start = time.perf_counter()
            write()
            seconds[name] = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    plan, planned, written = tail(args.rows)
    total = planned + written
    split = stages(plan)
    print(f"tail: {args.rows:,} evidence rows, {len(plan.tasks):,} tasks, {len(plan.statements):,} statements: "
          f"planned in {planned:.1f} s, written in {written:.1f} s (the workbook beside the rest)")
    print("  each output on its own: " + ", ".join(f"{name} {s:.1f} s" for name, s in split.items()))
    print(f"target: {args.rows:,} evidence rows planned and written in < {TARGET_SECONDS:.0f} s: {total:.1f} s "
          f"{'ok' if total < TARGET_SECONDS else 'FAIL'}")
    half_plan, half_planned, half_written = tail(args.rows // 2)
    ratio = total / (half_planned + half_written)
    print(f"doubling: {args.rows // 2:,} -> {args.rows:,} rows ({len(half_plan.tasks):,} -> {len(plan.tasks):,} "
          f"tasks, {len(half_plan.statements):,} -> {len(plan.statements):,} statements): "
          f"{half_planned + half_written:.1f} s -> {total:.1f} s")
    print(f"target: 2x the evidence costs <= {TARGET_DOUBLING}x the time: {ratio:.2f}x "
          f"{'ok' if ratio <= TARGET_DOUBLING else 'FAIL'}")


if __name__ == "__main__":
    main()

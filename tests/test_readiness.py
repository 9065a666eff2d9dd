"""Readiness needs S3 data events: a bucket the window shows only through management events proves nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import main
from tests.conftest import log_path, s3_record, write_log


def _plan(tmp_path: Path, records: list[dict[str, Any]], *extra: str) -> dict[str, Any]:
    tree, out = tmp_path / "tree", tmp_path / "out"
    write_log(log_path(tree, "111122223333", "us-east-1", "2026-11-02"), records)
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tree), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    plan: dict[str, Any] = json.loads((out / "plan.json").read_text())
    plan["summary"] = result.output
    plan["drafts"] = sorted(p.name for p in (out / "policies").glob("*"))
    return plan


def _management(event: str, bucket: str, request_id: str) -> dict[str, Any]:
    return s3_record(event, bucket=bucket, request_id=request_id, key=None, category="Management")


def test_a_bucket_seen_only_through_management_events_is_not_ready(tmp_path: Path) -> None:
    """Finding 5: CloudTrail logs management events by default and data events only when configured; a bucket
    seen only through GetBucketAcl/GetBucketPolicy must not be declared ready, nor get a SigV2 deny draft."""
    plan = _plan(tmp_path, [
        _management("GetBucketAcl", "bucket-quiet", "M1"),
        _management("GetBucketPolicy", "bucket-quiet", "M2"),
        s3_record("GetObject", bucket="bucket-busy", request_id="D1"),
        s3_record("PutObject", bucket="bucket-busy", request_id="D2", is_read=False),
    ])
    buckets = {b["bucket"]: b for b in plan["buckets"]}
    quiet = buckets["bucket-quiet"]
    assert not quiet["sigv4_ready"] and not quiet["acls_ready"]
    assert quiet["sigv4_deny_draft"] is None and "bucket-quiet.sigv4-deny.json" not in plan["drafts"]
    assert [b["kind"] for b in quiet["blockers"]] == ["no-data-events"]
    assert "data events" in quiet["blockers"][0]["detail"]
    assert quiet["data_events"] == {"reads": 0, "writes": 0}
    busy = buckets["bucket-busy"]
    assert busy["sigv4_ready"] and busy["acls_ready"] and busy["data_events"] == {"reads": 1, "writes": 1}
    assert "bucket-busy.sigv4-deny.json" in plan["drafts"]
    enforce = {t["buckets"][0]: t for t in plan["tasks"] if t["kind"] == "enforce-sigv4"}
    assert "(ready)" not in enforce["bucket-quiet"]["title"] and "data events" in enforce["bucket-quiet"]["action"]
    assert "(ready)" in enforce["bucket-busy"]["title"]
    assert "1 bucket(s) without S3 data events" in plan["summary"]


def test_a_window_of_writes_only_says_the_trail_cannot_show_reads(tmp_path: Path) -> None:
    """Finding 5: a trail that logs WriteOnly data events cannot show SigV2 reads; writes without a single read
    in the window mean no bucket can be declared ready."""
    plan = _plan(tmp_path, [
        s3_record("PutObject", bucket="bucket-w", request_id="W1", is_read=False),
        s3_record("DeleteObject", bucket="bucket-w", request_id="W2", is_read=False),
    ])
    (bucket,) = plan["buckets"]
    assert not bucket["sigv4_ready"] and bucket["sigv4_deny_draft"] is None
    assert [b["kind"] for b in bucket["blockers"]] == ["write-only-data-events"]
    assert any("WriteOnly" in n for n in plan["notes"])
    assert "read data events" in plan["summary"]


def test_records_without_event_category_count_by_operation(tmp_path: Path) -> None:
    """Records older than eventVersion 1.07 have no eventCategory: object-level operations are data events
    by definition (facts §5b); bucket-level ones are not."""
    old = [s3_record("GetObject", bucket="bucket-old", request_id="O1", category=None),
           s3_record("GetBucketAcl", bucket="bucket-mgmt", request_id="O2", key=None, category=None)]
    for no_prefilter in ((), ("--no-prefilter",)):
        plan = _plan(tmp_path / str(len(no_prefilter)), old, *no_prefilter)
        buckets = {b["bucket"]: b for b in plan["buckets"]}
        assert buckets["bucket-old"]["data_events"] == {"reads": 1, "writes": 0}
        assert buckets["bucket-mgmt"]["data_events"] == {"reads": 0, "writes": 0}


def test_results_of_an_older_query_prove_no_bucket_ready(tmp_path: Path) -> None:
    """Finding 5: console results without the data-event columns cannot tell whether data events were logged, so
    every bucket says so instead of being declared ready."""
    import csv

    from planner.sources.athena.console_csv import REQUIRED_COLUMNS
    from tests.test_athena_csv import _console, _engine_rows

    tree = tmp_path / "tree"
    write_log(log_path(tree, "111122223333", "us-east-1", "2026-11-02"),
              [s3_record("GetObject", bucket="bucket-busy", request_id="D1")])
    path = tmp_path / "old.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REQUIRED_COLUMNS)
        writer.writerows([_console(row[c]) for c in REQUIRED_COLUMNS] for row in _engine_rows(tree))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--athena-results", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (bucket,) = json.loads((out / "plan.json").read_text())["buckets"]
    assert not bucket["sigv4_ready"] and bucket["data_events"] is None
    assert [b["kind"] for b in bucket["blockers"]] == ["no-data-events"]
    assert "does not say" in bucket["blockers"][0]["detail"]


def test_a_bucket_with_writes_and_no_read_is_not_ready_whatever_other_buckets_saw(tmp_path: Path) -> None:
    """Finding 5 (review): data event selectors set ReadWriteType per selector, so one bucket's reads do not prove
    another bucket's reads are logged; a bucket with only writes is not declared ready."""
    plan = _plan(tmp_path, [
        s3_record("GetObject", bucket="bucket-r", request_id="R1"),
        s3_record("PutObject", bucket="bucket-r", request_id="R2", is_read=False),
        s3_record("PutObject", bucket="bucket-w", request_id="W1", is_read=False),
    ])
    buckets = {b["bucket"]: b for b in plan["buckets"]}
    assert buckets["bucket-r"]["sigv4_ready"] and not buckets["bucket-w"]["sigv4_ready"]
    assert [b["kind"] for b in buckets["bucket-w"]["blockers"]] == ["write-only-data-events"]
    assert "for this bucket and no read" in buckets["bucket-w"]["blockers"][0]["detail"]
    assert "bucket-w.sigv4-deny.json" not in plan["drafts"]


def test_access_log_lines_of_the_older_format_prove_no_readiness(tmp_path: Path) -> None:
    """Finding 5 (review): lines that stop before the Signature Version and aclRequired fields cannot show SigV2
    or ACL dependence, so a bucket seen only through them is not ready."""
    from planner.sources.access_logs.parse import FIELDS, format_line, parse_line
    from tests.test_access_logs import as_line

    full = parse_line(as_line(s3_record("GetObject", request_id="L1")))
    old = {k: v for k, v in full.fields.items() if FIELDS.index(k) < FIELDS.index("sigv")}  # type: ignore[union-attr]
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "2026-11-02-10-00-00-ABCDEF").write_text(format_line(old) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--access-logs", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (bucket,) = json.loads((out / "plan.json").read_text())["buckets"]
    assert bucket["data_events"] == {"reads": 0, "writes": 0} and not bucket["sigv4_ready"]
    assert [b["kind"] for b in bucket["blockers"]] == ["no-data-events"]

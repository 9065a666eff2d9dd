"""Athena console CSV results of the evidence query, read back into the same evidence as the local run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.errors import InputError
from planner.sources.athena.console_csv import COLUMNS, AthenaResultCsv
from planner.sources.base import to_scan_result
from planner.sources.cloudtrail import CloudTrailFiles, engine
from tests.conftest import mixed_tree


def _console(value: Any) -> str:
    """How the Athena console writes a value in its CSV download."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return str(value)


def _engine_rows(tree: Path) -> list[dict[str, Any]]:
    files = tuple(str(p) for p in sorted(tree.rglob("*.json.gz")))
    source = CloudTrailFiles((tree,), use_prefilter=False)
    return engine.run_query(engine.connect(), source._query(), engine.FileSets(wrapped=files), {})


def test_console_csv_round_trip(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    rows = _engine_rows(tmp_path / "tree")
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_console(row[c]) for c in COLUMNS])
    original = to_scan_result(rows, files_read=1, files_pruned=0, skipped=())
    imported = AthenaResultCsv((path,)).scan()
    assert imported.evidence == original.evidence
    assert (imported.bucket_requests, imported.records, imported.window_seen) == (
        original.bucket_requests, original.records, original.window_seen)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--athena-results", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "policies" / "bucket-a.policy.json").exists()


def test_other_csv_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "guide.csv"
    path.write_text("useridentity.arn,requestcount\narn:aws:iam::1:user/a,3\n")
    with pytest.raises(InputError, match=r"expected the columns of s3plan.s evidence query: kind, bucket"):
        AthenaResultCsv((path,)).scan()
    result = CliRunner().invoke(main, ["plan", "--athena-results", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "guide.csv" in result.stderr


def test_exactly_one_source() -> None:
    result = CliRunner().invoke(main, ["plan", "--out", "x"])
    assert result.exit_code == 2 and "--cloudtrail" in result.stderr


GUIDE_CSVS = {
    "sigv2.csv": ('"eventtime","s3_action","request_parameters","aws_region","source_ip","user_agent"\n'
                  '"2026-11-02T10:00:00Z","GetObject","{""bucketName"":""bucket-a"",""key"":""x""}","us-east-1",'
                  '"198.51.100.7","[Boto3/1.4.4 Botocore/1.5.12]"\n'
                  '"2026-11-03T10:00:00Z","GetObject","{""bucketName"":""bucket-a""}","us-east-1","198.51.100.8",'
                  '"[Boto3/1.4.4 Botocore/1.5.12]"\n'),
    "counts.csv": '"arn","requestcount"\n"arn:aws:iam::111122223333:user/legacy","42"\n',
    "acl.csv": ('"eventtime","eventname","eventsource","sourceipaddress","useragent","userarn","bucketname",'
                '"object","aclrequired"\n"2026-11-02T10:00:00Z","GetObject","s3.amazonaws.com","203.0.113.9",'
                '"[aws-cli/2.13.25]","arn:aws:iam::999988887777:role/partner","bucket-a","exports/a.csv","Yes"\n'),
}


def test_the_guide_queries_csvs_become_evidence(tmp_path: Path) -> None:
    for name, text in GUIDE_CSVS.items():
        (tmp_path / name).write_text(text)
    result = AthenaResultCsv(tuple(tmp_path / n for n in GUIDE_CSVS)).scan()
    by_principal = {(e.principal, e.event_name): e for e in result.evidence}
    unknown = by_principal[("unknown", "GetObject")]
    assert unknown.requests == 2 and unknown.is_sigv2 and unknown.bucket == "bucket-a"
    assert unknown.user_agent == "Boto3/1.4.4 Botocore/1.5.12"
    assert unknown.sigv2_days == (("2026-11-02", 1), ("2026-11-03", 1))
    assert by_principal[("arn:aws:iam::111122223333:user/legacy", "(any S3 operation)")].requests == 42
    partner = by_principal[("arn:aws:iam::999988887777:role/partner", "GetObject")]
    assert partner.acl_required and partner.key_prefixes == ("exports/",) and partner.account_id == "999988887777"

"""`s3plan plan --enrich` against a moto server on 127.0.0.1: drafts merge with each bucket's live policy, the
blockers from live state land on the right buckets, one bucket answering AccessDenied does not stop the run, and
only read calls are made. (Moto does not enforce policies: the AccessDenied answer is injected by a botocore hook,
see tests/test_enrich.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from planner import pipeline
from planner.cli import main
from tests.conftest import ANONYMOUS, log_path, role, s3_record, write_log
from tests.test_enrich import LOCKED, OWNER_ACCOUNT, PARTNER_ACCOUNT, deny_on_locked_bucket, seeded  # noqa: F401
from tests.test_permissions import assert_allowed

BUCKETS = ("pol-bucket", "shared-bucket", "logs-bucket", "cf-logs-bucket", "pab-bucket", "enforced-bucket", LOCKED)


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A trail that reads every seeded bucket; a partner relies on an ACL on pol-bucket, anonymous on pab-bucket."""
    partner = role(PARTNER_ACCOUNT, "partner-reader")
    records = [s3_record(bucket=b, owner=OWNER_ACCOUNT, request_id=f"S{n}") for n, b in enumerate(BUCKETS)]
    records += [
        s3_record(bucket="pol-bucket", identity=partner, acl_required=True, key="exports/a.csv", request_id="P1"),
        s3_record("PutObject", bucket="pol-bucket", identity=partner, acl_required=True, key="inbox/b.csv",
                  request_id="P3"),
        s3_record(bucket="pab-bucket", identity=ANONYMOUS, sigv=None, auth=None, acl_required=True,
                  key="site/index.html", request_id="P2"),
    ]
    write_log(log_path(tmp_path / "trail", OWNER_ACCOUNT, "us-east-1", "2026-11-02"), records)
    return tmp_path / "trail"


def test_enrich_merges_live_policies_and_reports_blockers_by_bucket(
        evidence: Path, tmp_path: Path, seeded: str, read_only: list[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline.aws_session

    def session(config: Any) -> Any:
        made = real(config)
        deny_on_locked_bucket(made)
        return made

    monkeypatch.setattr(pipeline, "aws_session", session)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(evidence), "--out", str(out), "--enrich"])
    assert result.exit_code == 0, result.output
    assert set(read_only) <= {"GetBucketLocation", "GetBucketPolicy", "GetBucketOwnershipControls", "GetBucketAcl",
                              "GetPublicAccessBlock", "GetBucketLogging", "ListObjectsV2", "GetObjectAcl",
                              "s3control:GetPublicAccessBlock"}
    assert_allowed("enrich", read_only)

    plan = json.loads((out / "plan.json").read_text())
    kinds = {b["bucket"]: sorted({x["kind"] for x in b["blockers"]} - {"acl-dependent-access"})
             for b in plan["buckets"]}
    assert kinds == {
        "pol-bucket": [], "shared-bucket": ["bucket-acl-grant"], "logs-bucket": ["log-delivery-acl"],
        "cf-logs-bucket": ["cloudfront-log-delivery"], "pab-bucket": ["public-access-block"], "enforced-bucket": [],
        LOCKED: ["bucket-state-unreadable"],
    }
    # the owner account the evidence names is not moto's: its Block Public Access answers AccessDenied, so the
    # public statement's blocker says the state is unknown rather than guessing it
    pab = next(b for b in plan["buckets"] if b["bucket"] == "pab-bucket")
    assert any("unknown (AccessDenied" in x["detail"] for x in pab["blockers"])
    locked = next(b for b in plan["buckets"] if b["bucket"] == LOCKED)
    assert "GetBucketAcl: AccessDenied" in locked["blockers"][0]["detail"] and not locked["acls_ready"]
    ownership = {b["bucket"]: b["object_ownership"] for b in plan["buckets"]}
    assert ownership["enforced-bucket"] == "BucketOwnerEnforced" and ownership[LOCKED] == "BucketOwnerPreferred"
    assert ownership["shared-bucket"] == "ObjectWriter"
    shared = next(b for b in plan["buckets"] if b["bucket"] == "shared-bucket")
    assert any("AllUsers" in g and g.endswith(": READ") for g in shared["acl_grants"])

    draft = json.loads((out / "policies" / "pol-bucket.policy.json").read_text())
    sids = [s["Sid"] for s in draft["Statement"]]
    assert sids[0] == "PartnerRead" and len(sids) == 2  # the live statement kept, the PutObject one added
    merged = next(p for p in plan["policies"] if p["bucket"] == "pol-bucket")
    assert merged["merged_with_current"] and len(merged["already_granted"]) == 1  # GetObject: PartnerRead has it
    assert merged["added"] == sids[1:]
    public = json.loads((out / "policies" / "pab-bucket.policy.json").read_text())
    assert any(s["Principal"] == "*" for s in public["Statement"])

    sheet = load_workbook(out / "migration-plan.xlsx")["Buckets"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["enforced-bucket"]["Object Ownership"] == "BucketOwnerEnforced"
    assert "LogDelivery group: WRITE" in rows["logs-bucket"]["ACL grants"]


def test_enrich_and_current_policies_exclude_each_other(evidence: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(evidence), "--out", str(tmp_path / "o"),
                                       "--enrich", "--current-policies", str(tmp_path)])
    assert result.exit_code == 2 and "--current-policies" in result.output

"""Shared test helpers: write small CloudTrail trees the way AWS lays them out."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.aws import moto_server, read_only  # noqa: F401  (fixtures shared by the AWS tests)


@pytest.fixture(autouse=True)
def _progress_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI runs in tests print no progress lines (a piped run's stage lines), so tests of errors and warnings read
    only those; tests marked `progress` see the lines a piped run prints."""
    if request.node.get_closest_marker("progress") is None:
        monkeypatch.setattr("planner.cli.mode_for", lambda stream, quiet: "off")

# The property tests draw the same examples on every run (CI included), so a result can be reproduced and a run
# never fails on a draw the last one did not make; HYPOTHESIS_PROFILE=explore draws new examples each run.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"  # the shared real-data set, beside the repository in CI


def shared(*parts: str) -> Path:
    """A file of the shared real-data set, read in place (its licence may not allow a copy); the test that asks
    is an extra, skipped with the reason when the set is not beside the repository."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{SHARED} is not beside the repository: this extra reads {'/'.join(parts)} in place")
    return path


def opensearch_samples(folder: Path) -> Path:
    """The real opensearch-catalog CloudTrail sample (not valid JSON as a whole), written to `folder` as
    samples-large.json."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "samples-large.json"
    target.write_bytes(gzip.decompress((FIXTURES / "opensearch-catalog" / "samples-large.json.gz").read_bytes()))
    return target


def log_path(root: Path, account: str, region: str, day: str, n: int = 0, org: str | None = None) -> Path:
    """AWSLogs/[org/]acct/CloudTrail/region/YYYY/MM/DD/acct_CloudTrail_region_YYYYMMDDT0005Z_<16>.json.gz"""
    y, m, d = day.split("-")
    base = root / "AWSLogs" / (org or "") / account / "CloudTrail" / region / y / m / d
    return base / f"{account}_CloudTrail_{region}_{y}{m}{d}T00{n:02d}Z_abcdefgh{n:08d}.json.gz"


def write_log(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return path


def s3_record(event: str = "GetObject", *, bucket: str = "bucket-a", owner: str = "111122223333",
              identity: dict[str, Any] | None = None, sigv: str | None = "SigV4", auth: str | None = "AuthHeader",
              acl_required: bool = False, params: dict[str, Any] | None = None, time: str = "2026-11-02T10:00:00Z",
              ua: str = "[aws-cli/2.13.25 Python/3.11.5 Linux/6.8.0 exe/x86_64.ubuntu.24]", request_id: str = "R1",
              region: str = "us-east-1", key: str | None = "reports/2026/a.csv", category: str | None = "Data",
              is_read: bool | None = None) -> dict[str, Any]:
    """An S3 data event in the real record format (facts §5); `category` None leaves out eventCategory and
    managementEvent (records before eventVersion 1.07), `is_read` (readOnly) defaults to what the operation does."""
    extra: dict[str, Any] = {"CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0}
    if sigv:
        extra["SignatureVersion"] = sigv
    if auth:
        extra["AuthenticationMethod"] = auth
    if acl_required:
        extra["aclRequired"] = "Yes"
    rp: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
    if key is not None:
        rp["key"] = key
    rp.update(params or {})
    record = {
        "eventVersion": "1.09", "eventTime": time, "eventSource": "s3.amazonaws.com", "eventName": event,
        "awsRegion": region, "sourceIPAddress": "198.51.100.7", "userAgent": ua,
        "userIdentity": identity or {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                                     "arn": f"arn:aws:iam::{owner}:user/alice", "accountId": owner,
                                     "userName": "alice"},
        "requestParameters": rp, "responseElements": None, "additionalEventData": extra,
        "requestID": request_id, "eventID": f"e-{request_id}",
        "readOnly": event.startswith(("Get", "Head", "List")) if is_read is None else is_read,
        "eventType": "AwsApiCall", "managementEvent": category == "Management", "recipientAccountId": owner,
        "eventCategory": category,
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                      {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
    }
    if category is None:
        del record["eventCategory"], record["managementEvent"]
    return record


def role(account: str, name: str, session: str = "s1") -> dict[str, Any]:
    """An AssumedRole identity with its session issuer (facts §5c)."""
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}", "accountId": account,
            "sessionContext": {"attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-02T09:00:00Z"},
                               "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                                                 "arn": f"arn:aws:iam::{account}:role/{name}",
                                                 "accountId": account, "userName": name}}}


ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}


def mixed_tree(root: Path) -> list[Path]:
    """One log file with every kind of evidence: SigV2, cross-account and anonymous aclRequired, ACL writes."""
    partner = role("999988887777", "partner-reader")
    records = [
        s3_record(request_id="A1"),  # same-account SigV4: not evidence
        s3_record(sigv="SigV2", request_id="A2", ua="[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"),
        s3_record(sigv="SigV2", request_id="A3", ua="[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"),
        s3_record(sigv="SigV2", request_id="A3", ua="[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"),
        s3_record(identity=partner, acl_required=True, request_id="A4", key="exports/x.csv"),
        s3_record(identity=partner, acl_required=True, sigv="SigV2", request_id="A5", key="exports/y.csv"),
        s3_record(identity=ANONYMOUS, sigv=None, auth=None, acl_required=True, request_id="A6",
                  ua="[Mozilla/5.0 (X11; Linux x86_64)]"),
        s3_record("PutObject", params={"x-amz-acl": "public-read"}, acl_required=True, request_id="A7"),
        s3_record("PutObject", params={"x-amz-acl": "bucket-owner-full-control"}, request_id="A8"),
        s3_record("PutObject", params={"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"},
                  acl_required=True, request_id="A9"),
        s3_record("PutBucketAcl", params={"acl": [""]}, acl_required=True, request_id="A10", key=None,
                  category="Management"),
        s3_record(identity={"type": "AWSAccount", "principalId": "AIDAX", "accountId": "222233334444"},
                  acl_required=True, request_id="A11", bucket="bucket-b"),
        {**s3_record(request_id="A12"), "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances"},
    ]
    return [write_log(log_path(root, "111122223333", "us-east-1", "2026-11-02"), records)]


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES

"""The sample CloudTrail generator: layout, record shape, determinism, and a ground truth that matches its files."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from planner.samples import SampleSummary, write_sample_logs

N = 3_000
PER_FILE = 5_000

# facts §6: AWSLogs/[o-id/]<acct>/CloudTrail/<region>/YYYY/MM/DD/
#           <acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz
LOG_PATH_RE = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<name>[^/]+)$"
)
LOG_NAME_RE = re.compile(
    r"^(?P<acct>\d{12})_CloudTrail_(?P<region>[a-z]{2}-[a-z]+-\d)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_RE = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<acct>\d{12})/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"(?P=acct)_CloudTrail-Digest_(?P=region)_[A-Za-z0-9_.-]+_(?P=region)_\d{8}T\d{6}Z\.json\.gz$"
)
# facts §5b: the fields that are not optional, plus the ones the sample promises on every record
REQUIRED = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
            "requestParameters", "responseElements", "requestID", "eventID", "eventType", "eventCategory",
            "recipientAccountId", "readOnly", "managementEvent", "userAgent"}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FIELDS = ("bucket", "event_name", "principal", "principal_type", "account_id", "user_agent",
          "signature_version", "auth_method", "acl_required", "acl_header")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    return write_sample_logs(tmp_path_factory.mktemp("a"), records=N, seed=7, records_per_file=PER_FILE)


def _logs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if "/CloudTrail/" in p.as_posix())


def _digests(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if "/CloudTrail-Digest/" in p.as_posix())


def _load(path: Path) -> Any:
    return json.loads(gzip.decompress(path.read_bytes()))


def _records(root: Path) -> Iterator[dict[str, Any]]:
    for path in _logs(root):
        yield from _load(path)["Records"]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): gzip.decompress(p.read_bytes()) for p in root.rglob("*.json.gz")}


# ---------------------------------------------------------------- independent recomputation of the ground truth


def _principal(ui: dict[str, Any]) -> tuple[str, str, str | None]:
    if ui.get("accountId") == "anonymous":
        return "anonymous", "anonymous", None
    kind = ui["type"]
    if kind == "AssumedRole":
        return ui["sessionContext"]["sessionIssuer"]["arn"], kind, ui["accountId"]
    if kind == "AWSService":
        return ui["invokedBy"], kind, None
    if kind == "AWSAccount":
        return f"arn:aws:iam::{ui['accountId']}:root", kind, ui["accountId"]
    return ui["arn"], kind, ui.get("accountId")


def _acl_header(params: dict[str, Any]) -> str | None:
    if "x-amz-acl" in params:
        return str(params["x-amz-acl"])
    grants = sorted(k for k in params if k.startswith("x-amz-grant-"))
    return grants[0] if grants else None


def _is_evidence(rec: dict[str, Any]) -> bool:
    extra = rec.get("additionalEventData") or {}
    params = rec.get("requestParameters") or {}
    acl = params.get("x-amz-acl")
    sets_acl = (rec["eventName"] in ("PutObjectAcl", "PutBucketAcl")
                or (acl is not None and acl != "bucket-owner-full-control")
                or any(k.startswith("x-amz-grant-") for k in params))
    return extra.get("SignatureVersion") == "SigV2" or extra.get("aclRequired") == "Yes" or sets_acl


def _evidence_key(rec: dict[str, Any]) -> tuple[Any, ...]:
    extra = rec.get("additionalEventData") or {}
    params = rec.get("requestParameters") or {}
    principal, ptype, account = _principal(rec["userIdentity"])
    ua = rec.get("userAgent")
    if ua and ua.startswith("[") and ua.endswith("]"):
        ua = ua[1:-1]
    return (params.get("bucketName"), rec["eventName"], principal, ptype, account, ua,
            extra.get("SignatureVersion"), extra.get("AuthenticationMethod"), extra.get("aclRequired") == "Yes",
            _acl_header(params))


def _recompute(root: Path, seed: int) -> dict[str, Any]:
    records = s3 = 0
    buckets: Counter[str] = Counter()
    times: list[str] = []
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rec in _records(root):
        records += 1
        times.append(rec["eventTime"])
        if rec["eventSource"] != "s3.amazonaws.com":
            continue
        s3 += 1
        bucket = (rec.get("requestParameters") or {}).get("bucketName")
        if bucket is not None:
            buckets[bucket] += 1
        if _is_evidence(rec):
            g = groups.setdefault(_evidence_key(rec), {"ids": set(), "times": []})
            g["ids"].add(rec["requestID"])
            g["times"].append(rec["eventTime"])
    evidence = [dict(zip(FIELDS, key, strict=True)) | {
        "requests": len(g["ids"]), "first_seen": min(g["times"]), "last_seen": max(g["times"])}
        for key, g in sorted(groups.items(), key=lambda kv: tuple("" if v is None else v for v in kv[0]))]
    return {"seed": seed, "records": records, "files": len(_logs(root)), "digest_files": len(_digests(root)),
            "first_event_time": min(times), "last_event_time": max(times), "s3_records": s3,
            "bucket_records": dict(sorted(buckets.items())), "evidence": evidence}


# ---------------------------------------------------------------- tests


def test_summary_counts(sample: SampleSummary) -> None:
    truth = json.loads(sample.ground_truth.read_text())
    assert sample.records == N == truth["records"]
    assert sample.files == len(_logs(sample.root)) == truth["files"] > 1
    assert sample.digest_files == len(_digests(sample.root)) == truth["digest_files"] > 0
    assert sample.ground_truth == sample.root / "ground-truth.json"
    assert not list(sample.root.rglob("*.tmp"))


def test_ground_truth_matches_an_independent_recount(sample: SampleSummary) -> None:
    truth = json.loads(sample.ground_truth.read_text())
    assert _recompute(sample.root, 7) == truth


def test_log_paths_and_names_follow_the_aws_layout(sample: SampleSummary) -> None:
    for path in _logs(sample.root):
        rel = path.relative_to(sample.root).as_posix()
        m = LOG_PATH_RE.match(rel)
        assert m, rel
        n = LOG_NAME_RE.match(m["name"])
        assert n, rel
        assert (n["acct"], n["region"]) == (m["acct"], m["region"])
        assert n["stamp"][:8] == m["y"] + m["m"] + m["d"]
        records = _load(path)["Records"]
        day = f"{m['y']}-{m['m']}-{m['d']}"
        assert records and all(r["eventTime"].startswith(day) for r in records)
        assert {r["recipientAccountId"] for r in records} == {m["acct"]}
        assert {r["awsRegion"] for r in records} == {m["region"]}
        newest = max(r["eventTime"] for r in records)
        assert n["stamp"][9:13] > newest[11:13] + newest[14:16]  # delivered after its newest record


def test_digest_files_are_digests(sample: SampleSummary) -> None:
    digests = _digests(sample.root)
    assert digests
    for path in digests:
        assert DIGEST_RE.match(path.relative_to(sample.root).as_posix()), path
        doc = _load(path)
        assert "Records" not in doc
        assert {"digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
                "previousDigestS3Object", "logFiles"} <= doc.keys()
        for entry in doc["logFiles"]:
            assert (sample.root / entry["s3Object"]).is_file()


def test_records_have_the_required_fields(sample: SampleSummary) -> None:
    ids: Counter[str] = Counter()
    for rec in _records(sample.root):
        assert rec.keys() >= REQUIRED, REQUIRED - rec.keys()
        assert TIME_RE.match(rec["eventTime"])
        assert rec["eventVersion"] in ("1.08", "1.09")
        assert rec["eventType"] == "AwsApiCall"
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", rec["eventID"])
        assert isinstance(rec["readOnly"], bool) and isinstance(rec["managementEvent"], bool)
        assert rec["eventCategory"] == ("Management" if rec["managementEvent"] else "Data")
        ids[rec["eventID"]] += 1
        if rec["eventSource"] == "s3.amazonaws.com":
            _check_s3_record(rec)
        else:
            assert "bucketName" not in (rec["requestParameters"] or {})
    assert max(ids.values()) == 2  # CloudTrail duplicates, but only once here


def _check_s3_record(rec: dict[str, Any]) -> None:
    ui, extra = rec["userIdentity"], rec["additionalEventData"]
    service = ui["type"] == "AWSService" or "invokedBy" in ui
    assert rec["userAgent"].startswith("[") != service  # S3 user agents are bracketed, AWS callers' are not
    assert ("tlsDetails" in rec) != service
    if ui.get("accountId") == "anonymous":
        assert "SignatureVersion" not in extra and "AuthenticationMethod" not in extra
    else:
        assert extra["SignatureVersion"] in ("SigV2", "SigV4")
    assert re.fullmatch(r"[0-9A-F]{16}", rec["requestID"])
    bucket = rec["requestParameters"].get("bucketName")
    if bucket is not None:
        owners = [r["accountId"] for r in rec["resources"] if r["type"] == "AWS::S3::Bucket"]
        assert owners == [rec["recipientAccountId"]]
        if extra.get("SignatureVersion") == "SigV2":
            assert not bucket.endswith("-sigv4only")


def test_same_seed_same_bytes_other_seed_differs(sample: SampleSummary, tmp_path: Path) -> None:
    again = write_sample_logs(tmp_path / "again", records=N, seed=7, records_per_file=PER_FILE)
    assert _tree(again.root) == _tree(sample.root)
    assert again.ground_truth.read_bytes() == sample.ground_truth.read_bytes()
    other = write_sample_logs(tmp_path / "other", records=N, seed=8, records_per_file=PER_FILE)
    assert _tree(other.root) != _tree(sample.root)
    assert other.ground_truth.read_bytes() != sample.ground_truth.read_bytes()


def test_org_trail_layout_and_options(tmp_path: Path) -> None:
    got = write_sample_logs(tmp_path, records=400, seed=3, start=date(2026, 3, 30), days=3, records_per_file=50,
                            org_id="o-a1b2c3d4e5")
    assert got.files >= 8 and got.records == 400
    for path in _logs(tmp_path):
        rel = path.relative_to(tmp_path).as_posix()
        assert rel.startswith("AWSLogs/o-a1b2c3d4e5/") and LOG_PATH_RE.match(rel), rel
        assert rel.split("/")[5:8] in (["2026", "03", "30"], ["2026", "03", "31"], ["2026", "04", "01"])
        assert len(_load(path)["Records"]) <= 50
    assert _recompute(tmp_path, 3) == json.loads(got.ground_truth.read_text())
    with pytest.raises(ValueError):
        write_sample_logs(tmp_path / "bad", records=10, org_id="not-an-org")


def test_the_sample_covers_every_case(sample: SampleSummary) -> None:
    seen: Counter[str] = Counter()
    ids: Counter[str] = Counter()
    for rec in _records(sample.root):
        ids[rec["eventID"]] += 1
        if rec["eventSource"] == "s3.amazonaws.com":
            seen.update(_cases(rec))
    seen["duplicate eventID"] = sum(1 for n in ids.values() if n > 1)
    wanted = ["SigV2 AuthHeader", "SigV2 QueryString", "anonymous aclRequired", "cross-account aclRequired",
              "PutObject public-read", "PutBucketAcl", "PutObjectAcl", "grant header", "duplicate eventID",
              "SigV2 + aclRequired", "AccessDenied", "AWSService", "bucket-owner-full-control no aclRequired"]
    assert [w for w in wanted if not seen[w]] == []


def _cases(rec: dict[str, Any]) -> list[str]:
    extra, params, ui = rec["additionalEventData"], rec["requestParameters"], rec["userIdentity"]
    sig, acl_required = extra.get("SignatureVersion"), extra.get("aclRequired") == "Yes"
    cases = [f"{sig} {extra.get('AuthenticationMethod')}", rec["eventName"], ui["type"]]
    if acl_required and ui.get("accountId") == "anonymous":
        cases.append("anonymous aclRequired")
    if acl_required and ui.get("accountId") not in (None, "anonymous", rec["recipientAccountId"]):
        cases.append("cross-account aclRequired")
    if rec["eventName"] == "PutObject" and params.get("x-amz-acl") == "public-read":
        cases.append("PutObject public-read")
    if params.get("x-amz-acl") == "bucket-owner-full-control" and not acl_required:
        cases.append("bucket-owner-full-control no aclRequired")
    if any(k.startswith("x-amz-grant-") for k in params):
        cases.append("grant header")
    if sig == "SigV2" and acl_required:
        cases.append("SigV2 + aclRequired")
    if rec.get("errorCode") == "AccessDenied":
        cases.append("AccessDenied")
    return cases


def test_one_bucket_has_no_evidence(sample: SampleSummary) -> None:
    truth = json.loads(sample.ground_truth.read_text())
    with_evidence = {e["bucket"] for e in truth["evidence"]}
    quiet = set(truth["bucket_records"]) - with_evidence
    assert quiet  # a bucket with only same-account SigV4 traffic
    assert len(truth["bucket_records"]) == 12

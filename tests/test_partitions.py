"""Other partitions: evidence from aws-cn and aws-us-gov keeps its partition in principals, resources and drafts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.model import partition_of
from planner.sources.cloudtrail import CloudTrailFiles
from tests.conftest import log_path, role, s3_record, write_log

REGIONS = {"us-east-1": "aws", "eu-west-2": "aws", "il-central-1": "aws", "cn-north-1": "aws-cn",
           "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
           "us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e",
           "us-isof-south-1": "aws-iso-f", "eusc-de-east-1": "aws-eusc"}


def _cross_account(region: str, partition: str, request_id: str, bucket: str) -> dict[str, Any]:
    record = s3_record(identity={"type": "AWSAccount", "principalId": "AIDAX", "accountId": "222233334444"},
                       acl_required=True, request_id=request_id, bucket=bucket, region=region, key="exports/a")
    record["resources"] = [{**r, "ARN": r["ARN"].replace("arn:aws:", f"arn:{partition}:")}
                           for r in record["resources"]]
    return record


def test_the_query_and_partition_of_agree_on_every_region_family(tmp_path: Path) -> None:
    """Finding 6: the evidence query's partition CASE and planner.model.partition_of read Regions alike (records
    without a bucket ARN, so the Region decides)."""
    records = []
    for n, region in enumerate(REGIONS):
        record = _cross_account(region, "aws", f"R{n}", f"bucket-{n}")
        record["resources"] = []
        records.append(record)
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    evidence = CloudTrailFiles((tmp_path,)).scan().evidence
    assert {e.region: e.partition for e in evidence} == REGIONS
    assert {r: partition_of(r) for r in REGIONS} == REGIONS
    assert {e.region: e.principal for e in evidence}["cn-north-1"] == "arn:aws-cn:iam::222233334444:root"


@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_drafts_keep_the_partition_of_their_evidence(tmp_path: Path, region: str, partition: str) -> None:
    """Finding 6: evidence.sql wrote arn:aws:iam:: for other accounts and drafts wrote arn:aws:s3:::, so an aws-cn
    or aws-us-gov draft named principals and buckets that do not exist there."""
    tree, out = tmp_path / "tree", tmp_path / "out"
    partner = role("999988887777", "partner")
    partner["sessionContext"]["sessionIssuer"]["arn"] = f"arn:{partition}:iam::999988887777:role/partner"
    partner["arn"] = f"arn:{partition}:sts::999988887777:assumed-role/partner/s1"
    records = [_cross_account(region, partition, "X1", "bucket-x"),
               {**_cross_account(region, partition, "X2", "bucket-x"), "userIdentity": partner},
               {**_cross_account(region, partition, "X3", "bucket-clean"),
                "userIdentity": {"type": "IAMUser", "arn": f"arn:{partition}:iam::111122223333:user/me",
                                 "accountId": "111122223333", "principalId": "AIDAY"},
                "additionalEventData": {"SignatureVersion": "SigV4"}}]
    write_log(log_path(tree, "111122223333", region, "2026-11-02"), records)
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tree), "--out", str(out)])
    assert result.exit_code == 0, result.output
    draft = json.loads((out / "policies" / "bucket-x.policy.json").read_text())
    principals = sorted(s["Principal"]["AWS"] for s in draft["Statement"])
    assert principals == [f"arn:{partition}:iam::222233334444:root", f"arn:{partition}:iam::999988887777:role/partner"]
    assert all(r.startswith(f"arn:{partition}:s3:::bucket-x") for s in draft["Statement"]
               for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]))
    deny = json.loads((out / "policies" / "bucket-clean.sigv4-deny.json").read_text())
    assert deny["Statement"][0]["Resource"] == [f"arn:{partition}:s3:::bucket-clean",
                                                f"arn:{partition}:s3:::bucket-clean/*"]


def test_access_log_records_keep_the_partition_of_their_endpoint() -> None:
    """Finding 6: a China bucket's access-log line becomes a record whose bucket ARN is arn:aws-cn."""
    from planner.sources.access_logs.parse import format_line, parse_line, to_record
    from tests.test_access_logs import OWNER_ID

    line = format_line({
        "bucketowner": OWNER_ID, "bucket_name": "bucket-cn", "requestdatetime": "02/Nov/2026:10:00:00 +0000",
        "remoteip": "198.51.100.7", "requester": "arn:aws-cn:iam::222233334444:user/u", "requestid": "R1",
        "operation": "REST.GET.OBJECT", "key": "a.txt", "request_uri": "GET /a.txt HTTP/1.1", "httpstatus": "200",
        "errorcode": None, "bytessent": "1", "objectsize": "1", "totaltime": "1", "turnaroundtime": "1",
        "referrer": None, "useragent": "aws-cli/2.13.25", "versionid": None, "hostid": "h", "sigv": "SigV4",
        "ciphersuite": None, "authtype": "AuthHeader", "endpoint": "bucket-cn.s3.cn-north-1.amazonaws.com.cn",
        "tlsversion": "TLSv1.2", "accesspointarn": None, "aclrequired": "Yes"})
    record = to_record(parse_line(line), "111122223333")  # type: ignore[arg-type]
    assert record is not None and record["awsRegion"] == "cn-north-1"
    assert record["resources"][0]["ARN"] == "arn:aws-cn:s3:::bucket-cn"


def test_every_s3_endpoint_form_names_its_region() -> None:
    """Finding 6 (review): path-style, FIPS and dual-stack endpoints named no Region, so a GovCloud bucket's lines
    fell back to arn:aws (a SigV2 deny in the wrong partition, or an unsafe-draft stop)."""
    import re

    from planner.sources.access_logs.parse import REGION_HOST
    hosts = {"bucket.s3.us-gov-west-1.amazonaws.com": "us-gov-west-1", "s3.us-gov-west-1.amazonaws.com": "us-gov-west-1",
             "s3-us-west-2.amazonaws.com": "us-west-2", "b.s3-fips.us-gov-east-1.amazonaws.com": "us-gov-east-1",
             "b.s3-fips.dualstack.us-gov-west-1.amazonaws.com": "us-gov-west-1",
             "b.s3.dualstack.eu-west-1.amazonaws.com": "eu-west-1", "b.s3.cn-north-1.amazonaws.com.cn": "cn-north-1",
             "ap-111122223333.s3-accesspoint.us-west-2.amazonaws.com": "us-west-2",
             "b.s3-website-us-east-1.amazonaws.com": "us-east-1", "b.s3.eusc-de-east-1.amazonaws.eu": "eusc-de-east-1",
             "s3.amazonaws.com": None, "b.s3.amazonaws.com": None}
    found = {h: (m[1] if (m := re.search(REGION_HOST, h)) else None) for h in hosts}
    assert found == hosts


def test_a_govcloud_bucket_read_through_path_style_requests_keeps_its_partition(tmp_path: Path) -> None:
    """Finding 6 (review): access logs of a GovCloud bucket whose callers used the path-style endpoint gave a
    SigV2 deny on arn:aws:s3::: and stopped on a partner's statement; both are aws-us-gov now."""
    from tests.test_access_logs import OWNER, PARTNER, as_line

    def gov(record: dict[str, Any]) -> dict[str, Any]:
        record["requestParameters"]["Host"] = "s3.us-gov-west-1.amazonaws.com"
        return record

    me = {"type": "IAMUser", "principalId": "AIDA", "arn": f"arn:aws-us-gov:iam::{OWNER}:user/app",
          "accountId": OWNER}
    bob = {**me, "arn": f"arn:aws-us-gov:iam::{PARTNER}:user/bob", "accountId": PARTNER}
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "2026-11-02-10-00-00-ABCDEF").write_text("\n".join(as_line(gov(r)) for r in [
        s3_record(identity=me, key="exports/a.csv", request_id="G1", region="us-gov-west-1"),
        s3_record(identity=me, key="exports/b.csv", request_id="G2", region="us-gov-west-1", bucket="bucket-b"),
        s3_record(identity=bob, acl_required=True, key="exports/c.csv", request_id="G3", region="us-gov-west-1",
                  bucket="bucket-b")]) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--access-logs", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    deny = json.loads((out / "policies" / "bucket-a.sigv4-deny.json").read_text())
    assert deny["Statement"][0]["Resource"][0] == "arn:aws-us-gov:s3:::bucket-a"
    (statement,) = json.loads((out / "policies" / "bucket-b.policy.json").read_text())["Statement"]
    assert statement["Resource"] == "arn:aws-us-gov:s3:::bucket-b/exports/*"

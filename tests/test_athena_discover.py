"""`s3plan sql ddl --discover` against a moto server on 127.0.0.1: the accounts and Regions the trail bucket
holds, listed read-only, become the table's projection."""

from __future__ import annotations

import boto3
import pytest
from click.testing import CliRunner

from planner.cli import main
from tests.test_permissions import assert_allowed

BUCKET = "acme-trail"


def seed(keys: list[str]) -> None:
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")


def day(account: str, region: str, org: str = "") -> str:
    return f"trails/AWSLogs/{org}{account}/CloudTrail/{region}/2026/11/01/{account}_CloudTrail_{region}_x.json.gz"


def test_the_accounts_and_regions_found_are_projected(moto_server: str) -> None:
    seed([day("111122223333", "us-east-1"), day("111122223333", "eu-west-1"), day("444455556666", "ap-south-1"),
          "trails/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/d.json.gz"])
    result = CliRunner().invoke(main, ["sql", "ddl", "--location", f"s3://{BUCKET}/trails/AWSLogs/", "--discover"])
    assert result.exit_code == 0, result.output
    assert "'projection.account.values'='111122223333,444455556666'" in result.stdout
    assert "'projection.region.values'='ap-south-1,eu-west-1,us-east-1'" in result.stdout
    assert "injected" not in result.stdout


@pytest.fixture
def org_trail(moto_server: str) -> None:
    seed(["trails/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/us-west-2/2026/11/01/x.json.gz"])


def test_an_organization_trail_is_found_under_its_id(org_trail: None, read_only: list[str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["sql", "ddl", "--location", f"s3://{BUCKET}/trails/", "--discover"])
    assert missing.exit_code == 2 and "give --org-id o-a1b2c3d4e5" in missing.output
    found = runner.invoke(main, ["sql", "ddl", "--location", f"s3://{BUCKET}/trails/", "--discover",
                                 "--org-id", "o-a1b2c3d4e5"])
    assert found.exit_code == 0 and "'projection.account.values'='111122223333'" in found.stdout
    assert "/AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/${region}/${timestamp}" in found.stdout
    assert set(read_only) == {"ListObjectsV2"}
    assert_allowed("s3-logs", read_only)


@pytest.mark.parametrize("given", [["--accounts", "999988887777"], ["--regions", "us-east-2"]])
def test_given_values_win_over_discovered_ones(moto_server: str, given: list[str]) -> None:
    seed([day("111122223333", "us-east-1")])
    result = CliRunner().invoke(main, ["sql", "ddl", "--location", f"s3://{BUCKET}/trails/AWSLogs/", "--discover",
                                       *given])
    assert result.exit_code == 0 and given[1] in result.stdout

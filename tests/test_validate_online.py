"""--validate-online: IAM Access Analyzer findings in the review notes, tested with botocore's Stubber."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from planner.config import make_config
from planner.errors import InputError
from planner.outputs.review import render_reviews
from planner.pipeline import make_plan, scan, with_online_validation
from tests.conftest import mixed_tree
from tests.golden_run import FIXED_CLOCK
from tests.test_permissions import assert_allowed


def _plan(tmp_path: Path):
    mixed_tree(tmp_path / "tree")
    config = dataclasses.replace(make_config(cloudtrail=[str(tmp_path / "tree")], out=str(tmp_path / "out")),
                                 generated_at=FIXED_CLOCK)
    return make_plan(config, scan(config))


def _client():
    return boto3.client("accessanalyzer", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_findings_and_public_verdict_reach_the_review(tmp_path: Path, read_only: list[str]) -> None:
    plan = _plan(tmp_path)
    client = _client()
    stub = Stubber(client)
    for policy in plan.policies:
        params = {"policyDocument": json.dumps(policy.merged, sort_keys=True), "policyType": "RESOURCE_POLICY",
                  "validatePolicyResourceType": "AWS::S3::Bucket"}
        if policy.bucket == "bucket-a":
            stub.add_response("validate_policy", {"findings": [{
                "findingDetails": "Fix the principal.", "findingType": "SUGGESTION", "issueCode": "EMPTY_ARRAY_PRINCIPAL",
                "learnMoreLink": "https://example.invalid/learn", "locations": []}], "nextToken": "t1"}, params)
            stub.add_response("validate_policy", {"findings": []}, {**params, "nextToken": "t1"})
            stub.add_response("check_no_public_access", {
                "result": "FAIL", "message": "The policy grants public access.",
                "reasons": [{"description": "Principal * on GetObject", "statementIndex": 1}]},
                {"policyDocument": ANY, "resourceType": "AWS::S3::Bucket"})
        else:
            stub.add_response("validate_policy", {"findings": []}, params)
            stub.add_response("check_no_public_access", {"result": "PASS", "message": "No public access."},
                              {"policyDocument": ANY, "resourceType": "AWS::S3::Bucket"})
    with stub:
        checked = with_online_validation(plan, client)
    stub.assert_no_pending_responses()
    assert set(read_only) == {"ValidatePolicy", "CheckNoPublicAccess"}
    assert_allowed("validate-online", read_only)
    review = render_reviews(checked)["bucket-a"]
    assert "SUGGESTION EMPTY_ARRAY_PRINCIPAL: Fix the principal." in review
    assert "CheckNoPublicAccess FAIL" in review and "Principal * on GetObject" in review


def test_a_failing_call_is_one_clear_error(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = _client()
    stub = Stubber(client)
    stub.add_client_error("validate_policy", "AccessDeniedException", "not allowed", 403)
    with stub, pytest.raises(InputError, match=r"IAM Access Analyzer: .*AccessDenied"):
        with_online_validation(plan, client)


def test_check_no_new_access_compares_the_draft_with_the_current_policy(tmp_path: Path,
                                                                         read_only: list[str]) -> None:
    plan = _plan(tmp_path)
    current = {"Version": "2012-10-17", "Statement": [{"Sid": "Old", "Effect": "Allow",
                                                       "Principal": {"AWS": "111122223333"}, "Action": "s3:GetObject",
                                                       "Resource": "arn:aws:s3:::bucket-a/*"}]}
    policies = tuple(dataclasses.replace(p, current=current, current_from="current/bucket-a.json")
                     if p.bucket == "bucket-a" else p for p in plan.policies)
    plan = dataclasses.replace(plan, policies=policies)
    client = _client()
    stub = Stubber(client)
    for policy in plan.policies:
        stub.add_response("validate_policy", {"findings": []}, {"policyDocument": ANY, "policyType": ANY,
                                                                 "validatePolicyResourceType": ANY})
        stub.add_response("check_no_public_access", {"result": "PASS", "message": "No public access."},
                          {"policyDocument": ANY, "resourceType": "AWS::S3::Bucket"})
        if policy.bucket == "bucket-a":
            stub.add_response("check_no_new_access", {
                "result": "FAIL", "message": "The modified permissions grant new access.",
                "reasons": [{"description": "New access in S3PlanAclReadObjectPartnerReader5db87e"}]},
                {"newPolicyDocument": json.dumps(policy.merged, sort_keys=True),
                 "existingPolicyDocument": json.dumps(current, sort_keys=True), "policyType": "RESOURCE_POLICY"})
    with stub:
        checked = with_online_validation(plan, client)
    stub.assert_no_pending_responses()
    assert set(read_only) == {"ValidatePolicy", "CheckNoPublicAccess", "CheckNoNewAccess"}
    assert_allowed("validate-online", read_only)
    reviews = render_reviews(checked)
    assert "CheckNoNewAccess FAIL: The modified permissions grant new access." in reviews["bucket-a"]
    assert "CheckNoNewAccess" not in reviews["bucket-b"]

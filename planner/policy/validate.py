"""Optional online validation (`--validate-online`): IAM Access Analyzer's ValidatePolicy and
CheckNoPublicAccess on each draft, and CheckNoNewAccess of the draft against the current policy where it was read.
Read-only calls; the findings go into the review notes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from planner.model import BucketPolicy


class AccessAnalyzer(Protocol):
    """The boto3 `accessanalyzer` calls s3plan makes."""

    def validate_policy(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def check_no_public_access(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def check_no_new_access(self, **kwargs: Any) -> Mapping[str, Any]: ...


def validate_online(policies: Sequence[BucketPolicy], client: AccessAnalyzer) -> dict[str, tuple[str, ...]]:
    """Per bucket, one line per Access Analyzer finding, and the public-access verdict."""
    results: dict[str, tuple[str, ...]] = {}
    for policy in policies:
        if policy.merged is None:
            continue
        document = json.dumps(policy.merged, sort_keys=True)
        lines = [*_findings(client, document), _public(client, document)]
        if policy.current is not None and policy.current_from is not None:  # against the policy as read
            lines.append(_new_access(client, document, policy.current))
        results[policy.bucket] = tuple(lines)
    return results


def _findings(client: AccessAnalyzer, document: str) -> list[str]:
    lines, token = [], None
    while True:
        kwargs: dict[str, Any] = {"policyDocument": document, "policyType": "RESOURCE_POLICY",
                                  "validatePolicyResourceType": "AWS::S3::Bucket"}
        if token:
            kwargs["nextToken"] = token
        page = client.validate_policy(**kwargs)
        for finding in page.get("findings", []):
            lines.append(f"ValidatePolicy {finding.get('findingType')} {finding.get('issueCode')}: "
                         f"{finding.get('findingDetails')}")
        token = page.get("nextToken")
        if not token:
            return lines or ["ValidatePolicy: no findings"]


def _public(client: AccessAnalyzer, document: str) -> str:
    answer = client.check_no_public_access(policyDocument=document, resourceType="AWS::S3::Bucket")
    reasons = "; ".join(r.get("description", "") for r in answer.get("reasons", []))
    return f"CheckNoPublicAccess {answer.get('result')}: {answer.get('message', '')}" + (
        f" ({reasons})" if reasons else "")


def _new_access(client: AccessAnalyzer, document: str, current: Mapping[str, Any]) -> str:
    """What the draft grants beyond the current policy: FAIL is expected (the draft adds the access the ACLs gave);
    its reasons say which statements, for the reviewer to check against the evidence."""
    answer = client.check_no_new_access(newPolicyDocument=document, existingPolicyDocument=json.dumps(
        current, sort_keys=True), policyType="RESOURCE_POLICY")
    reasons = "; ".join(r.get("description", "") for r in answer.get("reasons", []))
    return f"CheckNoNewAccess {answer.get('result')}: {answer.get('message', '')}" + (
        f" ({reasons})" if reasons else "")

"""docs/permissions.md: every policy is valid, lints clean with parliament, grants only reads (but what Athena
needs to run a query), and allows every call s3plan makes in a mode (the mode tests call `assert_allowed`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import parliament
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "permissions.md"
BLOCK = re.compile(r"<!-- policy: (?P<mode>[a-z0-9-]+) -->\s*```json\n(?P<body>.*?)```", re.S)
# The writes Athena needs to run a query; allowed nowhere else, and PutObject only on the results location.
ATHENA_WRITES = {"athena:StartQueryExecution", "athena:StopQueryExecution", "s3:PutObject"}
# IAM files kms:Decrypt under "Write"; here it only reads the trail's SSE-KMS encrypted log files.
DECRYPT = "kms:Decrypt"
# botocore operation -> the IAM action that authorises it
ACTIONS = {
    "ListObjectsV2": "s3:ListBucket", "GetObject": "s3:GetObject", "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy", "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "GetBucketAcl": "s3:GetBucketAcl", "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
    "GetBucketLogging": "s3:GetBucketLogging", "GetObjectAcl": "s3:GetObjectAcl",
    "StartQueryExecution": "athena:StartQueryExecution", "GetQueryExecution": "athena:GetQueryExecution",
    "GetQueryResults": "athena:GetQueryResults", "StopQueryExecution": "athena:StopQueryExecution",
    "ValidatePolicy": "access-analyzer:ValidatePolicy", "CheckNoPublicAccess": "access-analyzer:CheckNoPublicAccess",
    "CheckNoNewAccess": "access-analyzer:CheckNoNewAccess",
}
# Calls IAM always allows: "No permissions are required to perform this operation" (STS API reference).
NEEDS_NO_PERMISSION = {"GetCallerIdentity"}


def policies() -> dict[str, dict[str, Any]]:
    """Mode -> its policy document, from the doc."""
    return {m["mode"]: json.loads(m["body"]) for m in BLOCK.finditer(DOC.read_text())}


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allowed_actions(mode: str) -> set[str]:
    return {a for s in statements(policies()[mode]) for a in as_list(s["Action"])}


def assert_allowed(mode: str, operations: list[str]) -> None:
    """Every operation s3plan called in a test of `mode` is allowed by that mode's documented policy."""
    missing = sorted({ACTIONS.get(op, f"unmapped:{op}") for op in operations if op not in NEEDS_NO_PERMISSION}
                     - allowed_actions(mode))
    assert not missing, f"docs/permissions.md ({mode}) does not allow {missing}"


def access_level(action: str) -> str:
    service, name = action.split(":")
    for definition in parliament.iam_definition:
        if definition["prefix"] == service:
            for privilege in definition["privileges"]:
                if privilege["privilege"] == name:
                    return str(privilege["access_level"])
    raise AssertionError(f"{action}: no such IAM action")


def test_every_mode_has_a_policy() -> None:
    assert sorted(policies()) == ["athena", "enrich", "inventory", "s3-logs", "validate-online"]


@pytest.mark.parametrize("mode", ["athena", "enrich", "inventory", "s3-logs", "validate-online"])
def test_policy_lints_clean_and_grants_reads_only(mode: str) -> None:
    policy = policies()[mode]
    analysed = parliament.analyze_policy_string(json.dumps(policy), include_community_auditors=False)
    assert [(f.issue, f.detail) for f in analysed.findings] == []
    for statement in statements(policy):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert "*" not in action
            level = access_level(action)
            if action == DECRYPT:
                assert mode == "s3-logs" and "kms:ViaService" in statement["Condition"]["StringEquals"]
            elif action in ATHENA_WRITES:
                assert mode == "athena", f"{action} outside the Athena policy"
                if action == "s3:PutObject":
                    assert all("results" in r for r in as_list(statement["Resource"]))
            else:
                assert level in ("List", "Read"), f"{action} is {level}"


def test_a_call_missing_from_the_policy_is_caught() -> None:
    with pytest.raises(AssertionError, match="s3:GetObjectAcl"):
        assert_allowed("s3-logs", ["ListObjectsV2", "GetObjectAcl"])

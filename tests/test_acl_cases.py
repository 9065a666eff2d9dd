"""ACL rule cases (tests/rule_cases/acl.yaml): every aclRequired-table row and AWS migration example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.classify.loader import load_rules
from planner.classify.remedies import classify_acl, decide
from planner.model import Evidence
from planner.policy.check import check_statement
from planner.policy.draft import draft_statements

ACL_RULES = load_rules("acl")
DECISIONS = [r for r in ACL_RULES if "decision" in r.fields]
MAPPING = {r.fields["event"]: r.fields for r in ACL_RULES if "event" in r.fields}
CASES = yaml.safe_load((Path(__file__).parent / "rule_cases" / "acl.yaml").read_text())["cases"]
DEFAULTS: dict[str, Any] = dict(
    source="cloudtrail", bucket="DOC-EXAMPLE-BUCKET".lower(), bucket_account_id="444455556666", region="us-east-1",
    principal="arn:aws:iam::111122223333:root", principal_type="AWSAccount", account_id="111122223333",
    user_agent="a", signature_version="SigV4", auth_method="AuthHeader", acl_header=None, requests=2, errors=0,
    first_seen="2026-11-02T10:00:00Z", last_seen="2026-11-02T11:00:00Z", key_prefixes=(), key_prefix_count=0)


def _evidence(row: dict[str, Any]) -> Evidence:
    fields = {**DEFAULTS, **row}
    fields["key_prefixes"] = tuple(fields["key_prefixes"])
    fields["request_headers"] = tuple(fields.get("request_headers", ()))
    fields["key_prefix_count"] = len(fields["key_prefixes"])
    return Evidence(**fields)


def _lower(value: Any) -> Any:
    return value.replace("DOC-EXAMPLE-BUCKET", "doc-example-bucket") if isinstance(value, str) else value


@pytest.mark.parametrize("case", CASES, ids=[c["name"][:60] for c in CASES])
def test_acl_case(case: dict[str, Any]) -> None:
    evidence = [_evidence(row) for row in case["evidence"]]
    decided = [decide(e, DECISIONS) for e in evidence]
    wanted = case["decisions"]
    assert [d.fields["decision"] if d and (e.acl_required or e.acl_header not in (None, "bucket-owner-full-control"))
            else None for d, e in zip(decided, evidence, strict=True)] == wanted
    statements, _ = draft_statements(classify_acl(evidence, ACL_RULES))
    by_id = {e.id: e for e in evidence}
    got = []
    for stmt in statements:
        check_statement(stmt, by_id, MAPPING)
        doc = stmt.document
        resources = [doc["Resource"]] if isinstance(doc["Resource"], str) else doc["Resource"]
        got.append({"principal": doc["Principal"], "actions": sorted(doc["Action"]), "resources": sorted(resources),
                     **({"condition": doc["Condition"]} if "Condition" in doc else {})})
    expected = [{**s, "resources": sorted(_lower(r) for r in s["resources"]), "actions": sorted(s["actions"])}
                for s in case["statements"]]
    assert got == expected


def test_every_decision_rule_has_a_case() -> None:
    used = {d for c in CASES for d in c["decisions"] if d}
    assert used == {r.fields["decision"] for r in DECISIONS}

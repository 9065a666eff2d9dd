"""Safety invariants, checked on every draft before it is written. A violation is a bug, never a warning."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from planner.errors import InternalError
from planner.model import Evidence, Statement
from planner.policy.draft import (
    BUCKET_NAME,
    IAM_PRINCIPAL,
    LOG_DELIVERY,
    PUBLIC_ACTIONS,
    actions_of,
    list_condition,
    resources_of,
)

BUCKET_POLICY_LIMIT = 20 * 1024  # bytes of the policy with whitespace removed (facts §9)
SESSION_MARKERS = (":assumed-role/", "arn:aws:sts::", ":federated-user/")


def check_statement(stmt: Statement, evidence: Mapping[str, Evidence],
                    mapping: Mapping[str, tuple[str, str]]) -> None:
    """Raise InternalError unless the statement grants no more than its evidence shows.

    `mapping` is the ACL rules' event -> (policy action, scope): every (action, resource) pair of the statement
    must be one that a cited evidence row shows.
    """
    doc = stmt.document
    cited = [evidence[e] for e in stmt.evidence]

    def fail(why: str) -> None:
        raise InternalError(f"unsafe draft {stmt.sid} for {stmt.bucket}: {why}")

    if doc.get("Effect") != "Allow":
        fail("only Allow statements are drafted")
    if not cited:
        fail("no evidence cited")
    actions = as_list(doc.get("Action"))
    if not actions or any("*" in a or "?" in a for a in actions):
        fail(f"wildcard or empty action {actions}")
    observed = {a for e in cited if e.event_name in mapping for a in actions_of(mapping[e.event_name][0], e)}
    if not set(actions) <= observed:
        fail(f"actions {sorted(set(actions) - observed)} were not observed")
    shown = {(a, r) for e in cited if e.event_name in mapping for a in actions_of(mapping[e.event_name][0], e)
             for r in resources_of(stmt.bucket, mapping[e.event_name][1], e)}
    unbacked = sorted((a, r) for a in actions for r in as_list(doc.get("Resource")) if (a, r) not in shown)
    if unbacked:
        fail(f"no evidence shows {unbacked[0][0]} on {unbacked[0][1]}")
    _check_principal(doc.get("Principal"), actions, cited, fail)
    if not BUCKET_NAME.match(stmt.bucket):
        fail("not a valid bucket name")
    _check_condition(doc, cited, fail)
    for resource in as_list(doc.get("Resource")):
        if resource != f"arn:aws:s3:::{stmt.bucket}" and not resource.startswith(f"arn:aws:s3:::{stmt.bucket}/"):
            fail(f"resource {resource} is outside the bucket")


def _check_principal(principal: Any, actions: Sequence[str], cited: Sequence[Evidence], fail: Any) -> None:
    anonymous = all(e.principal_type == "anonymous" for e in cited)
    if principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))):
        if not anonymous:
            fail("Principal * without anonymous evidence")
        if not set(actions) <= PUBLIC_ACTIONS:
            fail(f"public statement with {sorted(set(actions) - PUBLIC_ACTIONS)}: only reads are ever public")
        return
    if isinstance(principal, dict) and set(principal) == {"Service"}:
        if as_list(principal["Service"]) != [LOG_DELIVERY] or {e.principal for e in cited} != {LOG_DELIVERY}:
            fail(f"service principal {principal!r} is not the evidence's log delivery")
        return
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        fail(f"unexpected principal {principal!r}")
    names = as_list(principal["AWS"])
    if any(marker in n for n in names for marker in SESSION_MARKERS):
        fail(f"session principal {names}")
    if not all(IAM_PRINCIPAL.match(n) for n in names):
        fail(f"principal {names} is not an IAM role, user or account ARN")
    if set(names) != {e.principal for e in cited}:
        fail(f"principal {names} is not the evidence's principal")


def _check_condition(doc: Mapping[str, Any], cited: Sequence[Evidence], fail: Any) -> None:
    """Conditions only narrow: s3:prefix on listings as the evidence shows them; log delivery pinned to the bucket
    owner's account. Anything else is refused."""
    condition = doc.get("Condition")
    if doc.get("Principal") != {"Service": LOG_DELIVERY}:
        if condition and condition != list_condition(as_list(doc.get("Action")), cited):
            fail(f"unexpected condition {condition}")
        return
    owners = {e.bucket_account_id for e in cited}
    if not condition or condition.get("StringEquals", {}).get("aws:SourceAccount") not in owners or None in owners:
        fail("log delivery without aws:SourceAccount of the bucket owner")
    if as_list(doc.get("Action")) != ["s3:PutObject"]:
        fail("log delivery may only put objects")


def minified_size(policy: Mapping[str, Any]) -> int:
    """Bytes of the policy as JSON with whitespace removed: what the 20 KB limit counts."""
    return len(json.dumps(policy, separators=(",", ":"), sort_keys=True).encode())


def as_list(value: Any) -> list[str]:
    """A policy element that may be one string or a list, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)

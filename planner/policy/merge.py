"""Merge drafted statements into a bucket's current policy: existing statements are kept untouched and first,
new ones are added once, and access the current policy already grants is recognised and not added again."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.classify.remedies import HARMLESS_CANNED_ACL
from planner.model import Blocker, Statement
from planner.policy.check import as_list
from planner.policy.draft import POLICY_VERSION


@dataclass(frozen=True)
class Merged:
    """The merged policy and what happened to each drafted statement."""

    policy: dict[str, Any]
    added: tuple[Statement, ...]
    already_granted: tuple[Statement, ...]
    renamed: tuple[tuple[str, str], ...]


def merge(current: Mapping[str, Any] | None, drafted: Sequence[Statement]) -> Merged:
    """Current statements first and unchanged, then the drafted ones the current policy does not already grant."""
    existing = [dict(s) for s in _statements(current)]
    taken = {s.get("Sid") for s in existing if s.get("Sid")}
    added, already, renamed = [], [], []
    new_docs = []
    for stmt in sorted(drafted, key=lambda s: s.sid):
        if any(grants(old, stmt.document) for old in existing):
            already.append(stmt)
            continue
        doc = dict(stmt.document)
        if doc["Sid"] in taken:
            new_sid = _free_sid(doc["Sid"], taken)
            renamed.append((doc["Sid"], new_sid))
            doc["Sid"] = new_sid
        taken.add(doc["Sid"])
        new_docs.append(doc)
        added.append(stmt)
    policy: dict[str, Any] = {k: v for k, v in (current or {}).items() if k != "Statement"}
    # the drafts' ${*} escapes need 2012-10-17; current statements without ${ mean the same under it
    if policy.get("Version") != POLICY_VERSION and "${" not in json.dumps(existing):
        policy["Version"] = POLICY_VERSION
    policy["Statement"] = existing + new_docs
    return Merged(policy, tuple(added), tuple(already), tuple(renamed))


def grants(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True when an existing unconditional Allow covers every action on every resource for the principal."""
    if existing.get("Effect") != "Allow" or existing.get("Condition"):
        return False
    if any(k in existing for k in ("NotPrincipal", "NotAction", "NotResource")):
        return False
    if not _principal_covers(existing.get("Principal"), wanted["Principal"]):
        return False
    actions, resources = as_list(existing.get("Action")), as_list(existing.get("Resource"))
    return (all(any(covers(p.lower(), a.lower()) for p in actions) for a in as_list(wanted["Action"]))
            and all(any(covers(p, r) for p in resources) for r in as_list(wanted["Resource"])))


def covers(pattern: str, wanted: str) -> bool:
    """True when IAM pattern `pattern` (only * and ? are special) matches everything `wanted` matches.

    A literal `wanted` must match the pattern; a `wanted` that is itself a pattern is covered only by an equal
    pattern or by a plain prefix ending in `*` (IAM policy variables such as ${*} count as literal text)."""
    if "*" not in wanted.replace("${*}", "") and "?" not in wanted.replace("${?}", ""):
        literal = wanted.replace("${*}", "*").replace("${?}", "?").replace("${$}", "$")
        return re.fullmatch(_iam_regex(pattern), literal, re.S) is not None
    if pattern == wanted:
        return True
    head = pattern[:-1]
    return pattern.endswith("*") and "*" not in head and "?" not in head and "$" not in head \
        and wanted.startswith(head)


def _iam_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _principal_covers(existing: Any, wanted: Any) -> bool:
    if existing == "*" or (isinstance(existing, dict) and "*" in as_list(existing.get("AWS"))):
        return True  # granted to everyone already (that is a finding of its own, not ours to narrow)
    if wanted == "*" or not isinstance(existing, dict) or not isinstance(wanted, dict):
        return False
    for kind, names in wanted.items():
        have = set(as_list(existing.get(kind)))
        for name in as_list(names):
            account = name.split(":")[4] if name.startswith("arn:") and name.count(":") >= 5 else None
            root = f"arn:aws:iam::{account}:root" if account else None
            if name not in have and root not in have and account not in have:
                return False
    return True


def acl_condition_blockers(current: Mapping[str, Any] | None) -> list[Blocker]:
    """Statements that require an ACL other than bucket-owner-full-control (facts §4d step 3)."""
    found = []
    for stmt in _statements(current):
        for operator, keys in (stmt.get("Condition") or {}).items():
            # Allow ... StringEquals x, or Deny ... StringNotEquals x, makes x a requirement; the reverse forbids it
            requires = (stmt.get("Effect") == "Allow") != ("Not" in operator)
            for key, value in (keys or {}).items():
                lowered = key.lower()
                if requires and (lowered.startswith("s3:x-amz-grant-") or (
                        lowered == "s3:x-amz-acl" and any(v != HARMLESS_CANNED_ACL for v in as_list(value)))):
                    found.append(Blocker("acl-condition-in-policy",
                                         f"statement {stmt.get('Sid') or '(no Sid)'} has {operator} {key} = "
                                         f"{json.dumps(value)}: requests that need it fail once ACLs are disabled"))
    return found


def _statements(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not policy:
        return []
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _free_sid(sid: str, taken: set[Any]) -> str:
    n = 2
    while f"{sid}{n}" in taken:
        n += 1
    return f"{sid}{n}"

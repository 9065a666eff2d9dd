"""Merge drafted statements into a bucket's current policy: existing statements are kept untouched and first, new
ones are added once, and access the current policy provably already grants is not added again.

"Provably" follows IAM's evaluation for the elements s3plan can read: an unconditional Allow in the same
partition whose principal, actions and resources cover the need (literal match or IAM wildcards), with no Deny that
could apply. Anything else (a condition, NotPrincipal/NotAction/NotResource, a policy variable or ${...} text, a
public statement that Block Public Access may neutralise) is not a proof: the statement is drafted, and the review
note names the existing statement that might already cover it and why s3plan could not prove it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.classify.remedies import HARMLESS_CANNED_ACL
from planner.model import Blocker, Statement
from planner.policy.check import as_list
from planner.policy.draft import POLICY_VERSION

NOT_ELEMENTS = ("NotPrincipal", "NotAction", "NotResource")
_ACCOUNT_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):")
# The account of any IAM or STS principal, or a bare account id.
_ANY_ACCOUNT = re.compile(r"^(?:arn:aws[a-z-]*:(?:iam|sts)::)?(\d{12})(?::|$)")
Principal = tuple[str, str]  # (policy principal form, name): ("AWS", "arn:aws:iam::...:role/x")
PUBLIC: Principal = ("AWS", "*")


@dataclass(frozen=True)
class Merged:
    """The merged policy and what happened to each drafted statement; `doubts` are (drafted Sid, why an existing
    statement might already grant it but could not be proven to)."""

    policy: dict[str, Any]
    added: tuple[Statement, ...]
    already_granted: tuple[Statement, ...]
    renamed: tuple[tuple[str, str], ...]
    doubts: tuple[tuple[str, str], ...] = ()


def merge(current: Mapping[str, Any] | None, drafted: Sequence[Statement],
          public_allowed: bool | None = None) -> Merged:
    """Current statements first and unchanged, then the drafted ones the current policy does not provably grant.
    `public_allowed` is True only when Block Public Access is known to let a public policy work (bucket and
    account RestrictPublicBuckets read as off); None means unknown."""
    existing = [dict(s) for s in _statements(current)]
    taken = {s.get("Sid") for s in existing if s.get("Sid")}
    public = any(_is_public(s.document) for s in drafted) or any(
        s.get("Effect") == "Allow" and _is_public(s) for s in existing)
    added: list[Statement] = []
    already: list[Statement] = []
    renamed: list[tuple[str, str]] = []
    doubts: list[tuple[str, str]] = []
    new_docs = []
    for stmt in sorted(drafted, key=lambda s: s.sid):
        proven, why = covered(existing, stmt.document, public_allowed is True, public)
        present = _present(existing, stmt.document)  # the same statement again would change nothing
        doubts.extend((stmt.sid, f"it is already in the policy as drafted, but {reason}" if present else reason)
                      for reason in why)
        if proven or present:
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
    return Merged(policy, tuple(added), tuple(already), tuple(renamed), tuple(doubts))


def _present(existing: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any]) -> bool:
    """Whether the policy already holds this very statement (under any Sid): a re-run after it was applied."""
    body = {k: v for k, v in wanted.items() if k != "Sid"}
    return any({k: v for k, v in s.items() if k != "Sid"} == body for s in existing)


def covered(existing: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any], public_allowed: bool,
            public_policy: bool) -> tuple[bool, list[str]]:
    """(every (principal, action, resource) of `wanted` is provably allowed, the doubts that kept it unproven).
    `public_policy`: the merged policy has a public statement, which RestrictPublicBuckets would turn against
    every cross-account grant in it."""
    doubts: list[str] = []
    for stmt in existing:
        if stmt.get("Effect") == "Deny" and _may_apply(stmt, wanted):
            doubts.append(f"the Deny {_name(stmt)} may apply to these requests ({_deny_reason(stmt)}), so s3plan "
                          "cannot prove the access granted")
    allows = [s for s in existing if s.get("Effect") == "Allow"]
    cross_account = _principal_names(wanted) != [PUBLIC]
    if public_policy and cross_account and not public_allowed and allows:
        doubts.append("the policy has a public statement and Block Public Access RestrictPublicBuckets is on or "
                      "unknown (on by default; read with --enrich): S3 then refuses cross-account access through "
                      "any statement of the policy")
    proven = not doubts
    for principal in _principal_names(wanted):
        for action in as_list(wanted["Action"]):
            for resource in as_list(wanted["Resource"]):
                proof, maybe = _allowed(allows, principal, action, resource, public_allowed)
                proven = proven and proof
                doubts.extend(m for m in maybe if m not in doubts)
    return proven, doubts if not proven else []


def _allowed(allows: Iterable[Mapping[str, Any]], principal: Principal, action: str, resource: str,
             public_allowed: bool) -> tuple[bool, list[str]]:
    """Whether one unconditional Allow provably covers the pair, and why the others that might could not."""
    doubts = []
    for stmt in allows:
        if not (_principal_may_match(stmt, principal) and _action_may_match(stmt, action)
                and _resource_may_match(stmt, resource)):
            continue
        reasons = _unprovable(stmt, principal, public_allowed)
        if not reasons and _principal_covers(stmt.get("Principal"), principal) \
                and any(covers(p.lower(), action.lower()) for p in as_list(stmt.get("Action"))) \
                and any(covers(p, resource) for p in as_list(stmt.get("Resource"))):
            return True, []
        if reasons:
            doubts.append(f"{_name(stmt)} might already allow {action} on {resource}, but {'; '.join(reasons)}")
    return False, doubts


def _unprovable(stmt: Mapping[str, Any], principal: Principal, public_allowed: bool) -> list[str]:
    """What in an Allow keeps s3plan from proving it applies."""
    reasons = []
    if stmt.get("Condition"):
        reasons.append(f"it has a condition s3plan does not evaluate ({', '.join(sorted(stmt['Condition']))})")
    reasons += [f"it uses {k}, which s3plan does not evaluate" for k in NOT_ELEMENTS if k in stmt]
    if any("${" in r for r in as_list(stmt.get("Resource"))):
        reasons.append("its Resource holds ${...} (a policy variable or escape), which s3plan does not evaluate")
    if _is_public(stmt) and not public_allowed:
        reasons.append("it is public and Block Public Access RestrictPublicBuckets is on or unknown, which would "
                       "refuse it (on by default for new buckets; read with --enrich)")
    if not isinstance(stmt.get("Principal"), (str, dict)) and "NotPrincipal" not in stmt:
        reasons.append("its Principal is not a form s3plan reads")
    return reasons


def covers(pattern: str, wanted: str) -> bool:
    """True when IAM pattern `pattern` (only * and ? are special) matches everything `wanted` matches.

    A literal `wanted` must match the pattern; a `wanted` that is itself a pattern is covered only by an equal
    pattern or by a plain prefix ending in `*`. In `wanted` (a draft), ${*} ${?} ${$} are the characters."""
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


def _principal_names(doc: Mapping[str, Any]) -> list[Principal]:
    """A drafted statement's principals as (form, name): PUBLIC for public ones, else each named principal."""
    principal = doc["Principal"]
    if principal == "*" or principal == {"AWS": "*"}:
        return [PUBLIC]
    return [(kind, name) for kind, names in principal.items() for name in as_list(names)]


def _principal_covers(existing: Any, wanted: Principal) -> bool:
    """Whether an existing Principal names `wanted`: itself in the same form, or for an IAM principal its account
    (root ARN or bare id) in the same partition; a public Principal covers every IAM principal and anyone
    (Block Public Access is weighed by the caller), but not a service."""
    kind, name = wanted
    if existing == "*" or (isinstance(existing, dict) and "*" in as_list(existing.get("AWS"))):
        return kind == "AWS"
    if wanted == PUBLIC or not isinstance(existing, dict):
        return False
    have = set(as_list(existing.get(kind)))
    if name in have:
        return True
    account = _ACCOUNT_ARN.match(name) if kind == "AWS" else None
    return account is not None and (f"arn:{account[1]}:iam::{account[2]}:root" in have or account[2] in have)


def _principal_may_match(stmt: Mapping[str, Any], wanted: Principal) -> bool:
    if "NotPrincipal" in stmt:
        return wanted[1] not in as_list((stmt["NotPrincipal"] or {}).get(wanted[0]) if isinstance(
            stmt["NotPrincipal"], dict) else stmt["NotPrincipal"])
    return _principal_covers(stmt.get("Principal"), wanted)


def _action_may_match(stmt: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in stmt:
        return not any(covers(p.lower(), action.lower()) for p in as_list(stmt["NotAction"]))
    return any(_may_overlap(p.lower(), action.lower()) for p in as_list(stmt.get("Action")))


def _resource_may_match(stmt: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in stmt:
        return not any(covers(p, resource) for p in as_list(stmt["NotResource"]))
    return any(_may_overlap(p, resource) for p in as_list(stmt.get("Resource")))


def _may_overlap(a: str, b: str) -> bool:
    """Whether two IAM patterns could match one string: unless their literal heads or tails part ways, assume
    they can (${...} counts as a wildcard here, where guessing wide is the safe side)."""
    def cut(text: str) -> tuple[str, str]:
        marks = [i for i in (text.find("*"), text.find("?"), text.find("${")) if i >= 0]
        if not marks:
            return text, text
        tail_marks = [text.rfind("*"), text.rfind("?"), text.rfind("}") if "${" in text else -1]
        return text[:min(marks)], text[max(tail_marks) + 1:]
    (head_a, tail_a), (head_b, tail_b) = cut(a), cut(b)
    if not (head_a.startswith(head_b) or head_b.startswith(head_a)):
        return False
    return tail_a.endswith(tail_b) or tail_b.endswith(tail_a)


def _deny_may_reach(deny: Mapping[str, Any], wanted: Principal) -> bool:
    """Whether a Deny's principals could include a caller of `wanted`. Wide on purpose: NotPrincipal (its
    exemptions must name the session ARN as well as the role, IAM's NotPrincipal page), a form other than AWS
    (CanonicalUser, Federated), and any ARN in the wanted principal's account (its role sessions, its roles when
    the account itself is wanted) may; only IAM principals of other accounts, and other services, may not."""
    if "NotPrincipal" in deny or _is_public(deny):
        return True
    principal = deny.get("Principal")
    if not isinstance(principal, dict) or set(principal) - {"AWS", "Service"}:
        return True
    kind, name = wanted
    if kind == "Service" or wanted == PUBLIC:
        return name in as_list(principal.get("Service"))  # an anonymous caller is none of the principals named
    account = _ACCOUNT_ARN.match(name)
    for named in as_list(principal.get("AWS")):
        other = _ANY_ACCOUNT.match(named)
        if named == name or other is None or (account is not None and other[1] == account[2]):
            return True
    return False


def _may_apply(deny: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether a Deny could refuse any request the drafted statement is for (conditions count as 'could')."""
    return (any(_deny_may_reach(deny, p) for p in _principal_names(wanted))
            and any(_action_may_match(deny, a) for a in as_list(wanted["Action"]))
            and any(_resource_may_match(deny, r) for r in as_list(wanted["Resource"])))


def _deny_reason(stmt: Mapping[str, Any]) -> str:
    if stmt.get("Condition"):
        return f"s3plan does not evaluate its condition {', '.join(sorted(stmt['Condition']))}"
    return "it has no condition: it refuses them whatever an Allow says"


def _is_public(stmt: Mapping[str, Any]) -> bool:
    """Principal * (in any form), or NotPrincipal, which reaches everyone it does not name."""
    principal = stmt.get("Principal")
    return "NotPrincipal" in stmt or principal == "*" or principal == ["*"] or (
        isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))


def _name(stmt: Mapping[str, Any]) -> str:
    return f"statement {stmt['Sid']}" if stmt.get("Sid") else "a statement without Sid"


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

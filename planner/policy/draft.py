"""ACL findings -> least-privilege bucket-policy statements (one per bucket, principal, access and scope)."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from planner.classify.remedies import AclFinding
from planner.model import Statement

POLICY_VERSION = "2012-10-17"
# An IAM principal the evidence can name: an account root, a user or a role (never an STS session).
IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|user/.+|role/.+)$")
# IAM wildcards in an object key must stay literal: `${*}`, `${?}`, `${$}` (IAM policy variables).
_LITERAL = {"*": "${*}", "?": "${?}", "$": "${$}"}


def draft_statements(findings: Sequence[AclFinding]) -> tuple[tuple[Statement, ...], tuple[str, ...]]:
    """Statements for cross-account access that relied on ACLs, plus notes on evidence that got none."""
    groups: dict[tuple[str, str, str, str], list[AclFinding]] = defaultdict(list)
    notes: list[str] = []
    for f in findings:
        ev = f.evidence
        if f.access_kind != "cross-account" or not ev.bucket:
            continue
        if f.action is None or f.access is None or f.scope is None:
            notes.append(f"{ev.bucket}: {ev.event_name} by {ev.principal} relied on an ACL, but no rule maps "
                         f"{ev.event_name} to a policy action; review it by hand")
            continue
        if not IAM_PRINCIPAL.match(ev.principal):
            notes.append(f"{ev.bucket}: {ev.principal} is not a role, user or account ARN; no statement drafted")
            continue
        groups[(ev.bucket, ev.principal, f.access, f.scope)].append(f)
    statements = [_statement(key, group) for key, group in sorted(groups.items())]
    return tuple(statements), tuple(notes)


def _statement(key: tuple[str, str, str, str], group: Sequence[AclFinding]) -> Statement:
    bucket, principal, access, scope = key
    actions = sorted({f.action for f in group if f.action})
    resources, risk = _resources(bucket, scope, group)
    sid = make_sid(bucket, principal, access, scope)
    document: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": resources if len(resources) > 1 else resources[0],
    }
    evidence = [f.evidence for f in group]
    firsts = [e.first_seen for e in evidence if e.first_seen]
    lasts = [e.last_seen for e in evidence if e.last_seen]
    return Statement(
        bucket=bucket, sid=sid, principal=principal, access=f"{access}-{scope}", document=document,
        evidence=tuple(sorted({e.id for e in evidence})), requests=sum(e.requests for e in evidence),
        first_seen=min(firsts) if firsts else None, last_seen=max(lasts) if lasts else None,
        risk=tuple(risk), notes=tuple(sorted({f"rule {f.rule}" for f in group if f.rule})),
    )


def _resources(bucket: str, scope: str, group: Sequence[AclFinding]) -> tuple[list[str], list[str]]:
    """Bucket ARN for bucket-scoped actions; observed key prefixes for object actions."""
    if scope == "bucket":
        return [f"arn:aws:s3:::{bucket}"], []
    prefixes = sorted({p for f in group for p in f.evidence.key_prefixes})
    risk = []
    if any(f.evidence.key_prefix_count > len(f.evidence.key_prefixes) for f in group):
        risk.append("more key prefixes were observed than listed; the statement covers only those listed")
    if not prefixes:
        risk.append("no object keys in the evidence: the resource is every object in the bucket")
        return [f"arn:aws:s3:::{bucket}/*"], risk
    return [f"arn:aws:s3:::{bucket}/{object_pattern(p)}" for p in prefixes], risk


def object_pattern(prefix: str) -> str:
    """A key prefix ending in `/` covers what is below it; any other key is that object alone."""
    literal = "".join(_LITERAL.get(c, c) for c in prefix)
    return literal + "*" if prefix.endswith("/") else literal


def make_sid(bucket: str, principal: str, access: str, scope: str) -> str:
    """A stable, readable Sid of [A-Za-z0-9] (facts §9): S3PlanAcl<Access><Name><hash>."""
    account_root = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):root$", principal)
    label = f"Account{account_root.group(1)}" if account_root else principal.rsplit("/", 1)[-1].title()
    name = re.sub(r"[^A-Za-z0-9]", "", label)[:24]
    digest = hashlib.sha256(f"{bucket}|{principal}|{access}|{scope}".encode()).hexdigest()[:6]
    camel = "".join(part.title() for part in f"{access}-{scope}".split("-"))
    return f"S3PlanAcl{camel}{name}{digest}"


def policy_document(statements: Sequence[Statement]) -> dict[str, Any]:
    """A bucket policy holding the statements, sorted by Sid for deterministic output."""
    return {"Version": POLICY_VERSION, "Statement": [dict(s.document) for s in sorted(statements, key=lambda s: s.sid)]}

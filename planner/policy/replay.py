"""The replay: each ACL-dependent request the logs show, evaluated against its bucket as it will be once ACLs are
disabled (the merged draft, ACLs ignored), with the evaluator of evaluate.py, which shares no code with the
drafter. Verdicts per evidence row: `allowed`, `denied` or `unknown`, with why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.model import Evidence
from planner.policy.evaluate import Caller, Decision, Request, evaluate

BOFC = "bucket-owner-full-control"  # the one canned ACL a bucket with ACLs disabled still accepts (facts §4)
SIGNATURE = {"SigV2": "AWS", "SigV4": "AWS4-HMAC-SHA256"}  # s3:signatureversion values (facts §3)
LISTINGS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})  # requests that name s3:prefix
AUTH_TYPE = {"AuthHeader": "REST-HEADER", "QueryString": "REST-QUERY-STRING"}  # s3:authType values


@dataclass(frozen=True)
class ReplayRow:
    """One evidence row's verdict after the change."""

    evidence_id: str
    bucket: str
    principal: str
    event_name: str
    requests: int
    after: str  # allowed | denied | unknown
    why: str
    statement: str | None = None
    sets_acl: bool = False


def replay_bucket(rows: Iterable[Evidence], policy: Mapping[str, Any] | None,
                  operations: Mapping[str, Mapping[str, Any]], public_ok: bool | None = None) -> list[ReplayRow]:
    """Every ACL-dependent row of one bucket against `policy` (the merged draft; None: no policy at all).
    `public_ok`: whether Block Public Access lets a public statement work (None: not read)."""
    document = policy or {"Statement": []}
    return [_replay(row, document, operations, public_ok) for row in rows if _acl_dependent(row)]


def _acl_dependent(row: Evidence) -> bool:
    return row.acl_required or row.acl_header is not None


def _replay(row: Evidence, policy: Mapping[str, Any], operations: Mapping[str, Mapping[str, Any]],
            public_ok: bool | None) -> ReplayRow:
    if row.acl_header is not None and row.acl_header != BOFC:
        why = f"sets an ACL ({row.acl_header}): refused once ACLs are disabled, whatever the policy"
        return _row(row, Decision("denied", why), sets_acl=True)
    operation = operations.get(row.event_name)
    actions = _actions(row, operation)
    if not actions:
        return _row(row, Decision("denied", f"{row.event_name} needs an ACL: no policy can keep it working"))
    if _same_account(row):  # its IAM policy allowed it before and still decides; only a Deny can refuse it
        policy = {"Statement": [s for s in _statements(policy) if s.get("Effect") == "Deny"]}
    decisions = [evaluate(policy, _request(row, action, resource, extra)) for action in actions
                 for resource, extra in _targets(row, operation)]
    return _row(row, _combine(row, decisions, public_ok))


def _row(row: Evidence, decision: Decision, sets_acl: bool = False) -> ReplayRow:
    return ReplayRow(row.id, row.bucket or "", row.principal, row.event_name, row.requests, decision.verdict,
                     decision.why, decision.sid, sets_acl)


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = policy.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def _actions(row: Evidence, operation: Mapping[str, Any] | None) -> list[str]:
    """What the row's requests need: the version actions when every request named a versionId, plus what its
    headers add (rules/acl/actions.yaml)."""
    if operation is None:
        return []
    versioned = row.versioned_requests and row.versioned_requests == row.requests
    needed = list(operation.get("versioned") or operation.get("actions") or []) if versioned else list(
        operation.get("actions") or [])
    headers = operation.get("headers") or {}
    for header in row.request_headers:
        needed += [a for a in headers.get(header, []) if a not in needed]
    return needed


def _targets(row: Evidence, operation: Mapping[str, Any] | None) -> list[tuple[str, dict[str, tuple[str, ...]]]]:
    """The ARNs the requests touched, each with what it adds to the context: the bucket (a listing once per prefix
    it named, as `s3:prefix`), or an object under each key prefix seen (a prefix stands for the keys under it, so
    a key inside it is taken; a whole key is itself)."""
    bucket = f"arn:{row.partition}:s3:::{row.bucket}"
    if operation is not None and operation.get("scope") == "object":
        keys = [p + "\u2026" if row.is_prefix(p) else p for p in row.key_prefixes] or ["\u2026"]
        return [(f"{bucket}/{key}", {}) for key in keys]
    if row.event_name in LISTINGS:
        if not row.key_prefixes:
            return [(bucket, {})]  # no prefix named: s3:prefix is absent (see _request)
        return [(bucket, {"s3:prefix": (prefix,)}) for prefix in row.key_prefixes]
    return [(bucket, {})]


def _request(row: Evidence, action: str, resource: str, extra: Mapping[str, tuple[str, ...]]) -> Request:
    """The request as the evidence shows it: who, and the condition keys the logs record."""
    context: dict[str, tuple[str, ...]] = dict(extra)
    absent: set[str] = set()
    if row.event_name in LISTINGS and not row.key_prefixes and not row.key_prefix_count:
        absent.add("s3:prefix")
    if row.signature_version in SIGNATURE:
        context["s3:signatureversion"] = (SIGNATURE[row.signature_version],)
    if row.auth_method in AUTH_TYPE:
        context["s3:authtype"] = (AUTH_TYPE[row.auth_method],)
    if row.acl_header is None:
        absent.add("s3:x-amz-acl")
    elif not row.acl_header.startswith("x-amz-grant"):
        context["s3:x-amz-acl"] = (row.acl_header,)
    caller = _caller(row)
    if caller.arn and caller.account:
        context["aws:principalarn"] = (caller.arn,)
        context["aws:principalaccount"] = (caller.account,)
    return Request(caller, action, resource, context, frozenset(absent))


def _caller(row: Evidence) -> Caller:
    if row.principal_type == "anonymous":
        return Caller(None, None)
    if row.principal_type == "AWSService":
        return Caller(None, None, service=row.principal)
    return Caller(row.principal, row.account_id)


def _combine(row: Evidence, decisions: Sequence[Decision], public_ok: bool | None) -> Decision:
    """Every action on every resource must be allowed. A same-account caller was checked against the Denies only,
    so no Deny is allowed for it; a public caller also needs Block Public Access to let the public statement work;
    keys outside the sampled prefixes cannot be proven."""
    if _same_account(row):
        if any(d.verdict == "denied" and d.sid for d in decisions):
            return next(d for d in decisions if d.verdict == "denied" and d.sid)
        unknown = [d for d in decisions if d.verdict == "unknown"]
        return unknown[0] if unknown else Decision("allowed", "same account: its IAM policy decides, not the ACL, "
                                                              "and no Deny applies")
    for verdict in ("denied", "unknown"):
        found = [d for d in decisions if d.verdict == verdict]
        if found:
            return found[0]
    allowed = decisions[0]
    if row.principal_type == "anonymous" and public_ok is not True:
        if public_ok is False:
            return Decision("denied", "Block Public Access (RestrictPublicBuckets) refuses the public statement",
                            allowed.sid)
        return Decision("unknown", "a public statement allows it, but the Block Public Access settings were not "
                                   "read (run with --enrich)", allowed.sid)
    if row.key_prefix_count > len(row.key_prefixes):
        return Decision("unknown", f"allowed on the {len(row.key_prefixes)} key prefixes sampled, not proven on "
                                   f"the other {row.key_prefix_count - len(row.key_prefixes)}", allowed.sid)
    return allowed


def _same_account(row: Evidence) -> bool:
    return row.account_id is not None and row.account_id == row.bucket_account_id and row.principal_type in (
        "IAMUser", "AssumedRole", "Root")

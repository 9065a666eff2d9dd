"""The replay: each ACL-dependent request the logs show, evaluated against its bucket as it will be once ACLs are
disabled (the merged draft, ACLs ignored), with the evaluator of evaluate.py, which shares no code with the
drafter. Verdicts per evidence row: `allowed`, `denied` or `unknown`, with why."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from planner.errors import InternalError
from planner.model import Blocker, BucketPolicy, Evidence, ReplayRow
from planner.policy.evaluate import Caller, Decision, Policy, Request, statements

BOFC = "bucket-owner-full-control"  # the one canned ACL a bucket with ACLs disabled still accepts (facts §4)
SIGNATURE = {"SigV2": "AWS", "SigV4": "AWS4-HMAC-SHA256"}  # s3:signatureversion values (facts §3)
SETS_ACL = frozenset({"PutObjectAcl", "PutBucketAcl"})  # they set an ACL in the body, with no x-amz-acl header
# aws:PrincipalType by CloudTrail's userIdentity.type (IAM User Guide, global condition keys, aws:PrincipalType).
# CloudTrail's AWSAccount names only the caller's account, not what kind of principal called: unknown.
PRINCIPAL_TYPE = {"IAMUser": "User", "AssumedRole": "AssumedRole", "Root": "Account", "anonymous": "Anonymous"}
LISTINGS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})  # requests that name s3:prefix
AUTH_TYPE = {"AuthHeader": "REST-HEADER", "QueryString": "REST-QUERY-STRING"}  # s3:authType values


REPLAY_DENIES = "replay-denies"
NO_POLICY = "no policy can keep it working"
NOT_READ = ("the current policy was not read (--current-policies or --enrich), so what it allows or denies is not "
            "known")


def replay_plan(evidence: Sequence[Evidence], policies: Sequence[BucketPolicy], current: Mapping[str, Any],
                read: Iterable[str], operations: Mapping[str, Mapping[str, Any]],
                public_ok: Mapping[str, bool | None] | None = None) -> tuple[ReplayRow, ...]:
    """Every bucket's ACL-dependent rows against its merged draft (or, with no draft, its current policy). Where
    the current policy was not read, only what no policy can change is said: the rest is unknown."""
    drafts = {p.bucket: p for p in policies}
    known = set(read) | {p.bucket for p in policies if p.current_from is not None}
    by_bucket: dict[str, list[Evidence]] = {}
    for row in evidence:
        if row.bucket:
            by_bucket.setdefault(row.bucket, []).append(row)
    rows: list[ReplayRow] = []
    for bucket, mine in sorted(by_bucket.items()):
        draft = drafts.get(bucket)
        document = draft.merged if draft is not None else current.get(bucket)
        replayed = replay_bucket(mine, document, operations, (public_ok or {}).get(bucket))
        rows += replayed if bucket in known else [_unread(r) for r in replayed]
    return tuple(rows)


def _unread(row: ReplayRow) -> ReplayRow:
    if row.sets_acl or (row.statement is not None and row.after == "denied") or NO_POLICY in row.why:
        return row  # refused whatever the current policy says
    joined = "but" if row.after == "allowed" else "and"  # an unknown row already says what it lacks
    return dataclasses.replace(row, after="unknown", why=f"{row.why}; {joined} {NOT_READ}")


def with_replay_blockers(blockers: Mapping[str, Sequence[Blocker]],
                         rows: Iterable[ReplayRow]) -> dict[str, list[Blocker]]:
    """`blockers` and a `replay-denies` blocker for each bucket where the replay refuses a request that does not
    set an ACL (those have their stop-setting task), naming the callers."""
    out = {bucket: list(found) for bucket, found in blockers.items()}
    for bucket, found in replay_blockers(rows).items():
        out.setdefault(bucket, []).extend(found)
    return out


def replay_blockers(rows: Iterable[ReplayRow]) -> dict[str, list[Blocker]]:
    """The `replay-denies` blockers of the rows, by bucket."""
    broken: dict[str, list[ReplayRow]] = {}
    for row in rows:
        if row.after == "denied" and not row.sets_acl:
            broken.setdefault(row.bucket, []).append(row)
    return {bucket: [Blocker(REPLAY_DENIES, f"after ACLs are disabled, {sum(r.requests for r in found):,} request(s) "
                                            f"would be refused: " + "; ".join(
                                                f"{r.principal} {r.event_name} ({r.why})" for r in found[:5]))]
            for bucket, found in sorted(broken.items())}


def sigv2_deny_refusals(evidence: Sequence[Evidence], buckets: Iterable[tuple[str, str, bool]],
                        deny_policy: Callable[[str, str], Mapping[str, Any]]) -> dict[str, int]:
    """Per (bucket, partition, ready) the requests the bucket's SigV2 deny would refuse today, by the evaluator.
    A ready bucket's deny must refuse none of the observed requests: anything else is a bug, stopped here."""
    out: dict[str, int] = {}
    by_bucket: dict[str | None, list[Evidence]] = {}
    for row in evidence:
        by_bucket.setdefault(row.bucket, []).append(row)
    for bucket, partition, ready in buckets:
        policy = Policy(deny_policy(bucket, partition))
        refused = sum(row.requests for row in by_bucket.get(bucket, ()) if _refused_by_deny(
            policy.evaluate(_request(row, f"s3:{row.event_name}", f"arn:{partition}:s3:::{bucket}", {}))))
        if ready and refused:
            raise InternalError(f"the SigV2 deny draft of {bucket} would refuse {refused} observed request(s)")
        out[bucket] = refused
    return out


def _refused_by_deny(decision: Decision) -> bool:
    """An explicit Deny refused it (a deny-only policy leaves everything else to the other policies)."""
    return decision.verdict == "denied" and decision.sid is not None


def replay_bucket(rows: Iterable[Evidence], policy: Mapping[str, Any] | None,
                  operations: Mapping[str, Mapping[str, Any]], public_ok: bool | None = None) -> list[ReplayRow]:
    """Every ACL-dependent row of one bucket against `policy` (the merged draft; None: no policy at all).
    `public_ok`: whether Block Public Access lets a public statement work (None: not read)."""
    document = policy or {"Statement": []}
    compiled = _Compiled(Policy(document), Policy({"Statement": [s for s in statements(document)
                                                                  if s.get("Effect") == "Deny"]}))
    return [_replay(row, compiled, operations, public_ok) for row in rows if _acl_dependent(row)]


@dataclasses.dataclass(frozen=True)
class _Compiled:
    """A bucket's policy read once for all its rows: whole, and its Denies alone (for same-account callers)."""

    whole: Policy
    denies: Policy

    @property
    def by_ip(self) -> bool:
        """Whether the policy reads aws:SourceIp (else the evaluator never asks for it)."""
        return self.whole.reads_key("aws:sourceip")


def _acl_dependent(row: Evidence) -> bool:
    return row.acl_required or row.acl_header is not None


def _replay(row: Evidence, policy: _Compiled, operations: Mapping[str, Mapping[str, Any]],
            public_ok: bool | None) -> ReplayRow:
    if row.acl_header is not None and row.acl_header != BOFC:
        why = f"sets an ACL ({row.acl_header}): refused once ACLs are disabled, whatever the policy"
        return _row(row, Decision("denied", why), sets_acl=True)
    operation = operations.get(row.event_name)
    actions = _actions(row, operation)
    if not actions:
        sets = row.event_name in SETS_ACL
        why = "sets an ACL" if sets else "needs an ACL"
        return _row(row, Decision("denied", f"{row.event_name} {why}: {NO_POLICY}"), sets_acl=sets)
    # a same-account caller's IAM policy allowed it before and still decides; only a Deny can refuse it
    against = policy.denies if _same_account(row) else policy.whole
    decisions = [_source_ip_decision(row, against.evaluate(_request(row, action, resource, {**extra, **ip})), ip)
                 for action in actions for resource, extra in _targets(row, operation)
                 for ip in (_source_ips(row) if policy.by_ip else [{}])]
    return _row(row, _combine(row, decisions, public_ok))


def _source_ips(row: Evidence) -> list[dict[str, tuple[str, ...]]]:
    """The row's sampled source IPs, one context each, and one without aws:SourceIp (unknown) unless the sample
    holds every IP the requests came from."""
    sampled: list[dict[str, tuple[str, ...]]] = [{"aws:sourceip": (ip,)} for ip in row.source_ips]
    complete = row.source_ip_count is not None and 0 < row.source_ip_count <= len(row.source_ips)
    return sampled if complete else [*sampled, {}]


def _source_ip_decision(row: Evidence, decision: Decision, ip: Mapping[str, tuple[str, ...]]) -> Decision:
    """An unknown from the IPs outside the sample says so."""
    if ip or decision.verdict != "unknown" or "aws:sourceip" not in decision.why.lower() or not row.source_ips:
        return decision
    others = "" if row.source_ip_count is None else f" {row.source_ip_count - len(row.source_ips):,}"
    return dataclasses.replace(decision, why=f"{decision.why}: decided for the {len(row.source_ips)} source IPs "
                                             f"sampled, not for the other{others}")


def _row(row: Evidence, decision: Decision, sets_acl: bool = False) -> ReplayRow:
    return ReplayRow(row.id, row.bucket or "", row.principal, row.event_name, row.requests, decision.verdict,
                     decision.why, decision.sid, sets_acl)


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
    elif row.principal_type == "anonymous":
        absent.add("s3:signatureversion")  # an unsigned request carries no signature version
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
    if row.tls_requests is not None and row.tls_requests == row.requests:
        context["aws:securetransport"] = ("true",)  # every request named a cipher suite; fewer prove nothing
    if row.vpc_endpoint:
        context["aws:sourcevpce"] = (row.vpc_endpoint,)  # every request came through it; else unknown
    if row.principal_type in PRINCIPAL_TYPE:
        context["aws:principaltype"] = (PRINCIPAL_TYPE[row.principal_type],)
    if row.principal_type == "IAMUser":
        context["aws:username"] = (row.principal.rsplit("/", 1)[-1],)
    elif row.principal_type in ("AssumedRole", "Root", "anonymous"):
        absent.add("aws:username")  # present for IAM users only
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

"""ACL findings -> least-privilege bucket-policy statements (one per bucket, principal, access and scope)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from planner.classify.remedies import AclFinding
from planner.model import Evidence, Statement

POLICY_VERSION = "2012-10-17"
# An IAM principal the evidence can name: an account root, a user or a role (never an STS session), in IAM's
# own name characters, so no wildcard can slip into a Principal.
IAM_PRINCIPAL = re.compile(r"\Aarn:aws[a-z-]*:iam::\d{12}:(root|(user|role)/[\w+=,.@/-]+)\Z")
# A role session named without its role's path: what the evidence query keeps when no record gave the role ARN.
_SESSION_OF_ROLE = re.compile(r"\Aarn:aws[a-z-]*:sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)\Z")
# An S3 bucket name (general purpose buckets): the only names a draft's resources may use.
BUCKET_NAME = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
# IAM wildcards in an object key must stay literal: `${*}`, `${?}`, `${$}` (IAM policy variables).
_LITERAL = {"*": "${*}", "?": "${?}", "$": "${$}"}


LOG_DELIVERY = "logging.s3.amazonaws.com"
DRAFTED = ("cross-account", "anonymous", "log-delivery")
SID_PREFIX = {"cross-account": "S3PlanAcl", "anonymous": "S3PlanPublic", "log-delivery": "S3PlanLogDelivery"}
HIGH_RISK = "high risk"  # how a risk note starts when a reviewer must look first (the workbook colours it red)
PUBLIC_RISKS = (
    f"{HIGH_RISK}: Principal * makes these objects public, as the public ACL did; confirm they must stay public",
    "Block Public Access must allow public bucket policies (BlockPublicPolicy and RestrictPublicBuckets off) "
    "or S3 refuses or ignores this statement",
)


def draft_statements(findings: Sequence[AclFinding]) -> tuple[tuple[Statement, ...], tuple[str, ...]]:
    """Statements for access that relied on ACLs (other accounts, anonymous callers, log delivery), plus notes
    on evidence that got none."""
    groups: dict[tuple[str, str, str, str, str], list[AclFinding]] = defaultdict(list)
    notes: list[str] = []
    same_account: dict[str, int] = defaultdict(int)
    for f in findings:
        ev = f.evidence
        if f.access_kind == "same-account" and ev.bucket:
            same_account[ev.bucket] += ev.requests
        if f.access_kind not in DRAFTED or not ev.bucket:
            continue
        why_not = _why_not_drafted(f)
        if why_not:
            notes.append(why_not)
            continue
        if not f.actions:
            continue  # an operation no policy keeps once ACLs are disabled (PutObjectAcl): its caller has a task
        assert f.access is not None and f.scope is not None
        groups[(f.access_kind, ev.bucket, ev.principal, f.access, f.scope)].append(f)
    for bucket, requests in sorted(same_account.items()):
        notes.append(f"{bucket}: {requests} same-account request(s) relied on object ACLs of objects another account "
                     "owns; BucketOwnerEnforced makes the bucket owner own them, so no statement is needed (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html)")
    statements = [stmt for key, group in sorted(groups.items()) for stmt in _statements(key, group)]
    return tuple(statements), tuple(notes)


def _why_not_drafted(f: AclFinding) -> str | None:
    """Why a finding of a drafted kind gets no statement (a note for the plan), or None."""
    ev = f.evidence
    if not BUCKET_NAME.match(ev.bucket or "") or ".." in (ev.bucket or ""):
        return f"{ev.bucket!r} is not a valid bucket name; no statement drafted"
    if f.rule is None or f.access is None or f.scope is None:
        return (f"{ev.bucket}: {ev.event_name} by {ev.principal} relied on an ACL, but no rule maps "
                f"{ev.event_name} to policy actions; review it by hand")
    if f.access_kind == "cross-account" and (not ev.principal or not IAM_PRINCIPAL.match(ev.principal)):
        session = _SESSION_OF_ROLE.match(ev.principal or "")
        if session:
            return (f"{ev.bucket}: {ev.principal} is a session of role {session['role']}, named by the server "
                    "access logs, which do not give the role's path (IAM Identity Center roles live under "
                    "aws-reserved/sso.amazonaws.com/[region/]); no statement drafted: find the role ARN (aws iam "
                    f"get-role --role-name {session['role']} in account {session['account']}) and grant that, or "
                    "read CloudTrail for the same window")
        return f"{ev.bucket}: {ev.principal} is not a role, user or account ARN; no statement drafted"
    if f.access_kind == "cross-account" and not (ev.principal or "").startswith(f"arn:{ev.partition}:"):
        return (f"{ev.bucket}: {ev.principal} is not in the bucket's partition ({ev.partition}); no statement "
                "drafted: check the bucket's Region (the logs did not name one) and grant the principal by hand")
    if f.access_kind == "anonymous" and not set(f.actions) <= PUBLIC_ACTIONS:
        return (f"{ev.bucket}: anonymous {ev.event_name} relied on a public ACL for {', '.join(f.actions)}; s3plan "
                "drafts public statements only for what a public-read ACL grants and never public writes: move "
                "those callers to signed requests (blocker anonymous-write-access)")
    if f.access_kind == "log-delivery" and (f.actions != ("s3:PutObject",) or not ev.bucket_account_id):
        return (f"{ev.bucket}: log delivery by {ev.principal} ({ev.event_name}) got no statement: only PutObject "
                "with a known bucket owner is drafted; review it by hand")
    return None


def _statements(key: tuple[str, str, str, str, str], group: Sequence[AclFinding]) -> list[Statement]:
    """One statement per set of actions that share the same resources and condition, each action with the
    resources (and, for listings, the prefixes) of the requests that needed it: never an action x prefix pair
    that was not observed together."""
    kind, bucket, principal, access, scope = key
    by_action: dict[str, list[AclFinding]] = defaultdict(list)
    for f in group:
        for action in f.actions:
            by_action[action].append(f)
    shapes: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    conditions: dict[str, dict[str, Any] | None] = {}
    for action, rows in sorted(by_action.items()):
        resources = tuple(sorted({r for f in rows for r in resources_of(bucket, scope, f.evidence)}))
        condition = list_condition(action, [f.evidence for f in rows])
        shape = json.dumps(condition, sort_keys=True)
        conditions[shape] = condition
        shapes[(resources, shape)].append(action)
    out = []
    for (resources, shape), actions in sorted(shapes.items(), key=lambda item: item[1]):
        cited = [f for f in group if set(f.actions) & set(actions)]
        out.append(_statement(kind, bucket, principal, f"{access}-{scope}", actions, list(resources),
                              conditions[shape], cited))
    return out


def _statement(kind: str, bucket: str, principal: str, access: str, actions: list[str], resources: list[str],
               condition: dict[str, Any] | None, group: Sequence[AclFinding]) -> Statement:
    # actions, not resources: a statement keeps its Sid (and its review task its id) as more prefixes are seen
    sid = make_sid(bucket, principal, access, "|".join(actions), SID_PREFIX[kind])
    document: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(kind, principal),
        "Action": actions,
        "Resource": resources if len(resources) > 1 else resources[0],
    }
    if condition:
        document["Condition"] = condition
    if kind == "log-delivery":
        # AWS's documented form (facts §4e); the source buckets are not in the target bucket's log
        owner = group[0].evidence.bucket_account_id
        document["Condition"] = {"ArnLike": {"aws:SourceArn": f"arn:{group[0].evidence.partition}:s3:::*"},
                                 "StringEquals": {"aws:SourceAccount": owner}}
    evidence = [f.evidence for f in group]
    firsts = [e.first_seen for e in evidence if e.first_seen]
    lasts = [e.last_seen for e in evidence if e.last_seen]
    return Statement(
        bucket=bucket, sid=sid, principal=principal, access=access, document=document,
        evidence=tuple(sorted({e.id for e in evidence})), requests=sum(e.requests for e in evidence),
        first_seen=min(firsts) if firsts else None, last_seen=max(lasts) if lasts else None,
        risk=tuple(_risks(group)) + _resource_risks(kind, resources, group) + _kind_risks(kind),
        notes=tuple(sorted({f"rule {r}" for f in group for r in (f.rule, f.decision_rule) if r})),
    )


def _principal(kind: str, principal: str) -> Any:
    if kind == "anonymous":
        return "*"
    if kind == "log-delivery":
        return {"Service": principal}
    return {"AWS": principal}


def _resource_risks(kind: str, resources: Sequence[str], group: Sequence[AclFinding]) -> tuple[str, ...]:
    """What the resources do beyond the keys seen: a public prefix covers objects no one read publicly; an exact
    object covers no object written later."""
    if group[0].scope != "object":
        return ()
    out = []
    prefixes = [r for r in resources if r.endswith("*")]
    if kind == "anonymous" and prefixes:
        keys = sum(f.evidence.key_count for f in group)
        rows = "" if len(group) == 1 else " (counted per evidence row: fewer if the rows read the same keys)"
        seen = (f"about {keys} distinct key(s) were read publicly{rows}" if all(f.evidence.key_count for f in group)
                else "how many distinct keys were read publicly is not known (results of an older query)")
        out.append(f"{seen} under {', '.join(p.split(':::', 1)[1] for p in prefixes)}: the public ACL covered only "
                   "those objects, while this statement makes every object under the prefix public, new ones too")
    exact = [r for r in resources if not r.endswith("*")]
    if exact:
        out.append(f"{len(exact)} resource(s) name single objects (keys with fewer path segments than "
                   "--prefix-depth): objects written later under the same path are not covered")
    return tuple(out)


def _kind_risks(kind: str) -> tuple[str, ...]:
    if kind == "anonymous":
        return PUBLIC_RISKS
    if kind == "log-delivery":
        return ("replace aws:SourceArn arn:<partition>:s3:::* with the ARNs of the buckets that deliver logs here "
                "(CloudTrail on the target bucket does not name them)",)
    return ()


# The actions whose requests carry s3:prefix (Service Authorization Reference: ListBucket, ListBucketVersions).
LIST_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})
LIST_EVENTS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})
# What a public statement may ever grant: what a public-read ACL granted (facts §3b READ on the bucket and on
# objects; GetObjectAttributes needs READ access to the object, API_GetObjectAttributes). Never a write.
PUBLIC_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes",
                            "s3:GetObjectVersionAttributes", "s3:ListBucket", "s3:ListBucketVersions",
                            "s3:ListBucketMultipartUploads"})


def list_condition(action: str, evidence: Sequence[Evidence]) -> dict[str, Any] | None:
    """`s3:prefix` for a listing action when every request that needed it listed under a prefix (facts §9):
    StringLike on their top-level prefixes. None when another request (HeadBucket, a listing of the whole
    bucket, more prefixes than kept) needs the action without one."""
    if action not in LIST_ACTIONS:
        return None
    if any(e.event_name not in LIST_EVENTS or not e.key_prefixes for e in evidence):
        return None  # HeadBucket and the like carry no s3:prefix: a condition would refuse them
    prefixes = {p for e in evidence for p in e.key_prefixes}
    if "" in prefixes or any(e.key_prefix_count > len(e.key_prefixes) for e in evidence):
        return None
    return {"StringLike": {"s3:prefix": sorted(f"{_literal(p)}*" for p in prefixes)}}


def resources_of(bucket: str, scope: str, ev: Evidence) -> list[str]:
    """The resources one evidence row shows: the bucket, its observed key prefixes, or (no keys) every object."""
    arn = f"arn:{ev.partition}:s3:::{bucket}"  # the bucket's partition (aws-cn, aws-us-gov, ...)
    if scope == "bucket":
        return [arn]
    if not ev.key_prefixes:
        return [f"{arn}/*"]
    return [f"{arn}/{object_pattern(p, ev.is_prefix(p))}" for p in ev.key_prefixes]


def _risks(group: Sequence[AclFinding]) -> list[str]:
    risk = sorted({f.note for f in group if f.note})
    if any(f.scope == "object" and f.evidence.key_prefix_count > len(f.evidence.key_prefixes) for f in group):
        risk.append("more key prefixes were observed than listed; the statement covers only those listed")
    if any(f.scope == "object" and not f.evidence.key_prefixes for f in group):
        risk.append("no object keys in the evidence: the resource is every object in the bucket")
    unseen = sorted({a for f in group if f.evidence.source == "access-log" for a in f.header_actions})
    if unseen:
        risk.append("the evidence comes from server access logs alone, which keep no request headers: if these "
                    f"requests set tags or Object Lock settings, they also need {', '.join(unseen)}")
    copying = sorted({f.evidence.event_name for f in group if f.evidence.bucket in f.evidence.copy_sources})
    if copying:
        risk.append(f"{' and '.join(copying)} read their source from this bucket too: the caller also needs "
                    "s3:GetObject (s3:GetObjectVersion for a source version) on those source objects, which this "
                    "statement does not grant; add it once you know the source keys")
    return risk


def object_pattern(prefix: str, is_prefix: bool) -> str:
    """A key prefix (cut at --prefix-depth) covers what is below it; a whole key is that object alone."""
    literal = _literal(prefix)
    return literal + "*" if is_prefix else literal


def _literal(text: str) -> str:
    return "".join(_LITERAL.get(c, c) for c in text)


def make_sid(bucket: str, principal: str, access: str, detail: str = "", prefix: str = "S3PlanAcl") -> str:
    """A stable, readable Sid of [A-Za-z0-9] (facts §9): S3PlanAcl<Access><Name><hash of everything>."""
    account_root = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):root$", principal)
    label = f"Account{account_root.group(1)}" if account_root else principal.rsplit("/", 1)[-1].title()
    name = re.sub(r"[^A-Za-z0-9]", "", label)[:24]
    digest = hashlib.sha256(f"{bucket}|{principal}|{access}|{detail}".encode()).hexdigest()[:6]
    camel = "".join(part.title() for part in access.split("-"))
    if principal in ("anonymous", "*"):
        name = "Anyone"
    return f"{prefix}{camel}{name}{digest}"

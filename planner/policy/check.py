"""Safety invariants, checked on every draft before it is written. A violation is a bug, never a warning.

The invariants are computed from the raw evidence rows and the operation data (rules/acl/actions.yaml) alone,
and share no code with the drafter (policy/draft.py): a check that reused the drafter's helpers would agree with
any mistake they make. Every (principal, action, resource, condition) a statement grants must be backed by an
evidence row of that principal whose operation needed that action on a key the resource matches.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from planner.errors import InternalError
from planner.model import Evidence, Statement

BUCKET_POLICY_LIMIT = 20 * 1024  # bytes of the policy with whitespace removed (facts §9)
SESSION_MARKERS = (":assumed-role/", ":sts::", ":federated-user/")
ELEMENTS = frozenset({"Sid", "Effect", "Principal", "Action", "Resource", "Condition"})
# An account root, IAM user or IAM role ARN: IAM's own name characters, never a wildcard (facts §9).
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)$")
_S3_ACTION = re.compile(r"^s3:[A-Za-z]+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Written out here, apart from the drafter's list: what a public-read ACL granted (facts §3b), reads only.
READS = frozenset({"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
                   "s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"})
# Requests that name what they list (requestParameters.prefix), and the actions s3:prefix applies to.
LISTINGS = frozenset({"ListObjects", "ListObjectsV2", "ListObjectVersions"})
PREFIXED = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})
LOG_DELIVERY = "logging.s3.amazonaws.com"

Fail = Callable[[str], NoReturn]


def check_statement(stmt: Statement, evidence: Mapping[str, Evidence],
                    operations: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise InternalError unless the statement grants no more than its evidence shows.

    `operations` is rules/acl/actions.yaml by event name: which actions each operation's requests need.
    """
    doc = stmt.document

    def fail(why: str) -> NoReturn:
        raise InternalError(f"unsafe draft {stmt.sid} for {stmt.bucket}: {why}")

    if set(doc) - ELEMENTS:
        fail(f"unexpected elements {sorted(set(doc) - ELEMENTS)}")
    if doc.get("Effect") != "Allow":
        fail("only Allow statements are drafted")
    if not _BUCKET.match(stmt.bucket) or ".." in stmt.bucket:
        fail("not a valid bucket name")
    cited = [evidence[e] for e in stmt.evidence if e in evidence]
    if not cited or len(cited) != len(stmt.evidence):
        fail("no evidence cited, or evidence cited that does not exist")
    if any(row.bucket != stmt.bucket for row in cited):
        fail("evidence of another bucket cited")
    actions, resources = as_list(doc.get("Action")), as_list(doc.get("Resource"))
    if not actions or not resources or any(not _S3_ACTION.match(a) for a in actions):
        fail(f"wildcard, empty or non-S3 action {actions}")
    for rows in _by_principal(doc.get("Principal"), actions, cited, fail):
        needs = {row.id: _needs(operations.get(row.event_name), row) for row in rows}
        backing = {a: [row for row in rows if a in needs[row.id]] for a in actions}
        for action, needing in backing.items():
            if not needing:
                fail(f"no cited request of {rows[0].principal} needed {action}")
            for resource in resources:
                if not any(_backs(row, operations[row.event_name]["scope"], resource) for row in needing):
                    fail(f"no evidence shows {action} on {resource}")
        _check_condition(doc, backing, rows, fail)


def _needs(operation: Mapping[str, Any] | None, row: Evidence) -> frozenset[str]:
    """The actions the row's requests needed: each request without a versionId its operation's actions, each
    one that named a versionId the versioned actions, and each header carried its own."""
    if operation is None or not operation.get("actions"):
        return frozenset()
    without_version = row.requests - row.versioned_requests
    needed: set[str] = set()
    if without_version > 0 or row.versioned_requests == 0:
        needed.update(operation["actions"])
    if row.versioned_requests > 0:
        needed.update(operation.get("versioned", operation["actions"]))
    headers: Mapping[str, Sequence[str]] = operation.get("headers", {})
    for header in row.request_headers:
        needed.update(headers.get(header, ()))
    return frozenset(needed)


def _backs(row: Evidence, scope: str, resource: str) -> bool:
    """Whether the row's requests show `resource`: the bucket itself for bucket operations; for object ones an
    exact key they touched, `<prefix>*` for a key prefix (ending in /) they were under, or every object only
    when the evidence holds no key at all."""
    bucket_arn = f"arn:{row.partition}:s3:::{row.bucket}"
    if scope == "bucket":
        return resource == bucket_arn
    if not resource.startswith(bucket_arn + "/"):
        return False
    parsed = _pattern(resource[len(bucket_arn) + 1:])
    if parsed is None:
        return False
    text, open_ended = parsed
    if not row.key_prefixes:
        return open_ended and text == "" and row.key_prefix_count == 0
    if open_ended:  # a prefix the query cut at the row's depth; a shorter value ending in / is a folder object
        return text.endswith("/") and text.count("/") >= row.prefix_depth and text in row.key_prefixes
    return text in row.key_prefixes


@functools.lru_cache(maxsize=65_536)
def _pattern(value: str) -> tuple[str, bool] | None:
    """An IAM string as (literal text, ends with a wildcard), reading ${*} ${?} ${$} as the characters; None for
    anything wider: a wildcard before the end, a ?, or a policy variable."""
    text, i = [], 0
    while i < len(value):
        escape = value[i:i + 4]
        if escape in ("${*}", "${?}", "${$}"):
            text.append(escape[2])
            i += 4
            continue
        char = value[i]
        if char == "*" and i == len(value) - 1:
            return "".join(text), True
        if char in "*?" or value.startswith("${", i):
            return None
        text.append(char)
        i += 1
    return "".join(text), False


def _by_principal(principal: Any, actions: Sequence[str], cited: Sequence[Evidence],
                  fail: Fail) -> list[list[Evidence]]:
    """The cited rows per principal the statement names (each must back the whole grant on its own): anonymous
    rows for `*`, log delivery's for its service principal, each IAM principal's own rows."""
    if principal == "*" or principal == {"AWS": "*"}:
        if not all(row.principal_type == "anonymous" for row in cited):
            fail("Principal * without anonymous evidence")
        if not set(actions) <= READS:
            fail(f"public statement with {sorted(set(actions) - READS)}: only reads are ever public")
        return [list(cited)]
    if isinstance(principal, dict) and set(principal) == {"Service"}:
        if principal["Service"] != LOG_DELIVERY or {row.principal for row in cited} != {LOG_DELIVERY}:
            fail(f"service principal {principal!r} is not the evidence's log delivery")
        return [list(cited)]
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        fail(f"unexpected principal {principal!r}")
    names = as_list(principal["AWS"])
    for name in names:
        arn = _IAM_ARN.match(name)
        if any(marker in name for marker in SESSION_MARKERS) or not arn:
            fail(f"principal {name} is not an IAM role, user or account ARN")
        if {arn.group(1)} != {row.partition for row in cited}:
            fail(f"principal {name} is not in the bucket's partition")
    if not names or {row.principal for row in cited} != set(names):
        fail(f"principal {names} is not the evidence's principal")
    return [[row for row in cited if row.principal == name] for name in sorted(set(names))]


def _check_condition(doc: Mapping[str, Any], backing: Mapping[str, Sequence[Evidence]],
                     cited: Sequence[Evidence], fail: Fail) -> None:
    """Conditions only narrow, and a listing may go without s3:prefix only where a request needed it so."""
    condition = doc.get("Condition")
    if doc.get("Principal") == {"Service": LOG_DELIVERY}:
        owners = {row.bucket_account_id for row in cited}
        expected = {"ArnLike": {"aws:SourceArn": f"arn:{cited[0].partition}:s3:::*"},
                    "StringEquals": {"aws:SourceAccount": next(iter(owners))}}
        if len(owners) != 1 or None in owners or condition != expected:
            fail("log delivery without aws:SourceAccount of the bucket owner")
        if as_list(doc.get("Action")) != ["s3:PutObject"]:
            fail("log delivery may only put objects")
        return
    if condition is None:
        for action, rows in backing.items():
            if action in PREFIXED and not any(_lists_everything(row) for row in rows):
                fail(f"{action} without s3:prefix, though every listing named a prefix")
        return
    if set(condition) != {"StringLike"} or set(condition["StringLike"]) != {"s3:prefix"}:
        fail(f"unexpected condition {json.dumps(condition)}")
    for value in as_list(condition["StringLike"]["s3:prefix"]):
        parsed = _pattern(value)
        for action, rows in backing.items():
            if action not in PREFIXED:
                fail(f"s3:prefix on {action}, which its requests do not carry")
            if parsed is None or not parsed[1] or not parsed[0] or not any(
                    row.event_name in LISTINGS and parsed[0] in row.key_prefixes for row in rows):
                fail(f"no listing of {action} under s3:prefix {value}")


def _lists_everything(row: Evidence) -> bool:
    """A request with no prefix to limit it: HeadBucket and the like, a listing of the whole bucket, or more
    prefixes than the evidence kept."""
    return (row.event_name not in LISTINGS or not row.key_prefixes or "" in row.key_prefixes
            or row.key_prefix_count > len(row.key_prefixes))


def minified_size(policy: Mapping[str, Any]) -> int:
    """Bytes of the policy as JSON with whitespace removed: what the 20 KB limit counts."""
    return len(json.dumps(policy, separators=(",", ":"), sort_keys=True).encode())


def as_list(value: Any) -> list[str]:
    """A policy element that may be one string or a list, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)

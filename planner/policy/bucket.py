"""Per bucket: merge the drafted statements into the current policy, keep it under the size limit, and say what
blocks it. Consolidation only ever joins principals with identical access; it never widens a resource."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from planner.model import Blocker, BucketPolicy, Statement
from planner.policy.check import BUCKET_POLICY_LIMIT, minified_size
from planner.policy.draft import POLICY_VERSION, make_sid
from planner.policy.merge import acl_condition_blockers, merge


def bucket_policies(statements: Sequence[Statement], current: Mapping[str, Mapping[str, Any]],
                    unreadable: Mapping[str, str], check: Callable[[Statement], None],
                    public_allowed: Mapping[str, bool] | None = None, origins: Mapping[str, str] | None = None,
                    ) -> tuple[tuple[BucketPolicy, ...], dict[str, list[Blocker]]]:
    """A BucketPolicy for every bucket with drafted statements, and blockers from current policies and size.

    `check` (the safety invariants) runs on every statement that ends up in a draft, joined ones included.
    `public_allowed`: per bucket, whether Block Public Access is known to let a public policy work (--enrich);
    `origins`: where each bucket's current policy was read (a bucket missing from it was not read at all).
    """
    by_bucket: dict[str, list[Statement]] = defaultdict(list)
    for stmt in statements:
        by_bucket[stmt.bucket].append(stmt)
    blockers: dict[str, list[Blocker]] = defaultdict(list)
    for bucket, doc in current.items():
        blockers[bucket].extend(acl_condition_blockers(doc))
    for bucket, reason in unreadable.items():
        blockers[bucket].append(Blocker("current-policy-unreadable", reason))
    out = []
    for bucket, drafted in sorted(by_bucket.items()):
        if bucket in unreadable:
            out.append(BucketPolicy(bucket, None, None, steps=(
                f"the current policy could not be read: {unreadable[bucket]}",)))
            continue
        policy = dataclasses.replace(_fit(bucket, current.get(bucket), drafted, check,
                                          (public_allowed or {}).get(bucket)),
                                     current_from=(origins or {}).get(bucket))
        if policy.merged is None:
            kind = "policy-version" if "Version" in policy.steps[-1] else "policy-too-large"
            blockers[bucket].append(Blocker(kind, policy.steps[-1]))
        out.append(policy)
    return tuple(out), dict(blockers)


def _fit(bucket: str, current: Mapping[str, Any] | None, drafted: Sequence[Statement],
         check: Callable[[Statement], None], public_allowed: bool | None) -> BucketPolicy:
    """Merge; when over 20 KB, join principals with identical access and try again; else no draft."""
    steps: list[str] = []
    merged = merge(current, drafted, public_allowed)
    size = minified_size(merged.policy)
    if size > BUCKET_POLICY_LIMIT:
        joined, joins = consolidate(merged.added)
        if joins:
            steps.append(f"{size} bytes is over the {BUCKET_POLICY_LIMIT}-byte limit: joined {joins} statement(s) "
                         "whose principals have identical actions and resources")
            merged = merge(current, [*joined, *merged.already_granted], public_allowed)
            size = minified_size(merged.policy)
    if size > BUCKET_POLICY_LIMIT:
        steps.append(f"the merged policy is {size} bytes, over the {BUCKET_POLICY_LIMIT}-byte bucket-policy limit "
                     "even after consolidation; no draft is written (s3plan never widens resources to fit)")
        return BucketPolicy(bucket, current, None, steps=tuple(steps), size=size)
    if merged.policy.get("Version") != POLICY_VERSION and "${" in json.dumps([s.document for s in merged.added]):
        steps.append(f"the current policy is Version {merged.policy.get('Version')} and uses ${{...}} text, while "
                     "the new statements need 2012-10-17 escapes; no draft is written")
        return BucketPolicy(bucket, current, None, steps=tuple(steps), size=size)
    for stmt in merged.added:
        check(stmt)
    return BucketPolicy(bucket, current, merged.policy, tuple(s.sid for s in merged.added),
                        tuple(s.sid for s in merged.already_granted), merged.renamed, tuple(steps), size,
                        doubts=merged.doubts)


def consolidate(statements: Sequence[Statement]) -> tuple[list[Statement], int]:
    """Join statements that differ only in principal into one with a principal list; returns (result, joined)."""
    groups: dict[tuple[str, str, str, str], list[Statement]] = defaultdict(list)
    for stmt in statements:
        principal = stmt.document["Principal"]
        if not (isinstance(principal, dict) and set(principal) == {"AWS"}):
            groups[("", stmt.sid, "", "")].append(stmt)  # public and service statements are never joined
            continue
        key = (stmt.access, repr(stmt.document["Action"]), repr(stmt.document["Resource"]),
               repr(stmt.document.get("Condition")))
        groups[key].append(stmt)
    out, joined = [], 0
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        joined += len(group)
        principals = sorted(s.principal for s in group)
        first = group[0]
        sid = make_sid(first.bucket, "|".join(principals), first.access, repr(first.document["Action"]))
        document = {**first.document, "Sid": sid, "Principal": {"AWS": principals}}
        out.append(Statement(
            bucket=first.bucket, sid=sid, principal=", ".join(principals), access=first.access, document=document,
            evidence=tuple(sorted({e for s in group for e in s.evidence})), requests=sum(s.requests for s in group),
            first_seen=min((s.first_seen for s in group if s.first_seen), default=None),
            last_seen=max((s.last_seen for s in group if s.last_seen), default=None),
            risk=tuple(sorted({r for s in group for r in s.risk})), notes=("joined to fit the size limit",)))
    return out, joined


def to_review(drafted: Sequence[Statement], policies: Sequence[BucketPolicy]) -> list[Statement]:
    """The drafted statements that need a review task: all but those the current policy provably grants."""
    granted = {(p.bucket, sid) for p in policies for sid in p.already_granted}
    return [s for s in drafted if (s.bucket, s.sid) not in granted]

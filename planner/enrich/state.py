"""What the live bucket state (--enrich) means for the plan: the policies to merge the drafts with, the blockers
per bucket, and the current Object Ownership and ACL grants shown on each bucket."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from planner.enrich.aws import (
    BucketState,
    accounts_from_owners,
    block_settings,
    grantee_name,
    public_access_blockers,
    state_blockers,
)
from planner.model import Blocker, BucketReport, Evidence, Statement


def sample_prefixes(evidence: Sequence[Evidence]) -> dict[str, list[str]]:
    """Bucket -> the key prefixes aclRequired requests touched: where object ACLs are worth a sample."""
    found: dict[str, set[str]] = {}
    for row in evidence:
        if row.acl_required and row.bucket:
            found.setdefault(row.bucket, set()).update(row.key_prefixes)
    return {bucket: sorted(prefixes) for bucket, prefixes in sorted(found.items())}


def live_policies(states: Mapping[str, BucketState], drafted: Sequence[Statement],
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, str]]:
    """(bucket -> its live policy, bucket -> why it could not be read, for buckets with drafts to merge, bucket
    -> where the policy was read, for those GetBucketPolicy answered: a policy, or none)."""
    policies = {b: s.policy for b, s in states.items() if s.policy is not None}
    origins = {b: "GetBucketPolicy (--enrich)" if s.policy is not None else "GetBucketPolicy (--enrich): no policy"
               for b, s in states.items()
               # NoSuchBucket on any call stops the rest, GetBucketPolicy itself read nothing then
               if not any(call == "GetBucketPolicy" or why.startswith("NoSuchBucket") for call, why in s.errors)}
    with_drafts = {s.bucket for s in drafted}
    errors = {b: f"GetBucketPolicy failed ({reason}); the draft is not merged: grant s3:GetBucketPolicy or merge "
                 "it by hand" for b, s in states.items() for call, reason in s.errors
              if call == "GetBucketPolicy" and b in with_drafts}
    return policies, errors, origins


def state_blocker_map(states: Mapping[str, BucketState], bucket_accounts: Mapping[str, str],
                      statements: Sequence[Statement]) -> dict[str, list[Blocker]]:
    """Per bucket: ACL grants and public access settings that block the switch, and calls that failed."""
    accounts = accounts_from_owners(states, bucket_accounts)
    public = {s.bucket for s in statements if _public(s.document)}
    public |= {b for b, state in states.items() if any(_public(x) and x.get("Effect") == "Allow"
                                                       for x in _statements(state.policy))}
    cross = {s.bucket for s in statements if isinstance(s.document.get("Principal"), dict)
             and "AWS" in s.document["Principal"] and not _public(s.document)}
    out: dict[str, list[Blocker]] = {}
    for bucket, state in states.items():
        found = state_blockers(state, accounts) + public_access_blockers(state, bucket in public, bucket in cross)
        if state.errors:
            failed = "; ".join(f"{call}: {reason}" for call, reason in state.errors)
            found.append(Blocker("bucket-state-unreadable", f"{failed}; the bucket's current state is unknown, so "
                                 "check it by hand or grant the read permission (docs/permissions.md)"))
        if found:
            out[bucket] = found
    return out


def public_allowed(states: Mapping[str, BucketState]) -> dict[str, bool]:
    """Per bucket, whether Block Public Access is known to let a public policy work: RestrictPublicBuckets read
    as off on the bucket and on its account. Only then can a public statement prove access is already granted."""
    return {bucket: ok is True for bucket, ok in public_access(states).items()}


def public_access(states: Mapping[str, BucketState]) -> dict[str, bool | None]:
    """Per bucket, whether Block Public Access lets a public statement work: True (RestrictPublicBuckets off on the
    bucket and its account), False (on), None (the settings could not be read)."""
    out: dict[str, bool | None] = {}
    for bucket, state in states.items():
        settings = block_settings(state)
        out[bucket] = None if settings is None else not settings.get("RestrictPublicBuckets")
    return out


def _public(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and "*" in principal.values()) or (
        isinstance(principal, dict) and isinstance(principal.get("AWS"), list) and "*" in principal["AWS"])


def _statements(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    found = (policy or {}).get("Statement") or []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def with_state(reports: Sequence[BucketReport], states: Mapping[str, BucketState],
               bucket_accounts: Mapping[str, str]) -> tuple[BucketReport, ...]:
    """The bucket reports with the current Object Ownership and bucket ACL grants."""
    accounts = accounts_from_owners(states, bucket_accounts)
    out = []
    for report in reports:
        state = states.get(report.bucket)
        if state is None:
            out.append(report)
            continue
        grants = tuple(f"{grantee_name(g, accounts)}: {g.permission}" for g in state.grants)
        out.append(dataclasses.replace(report, object_ownership=_ownership(state), acl_grants=grants))
    return tuple(out)


def merge_blockers(*maps: Mapping[str, Sequence[Blocker]]) -> dict[str, list[Blocker]]:
    """Several bucket -> blockers maps as one."""
    out: dict[str, list[Blocker]] = {}
    for mapping in maps:
        for bucket, blockers in mapping.items():
            out.setdefault(bucket, []).extend(blockers)
    return out


def _ownership(state: BucketState) -> str:
    """The setting, "unknown" when it could not be read; no setting at all behaves as ObjectWriter (facts §4a)."""
    if any(call == "GetBucketOwnershipControls" for call, _ in state.errors):
        return "unknown"
    return state.ownership or "ObjectWriter (none set)"

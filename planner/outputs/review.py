"""policies/<bucket>.review.md: what a reviewer needs to approve a draft, in one page per bucket."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from planner.model import BucketPolicy, Plan, Statement


def render_review(plan: Plan, policy: BucketPolicy) -> str:
    """The review note for one bucket: new statements with their evidence, what is already granted, blockers,
    the steps taken to fit the size limit, and a unified diff against the current policy."""
    bucket = policy.bucket
    statements = {s.sid: s for s in plan.statements if s.bucket == bucket}
    report = next((b for b in plan.buckets if b.bucket == bucket), None)
    lines = [f"# {bucket}: bucket policy draft for review", "",
             f"s3plan {plan.run.tool_version}, {plan.run.generated_at}; evidence from "
             f"{plan.run.window_seen.since or '?'} to {plan.run.window_seen.until or '?'}.", ""]
    lines += _new_statements(policy, statements)
    if policy.already_granted:
        lines += ["## Already granted by the current policy", ""]
        lines += [f"- `{sid}`: {statements[sid].principal} ({statements[sid].access}) is already allowed; not added."
                  for sid in policy.already_granted if sid in statements]
        lines.append("")
    if policy.renamed:
        lines += ["## Renamed", ""] + [f"- `{a}` is taken in the current policy: added as `{b}`."
                                       for a, b in policy.renamed] + [""]
    if policy.validation:
        lines += ["## IAM Access Analyzer (--validate-online)", ""] + [f"- {v}" for v in policy.validation] + [""]
    if policy.steps:
        lines += ["## Fitting the 20 KB limit", ""] + [f"- {step}" for step in policy.steps] + [""]
    acl_blockers = [b for b in (report.blockers if report else ()) if b.kind != "sigv2-callers"]
    if acl_blockers:
        lines += ["## Blockers for BucketOwnerEnforced", ""]
        lines += [f"- **{b.kind}**: {b.detail}" for b in acl_blockers] + [""]
    if policy.merged is not None:
        lines += ["## Diff against the current policy", "", "```diff", *_diff(policy.current, policy.merged), "```", "",
                  "## How to apply (s3plan never does)", "",
                  "Put the reviewed policy first; switch Object Ownership only once no blocker above is left.", "",
                  "```sh",
                  f"aws s3api put-bucket-policy --bucket {bucket} --policy file://policies/{bucket}.json",
                  f"aws s3api put-bucket-ownership-controls --bucket {bucket} "
                  "--ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'", "```", ""]
    return "\n".join(lines)


def _new_statements(policy: BucketPolicy, statements: Mapping[str, Statement]) -> list[str]:
    lines = [f"## New statements ({len(policy.added)})", ""]
    for sid in policy.added:
        stmt = statements.get(sid)
        if stmt is None:  # joined to fit the limit: its parts are listed under their own Sids in plan.json
            lines += [f"### `{sid}`", "", "- Joins statements whose principals have identical access.", ""]
            continue
        doc = stmt.document
        lines += [f"### `{sid}`", "",
                  f"- Replaces: the ACL access of {stmt.principal} ({stmt.access}): "
                  f"{', '.join(_list(doc['Action']))} on {', '.join(_list(doc['Resource']))}",
                  f"- Evidence: {stmt.requests} request(s), {stmt.first_seen or '?'} to {stmt.last_seen or '?'} "
                  f"({', '.join(stmt.evidence)})"]
        lines += [f"- Risk: {risk}" for risk in stmt.risk]
        lines.append("")
    return lines


def _diff(current: Mapping[str, Any] | None, merged: Mapping[str, Any]) -> list[str]:
    before = json.dumps(current, indent=2, sort_keys=True).splitlines() if current else []
    after = json.dumps(merged, indent=2, sort_keys=True).splitlines()
    return list(difflib.unified_diff(before, after, "current", "draft", lineterm=""))


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)

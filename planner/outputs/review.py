"""policies/<bucket>.review.md: what a reviewer needs to approve a draft, in one page per bucket."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from planner.model import BucketPolicy, BucketReport, ObjectAcl, Plan, ReplayRow, Statement
from planner.plan.object_acls import preserving_statement
from planner.policy.check import as_list


def render_reviews(plan: Plan) -> dict[str, str]:
    """The review note of every bucket with a draft, indexing statements and reports once."""
    statements: dict[str, dict[str, Statement]] = {}
    for stmt in plan.statements:
        statements.setdefault(stmt.bucket, {})[stmt.sid] = stmt
    reports = {b.bucket: b for b in plan.buckets}
    notes = {p.bucket: render_review(plan, p, statements.get(p.bucket, {}), reports.get(p.bucket))
             for p in plan.policies}
    for report in plan.buckets:  # a bucket with inventory findings and no draft still gets its note
        if report.bucket not in notes and _has_findings(plan, report):
            notes[report.bucket] = render_inventory_note(plan, report)
    return notes


def _has_findings(plan: Plan, report: BucketReport) -> bool:
    return bool(report.inventory and (report.inventory.foreign_owned_objects or report.inventory.acl_unavailable
                                      or any(r.bucket == report.bucket for r in plan.object_acls)))


def render_inventory_note(plan: Plan, report: BucketReport) -> str:
    """The note of a bucket that needs no statement but whose inventory shows grants or owners to review."""
    lines = [f"# {report.bucket}: object ACLs and owners for review", "",
             f"s3plan {plan.run.tool_version}, {plan.run.generated_at}; no policy statement is drafted for this "
             "bucket (the blockers below say what else stands in the way).", ""]
    lines += object_acl_section(plan, report)
    blockers = [b for b in report.blockers if b.kind != "sigv2-callers"]
    if blockers:
        lines += ["## Blockers for BucketOwnerEnforced", ""]
        lines += [f"- **{b.kind}**: {code(b.detail)}" for b in blockers] + [""]
    return "\n".join(lines)


def object_acl_section(plan: Plan, report: BucketReport | None) -> list[str]:
    """What the bucket's inventory report shows: grants in use, grants no request is known to use (with the
    statement that would keep each, not drafted), objects other accounts own, and ACLs it could not show."""
    status = report.inventory if report else None
    if report is None or status is None:
        return []
    known = status.known_foreign
    if status.bucket_owner is None:
        foreign = ("not known (the bucket owner's canonical id is not known: give it in --canonical-ids, or run "
                   "with --enrich)")
    elif status.foreign_owned_objects is None:
        hidden = status.acl_unavailable + status.acl_unreadable
        foreign = (f"{known:,} of the {status.objects - hidden:,} whose owner the report shows; the owner of "
                   f"{hidden:,} more is not shown")
    else:
        foreign = f"{status.foreign_owned_objects:,}"
    lines = ["## Object ACLs and owners (S3 Inventory)", "",
             f"Report {code(status.report)} ({status.created or 'time unknown'}): {status.objects:,} object(s); "
             f"owned by another account: {foreign}; ACL UNAVAILABLE: {status.acl_unavailable:,}; ACL field "
             f"unreadable: {status.acl_unreadable:,}. Grants are matched to requests by bucket, grantee, "
             "permission and first key segment: the evidence keeps key prefixes, not every key. A report covers "
             "what its configuration lists (it may be filtered to a prefix, or list current versions only; the "
             "manifest does not say).", ""]
    if not status.has_acl_fields:
        lines += ["**The report has no Object ACL and Object owner fields: add them to the inventory "
                  "configuration and wait for the next report.**", ""]
    rows = [r for r in plan.object_acls if r.bucket == report.bucket]
    unused = [r for r in rows if r.exercised is not True]
    if unused:
        lines += [f"### Grants no request is known to use ({len(unused)}): confirm or drop", ""]
        for row in unused:
            body = json.dumps(preserving_statement(row, report.partition), indent=2, sort_keys=True).splitlines()
            lines += [f"- {_grant(row)}: {code(row.why)}. Not drafted (no evidence shows it is needed); the "
                      "statement that would keep it, for a person to decide (its resources are the sampled keys: "
                      "list the others from the report):", "", f"{_fence(body)}json", *body, _fence(body), ""]
    used = [r for r in rows if r.exercised is True]
    if used:
        lines += [f"### Grants in use ({len(used)})", ""]
        lines += [f"- {_grant(row)}: {code(row.why)} ({', '.join(row.evidence)})" for row in used] + [""]
    others = [o for o in status.owners if o[0] != status.bucket_owner] if status.bucket_owner else []
    if others:
        lines += [f"### Objects other accounts own ({len(others)} owner(s)"
                  + ("" if status.foreign_owned_objects is not None else "; more may, among the objects whose ACL "
                     "the report could not show") + ")", "",
                  "Once ACLs are disabled the bucket owner owns them; their writers keep access only through a "
                  "policy.", ""]
        lines += [f"- {code(note)}" for note in status.owner_notes[:20]] + [""]
    return lines


def _grant(row: ObjectAcl) -> str:
    who = row.grantee.rsplit("/", 1)[-1] if row.grantee_type == "Group" else (
        f"account {row.account} ({row.grantee})" if row.account else f"canonical id {row.grantee} (account unknown)")
    return (f"{code(who)} {row.permission} on {row.objects:,} object(s) (e.g. "
            f"{', '.join(code(k) for k in row.sample_keys)})")


def render_review(plan: Plan, policy: BucketPolicy, statements: Mapping[str, Statement],
                  report: BucketReport | None) -> str:
    """The review note for one bucket: new statements with their evidence, what is already granted, blockers,
    the steps taken to fit the size limit, and a unified diff against the current policy."""
    bucket = policy.bucket
    lines = [f"# {bucket}: bucket policy draft for review", "",
             f"s3plan {plan.run.tool_version}, {plan.run.generated_at}; evidence from "
             f"{plan.run.window_seen.since or '?'} to {plan.run.window_seen.until or '?'}.", ""]
    if policy.merged is None:
        lines += [f"**No draft was written for {bucket}: {policy.steps[-1] if policy.steps else 'see the blockers'}. "
                  "Fix that and plan again, or merge the statements below into the bucket policy by hand.**", ""]
        lines += _unwritten(statements)
    elif policy.current_from is None:
        lines += [f"**The current policy of {bucket} was not read (no `--enrich`, and no `{bucket}.json` in "
                  "`--current-policies`). This draft holds only the new statements: merge them into the live "
                  "policy. `put-bucket-policy` replaces the whole policy, so putting this file as it is would "
                  "drop every statement the bucket has now.**", ""]
    else:
        lines += [f"Merged with the current policy as read from {code(policy.current_from)}.", ""]
    lines += _after_the_change(plan, bucket)
    lines += object_acl_section(plan, report)
    if policy.merged is not None:
        lines += _new_statements(policy, statements)
    if policy.already_granted:
        lines += ["## Already granted by the current policy", ""]
        lines += [f"- {code(sid)}: {code(statements[sid].principal)} ({statements[sid].access}) is already allowed; "
                  "not added." for sid in policy.already_granted if sid in statements]
        lines.append("")
    if policy.doubts:
        lines += ["## What s3plan could not prove", ""]
        lines += [f"- {code(sid)}: {code(why)}" for sid, why in policy.doubts] + [""]
    if policy.renamed:
        lines += ["## Renamed", ""] + [f"- {code(a)} is taken in the current policy: added as {code(b)}."
                                       for a, b in policy.renamed] + [""]
    if policy.validation:
        lines += ["## IAM Access Analyzer (--validate-online)", ""] + [f"- {code(v)}" for v in policy.validation] + [""]
    if policy.steps:
        lines += ["## Fitting the 20 KB limit", ""] + [f"- {step}" for step in policy.steps] + [""]
    undrafted = [n.removeprefix(f"{bucket}: ") for n in plan.notes if n.startswith(f"{bucket}: ")]
    if undrafted:
        lines += ["## Not drafted", ""] + [f"- {code(note)}" for note in undrafted] + [""]
    acl_blockers = [b for b in (report.blockers if report else ()) if b.kind != "sigv2-callers"]
    if acl_blockers:
        lines += ["## Blockers for BucketOwnerEnforced", ""]
        lines += [f"- **{b.kind}**: {code(b.detail)}" for b in acl_blockers] + [""]
    if policy.merged is not None:
        diff = _diff(policy.current, policy.merged)
        lines += ["## Diff against the current policy", "", f"{_fence(diff)}diff", *diff, _fence(diff), ""]
        lines += _how_to_apply(policy)
    return "\n".join(lines)


def _after_the_change(plan: Plan, bucket: str) -> list[str]:
    """What the replay found for the bucket's ACL-dependent requests: what breaks, who, why, what to do."""
    rows = [r for r in plan.replay if r.bucket == bucket]
    if not rows:
        return []
    counts = plan.replay_counts(bucket)
    lines = ["## After ACLs are disabled", "",
             f"Replay of the bucket's ACL-dependent requests against this draft, ACLs ignored: {counts['kept']:,} "
             f"keep working, {counts['broken']:,} would break, {counts['unknown']:,} could not be proven.", ""]
    for after, heading in (("denied", "Would break"), ("unknown", "Could not be proven")):
        found = sorted((r for r in rows if r.after == after), key=lambda r: (-r.requests, r.principal))
        if found:
            lines += [f"### {heading} ({len(found)})", ""]
            lines += [f"- {code(r.principal)} {r.event_name}, {r.requests:,} request(s): {code(r.why)}; {_todo(r)}"
                      for r in found[:20]]
            lines += [f"- and {len(found) - 20} more (plan.json `replay`)"] if len(found) > 20 else []
            lines += [""]
    return lines


def _todo(row: ReplayRow) -> str:
    if row.after == "unknown":
        return "check it by hand, or give s3plan what it lacks"
    if row.sets_acl:
        return "stop setting ACLs (its task)"
    return "change the statement or Deny named, or add the access, before enforcing"


def _unwritten(statements: Mapping[str, Statement]) -> list[str]:
    """The drafted statements of a bucket whose draft could not be written, each with its evidence and JSON."""
    lines = [f"## Statements to merge by hand ({len(statements)})", ""]
    for sid, stmt in sorted(statements.items()):
        body = json.dumps(stmt.document, indent=2, sort_keys=True).splitlines()
        lines += [f"### {code(sid)}", "",
                  f"- Evidence: {stmt.requests} request(s) ({', '.join(stmt.evidence)})",
                  *[f"- Risk: {risk}" for risk in stmt.risk], "", f"{_fence(body)}json", *body, _fence(body), ""]
    return lines


def _how_to_apply(policy: BucketPolicy) -> list[str]:
    """The commands, in order; with the current policy unread, a merge into the live one comes first."""
    bucket = policy.bucket
    switch = (f"aws s3api put-bucket-ownership-controls --bucket {bucket} "
              "--ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'")
    if policy.current_from is None:
        intro = ("Merge first: fetch the live policy, add the statements of this draft to its `Statement` list, put "
                 "the result; switch Object Ownership only once no blocker above is left.")
        commands = [f"aws s3api get-bucket-policy --bucket {bucket} --query Policy --output text > {bucket}.live.json",
                    f"# add the new statements of {policy.draft} to {bucket}.live.json, then:",
                    f"aws s3api put-bucket-policy --bucket {bucket} --policy file://{bucket}.live.json"]
    else:
        intro = ("Put the reviewed policy first (it is the current policy with the new statements merged in: if the "
                 "live policy changed since it was read, plan again); switch Object Ownership only once no blocker "
                 "above is left.")
        commands = [f"aws s3api put-bucket-policy --bucket {bucket} --policy file://{policy.draft}"]
    return ["## How to apply (s3plan never does)", "", intro, "", "```sh", *commands, switch, "```", ""]


def _new_statements(policy: BucketPolicy, statements: Mapping[str, Statement]) -> list[str]:
    lines = [f"## New statements ({len(policy.added)})", ""]
    written = dict(policy.renamed)
    for sid in policy.added:
        stmt = statements.get(sid)
        title = f"### {code(written.get(sid, sid))}"
        if stmt is None:  # joined to fit the limit: its parts are listed under their own Sids in plan.json
            lines += [title, "", "- Joins statements whose principals have identical access.", ""]
            continue
        doc = stmt.document
        lines += [title, "",
                  f"- Replaces: the ACL access of {code(stmt.principal)} ({stmt.access}): "
                  f"{', '.join(code(a) for a in as_list(doc['Action']))} on "
                  f"{', '.join(code(r) for r in as_list(doc['Resource']))}",
                  f"- Evidence: {stmt.requests} request(s), {code(stmt.first_seen or '?')} to "
                  f"{code(stmt.last_seen or '?')} ({', '.join(stmt.evidence)})"]
        lines += [f"- Risk: {risk}" for risk in stmt.risk]  # s3plan's own words
        lines.append("")
    return lines


def code(text: str) -> str:
    """Inline code that log-derived text cannot break out of: newlines and backticks are escaped, so a key or a
    user agent can never add a heading, a list item or a code block to the review."""
    escaped = json.dumps(str(text), ensure_ascii=False)[1:-1].replace("`", "\\u0060")
    return f"`{escaped}`"


def _fence(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in the block (JSON does not escape them)."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _diff(current: Mapping[str, Any] | None, merged: Mapping[str, Any]) -> list[str]:
    before = json.dumps(current, indent=2, sort_keys=True).splitlines() if current else []
    after = json.dumps(merged, indent=2, sort_keys=True).splitlines()
    return list(difflib.unified_diff(before, after, "current", "draft", lineterm=""))

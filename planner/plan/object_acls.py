"""The inventory's object ACLs and owners set against the log evidence: which grants a request in the window used,
which no one used (confirm or drop them: drafts stay evidence-only), which make objects public, and which objects
another account owns (after BucketOwnerEnforced the bucket owner owns them, and their writer keeps access only
through a policy). Matching is by bucket, grantee and permission: the evidence keeps key prefixes, not every key."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from planner.classify.remedies import needed_actions
from planner.model import (
    Blocker,
    DataEvents,
    Evidence,
    InventoryStatus,
    ObjectAcl,
    ReplayRow,
    Statement,
    Task,
    stable_id,
)
from planner.model.inventory import ALL_USERS, GrantCount, InventoryReport, InventoryResult
from planner.policy.draft import object_pattern

# Object ACL permission -> the policy actions it stands for (facts §3b, "Mapping of ACL permissions and access
# policy permissions", object column); WRITE does not apply to objects (facts §3a).
PERMISSION_ACTIONS = {
    "READ": frozenset({"s3:GetObject", "s3:GetObjectVersion"}),
    "READ_ACP": frozenset({"s3:GetObjectAcl", "s3:GetObjectVersionAcl"}),
    "WRITE_ACP": frozenset({"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}),
}
PERMISSION_ACTIONS["FULL_CONTROL"] = frozenset().union(*PERMISSION_ACTIONS.values())
READS = frozenset({"READ", "READ_ACP", "FULL_CONTROL"})
PUBLIC_GRANT, INVENTORY_UNREADABLE, UNKNOWN_ACLS = "object-acl-public", "inventory-unreadable", "object-acls-unknown"
CONFIRM_KIND, OWNED_KIND = "confirm-object-acls", "foreign-owned-objects"
SHOWN = 5
_ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")
_CANONICAL = re.compile(r"^[0-9a-f]{64}$")
COPY_READS = frozenset({"READ", "FULL_CONTROL"})
COPIES = frozenset({"CopyObject", "UploadPartCopy"})


@dataclass(frozen=True)
class ObjectAclParts:
    """What the inventory adds to the plan: grant rows, per-bucket status, blockers, tasks, and the statements with
    the public-object risk notes added."""

    rows: tuple[ObjectAcl, ...] = ()
    statuses: Mapping[str, InventoryStatus] = dataclasses.field(default_factory=dict)
    blockers: Mapping[str, tuple[Blocker, ...]] = dataclasses.field(default_factory=dict)
    tasks: tuple[Task, ...] = ()
    statements: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class Context:
    """The evidence side: rows by bucket, what each needed, data events, and what is known of canonical ids."""

    evidence: Sequence[Evidence]
    operations: Mapping[str, Mapping[str, object]]
    bucket_accounts: Mapping[str, str]
    bucket_data: Mapping[str, DataEvents] | None
    accounts: Mapping[str, str]       # canonical id -> account id (--canonical-ids, --enrich)
    bucket_owners: Mapping[str, str]  # bucket -> its owner's canonical id (--enrich)

    @cached_property
    def by_bucket(self) -> Mapping[str, Sequence[Evidence]]:
        """The evidence rows of each bucket (indexed once: a plan may hold thousands of reports)."""
        found: dict[str, list[Evidence]] = defaultdict(list)
        for ev in self.evidence:
            if ev.bucket:
                found[ev.bucket].append(ev)
        return found

    @cached_property
    def copies(self) -> tuple[Mapping[str, Sequence[Evidence]], Sequence[Evidence]]:
        """Copies that needed an ACL: by the bucket they read from, and those whose source is not known (seen only
        in server access logs, which keep no copy-source header)."""
        by_source: dict[str, list[Evidence]] = defaultdict(list)
        unsourced: list[Evidence] = []
        for ev in self.evidence:
            if not ev.acl_required:
                continue
            for source in ev.copy_sources:
                by_source[source].append(ev)
            if ev.event_name in COPIES and not ev.copy_sources and not ev.cloudtrail_requests:
                unsourced.append(ev)
        return by_source, unsourced

    @cached_property
    def mapped(self) -> frozenset[str]:
        """The accounts whose canonical id is known."""
        return frozenset(self.accounts.values())

    def owner_of(self, bucket: str) -> str | None:
        """The bucket owner's canonical id: read by --enrich, or the one id mapped to the bucket's account."""
        if bucket in self.bucket_owners:
            return self.bucket_owners[bucket]
        account = self.bucket_accounts.get(bucket)
        ids = sorted(c for c, a in self.accounts.items() if account and a == account)
        return ids[0] if len(ids) == 1 else None

    def actions(self, ev: Evidence) -> frozenset[str]:
        operation = self.operations.get(ev.event_name)
        return frozenset(needed_actions(operation, ev)) if operation else frozenset()


def object_acl_findings(inventory: InventoryResult, ctx: Context, statements: Sequence[Statement],
                        replay: Sequence[ReplayRow]) -> ObjectAclParts:
    """Every report set against the evidence (see the module docstring)."""
    rows: list[ObjectAcl] = []
    statuses: dict[str, InventoryStatus] = {}
    blockers: dict[str, list[Blocker]] = defaultdict(list)
    tasks: list[Task] = []
    drafted: dict[str, list[Statement]] = defaultdict(list)
    for statement in statements:
        drafted[statement.bucket].append(statement)
    for report in inventory.reports:
        found = bucket_grants(report, ctx)
        rows.extend(found)
        statuses[report.bucket] = _status(report, ctx)
        blockers[report.bucket].extend(_public_blockers(found) + _unknown_acls(report))
        notes = _owner_notes(report, ctx, drafted.get(report.bucket, ()), replay)
        statuses[report.bucket] = dataclasses.replace(statuses[report.bucket], owner_notes=notes)
        tasks.extend(_confirm_task(report.bucket, found, statuses[report.bucket]))
        tasks.extend(_owned_task(report.bucket, statuses[report.bucket]))
    for failure in inventory.failures:
        if failure.bucket:
            blockers[failure.bucket].append(Blocker(INVENTORY_UNREADABLE, failure.reason))
    public: dict[str, list[ObjectAcl]] = defaultdict(list)
    for row in rows:
        if row.public and row.exercised is not False:
            public[row.bucket].append(row)
    return ObjectAclParts(tuple(rows), statuses, {b: tuple(v) for b, v in blockers.items() if v}, tuple(tasks),
                          tuple(_with_public_risk(s, public.get(s.bucket, ())) for s in statements))


def bucket_grants(report: InventoryReport, ctx: Context) -> list[ObjectAcl]:
    """The report's grants to others, each with whether the window's requests used it."""
    owner = ctx.owner_of(report.bucket)
    grants = [g for g in report.grants if not (g.grantee_type == "CanonicalUser" and g.grantee == owner)]
    rows = [e for e in ctx.by_bucket.get(report.bucket, ()) if e.acl_required]
    serves = _serving(grants, rows, ctx)
    serves.update(_copy_reads(report.bucket, grants, ctx))
    out = []
    for n, grant in enumerate(grants):
        exercised, used, why = _exercised(n, grant, serves, report.bucket, ctx)
        account = ctx.accounts.get(grant.grantee) if grant.grantee_type == "CanonicalUser" else None
        if grant.grantee_type == "CanonicalUser" and owner is None and exercised is not True:
            why += ("; the bucket owner's canonical id is not known, so this grantee may be the bucket owner itself "
                    "(give it in --canonical-ids, or run with --enrich)")
        out.append(ObjectAcl(report.bucket, grant.grantee, grant.grantee_type, grant.permission, grant.objects,
                             grant.sample_keys, exercised, account, tuple(sorted(used)), grant.public, why))
    return out


def _serving(grants: Sequence[GrantCount], rows: Sequence[Evidence], ctx: Context) -> dict[str, list[int]]:
    """Per evidence row that needed an ACL, the grants (by index) that could have let it in."""
    out: dict[str, list[int]] = {}
    for ev in rows:
        needed = ctx.actions(ev)
        out[ev.id] = [n for n, g in enumerate(grants)
                      if needed & PERMISSION_ACTIONS.get(g.permission, frozenset()) and _may_be(g, ev, ctx)]
    return out


def _copy_reads(bucket: str, grants: Sequence[GrantCount], ctx: Context) -> dict[str, list[int]]:
    """Copies into any bucket that read their source here and needed an ACL: the ACL they needed may be this
    bucket's (reading the source) or the destination's, so the READ grants they could use are at most "may"."""
    out: dict[str, list[int]] = {}
    by_source, unsourced = ctx.copies
    for ev in (*by_source.get(bucket, ()), *unsourced):
        found = [n for n, g in enumerate(grants) if g.permission in COPY_READS and _caller_may_be(g, ev, ctx)]
        if found:
            out[f"{ev.id}:copy"] = [*found, -1]  # -1: the destination's ACL, never one of these
    return out


def _may_be(grant: GrantCount, ev: Evidence, ctx: Context) -> bool:
    """Whether the grant could have let the row in: its objects lie under the row's key prefixes (where both are
    known), and the caller could be the grantee: anyone for AllUsers, any signed caller for AuthenticatedUsers
    (facts §3d), its own account's canonical id or an id not known to be another account's."""
    tops = _tops(ev)
    if tops is not None and grant.prefixes_complete and not tops & set(grant.prefixes):
        return False
    return _caller_may_be(grant, ev, ctx)


def _caller_may_be(grant: GrantCount, ev: Evidence, ctx: Context) -> bool:
    """Whether the row's caller could be the grantee."""
    if ev.principal_type == "anonymous":
        return grant.grantee_type == "Group" and grant.grantee == ALL_USERS
    if grant.grantee_type == "Group":
        return grant.public
    if _CANONICAL.match(ev.principal):  # a caller named by its canonical id (server access logs): that id alone
        return ev.principal == grant.grantee
    account = _account_of(ev)
    if account is None:  # a caller whose account the evidence does not name could be any grantee
        return True
    known = ctx.accounts.get(grant.grantee)
    if known is not None:
        return known == account
    return account not in ctx.mapped  # an account has one canonical id: a mapped account is not an unmapped id


def _tops(ev: Evidence) -> frozenset[str] | None:
    """The first key segments the row's requests touched (None: not all are known)."""
    if not ev.key_prefixes or ev.key_prefix_count > len(ev.key_prefixes):
        return None
    return frozenset(p.split("/", 1)[0] + "/" if "/" in p else "" for p in ev.key_prefixes)


def _account_of(ev: Evidence) -> str | None:
    found = _ACCOUNT_ARN.match(ev.principal)
    return ev.account_id or (found.group(1) if found else None)


def _exercised(index: int, grant: GrantCount, serves: Mapping[str, list[int]], bucket: str,
               ctx: Context) -> tuple[bool | None, list[str], str]:
    """(True: a request could only have come through this grant; None: it may have, or the window cannot show it;
    False: the window's data events show no request it could have served), the rows, and why."""
    if grant.permission not in PERMISSION_ACTIONS:
        return None, [], (f"permission {grant.permission} does not apply to objects, so it is not matched "
                          "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#permissions)")
    only = sorted(e for e, found in serves.items() if found == [index])
    maybe = sorted({e.removesuffix(":copy") for e, found in serves.items() if index in found and found != [index]})
    if only:
        return True, only, f"used: {len(only)} evidence row(s) needed an ACL that only this grant gives"
    if maybe:
        return None, maybe, (f"{len(maybe)} evidence row(s) needed an ACL that this grant or another one gives "
                             "(on this bucket, or the destination of a copy): which one is not in the logs")
    gap = _unlogged(bucket, grant.permission, ctx)
    if gap:
        return None, [], gap
    return False, [], "no request in the window needed an ACL this grant gives"


def _unlogged(bucket: str, permission: str, ctx: Context) -> str | None:
    """Why the window cannot show the grant in use: no data events for the bucket, or none of the kind it grants."""
    if ctx.bucket_data is None:
        return "the evidence does not say whether data events were logged, so no use of it can be ruled out"
    seen = ctx.bucket_data.get(bucket, DataEvents(0, 0))
    if permission in READS and not seen.reads:
        return "the window holds no data-event read for this bucket, so reads through this grant cannot be ruled out"
    if permission in ("WRITE_ACP", "FULL_CONTROL") and not seen.writes:
        return "the window holds no data-event write for this bucket, so ACL writes through it cannot be ruled out"
    return None


def _status(report: InventoryReport, ctx: Context) -> InventoryStatus:
    owner = ctx.owner_of(report.bucket)
    complete = report.has_acl_fields and not report.acl_unavailable and not report.acl_unreadable
    # a count over the objects whose owner the report shows would call the others the bucket owner's: not proven
    foreign = None if owner is None or not complete else sum(o.objects for o in report.owners if o.owner != owner)
    return InventoryStatus(
        report.manifest, report.created, report.objects, foreign, report.acl_unavailable, report.acl_unreadable,
        owner, tuple((o.owner, ctx.accounts.get(o.owner), o.objects) for o in report.owners),
        report.has_acl_fields)


def _unknown_acls(report: InventoryReport) -> list[Blocker]:
    """Objects whose ACL and owner the report could not show: their grants and owners are not known."""
    unknown = report.acl_unavailable + report.acl_unreadable
    if not unknown:
        return []
    return [Blocker(UNKNOWN_ACLS, f"the inventory report could not show the ACL and owner of {unknown} object(s) "
                                  f"({report.acl_unavailable} UNAVAILABLE, {report.acl_unreadable} unreadable): "
                                  "their grants and owners are unknown; check them (get-object-acl) or wait for "
                                  "the next report")]


def _public_blockers(rows: Sequence[ObjectAcl]) -> list[Blocker]:
    """A public object grant that the window does not show in use: disabling ACLs would silently un-publish it."""
    out = []
    for row in rows:
        if row.public and row.exercised is not True:
            out.append(Blocker(PUBLIC_GRANT, f"object ACLs grant {row.permission} to {_group(row.grantee)} on "
                                             f"{row.objects} object(s) (e.g. {', '.join(row.sample_keys)}), "
                                             f"and {_unused(row)}: confirm they must stay public (then a policy "
                                             "must say so) or drop the grants"))
    return out


def _unused(row: ObjectAcl) -> str:
    return "no request in the window used them" if row.exercised is False else "whether anyone used them is unknown"


def _group(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _confirm_task(bucket: str, rows: Sequence[ObjectAcl], status: InventoryStatus) -> list[Task]:
    """One task per bucket for the grants no request is known to use: no evidence supports a statement for them."""
    open_rows = [r for r in rows if r.exercised is not True]
    if not open_rows:
        return []
    listed = "; ".join(f"{_who(r)} {r.permission} on {r.objects} object(s)" for r in open_rows[:SHOWN])
    more = f"; and {len(open_rows) - SHOWN} more" if len(open_rows) > SHOWN else ""
    unavailable = (f" The report could not show the ACLs of {status.acl_unavailable} object(s) (UNAVAILABLE)."
                   if status.acl_unavailable else "")
    return [Task(
        id=stable_id("OBJ", bucket), kind=CONFIRM_KIND, title=f"Confirm or drop the object ACL grants on {bucket}",
        principal=None, buckets=(bucket,), evidence=tuple(sorted({e for r in open_rows for e in r.evidence})),
        action=(f"The inventory shows object ACL grants that no request in the window is known to use: {listed}"
                f"{more}. They stop working when ACLs are disabled. Ask each grantee whether it still needs them; "
                "a statement that would keep one is in the bucket's review note, for a person to decide (s3plan "
                f"drafts only what the evidence shows).{unavailable}"))]


def _who(row: ObjectAcl) -> str:
    if row.grantee_type == "Group":
        return _group(row.grantee)
    return f"account {row.account}" if row.account else f"canonical id {row.grantee} (account unknown)"


def _owner_notes(report: InventoryReport, ctx: Context, statements: Sequence[Statement],
                 replay: Sequence[ReplayRow]) -> tuple[str, ...]:
    """Per owner other than the bucket owner, whether the drafts and the replay keep its access to its objects."""
    owner = ctx.owner_of(report.bucket)
    if owner is None:
        return ()
    return tuple(owner_coverage(report.bucket, o.owner, ctx.accounts.get(o.owner), o.objects, o.sample_keys, ctx,
                                statements, replay) for o in report.owners if o.owner != owner)


def _owned_task(bucket: str, status: InventoryStatus) -> list[Task]:
    """Objects another account owns: after enforcement their writer keeps access only through a policy."""
    lines = status.owner_notes
    if not lines:
        return []
    known = status.known_foreign
    count = f"{known}" if status.foreign_owned_objects is not None else f"at least {known}"
    return [Task(
        id=stable_id("OWN", bucket), kind=OWNED_KIND,
        title=f"Keep access for the writers of {count} object(s) another account owns in {bucket}",
        principal=None, buckets=(bucket,), evidence=(),
        action=("Once ACLs are disabled the bucket owner owns every object, and the accounts that wrote them keep "
                "access only through a policy. " + " ".join(lines[:SHOWN])
                + (f" And {len(lines) - SHOWN} more owner(s)." if len(lines) > SHOWN else "")))]


def owner_coverage(bucket: str, canonical: str, account: str | None, objects: int, keys: Sequence[str],
                   ctx: Context, statements: Sequence[Statement], replay: Sequence[ReplayRow]) -> str:
    """Whether the drafts and the replay keep a foreign owner's access to its objects, in one sentence."""
    if account is None:
        return (f"Canonical id {canonical} owns {objects} object(s); its account is not known (map it with "
                "--canonical-ids), so whether any draft covers it cannot be said.")
    mine = [s for s in statements if s.bucket == bucket and _principal_account(s.principal) == account]
    seen = [e for e in ctx.by_bucket.get(bucket, ()) if _account_of(e) == account]
    if mine:
        kept = sum(r.requests for r in replay if r.bucket == bucket and r.after == "allowed"
                   and r.evidence_id in {e.id for e in seen})
        actions = sorted({a for s in mine for a in _actions(s)})
        outside = [k for k in keys if not any(_covers(r, bucket, k) for s in mine for r in _resources(s))]
        where = (f"its sampled object(s) {', '.join(outside)} lie outside their resources: a draft covers only the "
                 "keys its requests touched, so confirm it needs no access to the rest" if outside
                 else f"their resources include its sampled object(s) {', '.join(keys)}")
        return (f"Account {account} owns {objects} object(s); the drafts grant it {', '.join(actions)} "
                f"({', '.join(sorted(s.sid for s in mine))}), and {where}; only the actions its requests needed "
                f"are granted; the replay keeps {kept} of its request(s).")
    if any(e.acl_required for e in seen):
        return (f"Account {account} owns {objects} object(s); some of its requests in the window needed an ACL but "
                "got no statement (see the blockers), so its access ends with the ACLs.")
    if seen:
        return (f"Account {account} owns {objects} object(s); its {sum(e.requests for e in seen)} request(s) in the "
                "window needed no ACL, so no statement was drafted: confirm it needs none for its own objects.")
    return (f"Account {account} owns {objects} object(s) and made no request in the window: confirm it no longer "
            "reads them, or grant it access in the bucket policy.")


def _covers(resource: str, bucket: str, key: str) -> bool:
    """Whether an object ARN pattern of the bucket (IAM wildcards; ${*}, ${?}, ${$} literal) matches the key."""
    head = f":s3:::{bucket}/"
    if head not in resource:
        return False
    pattern = resource.split(head, 1)[1]
    parts = re.split(r"(\$\{[*?$]\}|\*|\?)", pattern)
    regex = "".join(re.escape(p[2]) if p.startswith("${") else ".*" if p == "*" else "." if p == "?" else re.escape(p)
                    for p in parts if p)
    return re.fullmatch(regex, key, re.S) is not None


def _principal_account(principal: str) -> str | None:
    found = _ACCOUNT_ARN.match(principal)
    return found.group(1) if found else None


def _with_public_risk(statement: Statement, rows: Sequence[ObjectAcl]) -> Statement:
    """A public draft's risk note: how many objects the ACLs made public (`rows`: the bucket's public grants in
    use or maybe in use), against the resources it would open."""
    if statement.principal not in ("anonymous", "*"):
        return statement
    public = rows  # the bucket's public grants that are, or may be, in use
    if not public:
        return statement
    resources = _resources(statement)
    notes = []
    for row in public:
        outside = [k for k in row.sample_keys if not any(_covers(r, statement.bucket, k) for r in resources)]
        notes.append(f"the object ACLs made {row.objects} object(s) public ({_group(row.grantee)} {row.permission}; "
                     f"e.g. {', '.join(row.sample_keys)}) and this statement opens {', '.join(resources)}: objects "
                     "there that the ACLs kept private become public"
                     + (f", and public objects outside it (e.g. {', '.join(outside)}) stop being public"
                        if outside else ""))
    return dataclasses.replace(statement, risk=statement.risk + tuple(notes))


def _actions(statement: Statement) -> list[str]:
    value = statement.document.get("Action", [])
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _resources(statement: Statement) -> list[str]:
    value = statement.document.get("Resource", [])
    return sorted({value} if isinstance(value, str) else {str(v) for v in value})


def preserving_statement(row: ObjectAcl, partition: str = "aws") -> dict[str, object]:
    """The statement that would keep one grant's access once ACLs are disabled: for a person to decide, never
    drafted (no request shows it is needed). Its resources are the sampled keys; the report lists every one."""
    if row.grantee_type == "Group":
        principal: object = "*" if row.grantee == ALL_USERS else {"AWS": "*"}
    elif row.account:
        principal = {"AWS": f"arn:{partition}:iam::{row.account}:root"}
    else:
        principal = {"CanonicalUser": row.grantee}
    return {"Effect": "Allow", "Principal": principal, "Action": sorted(PERMISSION_ACTIONS.get(row.permission, ())),
            "Resource": [f"arn:{partition}:s3:::{row.bucket}/{object_pattern(key, False)}" for key in row.sample_keys]}

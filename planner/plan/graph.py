"""The plan: tasks as a dependency graph (waves = topological generations) and readiness per bucket."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import networkx as nx

from planner.classify.owners import OwnerBook
from planner.classify.remedies import AclFinding, SigV2Finding
from planner.errors import InternalError
from planner.model import (
    Blocker,
    BucketPolicy,
    BucketReport,
    DataEvents,
    Evidence,
    Owner,
    SigV2Client,
    Statement,
    Task,
    deny_file,
    stable_id,
)
from planner.plan.object_acls import CONFIRM_KIND, INVENTORY_UNREADABLE, OWNED_KIND, PUBLIC_GRANT, UNKNOWN_ACLS
from planner.plan.readiness import EVIDENCE_BLOCKERS, data_event_blockers
from planner.plan.tasks import apply_step, client_rows, review_tasks, sdk_tasks, stop_acl_tasks
from planner.policy.draft import BUCKET_NAME, DRAFTED, PUBLIC_ACTIONS

ACL_BLOCKER_KINDS = frozenset({"acl-writers", "acl-dependent-access", "anonymous-write-access", "service-acl-access",
                               "acl-access-not-drafted",
                               "policy-too-large", "acl-condition-in-policy", "current-policy-unreadable",
                               "policy-version", "bucket-acl-grant", "log-delivery-acl", "cloudfront-log-delivery",
                               "public-access-block", "bucket-state-unreadable", "replay-denies", PUBLIC_GRANT,
                               INVENTORY_UNREADABLE, UNKNOWN_ACLS, *EVIDENCE_BLOCKERS})
# the tasks that must be done before a bucket's ACLs are disabled
BEFORE_DISABLE = frozenset({"stop-setting-acls", "review-policy-statement", CONFIRM_KIND, OWNED_KIND})


@dataclasses.dataclass(frozen=True)
class PlanParts:
    """What the plan stage hands on: tasks in wave order and one report per bucket."""

    tasks: tuple[Task, ...]
    buckets: tuple[BucketReport, ...]
    clients: tuple[SigV2Client, ...]
    notes: tuple[str, ...] = ()


def build_plan(bucket_requests: Mapping[str, int], bucket_accounts: Mapping[str, str],
               sigv2: Sequence[SigV2Finding], acl: Sequence[AclFinding], statements: Sequence[Statement],
               extra_blockers: Mapping[str, Sequence[Blocker]] | None = None,
               owners: OwnerBook | None = None, bucket_data: Mapping[str, DataEvents] | None = None,
               partitions: Mapping[str, str] | None = None, policies: Sequence[BucketPolicy] = (),
               drafted_evidence: frozenset[str] = frozenset(), extra_tasks: Sequence[Task] = (),
               extra_buckets: Sequence[str] = ()) -> PlanParts:
    """Tasks with dependencies, waves and owners; every bucket's readiness and blockers; the SigV2 clients.
    `bucket_data` is the data events per bucket (None: the source could not tell, so no bucket is ready);
    `policies` the drafts written per bucket; `drafted_evidence` the evidence some drafted statement covers (an
    ACL dependency outside it has no statement, which blocks its bucket); `extra_tasks` and `extra_buckets` what
    other inputs (the inventory) add."""
    by_bucket = {p.bucket: p for p in policies}
    work = sdk_tasks(sigv2) + stop_acl_tasks(acl) + review_tasks(statements, by_bucket) + list(extra_tasks)
    seen = [f.evidence.bucket for f in sigv2] + [f.evidence.bucket for f in acl] + list(extra_buckets)
    buckets = sorted(set(bucket_requests) | {b for b in seen if b})
    evidence_blockers, notes = data_event_blockers(buckets, bucket_data)
    blockers = _blockers(sigv2, acl, statements, extra_blockers or {}, drafted_evidence)
    for bucket, found in evidence_blockers.items():
        blockers.setdefault(bucket, []).extend(found)
    work += _bucket_tasks(buckets, work, sigv2, acl, blockers, by_bucket)
    graph = _graph(work)
    waves = {task_id: n for n, generation in enumerate(nx.topological_generations(graph), 1) for task_id in generation}
    streams = _streams(graph, work)
    book = owners or OwnerBook()
    where = _where(sigv2, acl, bucket_accounts)
    places = {t.id: where(t) for t in work}
    tasks = sorted((dataclasses.replace(t, wave=waves[t.id], owner=_owner(book, t, bucket_accounts),
                                        stream=streams[t.id][0], stream_name=streams[t.id][1],
                                        regions=places[t.id][0], accounts=places[t.id][1])
                    for t in work), key=lambda t: (t.wave, t.kind, t.id))
    totals = _bucket_totals(sigv2, acl)
    reports = tuple(dataclasses.replace(
        _report(b, bucket_requests, bucket_accounts, totals, blockers.get(b, []),
                None if bucket_data is None else bucket_data.get(b, DataEvents(0, 0))),
        partition=(partitions or {}).get(b, "aws")) for b in buckets)
    return PlanParts(tuple(tasks), reports, client_rows(sigv2, tasks), tuple(notes))


def _where(sigv2: Sequence[SigV2Finding], acl: Sequence[AclFinding], bucket_accounts: Mapping[str, str]
           ) -> Callable[[Task], tuple[tuple[str, ...], tuple[str, ...]]]:
    """The regions and bucket-owner accounts a task's evidence (or, for a bucket task, its buckets) was seen in."""
    evidence: dict[str, Evidence] = {f.evidence.id: f.evidence for f in sigv2}
    evidence.update((f.evidence.id, f.evidence) for f in acl)
    bucket_regions: dict[str, set[str]] = defaultdict(set)
    for ev in evidence.values():
        if ev.bucket and ev.region:
            bucket_regions[ev.bucket].add(ev.region)

    def where(task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
        rows = [evidence[e] for e in task.evidence if e in evidence]
        regions = {e.region for e in rows if e.region} or {r for b in task.buckets for r in bucket_regions[b]}
        accounts = {e.bucket_account_id for e in rows if e.bucket_account_id} or {
            bucket_accounts[b] for b in task.buckets if b in bucket_accounts}
        return tuple(sorted(regions)), tuple(sorted(accounts))

    return where


def _streams(graph: nx.DiGraph, work: Sequence[Task]) -> dict[str, tuple[int, str]]:
    """Work streams: the connected components of the task graph, numbered largest first (ties by smallest id),
    each named for people by what most of its requests touch."""
    components = sorted(nx.weakly_connected_components(graph), key=lambda c: (-len(c), min(c)))
    by_id = {t.id: t for t in work}
    out: dict[str, tuple[int, str]] = {}
    for n, component in enumerate(components, 1):
        name = stream_name([by_id[t] for t in sorted(component)])
        out.update((task_id, (n, name)) for task_id in component)
    return out


def stream_name(tasks: Sequence[Task]) -> str:
    """The migration and the busiest bucket, the one the tasks' requests name most (a task's requests count for
    each bucket it lists): "SigV4: bucket-a and 2 more buckets"; without buckets the principal with the most
    requests; else the first task's title."""
    sigv4 = {t.kind in _SDK_KINDS or t.kind == "enforce-sigv4" for t in tasks}
    migration = "" if len(sigv4) != 1 else "SigV4: " if sigv4 == {True} else "ACLs: "
    return migration + _main_subject(tasks)


def _main_subject(tasks: Sequence[Task]) -> str:
    buckets: dict[str, int] = defaultdict(int)
    principals: dict[str, int] = defaultdict(int)
    for task in tasks:
        for bucket in task.buckets:
            buckets[bucket] += task.requests
        if task.principal:
            principals[task.principal] += task.requests
    for named, what in ((buckets, "bucket"), (principals, "principal")):
        if named:
            top = min(named, key=lambda k: (-named[k], k))
            more = len(named) - 1
            return top + (f" and {more} more {what}{'s' if more > 1 else ''}" if more else "")
    return tasks[0].title if tasks else ""


def _owner(book: OwnerBook, task: Task, bucket_accounts: Mapping[str, str]) -> Owner | None:
    """Principal tasks by their principal; bucket tasks by the bucket owner's account."""
    if task.principal is not None:
        return book.owner_for(task.principal, None, task.source_ips, task.user_agents)
    accounts = {bucket_accounts[b] for b in task.buckets if b in bucket_accounts}
    return book.owner_for(None, accounts.pop(), ()) if len(accounts) == 1 else None


def _bucket_tasks(buckets: Sequence[str], work: Sequence[Task], sigv2: Sequence[SigV2Finding],
                  acl: Sequence[AclFinding], blockers: Mapping[str, Sequence[Blocker]],
                  policies: Mapping[str, BucketPolicy]) -> list[Task]:
    sigv2_buckets = {f.evidence.bucket for f in sigv2}
    acl_buckets = {f.evidence.bucket for f in acl}
    by_bucket: dict[str, list[Task]] = defaultdict(list)
    for task in work:
        for name in task.buckets:
            by_bucket[name].append(task)
    out = []
    for bucket in buckets:
        related = by_bucket.get(bucket, [])
        unproven = [b for b in blockers.get(bucket, ()) if b.kind in EVIDENCE_BLOCKERS]
        out.append(_enforce_task(bucket, bucket in sigv2_buckets, related, unproven))
        if bucket in acl_buckets or any(t.kind in (CONFIRM_KIND, OWNED_KIND) for t in related):
            deps = tuple(sorted(t.id for t in related if t.kind in BEFORE_DISABLE))
            open_blockers = "; ".join(f"{b.kind}: {b.detail}" for b in blockers.get(bucket, ()))
            switch = (f"aws s3api put-bucket-ownership-controls --bucket {bucket} "
                      "--ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'")
            steps = (f"1. After review, {apply_step(bucket, policies)} 2. {switch}." if bucket in policies
                     else f"{switch} (no policy statement is needed).")
            out.append(Task(
                id=stable_id("DIS", bucket), kind="disable-acls", title=f"Disable ACLs on {bucket}",
                principal=None, buckets=(bucket,), evidence=(), depends_on=deps,
                action=steps + " s3plan runs neither." + (f" Open blockers: {open_blockers}" if open_blockers
                                                          else "")))
    return out


def _enforce_task(bucket: str, has_sigv2: bool, related: Sequence[Task], unproven: Sequence[Blocker]) -> Task:
    """Deny SigV2 on a bucket (facts §10b): ready now when data events show no SigV2, else after its SDK tasks;
    without data events nothing is proven, so the task asks for them first."""
    deps = tuple(sorted(t.id for t in related if t.kind in _SDK_KINDS))
    if unproven and not has_sigv2:
        return Task(
            id=stable_id("ENF", bucket), kind="enforce-sigv4", title=f"Deny SigV2 on {bucket}: log data events first",
            principal=None, buckets=(bucket,), evidence=(), depends_on=deps,
            action=(f"No SigV2 request was seen, but that proves nothing yet: {unproven[0].detail}. s3plan drafts "
                    f"policies/{deny_file(bucket)} once a window with data events shows no SigV2."))
    if not has_sigv2:
        return Task(
            id=stable_id("ENF", bucket), kind="enforce-sigv4", title=f"Deny SigV2 on {bucket} (ready)",
            principal=None, buckets=(bucket,), evidence=(), depends_on=deps,
            action=(f"No SigV2 request was seen in the window. Add the statement in policies/{deny_file(bucket)} "
                    "to the bucket's current policy (put-bucket-policy replaces the whole policy, so merge it)."))
    return Task(
        id=stable_id("ENF", bucket), kind="enforce-sigv4", title=f"Deny SigV2 on {bucket}",
        principal=None, buckets=(bucket,), evidence=(), depends_on=deps,
        action=("SigV2 callers are still seen here. Once their tasks are done and a full window shows no SigV2, "
                "s3plan drafts policies/<bucket>.sigv4-deny.json: a Deny on s3:signatureversion = AWS "
                "(https://docs.aws.amazon.com/AmazonS3/latest/API/bucket-policy-s3-sigv4-conditions.html)."))


_SDK_KINDS = frozenset({"upgrade-sdk", "configure-sdk", "replace-sdk", "fix-presigned-urls", "investigate-client"})


def _graph(tasks: Sequence[Task]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for task in tasks:
        graph.add_node(task.id, kind=task.kind, title=task.title)
    for task in tasks:
        for dep in task.depends_on:
            if dep not in graph:
                raise InternalError(f"task {task.id} depends on unknown task {dep}")
            graph.add_edge(dep, task.id)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = " -> ".join(a for a, _ in nx.find_cycle(graph))
        raise InternalError(f"the task graph has a cycle: {cycle}")
    return graph


def _blockers(sigv2: Sequence[SigV2Finding], acl: Sequence[AclFinding], statements: Sequence[Statement],
              extra: Mapping[str, Sequence[Blocker]], drafted: frozenset[str]) -> dict[str, list[Blocker]]:
    out: dict[str, list[Blocker]] = defaultdict(list)
    callers: dict[str, set[str]] = defaultdict(set)
    for sf in sigv2:
        if sf.evidence.bucket:
            callers[sf.evidence.bucket].add(sf.evidence.principal)
    for bucket, principals in callers.items():
        out[bucket].append(Blocker("sigv2-callers", f"{len(principals)} caller(s) still sign SigV2: "
                                   + ", ".join(sorted(principals)[:5])))
    by_kind: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in acl:
        if f.evidence.bucket:
            by_kind[(f.evidence.bucket, f.access_kind)].add(f.evidence.principal)
    texts = {
        "acl-write": ("acl-writers", "caller(s) still set ACLs"),
        "service": ("service-acl-access", "AWS service access relied on an ACL"),
    }
    for f in acl:
        if f.access_kind == "anonymous" and f.evidence.bucket and not set(f.actions) <= PUBLIC_ACTIONS:
            by_kind[(f.evidence.bucket, "anonymous-write")].add(f.evidence.event_name)
        elif f.access_kind in DRAFTED and f.actions and f.evidence.bucket and f.evidence.id not in drafted:
            by_kind[(f.evidence.bucket, "not-drafted")].add(f.evidence.principal)
    texts["not-drafted"] = ("acl-access-not-drafted", "ACL-dependent access got no statement (the review note and "
                            "plan.json notes say why), so it ends when ACLs are disabled")
    texts["anonymous-write"] = ("anonymous-write-access", "anonymous requests relied on a public ACL for actions "
                                "s3plan never drafts publicly (writes, or reads a public-read ACL did not grant), "
                                "so no statement replaces them")
    for (bucket, kind), principals in sorted(by_kind.items()):
        if kind in texts:
            name, text = texts[kind]
            out[bucket].append(Blocker(name, f"{text}: {', '.join(sorted(principals)[:5])}"))
    per_bucket: dict[str, int] = defaultdict(int)
    for stmt in statements:
        per_bucket[stmt.bucket] += 1
    for bucket, count in sorted(per_bucket.items()):
        out[bucket].append(Blocker("acl-dependent-access", f"{count} drafted statement(s) to review and apply"))
    for bucket, items in extra.items():
        out[bucket].extend(items)
    return out


@dataclasses.dataclass
class _Totals:
    sigv2: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    acl: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    callers: dict[str, set[str]] = dataclasses.field(default_factory=lambda: defaultdict(set))


def _bucket_totals(sigv2: Sequence[SigV2Finding], acl: Sequence[AclFinding]) -> _Totals:
    """Per-bucket SigV2 and ACL request counts and SigV2 callers, in one pass over the findings."""
    totals = _Totals()
    for sf in sigv2:
        if sf.evidence.bucket:
            totals.sigv2[sf.evidence.bucket] += sf.evidence.requests
            totals.callers[sf.evidence.bucket].add(sf.evidence.principal)
    for af in acl:
        if af.evidence.bucket:
            totals.acl[af.evidence.bucket] += af.evidence.requests
    return totals


def _report(bucket: str, requests: Mapping[str, int], accounts: Mapping[str, str], totals: _Totals,
            blockers: Sequence[Blocker], data: DataEvents | None) -> BucketReport:
    sigv2_requests, acl_requests = totals.sigv2.get(bucket, 0), totals.acl.get(bucket, 0)
    # a caller with no counted request blocks too; and no data events, no proof
    sigv4_ready = (sigv2_requests == 0 and not totals.callers.get(bucket)
                   and not any(b.kind in EVIDENCE_BLOCKERS for b in blockers))
    return BucketReport(
        bucket=bucket, account_id=accounts.get(bucket), requests=requests.get(bucket, 0),
        sigv2_requests=sigv2_requests, acl_requests=acl_requests, sigv4_ready=sigv4_ready,
        acls_ready=not any(b.kind in ACL_BLOCKER_KINDS for b in blockers),
        blockers=tuple(sorted(blockers, key=lambda b: (b.kind, b.detail))),
        sigv2_callers=tuple(sorted(totals.callers.get(bucket, ()))),
        sigv4_deny_draft=f"policies/{deny_file(bucket)}" if sigv4_ready and BUCKET_NAME.match(bucket) else None,
        data_events=data,
    )

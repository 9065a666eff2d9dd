"""What the later stages make of the evidence: clients, tasks, statements, bucket policies and reports, the
run and the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from planner.model.evidence import DataEvents, DownloadStat, Evidence, QueryStat, SkippedFile, Window


@dataclass(frozen=True)
class Client:
    """What signed the requests: SDK/tool family, version, and what the AWS table says about it."""

    family: str
    version: str | None
    minimum_version: str | None
    rule: str
    setting: str | None = None
    docs: str | None = None
    end_of_life: bool = False
    aws_operated: bool = False  # an AWS service or console (its rule's remedy: none): informational, no task


@dataclass(frozen=True)
class Owner:
    """The team that owns a task, and the owners-file entry that said so."""

    team: str
    contact: str | None
    rule: str


@dataclass(frozen=True)
class Task:
    """One piece of work for a person, with the evidence that asks for it."""

    id: str
    kind: str
    title: str
    principal: str | None
    buckets: tuple[str, ...]
    evidence: tuple[str, ...]
    action: str
    requests: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    client: Client | None = None
    target_version: str | None = None
    user_agents: tuple[str, ...] = ()
    source_ips: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    wave: int = 0
    owner: Owner | None = None
    stream: int = 0
    stream_name: str = ""  # what people call the stream: its main bucket (or principal)
    failing: str | None = None  # e.g. "still failing since ... (SignatureDoesNotMatch)", from the logs' errors
    regions: tuple[str, ...] = ()   # where its evidence was seen: a narrower re-run can tell it is out of scope
    accounts: tuple[str, ...] = ()  # the bucket owners' accounts of its evidence (or its buckets)


@dataclass(frozen=True)
class Statement:
    """A drafted bucket-policy statement that replaces access an ACL granted."""

    bucket: str
    sid: str
    principal: str
    access: str
    document: Mapping[str, Any]
    evidence: tuple[str, ...]
    requests: int
    first_seen: str | None
    last_seen: str | None
    risk: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BucketPolicy:
    """A bucket's draft policy: the current one with the new statements merged in, and what happened on the way.

    `merged` is None when no draft can be written (unreadable current policy, over the size limit).
    """

    bucket: str
    current: Mapping[str, Any] | None
    merged: Mapping[str, Any] | None
    added: tuple[str, ...] = ()
    already_granted: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    steps: tuple[str, ...] = ()
    size: int = 0
    validation: tuple[str, ...] = ()
    doubts: tuple[tuple[str, str], ...] = ()  # (added Sid, why an existing statement might grant it: unproven)
    current_from: str | None = None  # where the current policy was read (None: not read, so the draft must be merged)

    @property
    def draft(self) -> str | None:
        """The draft's file under the output folder, None when none is written."""
        return f"policies/{policy_file(self.bucket)}" if self.merged is not None else None


# The files of policies/: no suffix is the end of another, so bucket names (which may hold dots) never collide
# (`data.sigv4-deny.json` is the deny draft of `data`; the draft of a bucket `data.sigv4-deny` is
# `data.sigv4-deny.policy.json`).
POLICY_SUFFIX, DENY_SUFFIX, REVIEW_SUFFIX = ".policy.json", ".sigv4-deny.json", ".review.md"


def policy_file(bucket: str) -> str:
    return bucket + POLICY_SUFFIX


def deny_file(bucket: str) -> str:
    return bucket + DENY_SUFFIX


def review_file(bucket: str) -> str:
    return bucket + REVIEW_SUFFIX


@dataclass(frozen=True)
class Blocker:
    """Something that stops a bucket from being switched over yet."""

    kind: str
    detail: str


@dataclass(frozen=True)
class SigV2Client:
    """One client seen signing SigV2: who, what, and the task for it (None for AWS services: informational)."""

    principal: str
    family: str
    version: str | None
    minimum_version: str | None
    rule: str
    remedy: str | None
    task: str | None
    presigned: bool
    buckets: tuple[str, ...]
    requests: int
    first_seen: str | None
    last_seen: str | None
    user_agents: tuple[str, ...]
    failing: str | None = None


@dataclass(frozen=True)
class BucketReport:
    """Readiness of one bucket for both migrations."""

    bucket: str
    account_id: str | None
    requests: int
    sigv2_requests: int
    acl_requests: int
    sigv4_ready: bool
    acls_ready: bool
    blockers: tuple[Blocker, ...] = ()
    sigv2_callers: tuple[str, ...] = ()
    sigv4_deny_draft: str | None = None
    object_ownership: str | None = None    # with --enrich: the bucket's current Object Ownership setting
    acl_grants: tuple[str, ...] = ()       # with --enrich: the bucket ACL's grants, "<grantee>: <permission>"
    data_events: DataEvents | None = None  # None: the source could not tell (results of an older query)
    partition: str = "aws"                 # the ARN partition of the bucket (aws-cn, aws-us-gov, ...)
    inventory: InventoryStatus | None = None  # with --inventory: what the bucket's report showed (None: no report)


@dataclass(frozen=True)
class InventoryStatus:
    """A bucket's inventory report, as the plan reads it: its objects, those another account owns (None: the bucket
    owner's canonical id is not known, so no owner can be called foreign), and ACLs the report could not show."""

    report: str                     # the manifest read
    created: str | None             # when the report's scan began
    objects: int
    foreign_owned_objects: int | None
    acl_unavailable: int
    acl_unreadable: int
    bucket_owner: str | None        # the bucket owner's canonical id, where known
    owners: tuple[tuple[str, str | None, int], ...] = ()  # (canonical id, account or None, objects), largest first
    has_acl_fields: bool = True
    owner_notes: tuple[str, ...] = ()  # per other owner: whether the drafts and the replay keep its access

    @property
    def known_foreign(self) -> int:
        """Objects the report shows owned by someone other than the bucket owner (0 when that owner is unknown):
        all of them when `foreign_owned_objects` is set, a lower bound otherwise."""
        if self.bucket_owner is None:
            return 0
        return sum(n for canonical, _, n in self.owners if canonical != self.bucket_owner)


@dataclass(frozen=True)
class ObjectAcl:
    """One object-ACL grant of the inventory: objects of `bucket` whose ACL grants `permission` to a grantee other
    than their owner, and whether any request in the window used it (None: the evidence cannot tell)."""

    bucket: str
    grantee: str
    grantee_type: str            # CanonicalUser | Group
    permission: str
    objects: int
    sample_keys: tuple[str, ...]
    exercised: bool | None
    account: str | None = None   # the grantee's account, where its canonical id is known
    evidence: tuple[str, ...] = ()  # the evidence rows that used it (exercised), or might have (unknown)
    public: bool = False
    why: str = ""


@dataclass(frozen=True)
class RunInfo:
    """Where the plan came from: sources, window, files, tool version."""

    tool_version: str
    generated_at: str
    sources: tuple[str, ...]
    window_requested: Window
    window_seen: Window
    records: int
    files_read: int
    files_pruned: int
    skipped: tuple[SkippedFile, ...]
    rules: tuple[str, ...] = ()
    queries: tuple[QueryStat, ...] = ()
    downloads: tuple[DownloadStat, ...] = ()
    warnings: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()   # --regions (empty: all)
    accounts: tuple[str, ...] = ()  # --accounts (empty: all)

    @property
    def scope(self) -> Scope:
        """What this run read, for comparing it with another run's."""
        return Scope(self.sources, self.regions, self.accounts, self.window_seen.since, self.window_seen.until)


@dataclass(frozen=True)
class Scope:
    """What a run read: its sources, regions and accounts (empty: all), and the window of records it saw."""

    sources: tuple[str, ...]
    regions: tuple[str, ...]
    accounts: tuple[str, ...]
    since: str | None
    until: str | None

    @property
    def days(self) -> int | None:
        try:
            return (date.fromisoformat(self.until or "") - date.fromisoformat(self.since or "")).days + 1
        except ValueError:  # an open or odd window (eventTime is the logs' text): no length to compare
            return None

    def narrower_than(self, other: Scope) -> list[str]:
        """How this scope reads less than `other` did (nothing: as much or more)."""
        out = []
        if set(other.sources) - set(self.sources):
            out.append("fewer sources")
        for name, mine, theirs in (("regions", self.regions, other.regions),
                                   ("accounts", self.accounts, other.accounts)):
            if mine and (not theirs or set(theirs) - set(mine)):
                out.append(f"fewer {name}")
        if self.days is not None and other.days is not None and self.days < other.days:
            out.append(f"a shorter window ({self.days} days, not {other.days})")
        return out


@dataclass(frozen=True)
class ReplayRow:
    """One ACL-dependent evidence row replayed against its bucket as it will be once ACLs are disabled."""

    evidence_id: str
    bucket: str
    principal: str
    event_name: str
    requests: int
    after: str  # allowed | denied | unknown
    why: str
    statement: str | None = None  # the Sid that decided it, when one did
    sets_acl: bool = False  # the request sets an ACL: it fails whatever the policy (its task: stop setting ACLs)


@dataclass(frozen=True)
class Plan:
    """The whole plan: everything the writers need, nothing they must compute."""

    run: RunInfo
    evidence: tuple[Evidence, ...]
    tasks: tuple[Task, ...]
    statements: tuple[Statement, ...]
    buckets: tuple[BucketReport, ...]
    notes: tuple[str, ...] = field(default=())
    clients: tuple[SigV2Client, ...] = field(default=())
    policies: tuple[BucketPolicy, ...] = field(default=())
    replay: tuple[ReplayRow, ...] = field(default=())
    sigv2_deny_refusals: Mapping[str, int] = field(default_factory=dict)  # bucket -> requests its deny would refuse
    object_acls: tuple[ObjectAcl, ...] = field(default=())
    inventory_failures: tuple[tuple[str | None, str, str], ...] = field(default=())  # (bucket, manifest, reason)

    def replay_counts(self, bucket: str) -> dict[str, int]:
        """Requests of the bucket's ACL-dependent rows that keep working, would break, or could not be proven; and
        the requests a SigV2 deny would refuse today."""
        counts = dict(self._replay_totals.get(bucket, {"kept": 0, "broken": 0, "unknown": 0}))
        counts["sigv2_deny_refuses"] = self.sigv2_deny_refusals.get(bucket, 0)
        return counts

    @cached_property
    def _replay_totals(self) -> dict[str, dict[str, int]]:
        names = {"allowed": "kept", "denied": "broken", "unknown": "unknown"}
        totals: dict[str, dict[str, int]] = {}
        for row in self.replay:
            counts = totals.setdefault(row.bucket, {"kept": 0, "broken": 0, "unknown": 0})
            counts[names[row.after]] += row.requests
        return totals

    @property
    def sigv2_callers(self) -> frozenset[str]:
        """Principals seen signing SigV2 that have work to do (AWS services excluded): one count everywhere."""
        return frozenset(c.principal for c in self.clients if c.remedy)

    @property
    def acl_requesters(self) -> frozenset[str]:
        """Principals whose requests needed an ACL (aclRequired)."""
        return frozenset(e.principal for e in self.evidence if e.acl_required)

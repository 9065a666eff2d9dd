"""Frozen dataclasses that every stage passes on: evidence, clients, tasks, statements, buckets, plan."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

# The ARN partition of each Region family, as botocore's partitions.json defines them (`regionRegex` per partition,
# boto/botocore botocore/data/partitions.json); everything else is the standard partition `aws`. Evidence names
# its partition in every ARN s3plan writes: a bucket in cn-north-1 is arn:aws-cn:s3:::bucket.
PARTITIONS = (
    ("aws-cn", re.compile(r"^cn-\w+-\d+$")),
    ("aws-us-gov", re.compile(r"^us-gov-\w+-\d+$")),
    ("aws-iso", re.compile(r"^us-iso-\w+-\d+$")),
    ("aws-iso-b", re.compile(r"^us-isob-\w+-\d+$")),
    ("aws-iso-e", re.compile(r"^eu-isoe-\w+-\d+$")),
    ("aws-iso-f", re.compile(r"^us-isof-\w+-\d+$")),
    ("aws-eusc", re.compile(r"^eusc-(de)-\w+-\d+$")),
)


def partition_of(region: str | None) -> str:
    """The ARN partition of a Region (`aws` when it is unknown or standard)."""
    for name, pattern in PARTITIONS:
        if region and pattern.match(region):
            return name
    return "aws"


def stable_id(prefix: str, *parts: object) -> str:
    """A short id that depends only on `parts`, so the same thing keeps its id across runs."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Evidence:
    """One aggregate of requests that share every key field (DESIGN.md §4)."""

    source: str
    bucket: str | None
    bucket_account_id: str | None
    region: str | None
    event_name: str
    principal: str
    principal_type: str
    account_id: str | None
    user_agent: str | None
    signature_version: str | None
    auth_method: str | None
    acl_required: bool
    acl_header: str | None
    requests: int
    errors: int
    first_seen: str | None
    last_seen: str | None
    source_ips: tuple[str, ...] = ()
    session_names: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()
    key_prefix_count: int = 0
    versioned_requests: int = 0
    sigv2_days: tuple[tuple[str, int], ...] = ()
    cloudtrail_requests: int = 0       # of `requests`, how many CloudTrail recorded
    access_log_requests: int = 0       # and how many the server access logs recorded (both: counted once)
    first_error: str | None = None     # the first and last failed request (HTTP error, error code)
    last_error: str | None = None
    error_codes: tuple[str, ...] = ()
    request_headers: tuple[str, ...] = ()  # headers that need actions of their own (x-amz-tagging, ...)
    key_count: int = 0                 # distinct object keys (approximate; 0: no keys, or not counted)
    copy_sources: tuple[str, ...] = ()  # the buckets copies read from (CopyObject, UploadPartCopy)
    partition: str = "aws"             # the ARN partition of the bucket (and so of every ARN a draft writes)
    prefix_depth: int = 1              # the depth key_prefixes were cut at (a shorter value ending in / is a key)

    def is_prefix(self, value: str) -> bool:
        """Whether a key_prefixes value stands for the keys under it: it ends in / and was cut at prefix_depth
        segments. A value with fewer segments is a whole key (data/, a folder object at depth 3)."""
        return value.endswith("/") and value.count("/") >= self.prefix_depth

    @property
    def key(self) -> tuple[object, ...]:
        """The fields that identify the aggregate (measures excluded; not the source: a request CloudTrail and the
        access logs both saw is one aggregate, whichever log a run reads). Requests that named a versionId, and
        requests with headers that need actions of their own, are aggregates of their own; those fields (and a
        partition other than aws) join the key only when set, so every other aggregate keeps the id it had before
        they existed."""
        base: tuple[object, ...] = (
            self.bucket, self.bucket_account_id, self.region, self.event_name,
            self.principal, self.principal_type, self.account_id, self.user_agent,
            self.signature_version, self.auth_method, self.acl_required, self.acl_header,
        )
        if self.versioned_requests:
            base += ("versionId",)
        if self.partition != "aws":
            base += (self.partition,)
        return base + self.request_headers

    @cached_property
    def id(self) -> str:
        """Stable evidence id, used by tasks and statements to cite their evidence (computed once)."""
        return stable_id("E", *self.key)

    @property
    def is_sigv2(self) -> bool:
        return self.signature_version == "SigV2"

    @property
    def is_presigned(self) -> bool:
        return self.auth_method == "QueryString"


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
class DataEvents:
    """The S3 data events (facts §5b) the window holds for a bucket, by readOnly: what readiness rests on, since
    CloudTrail logs management events by default and data events only where a trail's selectors ask for them."""

    reads: int
    writes: int

    @property
    def any(self) -> bool:
        return self.reads + self.writes > 0


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


@dataclass(frozen=True)
class SkippedFile:
    """An input file that was not read, and why: a value, never a silent drop."""

    path: str
    reason: str


@dataclass(frozen=True)
class Window:
    """A UTC day range, both ends inclusive; `None` means open."""

    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class QueryStat:
    """One Athena query: its id, bytes scanned, engine time and estimated cost."""

    query_id: str
    bytes_scanned: int
    engine_ms: int
    cost_usd: float


@dataclass(frozen=True)
class DownloadStat:
    """One s3:// trail read through the cache: the window's log files, fetched now or already cached."""

    url: str
    files: int
    fetched: int
    cached: int
    bytes_fetched: int
    prefixes_listed: int


@dataclass(frozen=True)
class ScanResult:
    """What a source returns: aggregated evidence plus the counts the plan reports."""

    evidence: tuple[Evidence, ...]
    bucket_requests: Mapping[str, int]
    bucket_accounts: Mapping[str, str]
    records: int
    window_seen: Window
    files_read: int
    files_pruned: int
    skipped: tuple[SkippedFile, ...] = ()
    queries: tuple[QueryStat, ...] = ()
    downloads: tuple[DownloadStat, ...] = ()
    bucket_data: Mapping[str, DataEvents] | None = None  # None: the rows did not say (older query results)
    bucket_partitions: Mapping[str, str] = field(default_factory=dict)  # bucket -> ARN partition, where known
    warnings: tuple[str, ...] = ()  # what the run could not do as asked (a --regions value matching nothing)


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

    @property
    def sigv2_callers(self) -> frozenset[str]:
        """Principals seen signing SigV2 that have work to do (AWS services excluded): one count everywhere."""
        return frozenset(c.principal for c in self.clients if c.remedy)

    @property
    def acl_requesters(self) -> frozenset[str]:
        """Principals whose requests needed an ACL (aclRequired)."""
        return frozenset(e.principal for e in self.evidence if e.acl_required)

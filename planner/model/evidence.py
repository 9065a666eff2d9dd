"""What the sources hand on: evidence rows, bucket totals, the files read and skipped, the window seen."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

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
    tls_requests: int | None = None    # of `requests`, those that came over TLS (None: the source cannot say)
    vpc_endpoint: str | None = None    # the VPC endpoint every request came through (None: none, several, unknown)
    source_ip_count: int | None = None  # distinct source IPs in all (source_ips samples 5; None: not counted)

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
class DataEvents:
    """The S3 data events (facts §5b) the window holds for a bucket, by readOnly: what readiness rests on, since
    CloudTrail logs management events by default and data events only where a trail's selectors ask for them."""

    reads: int
    writes: int

    @property
    def any(self) -> bool:
        return self.reads + self.writes > 0


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

    @property
    def partitions(self) -> dict[str, str]:
        """Bucket -> ARN partition: from the rows that counted the bucket, else from its evidence."""
        found = {e.bucket: e.partition for e in self.evidence if e.bucket}
        return {**found, **self.bucket_partitions}

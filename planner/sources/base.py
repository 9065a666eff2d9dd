"""What every evidence source shares: the interface it meets, the selection it honours, the evidence query it runs
(Athena dialect, the text in templates/sql/) and the fold of that query's rows into one ScanResult. Local runs
(DuckDB) and Athena run the same text and give the same rows, so a ScanResult never says which engine made it."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from planner.model import DataEvents, Evidence, ScanResult, SkippedFile, Window, partition_of
from planner.resources import templates_dir

SQL_DIR = templates_dir() / "sql"


class EvidenceSource(Protocol):
    """Reads one kind of input and returns aggregated evidence (never raw records)."""

    def scan(self) -> ScanResult:
        """Read the input and aggregate it."""
        ...


@dataclass(frozen=True)
class SharedRecords:
    """Records of another local source already in CloudTrail's shape (newline-delimited JSON files), and that
    source's counted rows: the engine reads them in the same query as CloudTrail files, so a request both logs
    recorded counts once (planner.sources.local puts the two together)."""

    lines: tuple[str, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()


NO_SHARED_RECORDS = SharedRecords()


@dataclass(frozen=True)
class Selection:
    """Which files to read: a UTC day range and optional regions and accounts."""

    since: date | None = None
    until: date | None = None
    regions: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()

    def keeps(self, account: str, region: str, day: date) -> bool:
        """True when a file at this account/region/day is inside the selection."""
        return (
            (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
            and (not self.regions or region in self.regions)
            and (not self.accounts or account in self.accounts)
        )


@cache
def athena_sql(name: str) -> str:
    """The query text as shipped (Athena dialect)."""
    return (SQL_DIR / f"{name}.sql").read_text()


def parse_athena(name: str) -> exp.Expr:
    """Parse a shipped query as Athena SQL; a query that does not parse is a bug."""
    parsed: exp.Expr = sqlglot.parse_one(athena_sql(name), read="athena")
    return parsed


def with_filter(query: exp.Expr, condition: exp.Expr | None, cte: str = "classified") -> exp.Expr:
    """Add `condition` (already built from validated values) to the WHERE of the named CTE."""
    if condition is None:
        return query
    query = query.copy()
    for node in query.find_all(exp.CTE):
        if node.alias == cte:
            node.this.where(condition, append=True, copy=False)
            return query
    raise ValueError(f"query has no CTE named {cte!r}")


def fill_integers(query: exp.Expr, values: dict[str, int]) -> exp.Expr:
    """Replace `:name` placeholders with integer literals (validated: ints only), so the text runs on any engine."""
    query = query.copy()
    for node in list(query.find_all(exp.Placeholder)):
        name = str(node.this)
        if name in values:
            node.replace(exp.Literal.number(int(values[name])))
    return query


def to_scan_result(rows: Sequence[dict[str, Any]], *, files_read: int, files_pruned: int,
                   skipped: tuple[SkippedFile, ...]) -> ScanResult:
    """Fold the query's rows (kinds evidence / s3 / other) into evidence, bucket totals and the window seen."""
    evidence: list[Evidence] = []
    totals = _BucketTotals()
    bucket_accounts: dict[str, str] = {}
    partitions: dict[str, str] = {}
    records = 0
    firsts, lasts = [], []
    for row in rows:
        records += int(row["records"])
        if row["first_seen"]:
            firsts.append(row["first_seen"])
            lasts.append(row["last_seen"])
        if row["bucket"]:
            totals.add(row)
            if row["bucket_account_id"]:
                bucket_accounts.setdefault(row["bucket"], row["bucket_account_id"])
            if row.get("arn_partition"):
                partitions.setdefault(row["bucket"], row["arn_partition"])
        if row["kind"] == "evidence":
            evidence.append(evidence_from_row(row))
    evidence.sort(key=lambda e: tuple("" if v is None else str(v) for v in e.key))
    window = Window(_day(min(firsts)) if firsts else None, _day(max(lasts)) if lasts else None)
    return ScanResult(tuple(evidence), totals.requests(), bucket_accounts, records, window,
                      files_read, files_pruned, skipped, bucket_data=totals.data_events(),
                      bucket_partitions=partitions)


class _BucketTotals:
    """Requests per bucket: its evidence requests (each counted once), plus its other requests as CloudTrail
    counted them where CloudTrail saw the bucket, else as the server access logs did (both record the same
    requests, so adding them would count each twice)."""

    def __init__(self) -> None:
        self.evidence: dict[str, int] = defaultdict(int)
        self.cloudtrail: dict[str, int] = defaultdict(int)
        self.access_log: dict[str, int] = defaultdict(int)
        self.seen_by_cloudtrail: set[str] = set()
        self.data: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.data_known = True

    def add(self, row: dict[str, Any]) -> None:
        bucket = row["bucket"]
        if row.get("data_reads") is None or row.get("data_writes") is None:
            self.data_known = False  # results of the query before it counted data events
        else:
            self.data[bucket][0] += int(row["data_reads"])
            self.data[bucket][1] += int(row["data_writes"])
        if row["kind"] == "evidence":
            self.evidence[bucket] += int(row["requests"])
            if int(row["cloudtrail_requests"] if "cloudtrail_requests" in row else row["requests"]) > 0:
                self.seen_by_cloudtrail.add(bucket)
            return
        logs = int(row.get("access_log_records") or 0)
        self.cloudtrail[bucket] += int(row["records"]) - logs
        self.access_log[bucket] += logs
        if int(row["records"]) > logs:
            self.seen_by_cloudtrail.add(bucket)

    def data_events(self) -> dict[str, DataEvents] | None:
        """Per bucket, the data events the rows counted; None when some row could not say."""
        if not self.data_known:
            return None
        return {b: DataEvents(reads, writes) for b, (reads, writes) in sorted(self.data.items())}

    def requests(self) -> dict[str, int]:
        buckets = set(self.evidence) | set(self.cloudtrail) | set(self.access_log)
        return {b: self.evidence[b] + (self.cloudtrail[b] if b in self.seen_by_cloudtrail else self.access_log[b])
                for b in sorted(buckets)}


def with_files(result: ScanResult, files_read: int, skipped: Sequence[SkippedFile]) -> ScanResult:
    """The result with another source's files read and skipped added (its rows went through the same query)."""
    return dataclasses.replace(result, files_read=result.files_read + files_read,
                               skipped=result.skipped + tuple(skipped))


def evidence_from_row(row: dict[str, Any]) -> Evidence:
    """One evidence row from the query's columns; its source says which logs saw its requests."""
    # results of the query before the access-log source have no per-source counts: all their requests are CloudTrail's
    cloudtrail = int(row["cloudtrail_requests"] if "cloudtrail_requests" in row else row["requests"])
    access_log = int(row.get("access_log_requests") or 0)
    source = "access-log" if access_log and not cloudtrail else "cloudtrail+access-log" if access_log else "cloudtrail"
    return Evidence(
        source=source, bucket=row["bucket"], bucket_account_id=row["bucket_account_id"], region=row["region"],
        event_name=row["event_name"], principal=row["principal"], principal_type=row["principal_type"],
        account_id=row["account_id"], user_agent=row["user_agent"], signature_version=row["signature_version"],
        auth_method=row["auth_method"], acl_required=bool(row["acl_required"]), acl_header=row["acl_header"],
        requests=int(row["requests"]), errors=int(row["errors"]), first_seen=row["first_seen"],
        last_seen=row["last_seen"], source_ips=tuple(row["source_ips"] or ()),
        session_names=tuple(row["session_names"] or ()), key_prefixes=tuple(row["key_prefixes"] or ()),
        key_prefix_count=int(row["key_prefix_count"] or 0), versioned_requests=int(row.get("versioned_requests") or 0),
        sigv2_days=tuple(sorted((str(day), int(n)) for day, n in (row.get("sigv2_days") or {}).items())),
        cloudtrail_requests=cloudtrail, access_log_requests=access_log, first_error=row.get("first_error"),
        last_error=row.get("last_error"), error_codes=tuple(row.get("error_codes") or ()),
        request_headers=tuple(h for h in (row.get("request_headers") or "").split(",") if h),
        key_count=int(row.get("key_count") or 0), copy_sources=tuple(row.get("copy_sources") or ()),
        partition=row.get("arn_partition") or partition_of(row["region"]),
        prefix_depth=int(row.get("prefix_depth") or 1),
        tls_requests=None if row.get("tls_requests") is None else int(row["tls_requests"]),
        vpc_endpoint=row.get("vpc_endpoint") or None,
        source_ip_count=None if row.get("source_ip_count") is None else int(row["source_ip_count"]),
    )


def _day(timestamp: str) -> str:
    return timestamp[:10]

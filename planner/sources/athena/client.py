"""Evidence at organisation scale: the same evidence query, run on Amazon Athena through pyathena, reading only
the partitions of the window. Credentials come from boto3's chain (--profile, AWS_* variables); none are
stored or printed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from planner.atomic import write_bytes
from planner.errors import InputError
from planner.model import QueryStat, ScanResult
from planner.sources.athena.access_log_sql import combined_evidence_query
from planner.sources.athena.sql import evidence_query
from planner.sources.base import to_scan_result

CATALOG = "AwsDataCatalog"  # pyathena's default catalog, which s3plan's queries use
USD_PER_TB = 5.0  # Athena SQL queries, per TB scanned (10 MB minimum per query)
INTEGERS = ("records", "requests", "errors", "key_prefix_count", "versioned_requests", "cloudtrail_requests",
            "access_log_requests", "access_log_records", "tls_requests", "source_ip_count")


@dataclass(frozen=True)
class AthenaTable:
    """The CloudTrail table and/or the server access log table in Athena, and how to reach them."""

    table: str | None
    since: date
    until: date
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    prefix_depth: int = 1
    database: str | None = None
    work_group: str | None = None
    output: str | None = None
    profile: str | None = None
    aws_region: str | None = None
    cache_dir: Path | None = None
    refresh: bool = False
    connect: Callable[..., Any] | None = field(default=None, compare=False)
    access_log_table: str | None = None
    access_log_dated: bool = False  # the access-log table is day-projected (date-based key format)
    name: str = "athena"

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(t for t in (self.table, self.access_log_table) if t)

    def query(self) -> str:
        """The evidence query: over the CloudTrail table, the access-log table, or both as one relation."""
        if self.access_log_table is None:
            assert self.table is not None
            return evidence_query(self.table, self.since, self.until, self.accounts, self.regions, self.prefix_depth)
        return combined_evidence_query(cloudtrail=self.table, access_logs=self.access_log_table, since=self.since,
                                       until=self.until, accounts=self.accounts, regions=self.regions,
                                       prefix_depth=self.prefix_depth, dated=self.access_log_dated)

    def scan(self) -> ScanResult:
        """Run the evidence query (or reuse the cached result of the same query, asked of the same account,
        region, workgroup, catalog and database); a failed query is an InputError with Athena's own reason."""
        sql = self.query()
        cached = self._cache_path(sql)
        if cached is not None and cached.exists() and not self.refresh:
            return _result(*_read_cache(cached))
        rows, stat = self._run(sql)
        if cached is not None:
            write_bytes(cached, json.dumps({"query_id": stat.query_id, "rows": rows}, default=str).encode(),
                        private=True)
        return _result(rows, stat)

    def _cache_path(self, sql: str) -> Path | None:
        """The cache file of the query: named by everything that decides its answer (a different --profile,
        --aws-region or --athena-workgroup asks another account, region or workgroup)."""
        if self.cache_dir is None:
            return None
        asked = [self._account(), self._region(), self.work_group or "primary", CATALOG, self.database or "default",
                 sql]
        return self.cache_dir / f"{hashlib.sha256(json.dumps(asked).encode()).hexdigest()[:32]}.json"

    def _session(self) -> Any:
        import boto3  # imported here: only Athena runs need it

        return boto3.Session(profile_name=self.profile, region_name=self.aws_region)

    def _region(self) -> str:
        return str(self.aws_region or self._session().region_name or "")

    def _account(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity, which needs no permission)."""
        try:
            return str(self._session().client("sts").get_caller_identity()["Account"])
        except Exception as err:  # no credentials, no network: the query itself would fail the same way
            raise InputError(f"cannot tell which AWS account the credentials belong to ({err}); check "
                             "--profile and the credentials") from err

    def _run(self, sql: str) -> tuple[list[dict[str, Any]], QueryStat]:
        cursor = self._cursor()
        try:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            rows = [_typed(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
        except KeyboardInterrupt:
            cursor.cancel()
            raise
        except Exception as err:  # pyathena and botocore errors: Athena's reason, one line
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            hint = ("; a table whose account is injected (s3plan sql ddl without --accounts) needs --accounts"
                    if "inject" in reason.lower() and not self.accounts else "")
            raise InputError(f"Athena query {getattr(cursor, 'query_id', None) or ''} failed: {reason}{hint}") \
                from err
        scanned = int(cursor.data_scanned_in_bytes or 0)
        stat = QueryStat(query_id=cursor.query_id or "", bytes_scanned=scanned,
                         engine_ms=int(cursor.engine_execution_time_in_millis or 0),
                         cost_usd=round(max(scanned, 10 * 1024**2) / 1024**4 * USD_PER_TB, 6))
        return rows, stat

    def _cursor(self) -> Any:
        import pyathena  # imported here: only Athena runs need it

        connect = self.connect or pyathena.connect
        connection = connect(s3_staging_dir=self.output, work_group=self.work_group,
                             schema_name=self.database or "default", profile_name=self.profile,
                             region_name=self.aws_region)
        return connection.cursor()


def _read_cache(path: Path) -> tuple[list[dict[str, Any]], QueryStat]:
    """A cached result; one that cannot be read whole is an input error naming it."""
    try:
        saved = json.loads(path.read_text())
        stat = QueryStat(str(saved["query_id"]) + " (cached: nothing scanned)", 0, 0, 0.0)
        rows: list[dict[str, Any]] = saved["rows"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: the cached Athena result is damaged ({type(err).__name__}: {err}); delete it "
                         "or run again with --refresh") from err
    return rows, stat


def _result(rows: list[dict[str, Any]], stat: QueryStat) -> ScanResult:
    return dataclasses.replace(to_scan_result(rows, files_read=0, files_pruned=0, skipped=()), queries=(stat,))


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """pyathena gives map values as text; the evidence wants counts."""
    if isinstance(row.get("sigv2_days"), dict):
        row["sigv2_days"] = {k: int(v) for k, v in row["sigv2_days"].items()}
    for name in INTEGERS:
        if isinstance(row.get(name), str):
            row[name] = int(row[name])
    return row

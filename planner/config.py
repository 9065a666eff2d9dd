"""One frozen, typed Config for a run; validation errors name the option and the value."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from planner.errors import UsageError
from planner.model import RunInfo, ScanResult, Window
from planner.progress import MODES
from planner.sources.athena.client import AthenaTable
from planner.sources.athena.sql import table_name
from planner.sources.s3.urls import parse_inventory_url, parse_log_url, parse_s3_url

REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ACCOUNT_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Config:
    """Everything `s3plan plan` needs; built from options, validated once."""

    cloudtrail: tuple[Path, ...]
    out: Path
    cloudtrail_s3: tuple[str, ...] = ()
    access_logs: tuple[Path, ...] = ()
    access_logs_s3: tuple[str, ...] = ()
    cache: Path | None = None
    enrich: bool = False
    athena_results: tuple[Path, ...] = ()
    athena: AthenaTable | None = None
    since: date | None = None
    until: date | None = None
    regions: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    rules_dirs: tuple[Path, ...] = ()
    owners: Path | None = None
    current_policies: Path | None = None
    previous: Path | None = None
    validate_online: bool = False
    profile: str | None = None
    aws_region: str | None = None
    strict: bool = False
    fail_on_blockers: bool = False
    threads: int | None = None
    progress: str = "off"  # planner.progress.MODES: terminal, lines (one per stage) or off
    prefilter: bool = True
    prefix_depth: int = 1
    inventory: tuple[Path, ...] = ()       # --inventory manifests or folders on disk
    inventory_s3: tuple[str, ...] = ()     # --inventory s3:// destinations
    canonical_ids: Path | None = None
    generated_at: str | None = field(default=None, compare=False)

    def sources_named(self) -> tuple[str, ...]:
        """The run's sources as plan.json names them: `cloudtrail:PATH`, `access-log:PATH`, `athena:TABLE`, ..."""
        return (tuple(f"cloudtrail:{p}" for p in (*self.cloudtrail, *self.cloudtrail_s3))
                + tuple(f"access-log:{p}" for p in (*self.access_logs, *self.access_logs_s3))
                + tuple(f"athena:{t}" for t in (self.athena.tables if self.athena else ()))
                + tuple(f"athena-csv:{p}" for p in self.athena_results)
                + tuple(f"inventory:{p}" for p in (*self.inventory, *self.inventory_s3)))

    def run_info(self, result: ScanResult, rules: tuple[str, ...], tool_version: str, now: str) -> RunInfo:
        """What the run asked for (sources, window, regions, accounts) and what its scan read."""
        athena = self.athena
        since, until = (athena.since, athena.until) if athena else (self.since, self.until)
        return RunInfo(
            tool_version=tool_version, generated_at=self.generated_at or now, sources=self.sources_named(),
            window_requested=Window(_iso(since), _iso(until)), window_seen=result.window_seen,
            records=result.records, files_read=result.files_read, files_pruned=result.files_pruned,
            skipped=result.skipped, rules=rules, queries=result.queries, downloads=result.downloads,
            warnings=result.warnings, regions=tuple(sorted(athena.regions if athena else self.regions)),
            accounts=tuple(sorted(athena.accounts if athena else self.accounts)))


def parse_day(option: str, value: str | None) -> date | None:
    """A YYYY-MM-DD option value, or a UsageError naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise UsageError(f"{option} {value!r}: expected a day as YYYY-MM-DD") from err


def split_list(option: str, values: Iterable[str], pattern: re.Pattern[str], example: str) -> frozenset[str]:
    """Comma-separated or repeated option values, each checked against `pattern`."""
    items = {v.strip() for value in values for v in value.split(",") if v.strip()}
    for item in sorted(items):
        if not pattern.match(item):
            raise UsageError(f"{option} {item!r}: not valid (expected something like {example})")
    return frozenset(items)


def _athena_window(since: date | None, until: date | None, days: int) -> tuple[date, date]:
    """Athena and s3:// inputs always have a window, so nothing scans or lists a whole trail by accident."""
    if since and until:
        return since, until
    last = until or (datetime.now(timezone.utc).date() - timedelta(days=1))
    return since or last - timedelta(days=days - 1), last


def make_config(*, cloudtrail: Iterable[str], out: str, athena_results: Iterable[str] = (),
                athena: bool = False, athena_database: str | None = None,
                athena_table: str | None = None, athena_workgroup: str | None = None,
                athena_output: str | None = None, days: int = 30, refresh: bool = False,
                since: str | None = None, until: str | None = None,
                regions: Iterable[str] = (), accounts: Iterable[str] = (), rules_dirs: Iterable[str] = (),
                owners: str | None = None, current_policies: str | None = None, previous: str | None = None,
                validate_online: bool = False,
                profile: str | None = None, aws_region: str | None = None,
                strict: bool = False, fail_on_blockers: bool = False, threads: int | None = None,
                progress: str = "off", prefilter: bool = True, prefix_depth: int = 1,
                cache: str | None = None, enrich: bool = False, access_logs: Iterable[str] = (),
                access_log_table: str | None = None, access_log_dated: bool = False,
                inventory: Iterable[str] = (), canonical_ids: str | None = None) -> Config:
    """Validate option values into a Config."""
    if progress not in MODES:
        raise UsageError(f"progress {progress!r}: must be one of {', '.join(MODES)}")
    if (athena or athena_database) and not (athena_table or access_log_table):
        raise UsageError("--athena: give the table with --athena-table and/or --access-log-table "
                         "(and --athena-database)")
    if athena_database and athena_table and "." not in athena_table:
        athena_table = f"{athena_database}.{athena_table}"
    if athena_database and access_log_table and "." not in access_log_table:
        access_log_table = f"{athena_database}.{access_log_table}"
    urls = tuple(p for p in cloudtrail if p.startswith("s3://"))
    for url in urls:
        parse_s3_url(url)
    paths = tuple(Path(p) for p in cloudtrail if not p.startswith("s3://"))
    results = tuple(Path(p) for p in athena_results)
    log_urls = tuple(p for p in access_logs if p.startswith("s3://"))
    for url in log_urls:
        parse_log_url(url)
    logs = tuple(Path(p) for p in access_logs if not p.startswith("s3://"))
    if sum(map(bool, (paths or urls or logs or log_urls, results, athena_table or access_log_table))) != 1:
        raise UsageError("give one source: --cloudtrail (folders or files of CloudTrail logs) and/or --access-logs "
                         "(server access logs), --athena-table (run the evidence query on Athena) or "
                         "--athena-results (CSV results of the query)")
    for result in results:
        if not result.is_file():
            raise UsageError(f"--athena-results {result}: no such file")
    start, end = parse_day("--since", since), parse_day("--until", until)
    if start and end and start > end:
        raise UsageError(f"--since {since} is after --until {until}")
    if urls or log_urls:  # only the window's days are listed in the bucket, so there always is a window
        start, end = _athena_window(start, end, days)
    if cache is not None and Path(cache).exists() and not Path(cache).is_dir():
        raise UsageError(f"--cache {cache}: is a file; give a folder for downloaded log files")
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for plan.json, the workbook and policies/")
    rules = tuple(Path(r) for r in rules_dirs)
    for folder in rules:
        if not folder.is_dir():
            raise UsageError(f"--rules {folder}: no such folder")
    if enrich and current_policies is not None:
        raise UsageError("--enrich reads each bucket's live policy; drop --current-policies (or --enrich)")
    if current_policies is not None and not Path(current_policies).is_dir():
        raise UsageError(f"--current-policies {current_policies}: no such folder")
    if previous is not None and not Path(previous).is_file():
        raise UsageError(f"--previous {previous}: no such file")
    inventory_urls = tuple(p for p in inventory if p.startswith("s3://"))
    for url in inventory_urls:
        parse_inventory_url(url)
    inventory_paths = tuple(Path(p) for p in inventory if not p.startswith("s3://"))
    for path in inventory_paths:
        if not path.exists():
            raise UsageError(f"--inventory {path}: no such file or folder; give a manifest.json of an S3 Inventory "
                             "report, or a folder holding reports")
    if canonical_ids is not None and not Path(canonical_ids).is_file():
        raise UsageError(f"--canonical-ids {canonical_ids}: no such file")
    if owners is not None and not Path(owners).is_file():
        raise UsageError(f"--owners {owners}: no such file")
    if not 1 <= prefix_depth <= 5:
        raise UsageError(f"--prefix-depth {prefix_depth}: give 1 to 5 key-path segments")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads {threads}: must be 1 or more")
    source = None
    if athena_table or access_log_table:
        first, last = _athena_window(start, end, days)
        source = AthenaTable(
            table_name(athena_table, "--athena-table") if athena_table else None, first, last,
            tuple(sorted(split_list("--accounts", accounts, ACCOUNT_RE, "111122223333"))),
            tuple(sorted(split_list("--regions", regions, REGION_RE, "us-east-1"))), prefix_depth, None,
            athena_workgroup, athena_output, profile, aws_region, Path(out) / ".athena-cache", refresh,
            access_log_table=table_name(access_log_table, "--access-log-table") if access_log_table else None,
            access_log_dated=access_log_dated)
    return Config(
        cloudtrail=paths, out=Path(out), cloudtrail_s3=urls, access_logs=logs, access_logs_s3=log_urls,
        cache=Path(cache) if cache else (Path(out) / ".s3-cache" if urls or log_urls or inventory_urls else None),
        enrich=enrich, inventory=inventory_paths, inventory_s3=inventory_urls,
        canonical_ids=Path(canonical_ids) if canonical_ids else None,
        athena_results=results, athena=source, since=start, until=end,
        regions=split_list("--regions", regions, REGION_RE, "us-east-1"),
        accounts=split_list("--accounts", accounts, ACCOUNT_RE, "111122223333"),
        rules_dirs=rules, owners=Path(owners) if owners else None,
        current_policies=Path(current_policies) if current_policies else None,
        previous=Path(previous) if previous else None, validate_online=validate_online,
        profile=profile, aws_region=aws_region, strict=strict,
        fail_on_blockers=fail_on_blockers,
        threads=threads, progress=progress, prefilter=prefilter, prefix_depth=prefix_depth,
    )


def _iso(day: object) -> str | None:
    return None if day is None else str(day)

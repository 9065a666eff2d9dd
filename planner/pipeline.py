"""The only module that wires the stages: sources -> evidence -> classify -> policy -> plan -> outputs."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner import __version__
from planner.classify.loader import (
    Rule,
    load_canonical_ids,
    load_rule_sets,
    load_rules,
    operation_table,
)
from planner.classify.owners import OwnerBook
from planner.classify.remedies import Explanation, classify_acl, classify_sigv2, explain
from planner.classify.useragent import ClientCatalogue
from planner.config import Config
from planner.errors import InputError, OutputError
from planner.model import Plan, ScanResult
from planner.model.inventory import NO_INVENTORY, InventoryResult
from planner.outputs.alongside import Alongside
from planner.outputs.graph_file import write_graphml
from planner.outputs.plan_json import write_plan_json
from planner.outputs.policy_files import replace_folder, write_policy_files
from planner.outputs.tracker import Previous, read_previous
from planner.outputs.workbook import write_workbook
from planner.plan.graph import build_plan
from planner.plan.object_acls import Context, object_acl_findings
from planner.policy.bucket import bucket_policies, to_review
from planner.policy.check import check_statement
from planner.policy.deny import sigv4_deny_policy
from planner.policy.draft import draft_statements
from planner.policy.replay import replay_plan, sigv2_deny_refusals, with_replay_blockers
from planner.policy.validate import AccessAnalyzer, validate_online
from planner.progress import Reporter, counted
from planner.sources.athena.access_log_sql import access_log_ddl as access_log_table_ddl
from planner.sources.athena.access_log_sql import combined_evidence_query
from planner.sources.athena.console_csv import AthenaResultCsv
from planner.sources.athena.inventory_sql import inventory_ddl as inventory_table_ddl
from planner.sources.athena.inventory_sql import inventory_queries as inventory_table_queries
from planner.sources.athena.sql import Table, cloudtrail_ddl, evidence_query
from planner.sources.base import Selection
from planner.sources.inventory import InventoryReports
from planner.sources.local import LocalLogs
from planner.sources.policies import CurrentPolicies, load_current_policies

if TYPE_CHECKING:  # the AWS-only stages are imported where they run: local runs never load boto3
    from planner.enrich.aws import BucketState

WORKBOOK = "migration-plan.xlsx"


@dataclass(frozen=True)
class RunResult:
    """The plan and where it was written."""

    plan: Plan
    out: Path
    written: tuple[Path, ...]

    @property
    def has_blockers(self) -> bool:
        return any(b.blockers for b in self.plan.buckets)

    @property
    def inventory_errors(self) -> tuple[str, ...]:
        """Inventory reports that could not be read (their buckets were left out; the run exits 2)."""
        return tuple(reason for _, _, reason in self.plan.inventory_failures)

    @property
    def input_errors(self) -> tuple[str, ...]:
        """Inputs that could not be used but did not stop the run (unreadable current policies)."""
        return tuple(b.detail for r in self.plan.buckets for b in r.blockers if b.kind == "current-policy-unreadable")


def scan(config: Config, reporter: Reporter | None = None) -> ScanResult:
    """Gather evidence from the configured source; `reporter` shows its progress on a terminal."""
    status = reporter.status if reporter is not None and reporter.mode == "terminal" else None
    if config.athena_results:
        return AthenaResultCsv(config.athena_results, config.prefix_depth).scan()
    if config.athena is not None:
        return config.athena.scan()
    return LocalLogs(config.cloudtrail, config.access_logs, config.cloudtrail_s3, config.access_logs_s3,
                     Selection(config.since, config.until, config.regions, config.accounts), config.cache,
                     lambda: aws_session(config), config.threads, config.prefilter, config.prefix_depth,
                     status).scan()


def aws_session(config: Config) -> Any:
    """A boto3 session from its standard chain: --profile, --aws-region, the AWS_* variables (never stored)."""
    import boto3  # imported here: only online runs need it

    return boto3.Session(profile_name=config.profile, region_name=config.aws_region)


@dataclass(frozen=True)
class Inputs:
    """What a run reads besides the logs, read and checked before the scan starts: a bad file fails at once."""

    client_rules: tuple[Rule, ...]
    acl_rules: tuple[Rule, ...]
    owners: OwnerBook
    current: CurrentPolicies
    previous: Previous
    canonical_ids: Mapping[str, str] = dataclasses.field(default_factory=dict)


def read_inputs(config: Config) -> Inputs:
    """Rules, owners, current policies and the previous workbook, and whether --out can be written."""
    _check_writable(config.out)
    rules = load_rule_sets(config.rules_dirs, config.owners)
    return Inputs(
        rules.clients, rules.acl, OwnerBook(rules.owners),
        CurrentPolicies() if config.enrich else load_current_policies(config.current_policies),
        read_previous(config.previous or config.out / WORKBOOK),
        load_canonical_ids(config.canonical_ids) if config.canonical_ids else {})


def _check_writable(out: Path) -> None:
    """Whether --out (or, when it does not exist yet, the folder it would be made in) takes a new entry."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{existing} is not a folder", str(existing))
        os.rmdir(tempfile.mkdtemp(prefix=".s3plan-check-", dir=existing))
    except OSError as err:
        raise OutputError(f"--out {out}: cannot write there ({err.strerror or err}); give a folder you can "
                          "write to") from err


def scan_inventory(config: Config) -> InventoryResult:
    """--inventory: the latest report of every bucket given, aggregated (a report that fails fails its bucket)."""
    return InventoryReports(config.inventory, config.inventory_s3, config.cache, lambda: aws_session(config),
                            config.threads).scan()


def make_plan(config: Config, result: ScanResult, states: Mapping[str, BucketState] | None = None,
              inputs: Inputs | None = None, inventory: InventoryResult = NO_INVENTORY) -> Plan:
    """Classify the evidence, draft statements, check them, and plan the work; `states` (--enrich) are the
    buckets' live state: their policies are merged with instead of --current-policies; `inventory` the object
    owners and ACL grants the reports show."""
    inputs = inputs or read_inputs(config)
    client_rules, acl_rules = inputs.client_rules, inputs.acl_rules
    sigv2 = classify_sigv2(result.evidence, ClientCatalogue(client_rules))
    acl = classify_acl(result.evidence, acl_rules)
    drafted, notes = draft_statements(acl)
    by_id = {e.id: e for e in result.evidence}
    operations = operation_table(acl_rules)
    for statement in drafted:
        check_statement(statement, by_id, operations)
    public_ok: dict[str, bool] = {}
    public_state: dict[str, bool | None] = {}
    if states is None:
        current = inputs.current
        live, unreadable, origins = current.policies, current.errors, current.origins
    else:
        from planner.enrich.state import (
            live_policies,
            merge_blockers,
            public_access,
            public_allowed,
            state_blocker_map,
            with_state,
        )

        live, unreadable, origins = live_policies(states, drafted)
        public_ok, public_state = public_allowed(states), public_access(states)
    policies, extra = bucket_policies(drafted, live, unreadable, lambda s: check_statement(s, by_id, operations),
                                      public_ok, origins)
    if states:
        extra = merge_blockers(extra, state_blocker_map(states, result.bucket_accounts, drafted))
    replayed = replay_plan(result.evidence, policies, live, origins, operations, public_state)
    extra = with_replay_blockers(extra, replayed)
    objects = object_acl_findings(inventory, _inventory_context(result, inputs, operations, states), drafted,
                                  replayed)
    drafted = objects.statements
    extra = {b: [*extra.get(b, ()), *objects.blockers.get(b, ())] for b in {*extra, *objects.blockers}}
    parts = build_plan(result.bucket_requests, result.bucket_accounts, sigv2, acl, to_review(drafted, policies),
                       extra, inputs.owners, result.bucket_data, result.partitions, policies,
                       frozenset(e for s in drafted for e in s.evidence), objects.tasks,
                       [*objects.statuses, *(f.bucket for f in inventory.failures if f.bucket)])
    run = config.run_info(result, tuple(r.id for r in (*client_rules, *acl_rules)), __version__, _now())
    buckets = with_state(parts.buckets, states, result.bucket_accounts) if states else parts.buckets
    buckets = tuple(dataclasses.replace(b, inventory=objects.statuses.get(b.bucket)) for b in buckets)
    refusals = sigv2_deny_refusals(result.evidence, [(b.bucket, b.partition, b.sigv4_ready) for b in parts.buckets],
                                   sigv4_deny_policy)
    return Plan(run, result.evidence, parts.tasks, drafted, buckets, tuple(notes) + parts.notes,
                parts.clients, policies, replayed, refusals, objects.rows,
                tuple((f.bucket, f.manifest, f.reason) for f in inventory.failures))


def _inventory_context(result: ScanResult, inputs: Inputs, operations: Mapping[str, Any],
                       states: Mapping[str, BucketState] | None) -> Context:
    """What the plan knows of canonical ids: --canonical-ids, and with --enrich each bucket owner's id."""
    accounts = dict(inputs.canonical_ids)
    owners: dict[str, str] = {}
    if states:
        from planner.enrich.aws import accounts_from_owners

        accounts = {**accounts_from_owners(states, result.bucket_accounts), **accounts}
        owners = {b: s.owner_id for b, s in states.items() if s.owner_id}
    return Context(result.evidence, operations, result.bucket_accounts, result.bucket_data, accounts, owners)


def read_states(config: Config, result: ScanResult) -> dict[str, BucketState]:
    """--enrich: each bucket's live policy, Object Ownership, ACLs, public access block and logging (read-only)."""
    from planner.enrich.aws import read_bucket_states
    from planner.enrich.state import sample_prefixes

    buckets = sorted(set(result.bucket_requests) | {e.bucket for e in result.evidence if e.bucket})
    return read_bucket_states(aws_session(config), buckets, sample_prefixes(result.evidence),
                              bucket_accounts=result.bucket_accounts)


def discover_trail(location: str, org_id: str | None, profile: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`s3plan sql ddl --discover`: the accounts and Regions the trail bucket holds (read-only listing)."""
    import boto3

    from planner.sources.athena.discover import discover_trail as discover

    return discover(location, org_id, boto3.Session(profile_name=profile))


def athena_ddl(table: Table) -> str:
    """`s3plan sql ddl`: the CloudTrail table with partition projection."""
    return cloudtrail_ddl(table)


def athena_queries(table: str, since: date, until: date, accounts: tuple[str, ...], regions: tuple[str, ...],
                   prefix_depth: int = 1) -> str:
    """`s3plan sql queries`: the evidence query with the window's partition predicates, to run by hand."""
    note = "" if accounts else ("-- s3plan: no --accounts: all accounts are read; on a table whose account is "
                                "injected (s3plan sql ddl\n-- without --accounts) Athena needs them: add --accounts\n")
    return note + evidence_query(table, since, until, accounts, regions, prefix_depth)


def access_log_ddl(location: str, table: str, database: str | None, since: date) -> str:
    """`s3plan sql ddl --access-logs`: the server access log table."""
    return access_log_table_ddl(location, table, database, since)


def access_log_queries(table: str, cloudtrail: str | None, since: date, until: date, accounts: tuple[str, ...],
                       regions: tuple[str, ...], prefix_depth: int, dated: bool) -> str:
    """`s3plan sql queries --access-log-table`: the evidence query over the access logs (and CloudTrail)."""
    return combined_evidence_query(cloudtrail=cloudtrail, access_logs=table, since=since, until=until,
                                   accounts=accounts, regions=regions, prefix_depth=prefix_depth, dated=dated)


def inventory_ddl(location: str, file_format: str, table: str, database: str | None, since: date,
                  fields: str | None) -> str:
    """`s3plan sql ddl --inventory`: the S3 Inventory table of one configuration."""
    return inventory_table_ddl(location, file_format, table, database, since, fields)


def inventory_queries(table: str, dt: str, csv_report: bool, all_versions: bool) -> str:
    """`s3plan sql queries --inventory-table`: the inventory aggregates, to run by hand."""
    return inventory_table_queries(table, dt, csv_report, all_versions)


def explain_user_agent(user_agent: str, rules_dirs: tuple[Path, ...] = ()) -> Explanation:
    """`s3plan explain-ua`: the client catalogue's reading of one user agent."""
    return explain(user_agent, ClientCatalogue(load_rules("clients", rules_dirs)))


def run_plan(config: Config) -> RunResult:
    """Read the side inputs, scan, plan and write every output, saying each stage's end (planner.progress);
    `--strict` turns skipped files into an error before writing."""
    reporter = Reporter(config.progress)
    inputs = read_inputs(config)  # quick, and an error in it is the run's only line
    result = _scanned(config, reporter)
    inventory, states = _side_evidence(config, result, reporter)
    with reporter.stage("plan") as stage:
        plan = make_plan(config, result, states, inputs, inventory)
        stage.done(f"{counted(len(plan.tasks), 'task')}, {counted(len(plan.statements), 'policy statement')}")
    if config.validate_online:
        with reporter.stage("online validation"):
            plan = with_online_validation(plan, access_analyzer(config))
    with reporter.stage("write") as stage:
        try:
            written = write_outputs(plan, config.out, inputs.previous)
        except OSError as err:
            raise OutputError(f"{err.filename or config.out}: cannot write the outputs ({err.strerror or err})"
                              ) from err
        stage.done(f"{counted(len(written), 'file')} in {config.out}")
    return RunResult(plan, config.out, tuple(written))


def _scanned(config: Config, reporter: Reporter) -> ScanResult:
    """The scan as a stage; with --strict a skipped file fails it (inside the stage, so that error is the only
    line a piped run prints)."""
    with reporter.stage("scan") as stage:
        result = scan(config, reporter)
        if config.strict and result.skipped:
            first = result.skipped[0]
            raise InputError(f"{first.path}: {first.reason} ({len(result.skipped)} file(s) skipped; --strict)")
        files = f" from {counted(result.files_read, 'file')}" if result.files_read else ""
        stage.done(f"{counted(result.records, 'record')}{files}, {counted(len(result.evidence), 'evidence row')}, "
                   f"{counted(len(result.skipped), 'file')} skipped")
    return result


def _side_evidence(config: Config, result: ScanResult, reporter: Reporter
                   ) -> tuple[InventoryResult, Mapping[str, BucketState] | None]:
    """--inventory's reports and --enrich's bucket states, each a stage when asked for."""
    inventory, states = NO_INVENTORY, None
    if config.inventory or config.inventory_s3:
        with reporter.stage("inventory") as stage:
            inventory = scan_inventory(config)
            stage.done(f"{counted(len(inventory.reports), 'report')} read, {len(inventory.failures)} unreadable")
    if config.enrich:
        with reporter.stage("bucket state") as stage:
            states = read_states(config, result)
            stage.done(f"{counted(len(states), 'bucket')} looked up (each one's errors are its blockers)")
    return inventory, states


def access_analyzer(config: Config) -> AccessAnalyzer:
    """An Access Analyzer client from boto3's standard credential chain (never stored or printed)."""
    client: AccessAnalyzer = aws_session(config).client("accessanalyzer")
    return client


def with_online_validation(plan: Plan, client: AccessAnalyzer) -> Plan:
    """The plan with Access Analyzer's findings on each draft; a failing call is an error naming the service."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = validate_online(plan.policies, client)
    except (BotoCoreError, ClientError) as err:
        raise InputError(f"IAM Access Analyzer: {err}; check credentials and permissions, or drop "
                         "--validate-online") from err
    policies = tuple(dataclasses.replace(p, validation=found.get(p.bucket, ())) for p in plan.policies)
    return dataclasses.replace(plan, policies=policies)


def write_outputs(plan: Plan, out: Path, previous: Previous | None = None) -> list[Path]:
    """plan.json, plan.graphml, the workbook (the previous one kept as a timestamped backup) and the policy
    drafts: all written into a staging folder inside `out` first, and moved into place only once every one is
    written, so a failure leaves the previous outputs as they were."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".s3plan-staging-", dir=out))
    try:
        with Alongside(lambda: write_workbook(plan, staging / WORKBOOK, previous)) as workbook:
            write_plan_json(plan, staging / "plan.json")
            write_graphml(plan, staging / "plan.graphml")
            policies = write_policy_files(plan, staging / "policies")
            workbook.wait()
        _backup_workbook(out)
        for name in ("plan.json", "plan.graphml", WORKBOOK):
            os.replace(staging / name, out / name)
        replace_folder(staging / "policies", out / "policies")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / "plan.json", out / WORKBOOK, out / "plan.graphml",
            *(out / "policies" / p.name for p in policies)]


def _backup_workbook(out: Path) -> None:
    """Keep the workbook about to be replaced as migration-plan.<UTC time>.xlsx (-2, -3, ... within a second)."""
    workbook = out / WORKBOOK
    if not workbook.exists():
        return
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup, n = out / f"migration-plan.{stamp}.xlsx", 1
    while backup.exists():
        n += 1
        backup = out / f"migration-plan.{stamp}-{n}.xlsx"
    shutil.copy2(workbook, backup)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")



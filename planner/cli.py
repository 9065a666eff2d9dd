"""The command line: options -> Config -> one library call -> a short summary. Nothing else lives here."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from planner import __version__
from planner.classify.remedies import INVESTIGATE_FAMILIES
from planner.config import ACCOUNT_RE, REGION_RE, make_config, parse_day, split_list
from planner.errors import EXIT_BLOCKERS, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, S3PlanError, UsageError
from planner.model import Plan
from planner.pipeline import (
    RunResult,
    access_log_ddl,
    access_log_queries,
    athena_ddl,
    athena_queries,
    discover_trail,
    explain_user_agent,
    inventory_ddl,
    inventory_queries,
    run_plan,
)
from planner.plan.readiness import NO_DATA_EVENTS, WRITE_ONLY
from planner.progress import Reporter, counted, mode_for
from planner.samples import SHAPES, write_sample_logs
from planner.sources.athena.sql import Table
from planner.sources.cloudtrail.prefilter import scan_path

F = TypeVar("F", bound=Callable[..., Any])
# click's own control flow, which must pass through untouched
CLICK_FLOW = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)

PLAN_OPTION_GROUPS = {  # `s3plan plan --help` lists the options under these headings, in this order
    "Sources": ("cloudtrail", "access_logs", "athena_results", "athena", "athena_table", "athena_database",
                "access_log_table", "access_log_dated", "cache", "threads", "prefilter"),
    "Window": ("since", "until", "days", "regions", "accounts"),
    "Object ACLs": ("inventory", "canonical_ids"),
    "Policies": ("current_policies", "rules_dirs", "prefix_depth", "enrich", "validate_online"),
    "AWS access": ("profile", "aws_region", "athena_workgroup", "athena_output", "refresh"),
    "Outputs": ("out", "previous", "owners", "strict", "fail_on_blockers", "quiet"),
}


class GroupedOptions(click.Command):
    """A command whose --help lists its options under the headings of PLAN_OPTION_GROUPS."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = {p.name: p.get_help_record(ctx) for p in self.get_params(ctx)}
        other = tuple(sorted(str(n) for n in records if n not in _grouped()))
        for heading, names in [*PLAN_OPTION_GROUPS.items(), ("Other", other)]:
            rows = [r for n in names if (r := records.get(n)) is not None]
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)


def _grouped() -> set[str | None]:
    return {name for names in PLAN_OPTION_GROUPS.values() for name in names}



def friendly_errors(func: F) -> F:
    """Turn S3PlanError into one line on stderr and its exit code; tracebacks only with --debug."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        main_thread = threading.current_thread() is threading.main_thread()  # signals are the main thread's
        previous = signal.signal(signal.SIGINT, _interrupt_once) if main_thread else None
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            if previous is not None:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                previous = signal.SIG_IGN  # a Ctrl-C while exiting is ignored too
            click.echo("s3plan: interrupted; no output was changed", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except S3PlanError as err:
            if debug:
                raise
            for line in str(err).splitlines() or [""]:  # several problems (rule files): one line each
                click.echo(f"s3plan: error: {line}", err=True)
            sys.exit(err.exit_code)
        except Exception as err:  # a bug (InternalError or anything unforeseen): one line, exit 3, never 1
            if debug or isinstance(err, CLICK_FLOW):
                raise
            click.echo(f"s3plan: internal error (a bug; no output was changed): {type(err).__name__}: {err}. "
                       "Please report it with the command you ran; --debug shows the traceback.", err=True)
            sys.exit(EXIT_INTERNAL)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    return wrapper  # type: ignore[return-value]


def _version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """--version: the version and the scan path in use."""
    if value and not ctx.resilient_parsing:
        click.echo(f"s3plan, version {__version__}; scan: {scan_path()}")
        ctx.exit()


def _interrupt_once(signum: int, frame: Any) -> None:
    """The first Ctrl-C interrupts; later ones are ignored, so the clean-up it starts (workers stopped, staging
    and temporary folders removed) runs to its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and which scan path is in use, and exit.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def main(debug: bool) -> None:
    """Plan the S3 SigV4 cutover and the move to ACLs disabled, from CloudTrail evidence. Read-only.

    Exit codes: 0 the plan was written; 1 with --fail-on-blockers, a bucket still has blockers; 2 bad options,
    rules or inputs; 3 an internal error (a bug, please report it); 130 interrupted. Only 0 and 1 change the
    outputs.
    """


@main.command(cls=GroupedOptions)
@click.option("--athena", "athena", is_flag=True, help="Run the evidence query on Athena (with --athena-table).")
@click.option("--database", "--athena-database", "athena_database", metavar="NAME",
              help="Athena database of --table and --access-log-table (as in `s3plan sql`).")
@click.option("--table", "--athena-table", "athena_table", metavar="[DATABASE.]TABLE",
              help="Run the evidence query on this Athena CloudTrail table (`s3plan sql ddl`).")
@click.option("--access-log-table", metavar="[DATABASE.]TABLE",
              help="Run the evidence query on this server access log table (`s3plan sql ddl --access-logs`), alone or "
                   "with --athena-table (one query: a request both recorded counts once).")
@click.option("--access-log-dated", is_flag=True,
              help="The access-log table is day-projected (date-based key format): read only the window's days.")
@click.option("--athena-workgroup", metavar="NAME", help="Athena workgroup.")
@click.option("--athena-output", metavar="s3://BUCKET/PREFIX/", help="Where Athena writes results.")
@click.option("--refresh", is_flag=True, help="Run the Athena query again even when its result is cached.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="With Athena or s3:// and no --since/--until: the last N full days.")
@click.option("--athena-results", "athena_results", multiple=True, metavar="FILE.csv",
              help="Results of the evidence query downloaded from the Athena console (instead of --cloudtrail).")
@click.option("--cloudtrail", "cloudtrail", multiple=True, metavar="PATH|s3://BUCKET/PREFIX/",
              help="CloudTrail tree (AWSLogs/...), folder of *.json / *.json.gz log files, or the trail's S3 location "
                   "(the prefix before AWSLogs/; only the window's folders are listed and fetched). Repeatable.")
@click.option("--access-logs", "access_logs", multiple=True, metavar="PATH",
              help="S3 server access log files or folders (plain or .gz), alone or with --cloudtrail; a request "
                   "both record counts once. Repeatable.")
@click.option("--inventory", "inventory", multiple=True, metavar="PATH|s3://BUCKET/PREFIX/",
              help="S3 Inventory reports with the Object ACL and owner fields: a manifest.json, a folder of reports "
                   "(the latest per configuration is read), or their S3 destination. With the log sources; "
                   "repeatable.")
@click.option("--canonical-ids", metavar="FILE",
              help="YAML mapping of canonical user id -> account id, for object owners and grantees s3plan cannot "
                   "name otherwise.")
@click.option("--cache", metavar="DIR", help="Where s3:// log files are kept between runs (default: OUT/.s3-cache).")
@click.option("--enrich", is_flag=True,
              help="Read each bucket's policy, Object Ownership, ACLs, public access block and logging (read-only).")
@click.option("--out", default="s3plan-out", show_default=True, help="Folder for plan.json, the workbook, policies/.")
@click.option("--since", metavar="YYYY-MM-DD", help="First UTC day to read (inclusive).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last UTC day to read (inclusive).")
@click.option("--regions", multiple=True, metavar="LIST", help="Regions to read, comma-separated or repeated.")
@click.option("--accounts", multiple=True, metavar="LIST", help="Account ids to read, comma-separated or repeated.")
@click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Extra rule folder (overrides by id).")
@click.option("--current-policies", metavar="DIR",
              help="Current bucket policies to merge with (<bucket>.json, as get-bucket-policy returns them).")
@click.option("--prefix-depth", default=1, show_default=True, type=int,
              help="Key-path segments kept in drafted resources (1: reports/*, 2: reports/2026/*).")
@click.option("--validate-online", is_flag=True,
              help="Check each draft with IAM Access Analyzer (ValidatePolicy, CheckNoPublicAccess); read-only calls.")
@click.option("--profile", metavar="NAME", help="AWS profile for online calls (boto3's standard chain otherwise).")
@click.option("--aws-region", metavar="REGION", help="AWS Region for online calls.")
@click.option("--previous", metavar="FILE.xlsx",
              help="Earlier workbook whose owner/status/due date/notes to keep (default: the one in --out).")
@click.option("--owners", metavar="FILE", help="Owners file: account, ARN glob, CIDR or user-agent regex -> team.")
@click.option("--strict", is_flag=True, help="Exit 2 when any input file had to be skipped.")
@click.option("--fail-on-blockers", is_flag=True, help="Exit 1 when any bucket still has blockers.")
@click.option("--threads", type=int, help="Worker processes and engine threads (default: all cores).")
@click.option("--prefilter/--no-prefilter", default=True, show_default=True,
              help="Pre-filter records in C before the engine (--no-prefilter: the engine reads every record).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress: neither the status line on a terminal nor, piped, the line per stage.")
@friendly_errors
def plan(quiet: bool, **options: Any) -> None:
    """Read CloudTrail logs and write the migration plan."""
    config = make_config(**options, progress=mode_for(sys.stderr, quiet))
    result = run_plan(config)
    for skipped in result.plan.run.skipped:
        click.echo(f"s3plan: skipped {skipped.path}: {skipped.reason}", err=True)
    for warning in result.plan.run.warnings:
        click.echo(f"s3plan: warning: {warning}", err=True)
    for error in result.input_errors:
        click.echo(f"s3plan: error: {error}", err=True)
    for error in result.inventory_errors:
        click.echo(f"s3plan: error: {error}", err=True)
    click.echo(summary(result, config.owners is not None))
    if result.inventory_errors:  # the plan was written without those buckets' reports: not a clean run
        click.echo(f"s3plan: {len(result.inventory_errors)} inventory report(s) could not be read; the plan leaves "
                   "them out (their buckets are blocked)", err=True)
        sys.exit(EXIT_INPUT)
    if config.fail_on_blockers and result.has_blockers:
        blocked = sorted(b.bucket for b in result.plan.buckets if b.blockers)
        shown = ", ".join(blocked[:10]) + (f" and {len(blocked) - 10} more" if len(blocked) > 10 else "")
        click.echo(f"s3plan: {len(blocked)} bucket(s) still have blockers (--fail-on-blockers): {shown}", err=True)
        sys.exit(EXIT_BLOCKERS)


def summary(result: RunResult, owners: bool = False) -> str:
    """A few lines: what was read, what was found, who owns the work (with --owners), where the outputs are."""
    plan_, run = result.plan, result.plan.run
    sigv2 = [e for e in plan_.evidence if e.is_sigv2]
    lines = [f"Athena: {q.query_id}, {q.bytes_scanned:,} bytes scanned, about ${q.cost_usd} "
             f"(window {run.window_requested.since} to {run.window_requested.until})" for q in run.queries]
    lines += [f"{d.url}: {d.files} log files in the window, {d.fetched} downloaded ({d.bytes_fetched / 1e6:,.1f} MB), "
              f"{d.cached} already in the cache" for d in run.downloads]
    lines += [
        f"Read {run.records:,} records from {run.files_read} files "
        f"({run.window_seen.since or '?'} to {run.window_seen.until or '?'}); "
        f"{run.files_pruned} pruned by the window, {len(run.skipped)} skipped.",
        f"SigV2: {len(plan_.sigv2_callers)} callers to fix, {sum(e.requests for e in sigv2):,} requests.",
        f"ACLs: {len(plan_.acl_requesters)} ACL-dependent requesters, "
        f"{len(plan_.statements)} policy statements drafted.",
        f"Buckets: {len(plan_.buckets)} seen, {sum(b.sigv4_ready for b in plan_.buckets)} ready to deny SigV2, "
        f"{sum(b.acls_ready for b in plan_.buckets)} ready to disable ACLs.",
        f"Tasks: {len(plan_.tasks)}.",
        _replay_line(plan_),
    ]
    lines += _data_event_lines(plan_)
    if owners:
        owned = sum(1 for t in plan_.tasks if t.owner is not None)
        lines.append(f"Owners: {owned} of {len(plan_.tasks)} tasks have an owner from --owners"
                     + ("" if owned == len(plan_.tasks) else "; the others match no entry"))
    drafts = sum(1 for p in result.written if p.parent.name == "policies" and p.suffix == ".json")
    lines.append(f"Outputs in {result.out}/: plan.json, migration-plan.xlsx, policies/ ({drafts} drafts)")
    return "\n".join(lines)


def _replay_line(plan_: Plan) -> str:
    """What the replay found: requests that keep working, would break (and where), or could not be proven."""
    counts = {after: sum(r.requests for r in plan_.replay if r.after == after)
              for after in ("allowed", "denied", "unknown")}
    broken = len({r.bucket for r in plan_.replay if r.after == "denied"})
    return (f"Replay: {counts['allowed']:,} ACL-dependent requests keep working, {counts['denied']:,} would break "
            f"(in {broken} bucket(s)), {counts['unknown']:,} unknown.")


def _data_event_lines(plan_: Plan) -> list[str]:
    """What readiness could not prove for want of S3 data events (the README says how to turn them on)."""
    kinds = [{b.kind for b in r.blockers} for r in plan_.buckets]
    lines = []
    missing = sum(NO_DATA_EVENTS in k for k in kinds)
    if missing:
        lines.append(f"Data events: {missing} bucket(s) without S3 data events in the window, so not ready: turn on "
                     "S3 data events (read and write) in a trail, or server access logging, and re-run.")
    if any(WRITE_ONLY in k for k in kinds):
        lines.append("Data events: the window holds writes but no reads (a WriteOnly trail): log read data events "
                     "too, or no bucket can be proven ready.")
    return lines


@main.command("explain-ua")
@click.argument("user_agent")
@click.option("--json", "as_json", is_flag=True,
              help="Print {family, version, minimum_version, remedy, target_version, rule, setting, docs}.")
@click.option("--rules", "rules_dirs", multiple=True, metavar="DIR", help="Extra rule folder (overrides by id).")
@friendly_errors
def explain_ua(user_agent: str, as_json: bool, rules_dirs: tuple[str, ...]) -> None:
    """Name the SDK or tool behind USER_AGENT and what to do if it is seen signing SigV2."""
    result = explain_user_agent(user_agent, tuple(Path(d) for d in rules_dirs))
    if as_json:
        click.echo(json.dumps(result.as_json(), sort_keys=True))
        return
    client = result.client
    lines = [
        f"family:          {client.family}",
        f"version:         {client.version or '(none in the user agent)'}",
        f"minimum version: {client.minimum_version or _no_minimum(client.family)}",
        f"remedy if SigV2: {result.remedy or 'none (an AWS service: informational)'}"
        + (f" to {result.target_version} or later" if result.target_version else ""),
        f"rule:            {client.rule}",
    ]
    if client.setting:
        lines.append(f"setting:         {client.setting}")
    if client.docs:
        lines.append(f"docs:            {client.docs}")
    click.echo("\n".join(lines))


def _no_minimum(family: str) -> str:
    return "(not an AWS SDK or tool)" if family in INVESTIGATE_FAMILIES else "(none: SigV4 capable)"


@main.group()
def sql() -> None:
    """Print the SQL s3plan runs, for Athena: the table DDL and the evidence query."""


@sql.command("ddl")
@click.option("--location", required=True, metavar="s3://BUCKET/[PREFIX/]AWSLogs/",
              help="Where the trail writes (with --access-logs: where the access logs are delivered).")
@click.option("--access-logs", is_flag=True,
              help="The server access log table instead (RegexSerDe; day-projected when --location is the "
                   "date-based s3://LOG-BUCKET/PREFIX/ACCOUNT/REGION/SOURCE-BUCKET/).")
@click.option("--inventory", is_flag=True,
              help="The S3 Inventory table instead (--location: the report's s3://DEST/[PREFIX/]SOURCE-BUCKET/"
                   "CONFIG-ID/hive/; dt projected by the hour).")
@click.option("--format", "file_format", type=click.Choice(["ORC", "Parquet", "CSV"]), default="ORC",
              show_default=True, help="With --inventory: the report's output format.")
@click.option("--fields", metavar="FILESCHEMA",
              help="With --inventory --format CSV: the manifest's fileSchema (CSV columns are positional).")
@click.option("--org-id", metavar="o-xxxx", help="Organization trail: the org id after AWSLogs/.")
@click.option("--accounts", multiple=True, metavar="LIST",
              help="Accounts to project (CloudTrail) [default: injected: every query names its accounts].")
@click.option("--regions", multiple=True, metavar="LIST",
              help="Regions to project (CloudTrail) [default: every Region of the aws partition].")
@click.option("--discover", is_flag=True,
              help="List the trail bucket's AWSLogs/ (read-only) and project the accounts and Regions it holds.")
@click.option("--profile", metavar="NAME", help="AWS profile for --discover (boto3's standard chain otherwise).")
@click.option("--since", default="2020-01-01", show_default=True, metavar="YYYY-MM-DD", help="First day projected.")
@click.option("--table", help="Table name [default: cloudtrail_logs, s3_access_logs with --access-logs, "
                                  "s3_inventory with --inventory].")
@click.option("--database", metavar="NAME")
@friendly_errors
def sql_ddl(location: str, access_logs: bool, inventory: bool, file_format: str, fields: str | None,
            org_id: str | None, accounts: tuple[str, ...], regions: tuple[str, ...], discover: bool,
            profile: str | None, since: str, table: str | None, database: str | None) -> None:
    """CREATE EXTERNAL TABLE for CloudTrail logs (account, region and day projected), server access logs, or an
    S3 Inventory configuration's reports."""
    first = parse_day("--since", since)
    assert first is not None
    if access_logs and inventory:
        raise UsageError("give --access-logs or --inventory, not both")
    if inventory:
        click.echo(inventory_ddl(location, file_format, table or "s3_inventory", database, first, fields), nl=False)
        return
    if access_logs:
        click.echo(access_log_ddl(location, table or "s3_access_logs", database, first), nl=False)
        return
    given = (tuple(sorted(split_list("--accounts", accounts, ACCOUNT_RE, "111122223333"))),
             tuple(sorted(split_list("--regions", regions, REGION_RE, "us-east-1"))))
    found = discover_trail(location, org_id, profile) if discover else ((), ())
    spec = Table(location, given[0] or found[0], given[1] or found[1], org_id, first, table or "cloudtrail_logs",
                 database)
    click.echo(athena_ddl(spec), nl=False)


@sql.command("queries")
@click.option("--table", default="cloudtrail_logs", show_default=True, help="Table, or DATABASE.TABLE.")
@click.option("--database", metavar="NAME", help="Database of the tables named without one.")
@click.option("--since", metavar="YYYY-MM-DD")
@click.option("--until", metavar="YYYY-MM-DD")
@click.option("--accounts", multiple=True, metavar="LIST")
@click.option("--regions", multiple=True, metavar="LIST")
@click.option("--prefix-depth", default=1, show_default=True, type=click.IntRange(1, 5))
@click.option("--access-log-table", metavar="TABLE", help="Query this server access log table instead.")
@click.option("--access-log-dated", is_flag=True, help="The access-log table is day-projected.")
@click.option("--with-cloudtrail", is_flag=True, help="With --access-log-table: the --table too, as one relation.")
@click.option("--inventory-table", metavar="[DATABASE.]TABLE",
              help="The S3 Inventory aggregates instead (owners, object-ACL grants, ACL status) over this table.")
@click.option("--dt", metavar="YYYY-MM-DD-HH-MM", help="With --inventory-table: the report to read.")
@click.option("--csv", "csv_report", is_flag=True, help="With --inventory-table: a CSV report (URL-encoded keys).")
@click.option("--all-versions", is_flag=True,
              help="With --inventory-table: the report lists all versions (delete markers are left out).")
@friendly_errors
def sql_queries(table: str, database: str | None, since: str | None, until: str | None, accounts: tuple[str, ...],
                regions: tuple[str, ...], prefix_depth: int, access_log_table: str | None, access_log_dated: bool,
                with_cloudtrail: bool, inventory_table: str | None, dt: str | None, csv_report: bool,
                all_versions: bool) -> None:
    """The evidence query with partition predicates for the window, to run in the Athena console (or, with
    --inventory-table, the inventory aggregates)."""
    table = qualified(database, table) or table
    access_log_table, inventory_table = qualified(database, access_log_table), qualified(database, inventory_table)
    if inventory_table:
        if not dt:
            raise UsageError("--inventory-table: give --dt YYYY-MM-DD-HH-MM, the report to read")
        click.echo(inventory_queries(inventory_table, dt, csv_report, all_versions), nl=False)
        return
    if not since or not until:
        raise UsageError("give --since and --until (UTC days, YYYY-MM-DD)")
    first, last = parse_day("--since", since), parse_day("--until", until)
    assert first is not None and last is not None
    if access_log_table:
        click.echo(access_log_queries(access_log_table, table if with_cloudtrail else None, first, last,
                                      tuple(sorted(split_list("--accounts", accounts, ACCOUNT_RE, "111122223333"))),
                                      tuple(sorted(split_list("--regions", regions, REGION_RE, "us-east-1"))),
                                      prefix_depth, access_log_dated), nl=False)
        return
    click.echo(athena_queries(table, first, last,
                              tuple(sorted(split_list("--accounts", accounts, ACCOUNT_RE, "111122223333"))),
                              tuple(sorted(split_list("--regions", regions, REGION_RE, "us-east-1"))), prefix_depth),
               nl=False)


def qualified(database: str | None, table: str | None) -> str | None:
    """TABLE as DATABASE.TABLE when --database is given and the name has no database of its own."""
    return f"{database}.{table}" if database and table and "." not in table else table


@main.command("sample-logs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--records", default=20_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--start", default="2026-11-01", show_default=True, metavar="YYYY-MM-DD")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1, max=366))
@click.option("--shape", type=click.Choice(SHAPES), default="default", show_default=True,
              help="busy: a large organisation's variety (hundreds of principals, thousands of user agents and key "
                   "prefixes, ~3% candidate records)")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@friendly_errors
def sample_logs(directory: Path, records: int, seed: int, start: str, days: int, shape: str, quiet: bool) -> None:
    """Write a synthetic CloudTrail log tree (and its ground truth) to DIRECTORY."""
    first = parse_day("--start", start)
    assert isinstance(first, date)
    reporter = Reporter(mode_for(sys.stderr, quiet))
    with reporter.stage("sample logs") as stage:
        result = write_sample_logs(directory, records=records, seed=seed, start=first, days=days, shape=shape,
                                   on_progress=lambda files, done, planned: reporter.status(
                                       f"{files:,} files, {done:,} of {planned:,} records"))
        stage.done(f"{counted(result.records, 'record')} in {counted(result.files, 'file')}")
    click.echo(f"Wrote {result.records:,} records in {result.files} log files (+{result.digest_files} digest files) "
               f"under {result.root}; ground truth: {result.ground_truth}")


if __name__ == "__main__":
    main()

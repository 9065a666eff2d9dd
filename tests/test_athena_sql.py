"""`s3plan sql ddl` and `s3plan sql queries`: Athena SQL that parses, projects partitions and reads only the window."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from planner.cli import main
from planner.errors import UsageError
from planner.sources.athena.sql import Table, cloudtrail_ddl, evidence_query

ACCOUNTS = ("111122223333", "444455556666")


@pytest.mark.parametrize(("location", "org", "root"), [
    ("s3://trail-bucket/AWSLogs/", None, "s3://trail-bucket/AWSLogs"),
    ("s3://trail-bucket/prefix", None, "s3://trail-bucket/prefix/AWSLogs"),
    ("s3://trail-bucket/prefix/AWSLogs", "o-a1b2c3d4e5", "s3://trail-bucket/prefix/AWSLogs/o-a1b2c3d4e5"),
])
def test_ddl_projects_account_region_and_day(location: str, org: str | None, root: str) -> None:
    ddl = cloudtrail_ddl(Table(location, ACCOUNTS, ("us-east-1",), org, date(2025, 1, 1), "ct", "audit"))
    tree = sqlglot.parse_one(ddl, read="athena")
    assert isinstance(tree, exp.Create) and tree.this.this.name == "ct"
    assert f"'storage.location.template'='{root}/${{account}}/CloudTrail/${{region}}/${{timestamp}}'" in ddl
    assert "'projection.account.values'='111122223333,444455556666'" in ddl
    assert "'projection.timestamp.range'='2025/01/01,NOW'" in ddl
    assert "com.amazon.emr.cloudtrail.CloudTrailInputFormat" in ddl and "requestparameters STRING" in ddl


def test_queries_read_only_the_window_partitions() -> None:
    text = evidence_query("audit.ct", date(2026, 11, 1), date(2026, 11, 7), ["111122223333"], ["us-east-1"])
    tree = sqlglot.parse_one(text, read="athena")
    assert any(t.name == "ct" and t.db == "audit" for t in tree.find_all(exp.Table))
    where = next(c for c in tree.find_all(exp.CTE) if c.alias == "classified").this.args["where"].sql("athena")
    assert """"timestamp" BETWEEN '2026/11/01' AND '2026/11/07'""" in where
    assert "account IN ('111122223333')" in where and "region IN ('us-east-1')" in where
    assert "eventtime >= '2026-11-01T00:00:00Z'" in where and "eventtime < '2026-11-08T00:00:00Z'" in where
    assert not list(tree.find_all(exp.Placeholder))  # :prefix_depth is filled in


@pytest.mark.parametrize("bad", [
    dict(location="s3://x'; DROP TABLE t; --"), dict(org_id="o-'x"), dict(table="ct; drop"), dict(database="A-B"),
])
def test_values_that_reach_sql_are_validated(bad: dict[str, object]) -> None:
    fields: dict[str, object] = dict(location="s3://trail-bucket/AWSLogs/", accounts=ACCOUNTS, regions=("us-east-1",))
    fields.update(bad)
    with pytest.raises(UsageError):
        Table(**fields)  # type: ignore[arg-type]


def test_cli_commands() -> None:
    runner = CliRunner()
    ddl = runner.invoke(main, ["sql", "ddl", "--location", "s3://trail-bucket/AWSLogs/", "--accounts", "111122223333",
                               "--regions", "us-east-1,eu-west-1", "--org-id", "o-a1b2c3d4e5"])
    assert ddl.exit_code == 0 and "'projection.region.values'='eu-west-1,us-east-1'" in ddl.stdout
    queries = runner.invoke(main, ["sql", "queries", "--since", "2026-11-01", "--until", "2026-11-02"])
    assert queries.exit_code == 0 and "FROM cloudtrail_logs" in queries.stdout
    bad = runner.invoke(main, ["sql", "queries", "--since", "2026-11-01", "--until", "2026-11-02", "--table", "x;y"])
    assert bad.exit_code == 2 and "--table" in bad.stderr


def test_ddl_with_only_the_location_injects_the_account_and_lists_the_partitions_regions() -> None:
    import botocore.session

    result = CliRunner().invoke(main, ["sql", "ddl", "--location", "s3://trail-bucket/AWSLogs/"])
    assert result.exit_code == 0, result.output
    ddl = result.stdout
    assert "'projection.account.type'='injected'" in ddl and "projection.account.values" not in ddl
    assert ddl.startswith("-- s3plan: the account is injected (no --accounts): every query on this table must name")
    regions = botocore.session.get_session().get_available_regions("cloudtrail", partition_name="aws")
    assert f"'projection.region.values'='{','.join(sorted(regions))}'" in ddl and "us-east-1" in regions
    tree = sqlglot.parse_one("\n".join(line for line in ddl.splitlines() if not line.startswith("--")),
                             read="athena")
    assert tree is not None


def test_queries_without_accounts_say_what_an_injected_table_needs() -> None:
    runner = CliRunner()
    bare = runner.invoke(main, ["sql", "queries", "--since", "2026-11-01", "--until", "2026-11-02"])
    assert bare.exit_code == 0 and "Athena needs them: add --accounts" in bare.stdout
    named = runner.invoke(main, ["sql", "queries", "--since", "2026-11-01", "--until", "2026-11-02", "--accounts",
                                 "111122223333", "--database", "audit", "--table", "ct"])
    assert named.exit_code == 0 and "--accounts" not in named.stdout and "FROM audit.ct" in named.stdout


def test_plan_takes_database_and_table_as_sql_does() -> None:
    help_text = CliRunner().invoke(main, ["plan", "--help"]).output
    assert "--database, --athena-database" in help_text and "--table, --athena-table" in help_text

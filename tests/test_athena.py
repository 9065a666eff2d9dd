"""`s3plan plan --athena-table`: the evidence query through pyathena against a moto server on 127.0.0.1 gives the
same tasks and statements as the local run; its id, bytes and cost are recorded."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from planner.cli import main
from planner.sources.athena.console_csv import COLUMNS
from tests.conftest import mixed_tree
from tests.test_athena_csv import _console, _engine_rows
from tests.test_permissions import assert_allowed

TYPES = {"data_reads": "bigint", "data_writes": "bigint", "access_log_records": "bigint", "cloudtrail_requests": "bigint", "access_log_requests": "bigint", "error_codes": "array","records": "bigint", "requests": "bigint", "errors": "bigint", "key_prefix_count": "bigint",
         "versioned_requests": "bigint", "acl_required": "boolean", "source_ips": "array", "session_names": "array",
         "key_prefixes": "array", "sigv2_days": "map"}


@pytest.fixture
def moto_athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield endpoint
    server.stop()


def _seed(endpoint: str, rows: list[dict[str, Any]]) -> None:
    """Queue the result Athena would return for the next query (moto's results API)."""
    def column(name: str) -> dict[str, Any]:
        return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
                "Type": TYPES.get(name, "varchar"), "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
                "CaseSensitive": True}

    def cells(values: list[Any]) -> dict[str, Any]:
        return {"Data": [{"VarCharValue": _console(v)} if v is not None else {} for v in values]}

    body = {"account_id": "123456789012", "region": "us-east-1", "results": [{
        "column_info": [column(c) for c in COLUMNS],
        "rows": [cells(list(COLUMNS))] + [cells([row[c] for c in COLUMNS]) for row in rows]}]}
    request = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def test_same_plan_from_athena_as_from_the_local_run(tmp_path: Path, moto_athena: str,
                                                     read_only: list[str]) -> None:
    mixed_tree(tmp_path / "tree")
    runner = CliRunner()
    local = runner.invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    _seed(moto_athena, _engine_rows(tmp_path / "tree"))
    remote = runner.invoke(main, ["plan", "--athena", "--athena-database", "audit", "--athena-table", "cloudtrail_logs",
                                  "--since", "2026-11-01",
                                  "--until", "2026-11-30", "--athena-output", "s3://athena-results/",
                                  "--aws-region", "us-east-1", "--out", str(tmp_path / "athena")])
    assert remote.exit_code == 0, remote.output
    assert "Athena: " in remote.stdout and "window 2026-11-01 to 2026-11-30" in remote.stdout
    mine, theirs = (json.loads((tmp_path / d / "plan.json").read_text()) for d in ("local", "athena"))
    assert theirs["tasks"] == mine["tasks"] and theirs["statements"] == mine["statements"]
    assert theirs["evidence"] == mine["evidence"]
    assert_allowed("athena", read_only)  # pyathena's calls, through the read-only guard
    assert "StartQueryExecution" in read_only and "GetQueryResults" in read_only
    (query,) = theirs["run"]["queries"]
    assert query["query_id"] and query["cost_usd"] > 0 and theirs["run"]["sources"] == ["athena:audit.cloudtrail_logs"]


def test_athena_always_has_a_window(tmp_path: Path) -> None:
    from planner.config import make_config
    config = make_config(cloudtrail=(), out=str(tmp_path), athena_table="ct", days=7)
    assert config.athena is not None
    assert (config.athena.until - config.athena.since).days == 6
    bad = CliRunner().invoke(main, ["plan", "--athena-table", "ct; drop", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--athena-table" in bad.stderr


def test_a_rerun_with_the_same_window_costs_nothing(tmp_path: Path, moto_athena: str) -> None:
    mixed_tree(tmp_path / "tree")
    _seed(moto_athena, _engine_rows(tmp_path / "tree"))
    args = ["plan", "--athena-table", "ct", "--since", "2026-11-01", "--until", "2026-11-30",
            "--athena-output", "s3://athena-results/", "--aws-region", "us-east-1", "--out", str(tmp_path / "o")]
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 0
    again = runner.invoke(main, args)  # no result queued in moto: only the cache can answer
    assert again.exit_code == 0, again.output
    (query,) = json.loads((tmp_path / "o" / "plan.json").read_text())["run"]["queries"]
    assert "cached" in query["query_id"] and query["bytes_scanned"] == 0 and query["cost_usd"] == 0
    fresh = runner.invoke(main, [*args, "--refresh"])
    assert fresh.exit_code == 0
    (query,) = json.loads((tmp_path / "o" / "plan.json").read_text())["run"]["queries"]
    assert "cached" not in query["query_id"]


def test_throttling_retries_and_a_failed_query_is_one_line(tmp_path: Path) -> None:
    import datetime
    from datetime import date

    import boto3
    import pyathena
    from botocore.stub import Stubber

    from planner.errors import InputError
    from planner.sources.athena.client import AthenaTable

    stubs: list[Stubber] = []

    def connect(**kwargs: Any) -> Any:
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")
        connection = pyathena.connect(session=session, **{k: v for k, v in kwargs.items() if k != "profile_name"})
        stub = Stubber(connection.client)
        stub.add_client_error("start_query_execution", "ThrottlingException", "Rate exceeded", 400)
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        when = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
        stub.add_response("get_query_execution", {"QueryExecution": {
            "QueryExecutionId": "q-1", "Query": "SELECT 1", "StatementType": "DML", "WorkGroup": "primary",
            "ResultConfiguration": {"OutputLocation": "s3://r/q-1.csv"},
            "QueryExecutionContext": {"Database": "default", "Catalog": "awsdatacatalog"},
            "Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: Table audit.ct does not exist",
                       "SubmissionDateTime": when, "CompletionDateTime": when},
            "Statistics": {"EngineExecutionTimeInMillis": 5, "DataScannedInBytes": 0},
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}}})
        stub.activate()
        stubs.append(stub)
        return connection

    source = AthenaTable("audit.ct", date(2026, 11, 1), date(2026, 11, 2), output="s3://r/", aws_region="us-east-1",
                         connect=connect)
    with pytest.raises(InputError, match=r"TABLE_NOT_FOUND: Table audit\.ct does not exist") as caught:
        source.scan()
    assert "\n" not in str(caught.value)
    stubs[0].assert_no_pending_responses()  # the throttled start was retried


def test_access_log_table_runs_one_query_over_both_tables(tmp_path: Path, moto_athena: str,
                                                          read_only: list[str]) -> None:
    """The query text is what the Athena SQL tests check; here: the run reaches Athena once with it, reads the
    result and names both tables as sources."""
    mixed_tree(tmp_path / "tree")
    _seed(moto_athena, _engine_rows(tmp_path / "tree"))
    out = tmp_path / "o"
    result = CliRunner().invoke(main, [
        "plan", "--athena", "--athena-database", "audit", "--athena-table", "cloudtrail_logs",
        "--access-log-table", "s3_access_logs", "--access-log-dated", "--since", "2026-11-01", "--until",
        "2026-11-30", "--athena-output", "s3://athena-results/", "--aws-region", "us-east-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text())
    assert plan["run"]["sources"] == ["athena:audit.cloudtrail_logs", "athena:audit.s3_access_logs"]
    assert read_only.count("StartQueryExecution") == 1 and plan["evidence"]
    cached = list((out / ".athena-cache").glob("*.json"))
    assert len(cached) == 1


def test_the_result_cache_is_keyed_on_who_asked_and_survives_no_damage(tmp_path: Path, moto_athena: str) -> None:
    """Issue 14, findings 2 and 6: the cache key was the SQL text alone, so another --aws-region or workgroup got
    the first one's rows; a cache file cut short crashed with JSONDecodeError."""
    mixed_tree(tmp_path / "tree")
    runner = CliRunner()
    args = ["plan", "--athena", "--athena-database", "audit", "--athena-table", "cloudtrail_logs", "--since",
            "2026-11-01", "--until", "2026-11-30", "--athena-output", "s3://athena-results/", "--out",
            str(tmp_path / "out")]
    _seed(moto_athena, _engine_rows(tmp_path / "tree"))
    assert runner.invoke(main, [*args, "--aws-region", "us-east-1"]).exit_code == 0
    cache = tmp_path / "out" / ".athena-cache"
    (first,) = cache.iterdir()
    import boto3
    boto3.Session().client("athena", region_name="us-east-1").create_work_group(Name="etl")
    _seed(moto_athena, _engine_rows(tmp_path / "tree"))
    for extra in (["--aws-region", "eu-west-1"], ["--aws-region", "us-east-1", "--athena-workgroup", "etl"]):
        _seed(moto_athena, _engine_rows(tmp_path / "tree"))
        result = runner.invoke(main, [*args, *extra])
        assert result.exit_code == 0 and "(cached" not in result.output, result.output
    assert len(list(cache.iterdir())) == 3
    again = runner.invoke(main, [*args, "--aws-region", "us-east-1"])
    assert again.exit_code == 0 and "(cached: nothing scanned)" in again.output
    first.write_text(first.read_text()[:40])
    damaged = runner.invoke(main, [*args, "--aws-region", "us-east-1"])
    assert damaged.exit_code == 2 and str(first) in damaged.output and "--refresh" in damaged.output

"""Athena SQL for server access logs: the table's regex reads every line as the local parser does, the adapter
query turns rows into the records the local converter writes (checked by running it on DuckDB), and the
evidence query over one or both tables is valid Athena SQL with the window's predicates."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from planner.cli import main
from planner.errors import UsageError
from planner.sources.access_logs.parse import FIELDS, OPERATIONS, AccessLogLine, format_line, parse_line, to_record
from planner.sources.athena import access_log_sql
from planner.sources.athena.access_log_sql import (
    INPUT_REGEX,
    access_log_ddl,
    access_log_records,
    combined_evidence_query,
)
from tests.test_access_logs import OWNER_ID, as_line, doc_examples, fixture_lines, scenario

DATED = "s3://acme-logs/s3/111122223333/us-east-1/shop-assets/"
REGEX = re.compile(INPUT_REGEX.replace("\\\\", "\\"))  # as Athena reads the DDL's string


def lines() -> list[str]:
    real = [*doc_examples(), *fixture_lines("opensearch-raw.log"), *fixture_lines("own.log")[1:]]
    extra = [as_line(r) for r in scenario()]
    refused = as_line(scenario()[0]).replace("REST.GET.OBJECT", "REST.PUT.OBJECT").replace(
        " 200 - 10 10 ", " 400 AccessControlListNotSupported 300 - ")
    listing = as_line(scenario()[0]).replace("REST.GET.OBJECT reports/2026/a.csv",
                                             "REST.GET.BUCKET -").replace(
        "GET /bucket-a/reports/2026/a.csv", "GET /bucket-a?list-type=2&prefix=exports%2F")
    service = format_line({**parse_line(extra[0]).fields, "requester": "svc:logging.s3.amazonaws.com"})  # type: ignore[union-attr]
    owner = format_line({**parse_line(extra[0]).fields, "requester": OWNER_ID})  # type: ignore[union-attr]
    # finding 7: a key with a space, a plus and a percent sign, as REST operations log it (encoded twice)
    encoded = format_line({**parse_line(extra[0]).fields, "key": "odd/a%2520b%252Bc%2525d"})  # type: ignore[union-attr]
    return real + extra + [refused, listing, service, owner, encoded]


def test_the_table_regex_reads_every_line_as_the_parser_does() -> None:
    for text in lines():
        match = REGEX.match(text)
        assert match is not None, text
        line = parse_line(text)
        assert isinstance(line, AccessLogLine)
        athena = {name: None if v is None or v in ("-", '"-"') else v.strip('"') if name in ("request_uri", "referrer",
                  "useragent") else v for name, v in zip(FIELDS, match.groups(), strict=True)}
        assert {k: v for k, v in athena.items() if v is not None} == {
            k: v for k, v in line.fields.items() if v is not None}


def test_ddl_projects_days_for_the_date_based_format_only() -> None:
    dated = access_log_ddl(DATED, "s3_access_logs", "audit", date(2025, 1, 1))
    assert dated.count(" STRING,\n") + 1 == len(FIELDS) == 27
    assert "PARTITIONED BY (`timestamp` STRING)" in dated
    assert f"'storage.location.template'='{DATED}${{timestamp}}'" in dated
    assert "'projection.timestamp.range'='2025/01/01,NOW'" in dated
    plain = access_log_ddl("s3://acme-logs/s3/", "s3_access_logs")
    assert "PARTITIONED" not in plain and "projection" not in plain
    for bad in ("s3://acme-logs/s3", "s3://acme-logs/s3/'; DROP TABLE x; --/", "https://x/"):
        with pytest.raises(UsageError):
            access_log_ddl(bad)


def duckdb_rows(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The adapter query run on DuckDB over a table holding what Athena's RegexSerDe reads from `texts`. DuckDB
    has no lambdas, so the fallback branch for unmapped operations is left out (every line here is mapped)."""
    full = access_log_sql.event_name_case
    monkeypatch.setattr(access_log_sql, "event_name_case",
                        lambda: exp.Case(ifs=full().args["ifs"], default=exp.Null()))
    query = access_log_records("access_logs", date(2015, 1, 1), date(2030, 1, 1)).sql(dialect="duckdb")
    con = duckdb.connect()
    con.execute("CREATE TABLE access_logs (" + ", ".join(f'"{c}" VARCHAR' for c in FIELDS) + ")")
    rows = [list(REGEX.match(t).groups()) for t in texts]  # type: ignore[union-attr]
    con.executemany(f"INSERT INTO access_logs VALUES ({', '.join('?' * len(FIELDS))})", rows)
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def normal(record: dict[str, Any]) -> dict[str, Any]:
    """A record with null fields dropped and names in lower case, whichever side made it."""
    def clean(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{"):
            value = json.loads(value)
        if isinstance(value, dict):
            return {k.lower(): clean(v) for k, v in value.items() if clean(v) not in (None, {})}
        return value
    out = {k.lower(): clean(v) for k, v in record.items()}
    return {k: v for k, v in out.items() if v not in (None, {}) and k not in ("resources", "eventid")}


def test_the_adapter_query_gives_the_records_of_the_local_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [t for t in lines() if to_record(parse_line(t)) is not None]  # type: ignore[arg-type]
    expected = [normal(to_record(parse_line(t))) for t in texts]  # type: ignore[arg-type]
    got = [normal(r) for r in duckdb_rows(texts, monkeypatch)]
    assert len(texts) >= 30
    def order(row: dict[str, Any]) -> str:
        return json.dumps(row, sort_keys=True)
    assert sorted(got, key=order) == sorted(expected, key=order)


def test_the_event_name_case_names_every_mapped_operation() -> None:
    sql = event_sql = access_log_sql.event_name_case().sql(dialect="athena")
    assert all(f"'{operation}'" in event_sql for operation in OPERATIONS)
    assert "ListObjectsV2" in sql and "PutObjectAcl" in sql


@pytest.mark.parametrize("cloudtrail", [None, "audit.cloudtrail_logs"])
def test_the_evidence_query_over_access_logs_is_athena_sql_with_the_window(cloudtrail: str | None) -> None:
    text = combined_evidence_query(cloudtrail=cloudtrail, access_logs="audit.s3_access_logs",
                                   since=date(2026, 11, 1), until=date(2026, 11, 7), accounts=("111122223333",),
                                   dated=True)
    parsed = sqlglot.parse_one(text, read="athena")
    tables = {t.sql() for t in parsed.find_all(exp.Table)}
    assert "audit.s3_access_logs" in tables and (cloudtrail is None or cloudtrail in tables)
    assert "\"timestamp\" BETWEEN '2026/11/01' AND '2026/11/07'" in text
    assert text.count("UNION ALL") == (2 if cloudtrail else 1)  # evidence.sql's own, and the two tables
    assert ("account IN ('111122223333')" in text) == (cloudtrail is not None)
    if cloudtrail:  # one row type on both sides of the UNION: the CloudTrail identity is cast to the adapter's
        assert text.count("sessioncontext ROW(sessionissuer ROW(type VARCHAR, arn VARCHAR, accountid VARCHAR))") == 2


def test_sql_commands_print_the_access_log_table_and_query(tmp_path: Path) -> None:
    runner = CliRunner()
    ddl = runner.invoke(main, ["sql", "ddl", "--access-logs", "--location", DATED, "--database", "audit"])
    assert ddl.exit_code == 0 and ddl.output.startswith("CREATE EXTERNAL TABLE audit.s3_access_logs (")
    query = runner.invoke(main, ["sql", "queries", "--access-log-table", "audit.s3_access_logs", "--access-log-dated",
                                 "--since", "2026-11-01", "--until", "2026-11-07", "--with-cloudtrail",
                                 "--table", "audit.cloudtrail_logs"])
    assert query.exit_code == 0 and "UNION ALL" in query.output and "AwsS3AccessLog" in query.output
    bad = runner.invoke(main, ["sql", "queries", "--access-log-table", "x; drop", "--since", "2026-11-01",
                               "--until", "2026-11-02"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1


def test_athena_with_the_access_log_table_alone(tmp_path: Path) -> None:
    from planner.config import make_config
    config = make_config(cloudtrail=(), out=str(tmp_path), athena=True, athena_database="audit",
                         access_log_table="s3_access_logs", since="2026-11-01", until="2026-11-02")
    assert config.athena is not None and config.athena.tables == ("audit.s3_access_logs",)
    text = config.athena.query()
    assert "audit.s3_access_logs" in text and "cloudtrail_logs" not in text and '"timestamp"' not in text


def test_the_combined_athena_query_gives_the_local_evidence(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The query `plan --athena --athena-table --access-log-table` sends, run on DuckDB over a CloudTrail-shaped
    table and an access-log table holding the same scenario, gives what the local run over the same logs gives:
    each request once, with the sources that saw it. (DuckDB has no lambdas: the fallback branch for unmapped
    operations is left out; every operation here is mapped.)"""
    from planner.config import make_config
    from planner.pipeline import scan
    from planner.sources.base import to_scan_result
    from tests.conftest import log_path, write_log
    from tests.test_access_logs import OWNER, write_access_logs

    records = scenario()
    write_log(log_path(tmp_path / "trail", OWNER, "us-east-1", "2026-11-02"), records)
    logs = write_access_logs(tmp_path, records)
    local = scan(make_config(cloudtrail=[str(tmp_path / "trail")], access_logs=[str(logs)], out=str(tmp_path / "o")))

    full = access_log_sql.event_name_case
    monkeypatch.setattr(access_log_sql, "event_name_case",
                        lambda: exp.Case(ifs=full().args["ifs"], default=exp.Null()))
    text = combined_evidence_query(cloudtrail="ct", access_logs="sal", since=date(2026, 11, 1),
                                   until=date(2026, 11, 7), dated=True)
    con = duckdb.connect()
    identity = ("STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR, "
                "sessioncontext STRUCT(sessionissuer STRUCT(type VARCHAR, arn VARCHAR, accountid VARCHAR)))")
    con.execute(f"CREATE TABLE ct (useridentity {identity}, eventtime VARCHAR, eventsource VARCHAR, "
                "eventname VARCHAR, eventtype VARCHAR, awsregion VARCHAR, sourceipaddress VARCHAR, "
                "useragent VARCHAR, errorcode VARCHAR, requestparameters VARCHAR, additionaleventdata VARCHAR, "
                "requestid VARCHAR, eventid VARCHAR, resources STRUCT(arn VARCHAR, accountid VARCHAR, "
                "type VARCHAR)[], eventcategory VARCHAR, readonly VARCHAR, vpcendpointid VARCHAR, "
                "\"timestamp\" VARCHAR, account VARCHAR, region VARCHAR)")
    for r in records:
        who = r["userIdentity"]
        issuer = (who.get("sessionContext") or {}).get("sessionIssuer") or {}
        con.execute(f"INSERT INTO ct VALUES ({', '.join('?' * 20)})", [
            {"type": who.get("type"), "principalid": who.get("principalId"), "arn": who.get("arn"),
             "accountid": who.get("accountId"), "invokedby": who.get("invokedBy"),
             "sessioncontext": {"sessionissuer": {"type": issuer.get("type"), "arn": issuer.get("arn"),
                                                  "accountid": issuer.get("accountId")}}},
            r["eventTime"], r["eventSource"], r["eventName"], r["eventType"], r["awsRegion"],
            r["sourceIPAddress"], r["userAgent"], None, json.dumps(r["requestParameters"]),
            json.dumps(r["additionalEventData"]), r["requestID"], r["eventID"],
            [{"arn": x.get("ARN"), "accountid": x.get("accountId"), "type": x["type"]} for x in r["resources"]],
            r.get("eventCategory"), str(r["readOnly"]).lower(), r.get("vpcEndpointId"),
            r["eventTime"][:10].replace("-", "/"), OWNER, "us-east-1"])
    con.execute("CREATE TABLE sal (" + ", ".join(f'"{c}" VARCHAR' for c in FIELDS) + ', "timestamp" VARCHAR)')
    for r in records:
        row = list(REGEX.match(as_line(r)).groups())  # type: ignore[union-attr]
        con.execute(f"INSERT INTO sal VALUES ({', '.join('?' * (len(FIELDS) + 1))})",
                    [*row, r["eventTime"][:10].replace("-", "/")])
    cursor = con.execute(sqlglot.transpile(text, read="athena", write="duckdb")[0])
    names = [d[0] for d in cursor.description]
    athena = to_scan_result([dict(zip(names, row, strict=True)) for row in cursor.fetchall()], files_read=0,
                            files_pruned=0, skipped=())

    def comparable(evidence: Any) -> list[tuple[Any, ...]]:
        # the local access-log records also name the bucket owner (from the date-based path); Athena's do not
        return sorted((e.bucket, e.event_name, e.principal, e.requests, e.source, e.cloudtrail_requests,
                       e.access_log_requests, e.signature_version, e.acl_required) for e in evidence)
    assert comparable(athena.evidence) == comparable(local.evidence)
    assert athena.bucket_requests == local.bucket_requests == {"bucket-a": 6}
    assert athena.bucket_data == local.bucket_data

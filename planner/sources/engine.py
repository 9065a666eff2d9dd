"""The embedded engine: DuckDB runs the Athena-dialect queries (transpiled by sqlglot) over local files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from planner.errors import InputError

SQL_DIR = Path(__file__).resolve().parents[2] / "templates" / "sql"

# The columns s3plan reads, with CloudTrail's own (camelCase) key names. Declaring them is required: DuckDB's
# schema inference samples the first files only, so a key such as `aclRequired` that first appears later would
# fail to bind. requestParameters and additionalEventData stay JSON text, as in the Athena table (facts §7b).
_IDENTITY = (
    "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, invokedBy VARCHAR, "
    "accessKeyId VARCHAR, userName VARCHAR, sessionContext STRUCT(attributes STRUCT(mfaAuthenticated VARCHAR, "
    "creationDate VARCHAR), sessionIssuer STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, "
    "accountId VARCHAR, userName VARCHAR)))"
)
RECORD_COLUMNS: dict[str, str] = {
    "eventVersion": "VARCHAR",
    "userIdentity": _IDENTITY,
    "eventTime": "VARCHAR",
    "eventSource": "VARCHAR",
    "eventName": "VARCHAR",
    "awsRegion": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "errorCode": "VARCHAR",
    "requestParameters": "JSON",
    "additionalEventData": "JSON",
    "requestID": "VARCHAR",
    "eventID": "VARCHAR",
    "resources": "STRUCT(ARN VARCHAR, accountId VARCHAR, type VARCHAR)[]",
    "eventType": "VARCHAR",
    "recipientAccountId": "VARCHAR",
    "vpcEndpointId": "VARCHAR",
}
_RECORD_STRUCT = "STRUCT(" + ", ".join(f'"{k}" {v}' for k, v in RECORD_COLUMNS.items()) + ")"

# The Athena CloudTrail table's shape (facts §7c), lower-case names, over one unnested record `r`.
_ATHENA_SHAPE = """
    r.eventVersion AS eventversion,
    {{'type': r.userIdentity.type, 'principalid': r.userIdentity.principalId, 'arn': r.userIdentity.arn,
      'accountid': r.userIdentity.accountId, 'invokedby': r.userIdentity.invokedBy,
      'accesskeyid': r.userIdentity.accessKeyId, 'username': r.userIdentity.userName,
      'sessioncontext': {{'sessionissuer': {{'type': r.userIdentity.sessionContext.sessionIssuer.type,
          'arn': r.userIdentity.sessionContext.sessionIssuer.arn,
          'accountid': r.userIdentity.sessionContext.sessionIssuer.accountId}}}}}} AS useridentity,
    r.eventTime AS eventtime, r.eventSource AS eventsource, r.eventName AS eventname,
    r.awsRegion AS awsregion, r.sourceIPAddress AS sourceipaddress, r.userAgent AS useragent,
    r.errorCode AS errorcode, r.requestParameters AS requestparameters,
    r.additionalEventData AS additionaleventdata, r.requestID AS requestid, r.eventID AS eventid,
    [{{'arn': x.ARN, 'accountid': x.accountId, 'type': x.type}} FOR x IN r.resources] AS resources,
    r.eventType AS eventtype, r.recipientAccountId AS recipientaccountid, r.vpcEndpointId AS vpcendpointid
"""
# A wrapped log file is one JSON object, so its size bounds the object; one record is far smaller (facts §5b).
WRAPPED_MAX_BYTES = 64 * 1024 * 1024
RECORD_MAX_BYTES = 4 * 1024 * 1024
_OPTIONS = "records = true, compression = 'auto', maximum_object_size = "


@dataclass(frozen=True)
class FileSets:
    """Local files by layout: `{"Records": [...]}` objects, one record per line, or a JSON array of records."""

    wrapped: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.wrapped or self.lines or self.arrays)


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


def window_condition(since: str | None, until_exclusive: str | None) -> exp.Expr | None:
    """eventtime >= since AND eventtime < until, as bound parameters (ISO strings compare in order)."""
    parts: list[exp.Expr] = []
    if since:
        parts.append(exp.GTE(this=exp.column("eventtime"), expression=exp.Placeholder(this="since")))
    if until_exclusive:
        parts.append(exp.LT(this=exp.column("eventtime"), expression=exp.Placeholder(this="until")))
    if not parts:
        return None
    condition: exp.Expr = exp.and_(*parts)
    return condition


def to_duckdb(query: exp.Expr) -> str:
    """Transpile an Athena query for DuckDB."""
    return query.sql(dialect="duckdb")


def _scan_sql(sets: FileSets) -> str:
    """The `cloudtrail` relation over the file sets; file lists are bound parameters, never spliced."""
    parts = []
    shape = _ATHENA_SHAPE.format()
    if sets.wrapped:
        parts.append(
            f"SELECT {shape} FROM (SELECT unnest(Records) AS r FROM read_json($wrapped, "
            f"columns = {{'Records': '{_RECORD_STRUCT}[]'}}, format = 'unstructured', {_OPTIONS}{WRAPPED_MAX_BYTES}))"
        )
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in RECORD_COLUMNS.items()) + "}"
    for name, fmt in (("lines", "newline_delimited"), ("arrays", "array")):
        if getattr(sets, name):
            parts.append(
                f"SELECT {shape} FROM (SELECT struct_pack({', '.join(f'{k} := {k}' for k in RECORD_COLUMNS)})"
                f" AS r FROM read_json(${name}, columns = {cols}, format = '{fmt}', {_OPTIONS}{RECORD_MAX_BYTES}))"
            )
    return " UNION ALL ".join(parts)


def run_query(con: duckdb.DuckDBPyConnection, query: exp.Expr, sets: FileSets,
              params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one Athena-dialect query over the file sets; returns rows as dicts."""
    body = to_duckdb(query)
    sql = f"WITH cloudtrail AS ({_scan_sql(sets)}) {_strip_leading_comments(body)}"
    bound = {k: list(getattr(sets, k)) for k in ("wrapped", "lines", "arrays") if getattr(sets, k)}
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    cur = con.execute(sql, {**bound, **used})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _strip_leading_comments(sql: str) -> str:
    """Drop leading block comments so the query's own WITH can be merged into ours."""
    body = re.sub(r"^\s*(/\*.*?\*/\s*)*", "", sql, flags=re.S)
    if body[:4].upper() == "WITH":
        return ", " + body[4:].lstrip()
    return body


def connect(threads: int | None = None, memory_limit: str = "768MB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap (it spills rather than grow past it)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def input_error_file(message: str, candidates: Sequence[str]) -> str | None:
    """The file a DuckDB error message names, if any of `candidates`."""
    for path in candidates:
        if path in message:
            return path
    return None


__all__ = ["FileSets", "InputError", "athena_sql", "connect", "parse_athena", "run_query", "window_condition",
           "with_filter"]

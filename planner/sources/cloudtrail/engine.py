"""The embedded engine: DuckDB runs the Athena-dialect queries (transpiled by sqlglot) over local files."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb
from sqlglot import exp

T = TypeVar("T")

# The columns s3plan's queries read, with CloudTrail's own (camelCase) key names. Declaring them is required:
# DuckDB's schema inference samples the first files only, so a key such as `aclRequired` that first appears later
# would fail to bind. Parsing costs grow with every declared field, so only what the queries use is declared; a
# query that reads another column fails its DuckDB test until the column is added here.
_IDENTITY = (
    "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, invokedBy VARCHAR, "
    "sessionContext STRUCT(sessionIssuer STRUCT(type VARCHAR, arn VARCHAR, accountId VARCHAR)))"
)
RECORD_COLUMNS: dict[str, str] = {
    "userIdentity": _IDENTITY,
    "eventTime": "VARCHAR",
    "eventSource": "VARCHAR",
    "eventName": "VARCHAR",
    "eventType": "VARCHAR",
    "eventCategory": "VARCHAR",
    "readOnly": "VARCHAR",
    "awsRegion": "VARCHAR",
    "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "errorCode": "VARCHAR",
    "requestParameters": "JSON",
    "additionalEventData": "JSON",
    "requestID": "VARCHAR",
    "eventID": "VARCHAR",
    "resources": "STRUCT(ARN VARCHAR, accountId VARCHAR, type VARCHAR)[]",
    "recipientAccountId": "VARCHAR",
    "vpcEndpointId": "VARCHAR",
}
# Athena declares these STRING and the queries read them with json_extract_scalar (facts §7b). Locally, each
# `json_extract_scalar(col, '$.key')` becomes a field of a declared struct, so DuckDB parses every record once
# instead of re-parsing the JSON text for every key.
JSON_STRING_COLUMNS = {"requestparameters": "requestParameters", "additionaleventdata": "additionalEventData"}
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# The relation has the Athena CloudTrail table's column names (facts §7c): DuckDB, like Athena, resolves column
# and struct field names without regard to case, so CloudTrail's camelCase keys serve as they are.
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


def json_fields(query: exp.Expr) -> tuple[exp.Expr, dict[str, tuple[str, ...]]]:
    """Rewrite `json_extract_scalar(col, '$.key')` on the JSON string columns into struct field access.

    Returns the rewritten query and, per column, the keys its struct must declare. A column used any other way
    keeps the JSON type (no keys), so every query still runs, only slower.
    """
    query = query.copy()
    keys: dict[str, set[str]] = {name: set() for name in JSON_STRING_COLUMNS}
    other_uses = {c.name for c in query.find_all(exp.Column) if c.name in JSON_STRING_COLUMNS
                  and not isinstance(c.parent, exp.JSONExtractScalar)}
    for node in list(query.find_all(exp.JSONExtractScalar)):
        column, key = node.this, _simple_key(node.expression)
        if isinstance(column, exp.Column) and column.name in keys and column.name not in other_uses and key:
            keys[column.name].add(key)
            node.replace(exp.Dot(this=exp.column(column.name), expression=exp.to_identifier(key, quoted=True)))
    return query, {name: tuple(sorted(k)) for name, k in keys.items() if name not in other_uses}


def _simple_key(path: exp.Expr | None) -> str | None:
    if isinstance(path, exp.JSONPath) and len(path.expressions) == 2:
        step = path.expressions[1]
        if isinstance(step, exp.JSONPathKey) and _SIMPLE_KEY.match(str(step.this)):
            return str(step.this)
    return None


def record_columns(struct_keys: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Declared record columns: JSON string columns narrowed to structs of the keys the query reads."""
    columns = dict(RECORD_COLUMNS)
    for athena_name, keys in struct_keys.items():
        fields = ", ".join(f'"{k}" VARCHAR' for k in keys) or '"bucketName" VARCHAR'
        columns[JSON_STRING_COLUMNS[athena_name]] = f"STRUCT({fields})"
    return columns


def _scan_sql(sets: FileSets, columns: dict[str, str]) -> str:
    """The `cloudtrail` relation over the file sets; file lists are bound parameters, never spliced."""
    parts = []
    record = "STRUCT(" + ", ".join(f'"{k}" {v}' for k, v in columns.items()) + ")"
    if sets.wrapped:
        parts.append(
            f"SELECT unnest(r) FROM (SELECT unnest(Records) AS r FROM read_json($wrapped, "
            f"columns = {{'Records': '{_quote(record)}[]'}}, format = 'unstructured', {_OPTIONS}{WRAPPED_MAX_BYTES}))"
        )
    cols = "{" + ", ".join(f"'{k}': '{_quote(v)}'" for k, v in columns.items()) + "}"
    # "unstructured" reads JSON values one after another, one a line or spread over several lines
    for name, fmt in (("lines", "unstructured"), ("arrays", "array")):
        if getattr(sets, name):
            parts.append(
                f"SELECT {', '.join(columns)} FROM read_json(${name}, columns = {cols}, format = '{fmt}', "
                f"{_OPTIONS}{RECORD_MAX_BYTES})"
            )
    return " UNION ALL ".join(parts)


def _quote(type_text: str) -> str:
    return type_text.replace("'", "''")


def run_query(con: duckdb.DuckDBPyConnection, query: exp.Expr, sets: FileSets,
              params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one Athena-dialect query over the file sets; returns rows as dicts."""
    rewritten, struct_keys = json_fields(query)
    body = to_duckdb(rewritten)
    sql = f"WITH cloudtrail AS ({_scan_sql(sets, record_columns(struct_keys))}) {_strip_leading_comments(body)}"
    bound = {k: list(getattr(sets, k)) for k in ("wrapped", "lines", "arrays") if getattr(sets, k)}
    used = {k: v for k, v in params.items() if f"${k}" in sql}

    def fetch() -> list[dict[str, Any]]:
        try:
            cur = con.execute(sql, {**bound, **used})
        except UnicodeDecodeError as err:  # the engine's message quoted a record cut inside a character
            raise duckdb.InvalidInputException(f"Invalid Input Error: a record the engine refused (its message "
                                               f"could not be read: {err})") from None
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    return interruptible(con, fetch)


def interruptible(con: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Run `work` (engine calls) in a thread while this one waits in Python, where Ctrl-C is seen at once: it
    interrupts the engine (a query would otherwise run to its end first) and is raised here."""
    outcome: dict[str, Any] = {}
    done = threading.Event()  # not Thread.join: an interrupted join can report a running thread as ended

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # handed back to the waiting thread
            outcome["error"] = err
        finally:
            done.set()

    threading.Thread(target=run, name="s3plan-engine", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        con.interrupt()
        while not done.wait(0.1):
            con.interrupt()  # the query may have moved on to its next pipeline
        raise
    error = outcome.get("error")
    if isinstance(error, duckdb.InterruptException) or (
            isinstance(error, RuntimeError) and str(error).startswith("Query interrupted")):
        raise KeyboardInterrupt from None
    if error is not None:
        raise error
    value: T = outcome["value"]
    return value


def _strip_leading_comments(sql: str) -> str:
    """Drop leading block comments so the query's own WITH can be merged into ours."""
    body = re.sub(r"^\s*(/\*.*?\*/\s*)*", "", sql, flags=re.S)
    if body[:4].upper() == "WITH":
        return ", " + body[4:].lstrip()
    return body


# Reading whole `{"Records": [...]}` files takes 64 MiB buffers per thread; newline-delimited candidates of the
# pre-filter take 4 MiB, so that run stays under 512 MB with the workers' memory added (docs/performance.md).
MEMORY_LIMIT = {True: "256MB", False: "768MB"}


def connect(threads: int | None = None, spill_dir: str | None = None,
            small_records: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap: past it, it spills to `spill_dir` rather than grow."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT[small_records]}'")
    if spill_dir:
        con.execute("SET temp_directory = $dir", {"dir": spill_dir})
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def input_error_file(message: str, candidates: Sequence[str]) -> str | None:
    """The file a DuckDB error message names, if any of `candidates` (the longest match: paths can nest)."""
    for path in sorted(candidates, key=len, reverse=True):
        if path in message:
            return path
    return None

"""Server access log lines read by DuckDB's CSV reader, on every core: a line is split on spaces with `"..."`
fields (and `\\"` inside them) read as one, as S3 writes them (facts §8), and lines are grouped so that only the
candidates (SigV2, aclRequired, anonymous, ACL calls, refused ACLs) come back whole; every other line comes back
as a count per (file, bucket, operation, endpoint, ...). The groups are written to a file by the engine and read
back one at a time, so memory stays bounded whatever the size of the logs.

parse.parse_line stays the reference. A file the engine cannot read, or with a line the engine cannot take for
an access-log line as parse_line would (no time, a bracket too many, too few fields, a Signature Version or
aclRequired value out of place, as when an unquoted field with a space shifts the rest), is left to parse_line
whole, which names the line and why. What the engine still reads otherwise, none of it what S3 writes: a
backslash before any other character inside a quoted field is dropped (parse_line keeps it), a bare quote inside
a quoted field is part of it, and a field S3 quotes written without quotes and without a space is read
(parse_line refuses those two lines)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from planner.sources.access_logs.parse import FIELDS

COLUMNS = 40  # more than any format has (27 fields, the time counting as two): newer formats add fields
MEMORY_LIMIT = "256MB"  # the aggregation spills to the scan's temporary folder beyond this
# FIELDS[i] is column c{i} before the time, c{i+1} after it ([dd/Mon/yyyy:HH:MM:SS and +0000] are c2 and c3)
_TIME = "substr(c2, 2) || ' ' || rtrim(c3, ']')"
_FIELD = {name: f"c{i}" if i < 2 else _TIME if i == 2 else f"c{i + 1}" for i, name in enumerate(FIELDS)}
_CANDIDATE = ("c20 = 'SigV2' OR c26 = 'Yes' OR c5 = '-' OR c7 = 'REST.PUT.ACL' "
              "OR c11 = 'AccessControlListNotSupported'")  # files._may_be_candidate, on the columns


class EngineCannotRead(Exception):
    """The engine refused the files (bad gzip, invalid UTF-8, a quote left open): parse_line reads them."""


@dataclass(frozen=True)
class LineGroup:
    """Lines of one file alike in all the counts need: a candidate line comes alone, with its `fields`."""

    path: str
    valid: bool          # an access-log line as parse_line reads one: a time, the fields up to the user agent, in place
    inside: bool         # its time is inside the window
    bucket: str | None
    operation: str | None
    shows_signals: bool  # the format has the Signature Version and aclRequired fields
    endpoint: str | None
    requester_partition: str | None  # the partition of a requester ARN (`arn:PARTITION:...`)
    fields: dict[str, str | None] | None  # a candidate's fields, as parse_line gives them; None for counts
    lines: int
    first: str | None
    last: str | None


def group_lines(files: Sequence[Path], since: str | None, until: str | None, result: Path,
                threads: int | None = None) -> None:
    """Write the lines of `files` (plain text: files.py inflates gzip ones, checking them), grouped, to `result`
    (read it with read_groups); raises EngineCannotRead if the engine refuses them. The engine spills to
    `result`'s folder."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET temp_directory = $dir", {"dir": str(result.parent)})
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        params = {"since": since, "until": until, "files": [str(f) for f in files]}
        try:
            con.execute(f"COPY ({_query()}) TO {_literal(str(result))} (FORMAT json)", params)
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None
        except duckdb.Error as err:
            raise EngineCannotRead(str(err).splitlines()[0]) from err
        except RuntimeError as err:  # Ctrl-C during the query, as DuckDB reports it
            if str(err).startswith("Query interrupted"):
                raise KeyboardInterrupt from None
            raise
    finally:
        con.close()


def read_groups(result: Path) -> Iterator[LineGroup]:
    """The groups group_lines wrote, one at a time: first those of lines that are not access-log lines."""
    with result.open("rb") as rows:
        for row in rows:
            yield _group(orjson.loads(row))


def _query() -> str:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(COLUMNS)) + "}"
    read = (f"SELECT * FROM read_csv($files, columns = {columns}, delim = ' ', quote = '\"', escape = '\\', "
            "header = false, auto_detect = false, null_padding = true, strict_mode = false, "
            "allow_quoted_nulls = false, nullstr = '\x01no-null\x01', filename = true, compression = 'none')")
    fields = ", ".join(_FIELD.values())
    return f"""
        WITH raw AS ({read}),
        timed AS (SELECT *, try_strptime({_TIME}, '%d/%b/%Y:%H:%M:%S %z') AS moment FROM raw),
        lines AS (
          -- a line parse_line may refuse or read otherwise (a bracket too many, a field out of place) is not
          -- valid: its file goes to parse_line whole
          SELECT *, moment IS NOT NULL AND c2[1] = '[' AND strpos(c2, ']') = 0 AND strpos(c3, ']') = length(c3)
                    AND c17 IS NOT NULL AND (c26 IS NULL OR c26 IN ('Yes', '-'))
                    AND (c20 IS NULL OR c20 = '-' OR c20 LIKE 'SigV%') AS valid
          FROM timed
        ),
        grouped AS (
        SELECT
          filename AS path, valid,
          valid AND ($since IS NULL OR moment >= CAST($since AS TIMESTAMPTZ))
                AND ($until IS NULL OR moment < CAST($until AS TIMESTAMPTZ)) AS inside,
          CASE WHEN valid THEN nullif(c1, '-') END AS bucket,
          CASE WHEN valid THEN c7 END AS operation,
          valid AND c26 IS NOT NULL AS shows_signals,
          CASE WHEN valid THEN c23 END AS endpoint,
          CASE WHEN valid AND c5 LIKE 'arn:%' THEN split_part(c5, ':', 2) END AS requester_partition,
          CASE WHEN valid AND ({_CANDIDATE}) THEN [{fields}] END AS fields,
          count(*) AS lines, min(moment) AS first, max(moment) AS last
        FROM lines
        GROUP BY ALL
        )
        -- a file's lines that are not log lines come first: the reader then knows which files parse_line gets
        SELECT * REPLACE (strftime(first, '%Y-%m-%dT%H:%M:%SZ') AS first, strftime(last, '%Y-%m-%dT%H:%M:%SZ') AS last)
        FROM grouped
        ORDER BY valid
    """


def _literal(text: str) -> str:
    """A SQL string literal of a path s3plan made itself (COPY takes no bound parameter for it)."""
    return "'" + text.replace("'", "''") + "'"


def _group(row: dict[str, Any]) -> LineGroup:
    fields = row["fields"]
    if fields is not None:  # as parse_line gives them: `-` is None, fields a shorter line lacks are absent
        fields = {name: None if value == "-" else value for name, value in zip(FIELDS, fields, strict=True)
                  if value is not None}
    return LineGroup(row["path"], bool(row["valid"]), bool(row["inside"]), row["bucket"], row["operation"],
                     bool(row["shows_signals"]), row["endpoint"], row["requester_partition"], fields,
                     int(row["lines"]), row["first"], row["last"])

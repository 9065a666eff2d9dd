"""Server access logs read by the engine (DuckDB's CSV reader, reader.py) give what parse_line gives, line for
line: the same candidate records, the same counts per bucket, the same files skipped and why."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.sources.access_logs import AccessLogFiles
from planner.sources.access_logs.files import Converted
from planner.sources.access_logs.parse import FIELDS, MIN_FIELDS, OPERATIONS, format_line
from tests.test_access_logs import OWNER_ID, as_line, doc_examples, fixture_lines, scenario
from tests.test_access_logs import fields as any_fields

REQUESTERS = ("arn:aws:sts::999988887777:assumed-role/partner-reader/s1", "arn:aws:iam::111122223333:user/etl",
              "arn:aws-cn:iam::111122223333:user/cn", "arn:aws:iam::111122223333:root", None, OWNER_ID, "0" * 64,
              "svc:logging.s3.amazonaws.com")
ENDPOINTS = ("bucket-a.s3.us-east-1.amazonaws.com", "s3.cn-north-1.amazonaws.com.cn", "s3-fips.us-gov-west-1."
             "amazonaws.com", "bucket-a.s3.dualstack.eu-west-1.amazonaws.com", "example.com", None)
OPERATION_NAMES = (*OPERATIONS, "REST.PUT.ACL", "REST.GET.ACL", "REST.GET.BUCKET", "S3.EXPIRE.OBJECT",
                   "REST.GET.WEBSITE", "REST", None)


@st.composite
def log_fields(draw: st.DrawFn) -> dict[str, str | None]:
    """Fields of a line S3 could write: random ones, with the fields that decide candidates and counts drawn
    from the values that matter."""
    values = draw(any_fields())
    chosen = {"bucketowner": OWNER_ID, "bucket_name": draw(st.sampled_from(("bucket-a", "bucket-b", "logs.x"))),
              "requestdatetime": draw(st.sampled_from(("02/Nov/2026:10:00:00 +0000", "03/Nov/2026:23:59:59 +0000",
                                                       "01/Nov/2026:00:30:00 +0100", "15/Oct/2026:08:00:00 +0000"))),
              "requester": draw(st.sampled_from(REQUESTERS)), "operation": draw(st.sampled_from(OPERATION_NAMES)),
              "errorcode": draw(st.sampled_from((None, "AccessDenied", "AccessControlListNotSupported"))),
              "sigv": draw(st.sampled_from(("SigV2", "SigV4", None))), "endpoint": draw(st.sampled_from(ENDPOINTS)),
              "aclrequired": draw(st.sampled_from(("Yes", None))), "httpstatus": draw(st.sampled_from(("200", "403")))}
    return {**values, **{k: v for k, v in chosen.items() if k in values or FIELDS.index(k) < MIN_FIELDS}}


def both(tmp_path: Path, **kwargs: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The conversion of every file under tmp_path/logs by the engine and by parse_line, comparable."""
    results = []
    for engine in (True, False):
        out = tmp_path / f"out-{engine}"
        out.mkdir()
        converted = AccessLogFiles((tmp_path / "logs",), **kwargs).convert(out, engine=engine)
        results.append(comparable(converted))
    return results[0], results[1]


def comparable(converted: Converted) -> tuple[Any, ...]:
    records = Counter(json.dumps(json.loads(line), sort_keys=True) for path in converted.candidates
                      for line in Path(path).read_text().splitlines())
    return records, converted.groups, converted.files_read, converted.skipped


def write(root: Path, files: list[list[str]], packed: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    root.mkdir(parents=True, exist_ok=True)
    for n, lines in enumerate(files):
        text = "".join(line + "\n" for line in lines).encode()
        (root / f"log-{n}").write_bytes(gzip.compress(text) if n in packed else text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(log_fields(), min_size=1, max_size=8), min_size=1, max_size=3), st.sets(st.integers(0, 2)))
def test_the_engine_reads_what_parse_line_reads(tmp_path_factory: Any, files: list[list[dict[str, str | None]]],
                                                packed: set[int]) -> None:
    tmp_path = tmp_path_factory.mktemp("lines")
    write(tmp_path / "logs", [[format_line(f) for f in lines] for lines in files], packed)
    from datetime import date
    engine, reference = both(tmp_path, since=date(2026, 11, 1), until=date(2026, 11, 2))
    assert engine == reference


def test_real_and_documented_lines_read_alike(tmp_path: Path) -> None:
    real = [*doc_examples(), *fixture_lines("opensearch-raw.log"), *fixture_lines("own.log")]
    write(tmp_path / "logs", [real, [as_line(r) for r in scenario()]], {1})
    engine, reference = both(tmp_path)
    assert engine == reference and sum(engine[0].values()) >= 5


def test_bad_lines_empty_and_corrupt_files_are_left_to_parse_line(tmp_path: Path) -> None:
    """A file with a line that is not a log line, an empty file and a gzip file that does not inflate are read
    by parse_line, which names the line or the error, as before; the good files are still read by the engine."""
    good = as_line(scenario()[0])
    data = bytearray(gzip.compress(((good + "\n") * 50).encode()))
    data[len(data) // 2] ^= 0xFF
    logs = tmp_path / "logs"
    write(logs, [[good, good], [good, "not a log line at all", good], [], [good.replace('"GET', '"GET \\"x')]])
    (logs / "bad.gz").write_bytes(bytes(data))
    engine, reference = both(tmp_path)
    assert engine == reference
    reasons = {Path(s.path).name: s.reason for s in engine[3]}
    assert "1 of 3 lines" in reasons["log-1"] and "no access-log line" in reasons["log-2"]
    assert reasons["bad.gz"].startswith("cannot read")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(log_fields(), min_size=1, max_size=20))
def test_well_formed_lines_are_all_read_by_the_engine(tmp_path_factory: Any,
                                                      lines: list[dict[str, str | None]]) -> None:
    """None of the lines above is left to parse_line: the comparison is of the engine's reading, not of
    parse_line with itself."""
    import io

    from planner.sources.access_logs.files import _Counter, _read_with_engine

    tmp_path = tmp_path_factory.mktemp("engine")
    write(tmp_path / "logs", [[format_line(f) for f in lines]])
    left = _read_with_engine([tmp_path / "logs" / "log-0"], io.StringIO(), _Counter((None, None)), tmp_path, None)
    assert left == set()


def test_paths_the_engine_would_read_as_patterns_are_read_as_themselves(tmp_path: Path) -> None:
    """A file named `x?` beside `xy`, or `log[1]` beside `log1`: each is read once, as itself."""
    lines = [as_line(r) for r in scenario()]
    logs = tmp_path / "logs"
    logs.mkdir()
    for name, count in (("x?", 1), ("xy", 2), ("log[1]", 1), ("log1", 3)):
        (logs / name).write_text("".join(line + "\n" for line in lines[:count]))
    engine, reference = both(tmp_path)
    assert engine == reference and engine[2] == 4


def test_a_line_the_parser_refuses_sends_its_file_to_the_parser(tmp_path: Path) -> None:
    """Lines parse_line refuses or would read otherwise (an unquoted user agent with a space, so every later
    field shifts; a bracket too many after the time) are not read by the engine: their file goes to parse_line,
    which reports them."""
    good = as_line(scenario()[0])
    shifted = good.replace('"Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12"',
                           "Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12")
    assert shifted != good
    brackets = good.replace("+0000]", "+0000]]", 1)
    write(tmp_path / "logs", [[good, shifted], [good, brackets], [good + " "]])
    engine, reference = both(tmp_path)
    assert engine == reference


def test_a_gzip_file_isal_refuses_is_skipped_with_its_reason(tmp_path: Path) -> None:
    """Bad deflate data that isal reports with its own error (not an OSError) is a skipped file, not a crash."""
    good = as_line(scenario()[0])
    data = bytearray(gzip.compress(((good + "\n") * 200).encode(), compresslevel=9))
    for at in range(20, len(data) - 10, 7):
        data[at] ^= 0x55
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "bad.gz").write_bytes(bytes(data))
    (logs / "good.log").write_text(good + "\n")
    engine, reference = both(tmp_path)
    assert engine == reference
    assert [Path(s.path).name for s in engine[3]] == ["bad.gz"]

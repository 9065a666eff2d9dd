"""Records the engine refuses: both local paths read the file with the odd parts empty, keep its other records'
evidence and say so once; only a file that is not JSON, or not CloudTrail's shape, is skipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from planner.model import SkippedFile
from planner.sources.cloudtrail import CloudTrailFiles, conform
from tests.conftest import s3_record

SIGV2 = s3_record(sigv="SigV2", request_id="KEEP", bucket="bucket-keep", owner="444455556666")
PLAIN = s3_record(request_id="ODD")  # SigV4, not evidence: only counted


def both(folder: Path) -> list[Any]:
    return [CloudTrailFiles((folder,), threads=1, use_prefilter=fast).scan() for fast in (True, False)]


def summary(result: Any) -> Any:
    return (result.records, result.files_read, [s.path for s in result.skipped], dict(result.bucket_requests),
            dict(result.bucket_accounts), [(e.bucket, e.principal, e.user_agent, e.requests) for e in result.evidence],
            result.warnings)


def odd_file(tmp_path: Path, odd_text: str) -> Path:
    """A wrapped log file: one SigV2 record (evidence), then the odd record, written as raw JSON text."""
    folder = tmp_path / "logs"
    folder.mkdir()
    text = '{"Records": [' + json.dumps(SIGV2) + ", " + odd_text + "]}"
    (folder / "odd.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    return folder


def with_field(name: str, value_json: str) -> str:
    record = dict(PLAIN)
    record[name] = "@@"
    return json.dumps(record).replace('"@@"', value_json)


ODD = {
    "resources of strings": (with_field("resources", '["x"]'), "resources[] is not an object"),
    "resources of numbers": (with_field("resources", "[1]"), "resources[] is not an object"),
    "resources of booleans": (with_field("resources", "[true]"), "resources[] is not an object"),
    "nested resources": (with_field("resources", '[[{"type": "AWS::S3::Bucket", "accountId": "1"}]]'),
                         "resources[] is not an object"),
    "resources not a list": (with_field("resources", '"x"'), "resources is not a list"),
    "identity a string": (with_field("userIdentity", '"bob"'), "userIdentity is not an object"),
    "parameters a list": (with_field("requestParameters", '["a"]'), "requestParameters is not an object"),
    "lone surrogate escape": (with_field("userAgent", '"\\ud800"'), "userAgent holds text that is not Unicode"),
    "bytes not UTF-8": (with_field("userAgent", '"curl\udcff"'), "userAgent holds text that is not Unicode"),
    "repeated key": (json.dumps(PLAIN)[:-1] + ', "userAgent": "again"}', "userAgent is repeated"),
    "not an object": ("5", "the record is not an object"),
}


@pytest.mark.parametrize("name", ODD)
def test_an_odd_record_is_counted_and_the_file_still_read(tmp_path: Path, name: str) -> None:
    odd_text, problem = ODD[name]
    folder = odd_file(tmp_path, odd_text)
    fast, plain = both(folder)
    assert summary(fast) == summary(plain)
    assert plain.files_read == 1 and plain.records == 2 and not plain.skipped
    assert [(e.bucket, e.requests) for e in plain.evidence if e.bucket == "bucket-keep"] == [("bucket-keep", 1)]
    assert plain.bucket_accounts["bucket-keep"] == "444455556666"
    (warning,) = plain.warnings
    assert warning.startswith("1 record in 1 file did not have the shape CloudTrail writes")
    assert f"{folder / 'odd.json'}, record 2: {problem}" in warning


def test_the_first_bucket_resource_names_the_owner_even_without_an_account(tmp_path: Path) -> None:
    """The SQL takes the first AWS::S3::Bucket resource's accountId; the pre-filter must not take a later one's."""
    odd = with_field("resources", '[{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::bucket-a"}, '
                                  '{"type": "AWS::S3::Bucket", "accountId": "999999999999"}]')
    fast, plain = both(odd_file(tmp_path, odd))
    assert summary(fast) == summary(plain)
    assert "bucket-a" not in plain.bucket_accounts and not plain.warnings


@pytest.mark.parametrize("body, reason", [
    (b'{"Records": [{"eventName": "a\\x"}]}', "invalid escape"),
    (b'{"Records": [{"eventName": "\\u12G4"}]}', "invalid escape"),
    (b'{"Records": [{"eventName": "GetObject"}], "Records": []}', "Records repeated"),
    (b'{"Records": [{"eventName": "GetObject"}', "cut short"),
])
def test_a_file_that_is_not_cloudtrail_json_is_skipped_on_both_paths(tmp_path: Path, body: bytes, reason: str) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps({"Records": [SIGV2]}))
    (folder / "bad.json").write_bytes(body)
    fast, plain = both(folder)
    assert summary(fast) == summary(plain), reason
    assert [Path(s.path).name for s in plain.skipped] == ["bad.json"]
    assert [e.bucket for e in plain.evidence] == ["bucket-keep"]


def test_record_shape_follows_the_engine_declaration() -> None:
    shape = conform.record_shape()
    assert isinstance(shape, dict)
    assert shape["resources"] == [{"arn": None, "accountid": None, "type": None}]
    identity = shape["useridentity"]
    assert isinstance(identity, dict) and identity["sessioncontext"] == {
        "sessionissuer": {"type": None, "arn": None, "accountid": None}}
    assert isinstance(shape["requestparameters"], dict) and shape["useragent"] is None


def test_parse_type_reads_nested_lists_and_quoted_names() -> None:
    assert conform.parse_type('STRUCT("a b" VARCHAR, c STRUCT(d INTEGER)[])[]') == [{"a b": None, "c": [{"d": None}]}]
    with pytest.raises(ValueError):
        conform.parse_type("VARCHAR)")


@pytest.mark.parametrize("layout, text", [
    ("lines", '{"eventName": "a"}\n5\n{"userIdentity": "bob"}\n'),
    ("arrays", '[{"eventName": "a"}, 5, {"userIdentity": "bob"}]'),
    ("wrapped", '{"Records": [{"eventName": "a"}, 5, {"userIdentity": "bob"}]}'),
])
def test_conform_file_rewrites_every_layout_as_lines(tmp_path: Path, layout: str, text: str) -> None:
    source = tmp_path / "in.json.gz"
    source.write_bytes(gzip.compress(text.encode()))
    out = tmp_path / "out"
    out.mkdir()
    result = conform.conform_file(str(source), layout, str(out))
    assert isinstance(result, conform.Conformed)
    assert (result.records, result.odd) == (3, 2)
    assert result.first_problem == "record 2: the record is not an object"
    lines = [json.loads(line) for line in Path(result.path).read_text().splitlines()]
    assert lines == [{"eventName": "a"}, {}, {"userIdentity": None}]


def test_conform_file_keeps_numbers_the_engine_can_read(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"a": 1e400, "b": NaN, "c": 12345678901234567890123, "d": 1.5}\n')
    result = conform.conform_file(str(source), "lines", str(tmp_path))
    assert isinstance(result, conform.Conformed) and result.odd == 0
    assert json.loads(Path(result.path).read_text()) == {"a": None, "b": None, "c": 12345678901234567890123, "d": 1.5}


def test_conform_file_names_what_is_not_json(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"Records": [1, 2')
    result = conform.conform_file(str(source), "wrapped", str(tmp_path))
    assert isinstance(result, SkippedFile) and result.path == str(source) and "not readable as JSON" in result.reason


def test_conform_file_refuses_a_file_too_large_to_reshape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.json.gz"
    source.write_bytes(gzip.compress(json.dumps({"Records": [PLAIN] * 20}).encode()))
    monkeypatch.setattr(conform, "MAX_BYTES", 1000)
    result = conform.conform_file(str(source), "wrapped", str(tmp_path))
    assert isinstance(result, SkippedFile) and result.path == str(source)
    assert "too large to re-shape in memory" in result.reason
    assert list(tmp_path.glob("conformed-*")) == []


def test_a_record_over_four_mib_is_read_on_both_paths(tmp_path: Path) -> None:
    big = s3_record(sigv="SigV2", request_id="BIG", bucket="bucket-keep", owner="444455556666")
    big["requestParameters"]["key"] = "k" * (5 << 20)  # DuckDB's JSON reader refuses an object over 4 MiB
    (tmp_path / "big.json").write_text(json.dumps({"Records": [SIGV2, big, PLAIN]}))
    fast, slow = both(tmp_path)
    assert summary(fast) == summary(slow)
    assert (slow.records, slow.skipped, sum(e.requests for e in slow.evidence)) == (3, (), 2)


def test_a_refused_file_too_large_to_reshape_is_skipped_with_that_reason(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "odd.json").write_text(json.dumps({"Records": [SIGV2, {**PLAIN, "userIdentity": "bob"}]}))
    (tmp_path / "good.json").write_text(json.dumps({"Records": [SIGV2]}))
    monkeypatch.setattr(conform, "MAX_BYTES", 100)
    for result in both(tmp_path):
        assert [(Path(s.path).name, conform.TOO_LARGE in s.reason) for s in result.skipped] == [("odd.json", True)]
        assert (result.records, sum(e.requests for e in result.evidence)) == (1, 1)

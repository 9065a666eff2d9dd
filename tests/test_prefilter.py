"""The C pre-filter: it must give exactly the evidence of the plain engine path, and never crash on any input."""

from __future__ import annotations

import gzip
import json
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.samples import write_sample_logs
from planner.sources.base import Selection
from planner.sources.cloudtrail import CloudTrailFiles, _prefilter, prefilter
from tests.conftest import ANONYMOUS, log_path, mixed_tree, opensearch_samples, role, s3_record, write_log


def both(paths: list[Path], selection: Selection | None = None) -> tuple[Any, Any]:
    sel = selection or Selection()
    fast = CloudTrailFiles(tuple(paths), sel, threads=2, use_prefilter=True).scan()
    plain = CloudTrailFiles(tuple(paths), sel, threads=2, use_prefilter=False).scan()
    return fast, plain


def assert_same(fast: Any, plain: Any) -> None:
    assert fast.evidence == plain.evidence
    assert fast.bucket_requests == plain.bucket_requests
    assert fast.bucket_accounts == plain.bucket_accounts
    assert fast.bucket_data == plain.bucket_data
    assert fast.bucket_partitions == plain.bucket_partitions
    assert fast.records == plain.records
    assert fast.window_seen == plain.window_seen
    assert fast.files_read == plain.files_read
    assert [s.path for s in fast.skipped] == [s.path for s in plain.skipped]
    assert fast.warnings == plain.warnings


def test_the_extension_is_built() -> None:
    assert prefilter.available(), "the C pre-filter did not build: is a C compiler installed?"


def test_same_as_plain_on_the_mixed_tree_and_real_records(tmp_path: Path, fixtures: Path) -> None:
    mixed_tree(tmp_path)
    assert_same(*both([tmp_path, fixtures / "otrf"]))


def test_same_as_plain_on_a_generated_tree_with_a_window(tmp_path: Path) -> None:
    write_sample_logs(tmp_path, records=6_000, seed=3, days=4, records_per_file=300)
    assert_same(*both([tmp_path]))
    assert_same(*both([tmp_path], Selection(since=date(2026, 11, 2), until=date(2026, 11, 3))))


def test_same_as_plain_with_bad_files_among_good_ones(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    good = write_log(tmp_path / "loose" / "good.json.gz", [s3_record(sigv="SigV2", request_id="G1")])
    body = json.dumps({"Records": [s3_record(request_id=f"T{i}") for i in range(50)]}).encode()
    (tmp_path / "loose" / "truncated.json.gz").write_bytes(gzip.compress(body[: len(body) - 40]))
    (tmp_path / "loose" / "corrupt.json.gz").write_bytes(good.read_bytes()[:30])
    opensearch_samples(tmp_path / "loose")
    fast, plain = both([tmp_path / "tree", tmp_path / "loose"])
    assert_same(fast, plain)
    assert len(fast.skipped) == 3


def test_layouts_pretty_lines_and_arrays(tmp_path: Path) -> None:
    records = [s3_record(sigv="SigV2", request_id="P1"), s3_record(request_id="P2", bucket="other"),
               s3_record(identity=ANONYMOUS, sigv=None, auth=None, request_id="P3")]
    (tmp_path / "pretty.json").write_text(json.dumps({"Records": records}, indent=4))
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (tmp_path / "array.json").write_text(json.dumps(records, indent=1))
    fast, plain = both([tmp_path])
    assert_same(fast, plain)
    assert fast.records == 9


def test_scan_splits_records_and_counts_the_rest() -> None:
    records = [s3_record(sigv="SigV2", request_id="A"), s3_record(request_id="B"), s3_record(request_id="C"),
               {**s3_record(request_id="D"), "eventSource": "ec2.amazonaws.com"}]
    out = _prefilter.scan(json.dumps({"Records": records}).encode(), 2, None, None)
    assert out is not None
    candidates, count, groups = out
    assert count == 4
    assert [json.loads(line)["requestID"] for line in candidates.splitlines()] == ["A"]
    assert sorted(groups, key=str) == sorted([
        (True, "bucket-a", 2, "2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z", "111122223333", 2, 0, "us-east-1"),
        (False, None, 1, "2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z", None, 0, 0, None)], key=str)


@pytest.mark.parametrize("text", [
    b'{"Records":[{"a":1}', b'{"Records":[{"a":1}]}}', b'{"Records":[1,2]}', b'{"Records":[{"a" 1}]}',
    b'{"Records":[{"a":"unterminated}]}', b'[{"a":1},]x', b'{"Other":[{"eventSource":"s3.amazonaws.com"}]}',
    b'{"Records":[{"k":[}]]}', b"\xff\xfe\x00garbage", b'{"Records":[{"a":1 "b":2}]}',
    b'{"Records":[{"a":1,}]}', b'{"Records":[,{"a":1}]}', b'{"Records":[{"a":}]}', b'{"Records":[{"a":1}{"b":2}]}',
    b'{"Records":[{"a":1}],"Records":[{"b":2}]}', b'{"Records":[{"a":"x\ny"}]}', b'{"Records":[{"a":tru}]}',
    b'{"Records":[{"eventSource":"a","eventSource":"b"}]}',
    b'{"Records":[{"eventType":"AwsApiCall","eventType":"AwsApiCall"}]}',  # the engine refuses a repeated key
])
def test_malformed_files_are_given_back_to_the_engine(text: bytes) -> None:
    assert _prefilter.scan(text, 2, None, None) is None


def test_record_depth_is_checked() -> None:
    with pytest.raises(ValueError):
        _prefilter.scan(b"[" * 64 + b"]" * 64, -5, None, None)


def test_multi_member_gzip_and_bad_checksums_match_the_engine(tmp_path: Path) -> None:
    first = gzip.compress(json.dumps({"Records": [s3_record(request_id="A")]}).encode())
    second = gzip.compress(json.dumps({"Records": [s3_record(sigv="SigV2", request_id="B")]}).encode())
    (tmp_path / "members.json.gz").write_bytes(first + second)
    bad_crc = bytearray(gzip.compress(json.dumps({"Records": [s3_record(request_id="C")]}).encode()))
    bad_crc[-6] ^= 0xFF
    (tmp_path / "crc.json.gz").write_bytes(bytes(bad_crc))
    fast, plain = both([tmp_path])
    assert_same(fast, plain)
    assert fast.records == 2 and [e.requests for e in fast.evidence] == [1]
    assert [Path(s.path).name for s in fast.skipped] == ["crc.json.gz"] and "CRC" in fast.skipped[0].reason


def test_records_missing_fields_keep_bucket_owner_and_principal(tmp_path: Path) -> None:
    bare = s3_record(request_id="N1")
    del bare["additionalEventData"]
    nameless = s3_record(identity={"type": "AWSAccount", "principalId": "AIDAX"}, acl_required=True, request_id="N2")
    long_time = s3_record(request_id="N3", time="2026-11-02T10:00:00.123456789012345678901234567Z")
    write_log(tmp_path / "a.json.gz", [bare, nameless, long_time])
    fast, plain = both([tmp_path])
    assert_same(fast, plain)
    assert fast.bucket_accounts == {"bucket-a": "111122223333"}
    assert [e.principal for e in fast.evidence] == ["unknown"]


@given(st.binary(max_size=400), st.integers(min_value=0, max_value=2))
def test_never_crashes_on_arbitrary_bytes(data: bytes, depth: int) -> None:
    result = _prefilter.scan(data, depth, None, "2026-01-01")
    assert result is None or isinstance(result, tuple)


# Records with the variations the pre-filter must not get wrong: escapes, odd types, repeated keys, nesting.
# JSON text of values, escapes included ("\\u0062" is "b" written with an escape).
_value = st.sampled_from(['"s3.amazonaws.com"', '"ec2.amazonaws.com"', '"bucket-a"', '"bucket-\\u0062"', '"SigV2"',
                          '"SigV4"', '"AWSAccount"', '"IAMUser"', '"anonymous"', '"Yes"', '"a\\"b"',
                          '"2026-11-02T10:00:00Z"', '""', "null", "7", "true", '["x"]', '{"bucketName":"b"}',
                          '"\\ud800"', '"a\\udc00"', '"\\ud83d\\ude00"', '"caf\u00e9"', '"caf\\u00e9"', '"a\udcff"',
                          '"\udced\udca0\udc80"'])  # the last two are bytes that are not UTF-8 (see _bytes)
# An object where the engine declares one, or something else (the engine refuses those: the file is re-written)
_not_an_object = st.sampled_from(['"bob"', "[1]", "3", "true", "[]"])
_RESOURCES = ['[]', '[{"type":"AWS::S3::Bucket","accountId":"111122223333"}]', "null",
              '[{"type":"AWS::S3::Object","ARN":"x"},{"accountId":"2","type":"AWS::S3::Bucket"}]',
              '[{"type":"AWS::S3::Bucket"},{"type":"AWS::S3::Bucket","accountId":"2"}]',
              '["x"]', "[1]", "[true]", "[null]", '[[{"type":"AWS::S3::Bucket","accountId":"3"}]]',
              '["x",{"type":"AWS::S3::Bucket","accountId":"4"}]', '"x"', "{}", '[{"type":7}]']


def _object_of(draw: st.DrawFn, keys: list[str]) -> str:
    """An object of some of `keys` (a key may repeat), or now and then a value that is not an object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_not_an_object)
    return "{" + ",".join(f'"{k}":{draw(_value)}' for k in draw(st.lists(st.sampled_from(keys), max_size=3))) + "}"


@st.composite
def raw_record(draw: st.DrawFn) -> str:
    fields = {
        "eventSource": draw(st.sampled_from(['"s3.amazonaws.com"', '"ec2.amazonaws.com"', "null", '"s3.amazonaws\\u002ecom"'])),
        "eventName": draw(st.sampled_from(['"GetObject"', '"PutObjectAcl"', '"PutObject"'])),
        "eventTime": draw(st.sampled_from(['"2026-11-02T10:00:00Z"', '"2026-11-05T00:00:00Z"', "null", "12"])),
        "requestID": json.dumps(draw(st.text(alphabet="ABC", min_size=1, max_size=3))),
        "requestParameters": _object_of(draw, ["bucketName", "key", "x-amz-acl", "x-amz-grant-read",
                                               "bucket\\u004eame", "host", "prefix", "versionId"]),
        "additionalEventData": _object_of(draw, ["SignatureVersion", "aclRequired", "AuthenticationMethod"]),
        "userIdentity": _object_of(draw, ["type", "accountId", "arn"]),
        "resources": draw(st.sampled_from(_RESOURCES)),
        "userAgent": draw(_value),
    }
    keys = draw(st.permutations(list(fields)))
    sep = draw(st.sampled_from([",", ", ", ",\n  "]))
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(["5", '"x"', "[1]", "null"]))  # not a record at all
    return "{" + sep.join(f'"{k}": {fields[k]}' for k in keys) + "}"


def _bytes(text: str) -> bytes:
    """UTF-8, with the lone surrogates U+DC80-U+DCFF standing for the single bytes 0x80-0xFF (not UTF-8)."""
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(raw_record(), min_size=1, max_size=12))
def test_same_as_plain_on_varied_records(tmp_path_factory: pytest.TempPathFactory, records: list[str]) -> None:
    """Every generated file is CloudTrail's JSON: both paths read it (odd records fitted, not fatal) alike."""
    folder = tmp_path_factory.mktemp("varied")
    (folder / "a.json").write_bytes(_bytes('{"Records": [' + ",\n".join(records) + "]}"))
    for selection in (Selection(), Selection(since=date(2026, 11, 2), until=date(2026, 11, 3))):
        plain = CloudTrailFiles((folder,), selection, threads=1, use_prefilter=False).scan()
        fast = CloudTrailFiles((folder,), selection, threads=1, use_prefilter=True).scan()
        assert_same(fast, plain)
        assert plain.files_read == 1


def test_candidates_of_a_role_keep_their_principal(tmp_path: Path) -> None:
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"),
              [s3_record(identity=role("999988887777", "partner"), acl_required=True, request_id="R1")])
    fast, plain = both([tmp_path])
    assert_same(fast, plain)
    assert fast.evidence[0].principal == "arn:aws:iam::999988887777:role/partner"


def feed_in_pieces(data: bytes, depth: int, cuts: list[int], since: str | None = None) -> Any:
    """Scan `data` fed in pieces cut at `cuts` (offsets, any order, duplicates allowed)."""
    scanner = _prefilter.Scanner(depth, since, None)
    edges = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    for start, end in pairwise(edges):
        scanner.feed(data[start:end])
    return scanner.finish()


def canonical(result: Any) -> Any:
    return None if result is None else (result[0], result[1], sorted(result[2], key=str))


@settings(max_examples=150, deadline=None)
@given(st.lists(raw_record(), min_size=1, max_size=8), st.sampled_from([0, 1, 2]),
       st.lists(st.integers(min_value=0, max_value=6000), max_size=12))
def test_any_split_into_pieces_gives_the_same_result(records: list[str], depth: int, cuts: list[int]) -> None:
    text = {0: "\n".join(records), 1: "[" + ",".join(records) + "]",
            2: '{"Records": [' + ",\n".join(records) + "]}"}[depth]
    data = _bytes(text)
    whole = canonical(_prefilter.scan(data, depth, "2026-11-02", None))
    assert canonical(feed_in_pieces(data, depth, cuts, "2026-11-02")) == whole
    assert canonical(feed_in_pieces(data, depth, list(range(len(data))), "2026-11-02")) == whole


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=6),
       st.integers(min_value=0, max_value=2))
def test_pieces_of_arbitrary_bytes_agree_with_the_whole(data: bytes, cuts: list[int], depth: int) -> None:
    assert canonical(feed_in_pieces(data, depth, cuts)) == canonical(_prefilter.scan(data, depth, None, None))


def test_a_record_longer_than_many_pieces_is_read_whole() -> None:
    big = s3_record(sigv="SigV2", request_id="BIG")
    big["requestParameters"]["key"] = "k" * 3_000_000
    data = json.dumps({"Records": [s3_record(request_id="S1"), big, s3_record(request_id="S2")]}).encode()
    result = feed_in_pieces(data, 2, list(range(0, len(data), 4096)))
    assert result is not None and result[1] == 3
    assert [json.loads(line)["requestID"] for line in result[0].splitlines()] == ["BIG"]


def test_feed_after_finish_is_refused() -> None:
    scanner = _prefilter.Scanner(2, None, None)
    scanner.feed(b'{"Records": []}')
    assert scanner.finish() == (b"", 0, [])
    with pytest.raises(ValueError):
        scanner.feed(b"x")


@pytest.mark.parametrize("members", [1, 3])
def test_inflate_pieces_reads_every_gzip_member(members: int) -> None:
    body = json.dumps({"Records": [s3_record(request_id=f"R{i}") for i in range(2_000)]}).encode()
    raw = b"".join(gzip.compress(body) for _ in range(members))
    assert b"".join(prefilter.inflate_pieces(raw)) == body * members
    with pytest.raises(EOFError):
        b"".join(prefilter.inflate_pieces(raw[:-20]))
    with pytest.raises(ValueError):
        b"".join(prefilter.inflate_pieces(raw + b"junk"))


def test_a_scanner_cannot_be_initialised_twice() -> None:
    """Issue 14, finding 8: calling __init__ again leaked the bounds buffer and mixed the counts of two scans."""
    scanner = _prefilter.Scanner(0, "2026-11-01T00:00:00Z", None)
    with pytest.raises(RuntimeError, match="initialised once"):
        scanner.__init__(0, None, None)
    scanner.feed(json.dumps(s3_record(request_id="A")).encode() + b"\n")
    _, count, _ = scanner.finish()
    assert count == 1

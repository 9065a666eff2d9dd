"""The evidence query: parses as Athena SQL, runs on DuckDB, and equals a plain-Python reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot

from planner.errors import InputError
from planner.sources import base
from planner.sources.base import Selection
from planner.sources.cloudtrail import CloudTrailFiles, engine
from tests.conftest import log_path, mixed_tree, role, s3_record, write_log
from tests.reference import engine_key, reference_evidence

SQL_FILES = sorted(base.SQL_DIR.glob("*.sql"))


def test_every_query_parses_as_athena_and_transpiles() -> None:
    assert SQL_FILES
    for path in SQL_FILES:
        tree = sqlglot.parse_one(path.read_text(), read="athena")
        assert tree.find(sqlglot.exp.Select) is not None, path
        relation = "FROM access_logs" if path.stem == "access_log_records" else "FROM cloudtrail"
        assert relation in tree.sql(dialect="trino"), path
        assert engine.to_duckdb(tree)


def _scan(root: Path, selection: Selection | None = None):
    return CloudTrailFiles((root,), selection or Selection()).scan()


def test_engine_equals_plain_python_reference(tmp_path: Path) -> None:
    files = mixed_tree(tmp_path)
    result = _scan(tmp_path)
    expected = reference_evidence(files)
    got = {engine_key(e): {"requests": e.requests, "first_seen": e.first_seen, "last_seen": e.last_seen}
           for e in result.evidence}
    assert got == expected
    assert result.records == 13
    # 11 bucket-a records, one a duplicate delivery of A3: 10 requests.
    assert result.bucket_requests == {"bucket-a": 10, "bucket-b": 1}


def test_one_row_per_request_with_both_flags(tmp_path: Path) -> None:
    mixed_tree(tmp_path)
    rows = [e for e in _scan(tmp_path).evidence if e.is_sigv2 and e.acl_required]
    assert len(rows) == 1
    assert rows[0].principal == "arn:aws:iam::999988887777:role/partner-reader"
    assert rows[0].requests == 1


def test_duplicate_deliveries_count_once(tmp_path: Path) -> None:
    mixed_tree(tmp_path)
    boto = [e for e in _scan(tmp_path).evidence if e.user_agent and e.user_agent.startswith("Boto3/1.4.4")]
    assert [e.requests for e in boto] == [2]
    assert boto[0].sigv2_days == (("2026-11-02", 2),)  # per-day counts dedupe the same way


def test_sigv2_days_add_up_to_requests(tmp_path: Path) -> None:
    records = [s3_record(sigv="SigV2", request_id=f"D{n}", time=f"2026-11-0{1 + n % 3}T10:00:00Z") for n in range(7)]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    (ev,) = _scan(tmp_path).evidence
    assert ev.sigv2_days == (("2026-11-01", 3), ("2026-11-02", 2), ("2026-11-03", 2))
    assert sum(n for _, n in ev.sigv2_days) == ev.requests


def test_principals_are_normalised(tmp_path: Path) -> None:
    mixed_tree(tmp_path)
    by_principal = {e.principal: e for e in _scan(tmp_path).evidence}
    assert by_principal["anonymous"].principal_type == "anonymous"
    assert by_principal["anonymous"].account_id is None
    assert by_principal["arn:aws:iam::222233334444:root"].principal_type == "AWSAccount"
    partner = by_principal["arn:aws:iam::999988887777:role/partner-reader"]
    assert partner.session_names == ("s1",)
    assert partner.key_prefixes == ("exports/",)
    assert all(":assumed-role/" not in p for p in by_principal)


def test_listing_prefixes_and_versioned_reads_are_measured(tmp_path: Path) -> None:
    partner = role("999988887777", "partner")
    records = [
        s3_record("ListObjects", identity=partner, acl_required=True, request_id="L1", key=None,
                  params={"prefix": "reports/2026/", "list-type": "2"}),
        s3_record("ListObjects", identity=partner, acl_required=True, request_id="L2", key=None),
        s3_record(identity=partner, acl_required=True, request_id="V1", params={"versionId": "3HL4kqtJlcpXroDTDmJ"}),
        s3_record(identity=partner, acl_required=True, request_id="V2"),
    ]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    evidence = _scan(tmp_path).evidence
    by_event = {e.event_name: e for e in evidence}
    assert by_event["ListObjects"].key_prefixes == ("", "reports/")
    # finding 2: the requests that named a versionId form a row of their own, since they need other actions
    reads = sorted((e.versioned_requests, e.requests) for e in evidence if e.event_name == "GetObject")
    assert reads == [(0, 1), (1, 1)]


def test_prefix_depth_is_configurable(tmp_path: Path) -> None:
    partner = role("999988887777", "partner")
    keys = ["reports/2026/11/a.csv", "reports/2025/b.csv", "top.txt", "logs/"]
    records = [s3_record(identity=partner, acl_required=True, request_id=f"K{n}", key=k) for n, k in enumerate(keys)]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    depths = {d: CloudTrailFiles((tmp_path,), prefix_depth=d).scan().evidence[0].key_prefixes for d in (1, 2)}
    assert depths[1] == ("logs/", "reports/", "top.txt")
    assert depths[2] == ("logs/", "reports/2025/", "reports/2026/", "top.txt")


def test_window_filters_on_event_time(tmp_path: Path) -> None:
    records = [s3_record(sigv="SigV2", request_id=f"W{i}", time=t)
               for i, t in enumerate(["2026-11-01T23:59:59Z", "2026-11-02T00:00:00Z", "2026-11-03T23:59:59Z",
                                      "2026-11-04T00:00:00Z"])]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    from datetime import date
    result = _scan(tmp_path, Selection(since=date(2026, 11, 2), until=date(2026, 11, 3)))
    assert sum(e.requests for e in result.evidence) == 2
    assert (result.window_seen.since, result.window_seen.until) == ("2026-11-02", "2026-11-03")


def test_real_otrf_records(fixtures: Path) -> None:
    """Real public records: the honey bucket's anonymous and foreign-account callers, the EC2-proxy role."""
    result = _scan(fixtures / "otrf")
    honey = [e for e in result.evidence if e.bucket == "microsoft-devtest"]
    anonymous = sum(e.requests for e in honey if e.principal == "anonymous")
    foreign = {e.principal: e.principal_type for e in honey if e.principal != "anonymous"}
    assert anonymous == 284
    assert foreign and all(t == "AWSAccount" for t in foreign.values())
    assert all(p.startswith("arn:aws:iam::") and p.endswith(":root") for p in foreign)
    assert sum(e.requests for e in honey if e.principal != "anonymous") == 17
    assert result.records == 301 + 103
    # The EC2-proxy role's SigV4 same-account reads are traffic, not evidence, but its bucket is counted.
    assert result.bucket_requests.get("mordors3stack-s3bucket-llp2yingx64a") == 9
    assert not result.skipped


def test_headers_copy_sources_and_post_acls_are_measured(tmp_path: Path) -> None:
    """Finding 1: requests whose headers need actions of their own (x-amz-tagging) form rows of their own, copies
    name the bucket they read from, a POST upload's acl form field is an ACL it sets, and distinct keys are
    counted; on both scan paths."""
    partner = role("999988887777", "partner")
    records = [
        s3_record("PutObject", identity=partner, acl_required=True, request_id="T1", key="in/a",
                  params={"x-amz-tagging": "team=data"}),
        s3_record("PutObject", identity=partner, acl_required=True, request_id="T2", key="in/b"),
        s3_record("CopyObject", identity=partner, acl_required=True, request_id="C1", key="in/c",
                  params={"x-amz-copy-source": "/bucket-a/exports/c?versionId=v1"}),
        s3_record("PostObject", request_id="P1", key="up/x", params={"acl": "public-read"}),
        s3_record("GetObject", identity=partner, acl_required=True, request_id="G1", key="exports/1"),
        s3_record("GetObject", identity=partner, acl_required=True, request_id="G2", key="exports/2"),
        s3_record("GetObject", identity=partner, acl_required=True, request_id="G3", key="exports/2"),
    ]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records)
    for prefilter in (True, False):
        evidence = CloudTrailFiles((tmp_path,), use_prefilter=prefilter).scan().evidence
        puts = sorted((e.request_headers, e.requests) for e in evidence if e.event_name == "PutObject")
        assert puts == [((), 1), (("x-amz-tagging",), 1)]
        (copy,) = [e for e in evidence if e.event_name == "CopyObject"]
        assert copy.copy_sources == ("bucket-a",)
        (post,) = [e for e in evidence if e.event_name == "PostObject"]
        assert post.acl_header == "public-read"
        (reads,) = [e for e in evidence if e.event_name == "GetObject"]
        assert reads.key_count == 2 and reads.requests == 3


def test_requests_over_tls_are_counted_once_each_on_both_paths(tmp_path: Path) -> None:
    """A cipher suite in additionalEventData shows the request came over TLS (facts §5e); a record without one
    proves nothing, and a duplicate delivery counts once."""
    over_tls = s3_record(sigv="SigV2", request_id="T1")
    plain = s3_record(sigv="SigV2", request_id="T2")
    del plain["additionalEventData"]["CipherSuite"]
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), [over_tls, over_tls, plain])
    for fast in (True, False):
        [row] = CloudTrailFiles((tmp_path,), use_prefilter=fast).scan().evidence
        assert (row.requests, row.tls_requests) == (2, 1)


def test_the_vpc_endpoint_is_kept_only_when_every_request_came_through_it(tmp_path: Path) -> None:
    """CloudTrail's vpcEndpointId (facts §5): the row names it when every request came through that endpoint."""
    one = s3_record(sigv="SigV2", request_id="V1", bucket="bucket-v")
    two = s3_record(sigv="SigV2", request_id="V2", bucket="bucket-v")
    one["vpcEndpointId"] = two["vpcEndpointId"] = "vpce-1a2b3c4d"
    mixed = s3_record(sigv="SigV2", request_id="V3", bucket="bucket-w")
    other = s3_record(sigv="SigV2", request_id="V4", bucket="bucket-w")
    mixed["vpcEndpointId"] = "vpce-1a2b3c4d"
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), [one, two, mixed, other])
    for fast in (True, False):
        rows = {e.bucket: e.vpc_endpoint for e in CloudTrailFiles((tmp_path,), use_prefilter=fast).scan().evidence}
        assert rows == {"bucket-v": "vpce-1a2b3c4d", "bucket-w": None}


def test_every_source_ip_is_counted_though_five_are_sampled(tmp_path: Path) -> None:
    """sourceIPAddress (facts §5): source_ips keeps the first five, source_ip_count says how many there were, so
    the replay knows whether the sample holds them all."""
    records = []
    for n in range(7):
        record = s3_record(sigv="SigV2", request_id=f"IP{n}")
        record["sourceIPAddress"] = f"192.0.2.{n + 1}"
        records.append(record)
    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), records + records[:1])
    for fast in (True, False):
        [row] = CloudTrailFiles((tmp_path,), use_prefilter=fast).scan().evidence
        assert (row.source_ips, row.source_ip_count) == (tuple(f"192.0.2.{n}" for n in range(1, 6)), 7)


def test_an_engine_out_of_memory_is_retried_with_one_thread_then_the_larger_cap(tmp_path: Path,
                                                                                 monkeypatch: Any) -> None:
    """List aggregates do not all spill: a query over the pre-filter's candidates that runs out of memory is run
    again with one thread, then with the larger cap, and only then reported (seen at 20M busy-shape records)."""
    import duckdb

    from planner.sources.cloudtrail import scan as scan_module

    write_log(log_path(tmp_path, "111122223333", "us-east-1", "2026-11-02"), [s3_record(sigv="SigV2")])
    expected = CloudTrailFiles((tmp_path,)).scan().evidence
    connections: list[tuple[int | None, bool]] = []
    real_connect, real_run = engine.connect, scan_module._run_until_read

    def connect(threads: int | None = None, spill_dir: str | None = None, small_records: bool = False) -> Any:
        connections.append((threads, small_records))
        return real_connect(threads, spill_dir, small_records)

    def run(*args: Any) -> Any:
        if len(connections) < 3:
            raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")
        return real_run(*args)

    monkeypatch.setattr(engine, "connect", connect)
    monkeypatch.setattr(scan_module, "_run_until_read", run)
    assert CloudTrailFiles((tmp_path,), threads=2).scan().evidence == expected
    assert connections == [(2, True), (1, True), (1, False)]
    connections.clear()
    monkeypatch.setattr(scan_module, "_run_until_read", lambda *args: (_ for _ in ()).throw(
        duckdb.OutOfMemoryException("could not allocate")))
    with pytest.raises(InputError, match="ran out of memory"):
        CloudTrailFiles((tmp_path,), threads=2).scan()
    assert len(connections) == 3


def test_an_engine_message_that_is_not_utf8_is_a_refused_record() -> None:
    """DuckDB quotes the record it refuses in its message, and can cut it inside a character: Python then raises
    UnicodeDecodeError instead of the engine's error (seen on a record with a repeated key and an escaped emoji).
    It is read as the engine's refusal, so the file is found and fitted or skipped like any other."""
    import duckdb

    class Refusing:  # only what run_query calls: the engine's error path, which a real file cannot trigger on demand
        def execute(self, *args: Any) -> Any:
            raise UnicodeDecodeError("utf-8", b"\xf0\x9f", 0, 1, "invalid continuation byte")

        def interrupt(self) -> None:
            pass

    query = base.fill_integers(base.parse_athena("evidence"), {"prefix_depth": 1})
    with pytest.raises(duckdb.InvalidInputException, match="could not be read"):
        engine.run_query(Refusing(), query, engine.FileSets(lines=("x.json",)), {})  # type: ignore[arg-type]

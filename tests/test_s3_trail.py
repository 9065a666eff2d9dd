"""CloudTrail logs fetched from an S3 trail bucket (a moto server, no account, no network) into the local cache."""

from __future__ import annotations

import io
import itertools
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.stub import Stubber

from planner.errors import InputError, UsageError
from planner.model import SkippedFile
from planner.samples import ACCT_A, ACCT_B, write_sample_logs
from planner.sources.base import Selection
from planner.sources.cloudtrail.files import list_files
from planner.sources.s3 import download as s3_trail
from planner.sources.s3.download import Download, download_trail, parse_s3_url

BUCKET = "acme-logs-prod"
ORG = "o-abc123def4"
START = date(2026, 11, 1)  # the sample tree covers 2026-11-01 .. 2026-11-04
EVERYTHING = Selection(since=START, until=date(2026, 11, 4))
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
ACCESS_DENIED = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"


@dataclass(frozen=True)
class Trail:
    """A trail bucket on the moto server: an account trail under trails/, an organisation trail under org/."""

    tree: Path      # local copy of s3://acme-logs-prod/trails/
    org_tree: Path  # local copy of s3://acme-logs-prod/org/


@pytest.fixture
def trail(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    """Seed the bucket (before `read_only` is set up): two small sample trees, a stray object in a day folder."""
    tree, org_tree = tmp_path_factory.mktemp("trails"), tmp_path_factory.mktemp("org")
    write_sample_logs(tree, records=3000, seed=3, days=4, records_per_file=300)
    write_sample_logs(org_tree, records=1500, seed=5, days=2, records_per_file=300, org_id=ORG)
    stray = tree / "AWSLogs" / ACCT_A / "CloudTrail" / "us-east-1" / "2026" / "11" / "02" / "README.txt"
    stray.write_text("not a log file\n")
    # A session of its own: boto3's default session may carry the read-only guard of an earlier test.
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for base, root in (("trails/", tree), ("org/", org_tree)):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            s3.put_object(Bucket=BUCKET, Key=base + path.relative_to(root).as_posix(), Body=path.read_bytes())
    return Trail(tree, org_tree)


def listed_prefixes(session: boto3.session.Session) -> list[str]:
    """Every Prefix sent with ListObjectsV2 by clients made from `session` from now on."""
    seen: list[str] = []
    session.events.register("before-parameter-build.s3.ListObjectsV2",
                            lambda params, **_: seen.append(params["Prefix"]))
    return seen


def expected(tree: Path, selection: Selection) -> dict[str, bytes]:
    """Relative path -> content of the tree's log files that the selection keeps."""
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in list_files(tree, selection).selected}


def cached(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under the download root."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# parse_s3_url ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "want"), [
    ("s3://b-1", ("b-1", "")),
    ("s3://b-1/", ("b-1", "")),
    ("s3://b-1/AWSLogs", ("b-1", "")),
    ("s3://b-1/AWSLogs/", ("b-1", "")),
    ("s3://my.trail.bucket/trails", ("my.trail.bucket", "trails/")),
    ("s3://b-1/trails/", ("b-1", "trails/")),
    ("s3://b-1/trails/AWSLogs/", ("b-1", "trails/")),
    ("s3://b-1/trails/AWSLogs", ("b-1", "trails/")),
    ("s3://b-1/a/b/c/AWSLogs/", ("b-1", "a/b/c/")),
    ("s3://b-1/a/b/c", ("b-1", "a/b/c/")),
])
def test_parse_s3_url(url: str, want: tuple[str, str]) -> None:
    assert parse_s3_url(url) == want


@pytest.mark.parametrize("url", [
    "b-1/trails/", "https://b-1.s3.amazonaws.com/trails/", "s3:/b-1", "s3://", "s3:///trails/", "s3://ab",
    "s3://Upper-Case", "s3://under_score", "s3://-dash", "s3://dash-", "s3://a..b", "s3://192.168.1.2",
    "s3://" + "x" * 64, "s3://b-1/a//b/", "s3://b-1/../x/", "s3://b-1/./x", "s3://b-1/AWSLogs/o-abc123def4/",
    "s3://b-1/x/AWSLogs/111122223333/",
])
def test_parse_s3_url_rejects_bad_values_in_one_line(url: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_s3_url(url)
    message = str(info.value)
    assert "\n" not in message and repr(url) in message and "s3://BUCKET/PREFIX/" in message


# listing --------------------------------------------------------------------------------------------------------


def test_only_the_window_prefixes_are_listed(trail: Trail, read_only: list[str], tmp_path: Path) -> None:
    session = boto3.session.Session()
    seen = listed_prefixes(session)
    selection = Selection(since=date(2026, 11, 2), until=date(2026, 11, 3),
                          regions=frozenset({"eu-west-1"}), accounts=frozenset({ACCT_A}))
    result = download_trail(f"s3://{BUCKET}/trails/", tmp_path, selection, session=session)
    trail_prefix = f"trails/AWSLogs/{ACCT_A}/CloudTrail/"
    assert sorted(seen) == sorted(result.prefixes_listed) == sorted([
        "trails/AWSLogs/", trail_prefix,
        f"{trail_prefix}eu-west-1/2026/11/02/", f"{trail_prefix}eu-west-1/2026/11/03/",
    ])
    assert cached(result.root) == expected(trail.tree, selection)
    assert result.files == len(expected(trail.tree, selection)) > 0
    assert set(read_only) == {"ListObjectsV2", "GetObject"}


def test_an_organisation_trail_is_listed_through_its_org_id(trail: Trail, read_only: list[str],
                                                            tmp_path: Path) -> None:
    session = boto3.session.Session()
    seen = listed_prefixes(session)
    selection = Selection(since=START, until=START, accounts=frozenset({ACCT_B}))
    result = download_trail(f"s3://{BUCKET}/org/AWSLogs", tmp_path, selection, session=session)
    account = f"org/AWSLogs/{ORG}/{ACCT_B}/CloudTrail/"
    days = [f"{account}{region}/2026/11/01/" for region in ("eu-west-1", "us-east-1", "us-west-2")]
    assert sorted(seen) == sorted(result.prefixes_listed) == sorted(["org/AWSLogs/", f"org/AWSLogs/{ORG}/",
                                                                     account, *days])
    files = cached(result.root)
    assert files == expected(trail.org_tree, selection)
    assert all(name.startswith(f"AWSLogs/{ORG}/{ACCT_B}/CloudTrail/") for name in files)
    assert result.root == tmp_path / BUCKET / "org"


# downloads and the cache ----------------------------------------------------------------------------------------


def test_downloads_are_byte_identical_and_keep_the_awslogs_layout(trail: Trail, read_only: list[str],
                                                                  tmp_path: Path) -> None:
    result = download_trail(f"s3://{BUCKET}/trails/AWSLogs/", tmp_path, EVERYTHING, threads=4)
    want = expected(trail.tree, EVERYTHING)
    assert result.root == tmp_path / BUCKET / "trails"
    assert cached(result.root) == want  # no digest, no stray object, nothing from org/, no .part left
    assert (result.files, result.fetched, result.cached, result.skipped) == (len(want), len(want), 0, ())
    assert result.bytes_fetched == sum(len(b) for b in want.values())
    assert result.ignored == 1  # README.txt in a day folder
    assert len(list_files(result.root, EVERYTHING).selected) == result.files  # the local reader sees the tree


def test_a_second_run_fetches_nothing(trail: Trail, read_only: list[str], tmp_path: Path) -> None:
    first = download_trail(f"s3://{BUCKET}/trails", tmp_path, EVERYTHING)
    read_only.clear()
    second = download_trail(f"s3://{BUCKET}/trails", tmp_path, EVERYTHING)
    assert (second.fetched, second.cached, second.bytes_fetched) == (0, first.files, 0)
    assert "GetObject" not in read_only and "ListObjectsV2" in read_only


def test_a_leftover_part_file_and_a_truncated_file_are_fetched_again(trail: Trail, read_only: list[str],
                                                                     tmp_path: Path) -> None:
    first = download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING)
    gone, short = sorted(p for p in first.root.rglob("*.json.gz"))[:2]
    gone.unlink()
    part = gone.with_name(gone.name + ".part")
    part.write_bytes(b"half a download")  # an interrupted run leaves this behind
    short.write_bytes(short.read_bytes()[:100])
    again = download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING)
    assert (again.fetched, again.cached) == (2, first.files - 2)
    assert cached(again.root) == expected(trail.tree, EVERYTHING)
    assert not part.exists()


def test_progress_counts_only_grow_and_end_at_the_totals(trail: Trail, read_only: list[str],
                                                         tmp_path: Path) -> None:
    download_trail(f"s3://{BUCKET}/trails/", tmp_path, Selection(since=START, until=START, accounts=frozenset({ACCT_A})))
    calls: list[tuple[int, int, int, int]] = []
    result = download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING, threads=3,
                            on_progress=lambda *counts: calls.append(counts))
    total_bytes = sum(len(b) for b in expected(trail.tree, EVERYTHING).values())
    assert calls[0] == (0, result.files, 0, total_bytes)
    assert calls[-1] == (result.files, result.files, total_bytes, total_bytes)
    assert len(calls) == result.files + 1  # once at the start, then once per file (cached ones included)
    for before, after in itertools.pairwise(calls):
        assert after[0] == before[0] + 1 and after[2] > before[2] and after[1::2] == before[1::2]
    assert 0 < result.cached < result.files  # the first run left some files in the cache


# errors ---------------------------------------------------------------------------------------------------------


def test_the_window_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="since"):
        download_trail(f"s3://{BUCKET}/", tmp_path, Selection(since=START))
    with pytest.raises(ValueError, match="since"):
        download_trail(f"s3://{BUCKET}/", tmp_path, Selection(until=START))


def test_no_such_bucket_is_one_input_error_line(moto_server: str, read_only: list[str], tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        download_trail("s3://no-such-trail-bucket/trails/", tmp_path, EVERYTHING)
    assert str(info.value) == ("s3://no-such-trail-bucket: no such bucket; "
                               "check the trail's bucket name in s3://BUCKET/PREFIX/")


def test_an_empty_window_is_one_input_error_line(trail: Trail, read_only: list[str], tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        download_trail(f"s3://{BUCKET}/trails/", tmp_path, Selection(since=date(2025, 1, 1), until=date(2025, 1, 2)))
    assert str(info.value) == (f"s3://{BUCKET}/trails/AWSLogs/: no CloudTrail log file from 2025-01-01 to "
                               "2025-01-02; check --since/--until (UTC days)")
    with pytest.raises(InputError, match=r"no <account>/CloudTrail/<region>/ folder for accounts 000000000000"):
        download_trail(f"s3://{BUCKET}/trails/", tmp_path,
                       Selection(since=START, until=START, accounts=frozenset({"000000000000"})))


class StubbedSession:
    """A stand-in for boto3.Session whose client answers from a botocore Stubber; records the config it was given."""

    def __init__(self) -> None:
        self.client_ = boto3.session.Session().client("s3", region_name="us-east-1")
        self.stub = Stubber(self.client_)
        self.configs: list[Any] = []

    def client(self, name: str, config: Any = None) -> Any:
        assert name == "s3"
        self.configs.append(config)
        return self.client_


def test_access_denied_on_listing_is_one_input_error_line(moto_server: str, read_only: list[str],
                                                          tmp_path: Path) -> None:
    """moto does not enforce bucket policies, so the AccessDenied answer comes from a Stubber."""
    session = StubbedSession()
    session.stub.add_client_error("list_objects_v2", service_error_code="AccessDenied",
                                  service_message="Access Denied", http_status_code=403,
                                  expected_params={"Bucket": BUCKET, "Prefix": "trails/AWSLogs/", "Delimiter": "/"})
    with session.stub, pytest.raises(InputError) as info:
        download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING, session=session)
    assert str(info.value) == (f"s3://{BUCKET}/trails/AWSLogs/: AccessDenied on ListObjectsV2; the credentials need "
                               f"s3:ListBucket on arn:aws:s3:::{BUCKET} (Access Denied)")
    session.stub.assert_no_pending_responses()


def test_our_retry_layer_gets_past_slow_down_on_listing_and_download(moto_server: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    """A Stubber bypasses botocore's retries: this proves s3_trail's own retry (per page and per file), not
    botocore's adaptive mode (see the next test for that)."""
    monkeypatch.setattr(s3_trail, "BACKOFF_SECONDS", 0.0)
    session = StubbedSession()
    stub, day = session.stub, f"AWSLogs/{ACCT_A}/CloudTrail/us-east-1/2026/11/01/"
    key = f"{day}{ACCT_A}_CloudTrail_us-east-1_20261101T0005Z_abcdefgh00000000.json.gz"
    body = b"\x1f\x8b not really gzip, the download does not care"
    stub.add_client_error("list_objects_v2", "SlowDown", "Please reduce your request rate.", 503)
    stub.add_response("list_objects_v2", {"IsTruncated": False, "CommonPrefixes": [{"Prefix": f"AWSLogs/{ACCT_A}/"}]})
    stub.add_response("list_objects_v2", {"IsTruncated": False,
                                          "CommonPrefixes": [{"Prefix": f"AWSLogs/{ACCT_A}/CloudTrail/us-east-1/"}]})
    stub.add_response("list_objects_v2", {"IsTruncated": True, "NextContinuationToken": "page-2",
                                          "Contents": [{"Key": f"{day}README.txt", "Size": 3}]},
                      {"Bucket": "b-1", "Prefix": day, "Delimiter": "/"})
    stub.add_client_error("list_objects_v2", "SlowDown", "Please reduce your request rate.", 503)
    stub.add_response("list_objects_v2", {"IsTruncated": False, "Contents": [{"Key": key, "Size": len(body)}]},
                      {"Bucket": "b-1", "Prefix": day, "Delimiter": "/", "ContinuationToken": "page-2"})
    stub.add_client_error("get_object", "SlowDown", "Please reduce your request rate.", 503)
    stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentLength": len(body)},
                      {"Bucket": "b-1", "Key": key})
    with stub:
        result = download_trail("s3://b-1", tmp_path, Selection(since=START, until=START), session=session, threads=1)
    stub.assert_no_pending_responses()
    assert (result.files, result.fetched, result.ignored, result.skipped) == (1, 1, 1, ())
    assert (tmp_path / "b-1" / key).read_bytes() == body


def test_the_client_uses_adaptive_retries(moto_server: str, tmp_path: Path) -> None:
    session = StubbedSession()
    session.stub.add_client_error("list_objects_v2", "NoSuchBucket", "The specified bucket does not exist", 404)
    with session.stub, pytest.raises(InputError):
        download_trail("s3://b-1", tmp_path, EVERYTHING, session=session, threads=12)
    (config,) = session.configs
    assert config.retries == {"mode": "adaptive", "max_attempts": 10}
    assert config.max_pool_connections == 12


class _Raw:
    """The raw body of a canned HTTP answer."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def canned(status: int, xml: bytes, request: Any) -> AWSResponse:
    """An HTTP answer given in place of the moto server's, before botocore parses it and decides to retry."""
    return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(xml))


def test_botocore_retries_a_slow_down_answer(trail: Trail, read_only: list[str], monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """Our own retry layer is turned off (one attempt), so the download completing proves that botocore's retry
    handler (configured by s3_trail) retried a real 503 SlowDown HTTP answer, for a listing and for a download."""
    monkeypatch.setattr(s3_trail, "ATTEMPTS", 1)
    session = boto3.session.Session()
    sent: dict[str, list[str]] = {"ListObjectsV2": [], "GetObject": []}

    def throttle_once(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        urls = sent[event_name.rsplit(".", 1)[-1]]
        urls.append(request.url)
        return canned(503, SLOW_DOWN, request) if len(urls) == 1 else None  # the first of each operation

    session.events.register("before-send.s3.ListObjectsV2", throttle_once)
    session.events.register("before-send.s3.GetObject", throttle_once)
    day = date(2026, 11, 2)
    selection = Selection(since=day, until=day, regions=frozenset({"us-east-1"}), accounts=frozenset({ACCT_A}))
    result = download_trail(f"s3://{BUCKET}/trails/", tmp_path, selection, session=session, threads=1)
    assert [urls[0] == urls[1] for urls in sent.values()] == [True, True]  # each throttled request was sent again
    assert (result.fetched, result.skipped) == (result.files, ())
    assert cached(result.root) == expected(trail.tree, selection)


def test_a_file_that_cannot_be_downloaded_is_skipped_and_the_others_go_on(trail: Trail, read_only: list[str],
                                                                          tmp_path: Path) -> None:
    session = boto3.session.Session()
    want = expected(trail.tree, EVERYTHING)
    denied = sorted(want)[1]

    def deny(request: Any, **_: Any) -> AWSResponse | None:
        return canned(403, ACCESS_DENIED, request) if request.url.endswith(os.path.basename(denied)) else None

    session.events.register("before-send.s3.GetObject", deny)
    result = download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING, session=session)
    key = f"trails/{denied}"
    assert result.skipped == (SkippedFile(
        f"s3://{BUCKET}/{key}",
        f"cannot download s3://{BUCKET}/{key}: AccessDenied (Access Denied); the credentials need s3:GetObject "
        "(and kms:Decrypt when the trail uses SSE-KMS)"),)
    assert (result.files, result.fetched, result.cached) == (len(want), len(want) - 1, 0)
    assert cached(result.root) == {k: v for k, v in want.items() if k != denied}  # no .part left behind


def test_access_denied_on_a_day_folder_stops_the_run_with_one_line(trail: Trail, read_only: list[str],
                                                                    tmp_path: Path) -> None:
    """A day folder is listed in a worker thread; its error still reaches the caller as one InputError line."""
    session = boto3.session.Session()
    day = f"trails/AWSLogs/{ACCT_B}/CloudTrail/us-west-2/2026/11/03/"

    def deny(request: Any, **_: Any) -> AWSResponse | None:
        return canned(403, ACCESS_DENIED, request) if f"prefix={day}&" in unquote(request.url) else None

    session.events.register("before-send.s3.ListObjectsV2", deny)
    with pytest.raises(InputError) as info:
        download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING, session=session)
    assert str(info.value) == (f"s3://{BUCKET}/{day}: AccessDenied on ListObjectsV2; the credentials need "
                               f"s3:ListBucket on arn:aws:s3:::{BUCKET} (Access Denied)")


def test_download_is_a_frozen_value() -> None:
    result = Download(Path("x"), (), 0, 0, 0, 0, ())
    with pytest.raises(AttributeError):
        result.files = 1  # type: ignore[misc]


def test_an_interrupted_download_stops_its_threads_and_leaves_no_part_file(trail: Trail, read_only: list[str],
                                                                            tmp_path: Path) -> None:
    """Issue 14, finding 1: Ctrl-C during downloads (here raised from the progress callback, in the calling
    thread, as a signal would be) stops every download at its next chunk (a large object no longer runs to its
    end); no .part file is left, and a re-run fetches what is missing."""
    import threading

    seen: list[int] = []

    def interrupt(files: int, total: int, done: int, size: int) -> None:
        seen.append(files)
        if files >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING, threads=4, on_progress=interrupt)
    assert not [t for t in threading.enumerate() if t.name.startswith("s3plan-s3")]
    assert not list(tmp_path.rglob("*.part"))
    again = download_trail(f"s3://{BUCKET}/trails/", tmp_path, EVERYTHING)
    assert cached(again.root) == expected(trail.tree, EVERYTHING) and again.cached >= 2

"""`s3plan plan --cloudtrail s3://...` against a moto server on 127.0.0.1: the same plan as from the local copy,
only the window's folders listed, nothing fetched twice, and no write call ever made."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.samples import write_sample_logs
from tests.test_access_logs import OWNER, as_line, scenario, without_sources
from tests.test_permissions import assert_allowed

BUCKET = "acme-trail"
WINDOW = ["--since", "2026-11-02", "--until", "2026-11-03"]


@pytest.fixture
def tree(moto_server: str, tmp_path: Path) -> Path:
    """A sample tree on disk, and the same files in the trail bucket under trails/ (seeded before the guard)."""
    root = tmp_path / "tree"
    write_sample_logs(root, records=3000, seed=11, days=4, records_per_file=250)
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3.put_object(Bucket=BUCKET, Key="trails/" + path.relative_to(root).as_posix(), Body=path.read_bytes())
    return root


def plan(args: list[str]) -> tuple[str, dict]:
    result = CliRunner().invoke(main, ["plan", *args])
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    return result.output, json.loads((out / "plan.json").read_text())


def comparable(doc: dict) -> dict:
    """All but where it came from (files outside the window are pruned locally, never listed in S3)."""
    skip = ("generated_at", "sources", "downloads", "files_pruned")
    return {k: v for k, v in doc.items() if k != "run"} | {"run": {k: v for k, v in doc["run"].items() if k not in skip}}


def test_same_plan_from_s3_as_from_the_local_copy_and_nothing_fetched_twice(
        tree: Path, tmp_path: Path, read_only: list[str]) -> None:
    _, local = plan(["--cloudtrail", str(tree), "--out", str(tmp_path / "local"), *WINDOW])
    first_output, remote = plan(["--cloudtrail", f"s3://{BUCKET}/trails/", "--out", str(tmp_path / "s3"), *WINDOW])
    assert comparable(remote) == comparable(local)
    assert remote["run"]["sources"] == [f"cloudtrail:s3://{BUCKET}/trails/"]
    [download] = remote["run"]["downloads"]
    assert download["files"] == local["run"]["files_read"] > 0
    assert (download["fetched"], download["cached"]) == (download["files"], 0)
    assert set(read_only) == {"ListObjectsV2", "GetObject"}
    assert_allowed("s3-logs", read_only)
    assert f"{download['files']} downloaded" in first_output

    read_only.clear()
    again_output, again = plan(["--cloudtrail", f"s3://{BUCKET}/trails/AWSLogs/", "--out", str(tmp_path / "s3"),
                                *WINDOW])
    assert comparable(again) == comparable(local)
    assert again["run"]["downloads"][0] | {"url": None} == download | {"fetched": 0, "cached": download["files"],
                                                                         "bytes_fetched": 0, "url": None}
    assert "GetObject" not in read_only and "0 downloaded" in again_output
    cached = list((tmp_path / "s3" / ".s3-cache" / BUCKET / "trails" / "AWSLogs").rglob("*.json.gz"))
    assert len(cached) == download["files"] and not list((tmp_path / "s3").rglob("*.part"))


def test_without_a_window_s3_reads_the_last_days_only(tree: Path, tmp_path: Path, read_only: list[str]) -> None:
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", f"s3://{BUCKET}/trails/", "--out", str(tmp_path),
                                       "--days", "3"])
    assert result.exit_code == 2
    assert "no CloudTrail log file from" in result.output  # the sample is from 2026-11, the window is recent


@pytest.mark.parametrize("url", ["s3://", "s3://Bad_Bucket/x/", "s3://ok-bucket/a//b/"])
def test_bad_s3_urls_are_one_line_and_exit_2(url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", url, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and url in result.output


LOG_BUCKET = "acme-access-logs"


@pytest.fixture
def access_logs(moto_server: str, tmp_path: Path) -> Path:
    """The scenario's access-log lines on disk, and in a log bucket in both key formats (seeded before the guard):
    simple (`logs/shop-YYYY-MM-DD-HH-MM-SS-ID`) and date-based (`dated/ACCOUNT/REGION/BUCKET/YYYY/MM/DD/...`),
    plus objects of days outside the window."""
    records = scenario()
    local = tmp_path / "local-logs"
    local.mkdir()
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=LOG_BUCKET)
    for day, chosen in (("2026-11-02", records[:3]), ("2026-11-03", records[3:]), ("2026-10-20", records[:1])):
        body = "".join(as_line({**r, "eventTime": f"{day}T10:00:00Z"}) + "\n" for r in chosen)
        if day != "2026-10-20":
            (local / f"shop-{day}-10-00-00-ABC").write_text(body)
        s3.put_object(Bucket=LOG_BUCKET, Key=f"logs/shop-{day}-10-00-00-ABC", Body=body.encode())
        s3.put_object(Bucket=LOG_BUCKET, Key=f"dated/{OWNER}/us-east-1/bucket-a/{day.replace('-', '/')}/x.log",
                      Body=body.encode())
    s3.put_object(Bucket=LOG_BUCKET, Key=f"dated/{OWNER}/us-east-1/bucket-a/2026/11/02/", Body=b"")  # a "folder"
    return local


@pytest.mark.parametrize("prefix", ["logs/shop-", f"dated/{OWNER}/us-east-1/bucket-a/"])
def test_access_logs_from_s3_list_only_the_window_and_match_the_local_copy(
        access_logs: Path, tmp_path: Path, read_only: list[str], prefix: str) -> None:
    window = ["--since", "2026-11-02", "--until", "2026-11-03"]
    _, local = plan(["--access-logs", str(access_logs), "--out", str(tmp_path / "local"), *window])
    url = f"s3://{LOG_BUCKET}/{prefix}"
    _, remote = plan(["--access-logs", url, "--out", str(tmp_path / "s3"), *window])
    assert without_sources(remote) == without_sources(local)
    assert [e["requests"] for e in remote["evidence"]] == [e["requests"] for e in local["evidence"]]
    [download] = remote["run"]["downloads"]
    assert (download["files"], download["fetched"], download["prefixes_listed"]) == (2, 2, 3)  # + the next day
    assert_allowed("s3-logs", read_only)
    read_only.clear()
    _, again = plan(["--access-logs", url, "--out", str(tmp_path / "s3"), *window])
    assert again["run"]["downloads"][0]["fetched"] == 0 and "GetObject" not in read_only


def test_log_urls_that_leave_the_cache_are_refused(tmp_path: Path) -> None:
    for url in ("s3://logs/../../../../tmp/x/", "s3://logs/a/./b/", "s3://logs/a//b"):
        result = CliRunner().invoke(main, ["plan", "--access-logs", url, "--out", str(tmp_path)])
        assert result.exit_code == 2 and "--access-logs" in result.output, url


def test_folder_objects_in_a_log_prefix_are_not_downloaded(access_logs: Path, tmp_path: Path) -> None:
    """The fixture put a "folder" object in the 2026/11/02 day folder; it would block the download of that day."""
    _, plan_doc = plan(["--access-logs", f"s3://{LOG_BUCKET}/dated/{OWNER}/us-east-1/bucket-a/", "--out",
                        str(tmp_path / "o"), "--since", "2026-11-02", "--until", "2026-11-03"])
    assert plan_doc["run"]["downloads"][0]["files"] == 2

"""`--inventory s3://...` against a moto server on 127.0.0.1: only the newest report of each configuration is
fetched, files already cached are not fetched again, nothing but reads is called, and docs/permissions.md allows
every call."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from planner.errors import InputError
from planner.sources.inventory import InventoryReports
from tests.inventory_reports import ALL_USERS, OWNER, Obj, Report, write_report
from tests.test_permissions import assert_allowed

DEST = "acme-inventory"


@pytest.fixture
def destination(moto_server: str, tmp_path: Path) -> Path:
    """Two buckets' reports, an older and a newer one each, in the destination bucket under inventory/."""
    local = tmp_path / "dest"
    for stamp, public in (("2026-11-29T01-00Z", False), ("2026-11-30T01-00Z", True)):
        grants = [("CanonicalUser", OWNER, "FULL_CONTROL"), *([("Group", ALL_USERS, "READ")] if public else [])]
        write_report(local, Report("media", [Obj("a", grants=grants), Obj("b")], stamp=stamp))
        write_report(local, Report("logs", [Obj("c")], "Parquet", stamp=stamp))
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=DEST)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        s3.put_object(Bucket=DEST, Key=path.relative_to(local).as_posix(), Body=path.read_bytes())
    return local


def scan(url: str, cache: Path) -> object:
    return InventoryReports(urls=(url,), cache=cache, session=boto3.session.Session).scan()


def test_the_newest_reports_are_fetched_once(destination: Path, tmp_path: Path, read_only: list[str]) -> None:
    cache = tmp_path / "cache"
    result = scan(f"s3://{DEST}/inventory/", cache)
    assert [(r.bucket, r.objects) for r in result.reports] == [("logs", 1), ("media", 2)]  # type: ignore[attr-defined]
    media = next(r for r in result.reports if r.bucket == "media")  # type: ignore[attr-defined]
    assert [g.grantee for g in media.grants] == [ALL_USERS] and media.manifest.startswith(f"s3://{DEST}/")
    fetched = sorted(p.relative_to(cache / "inventory" / DEST).as_posix() for p in cache.rglob("*") if p.is_file())
    assert not any("2026-11-29" in p for p in fetched)  # the older reports are never downloaded
    assert len(fetched) == 6  # per bucket: manifest.json, manifest.checksum and one data file
    assert set(read_only) <= {"ListObjectsV2", "GetObject"}
    assert_allowed("inventory", read_only)
    first = read_only.count("GetObject")
    scan(f"s3://{DEST}/inventory/", cache)
    assert read_only.count("GetObject") == first  # a report folder is written once: all of it is cached


def test_a_report_folder_or_manifest_url_reads_that_report(destination: Path, tmp_path: Path) -> None:
    result = scan(f"s3://{DEST}/inventory/media/acls/2026-11-29T01-00Z/manifest.json", tmp_path / "cache")
    assert [(r.bucket, r.grants) for r in result.reports] == [("media", ())]  # type: ignore[attr-defined]
    result = scan(f"s3://{DEST}/inventory/logs/", tmp_path / "cache2")
    assert [r.bucket for r in result.reports] == ["logs"]  # type: ignore[attr-defined]


def test_a_prefix_with_no_report_is_one_line(destination: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"s3://acme-inventory/nothing/: no S3 Inventory report under it"):
        scan(f"s3://{DEST}/nothing/", tmp_path / "cache")


def put_report(local: Path, report: Report) -> None:
    write_report(local, report)
    s3 = boto3.session.Session().client("s3")
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        s3.put_object(Bucket=DEST, Key=path.relative_to(local).as_posix(), Body=path.read_bytes())


def test_buckets_named_like_the_data_folders_are_read_and_a_prefix_is_a_folder(destination: Path,
                                                                              tmp_path: Path) -> None:
    put_report(destination, Report("user-data", [Obj("x")]))
    put_report(destination, Report("media-backup", [Obj("y")]))
    found = scan(f"s3://{DEST}/inventory/", tmp_path / "all").reports  # type: ignore[attr-defined]
    assert [r.bucket for r in found] == ["logs", "media", "media-backup", "user-data"]
    only = scan(f"s3://{DEST}/inventory/media", tmp_path / "one").reports  # type: ignore[attr-defined]
    assert [r.bucket for r in only] == ["media"]  # not media-backup


def test_a_report_still_being_written_falls_back_to_the_one_before(destination: Path, tmp_path: Path) -> None:
    s3 = boto3.session.Session().client("s3")
    s3.put_object(Bucket=DEST, Key="inventory/media/acls/2026-12-01T01-00Z/manifest.checksum", Body=b"x")
    (media,) = [r for r in scan(f"s3://{DEST}/inventory/media/", tmp_path / "c").reports]  # type: ignore[attr-defined]
    assert "2026-11-30T01-00Z" in media.manifest


def test_a_missing_manifest_url_fails_its_report(destination: Path, tmp_path: Path) -> None:
    result = scan(f"s3://{DEST}/inventory/media/acls/2026-01-01T01-00Z/manifest.json", tmp_path / "c")
    assert result.reports == ()  # type: ignore[attr-defined]
    (failure,) = result.failures  # type: ignore[attr-defined]
    assert failure.bucket == "media" and "no such object" in failure.reason


def test_a_damaged_cached_file_is_fetched_again(destination: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"s3://{DEST}/inventory/media/"
    assert scan(url, cache).failures == ()  # type: ignore[attr-defined]
    (cached,) = (cache / "inventory" / DEST / "inventory" / "media" / "acls" / "data").glob("2026-11-30*")
    body = bytearray(cached.read_bytes())
    body[-1] ^= 1
    cached.write_bytes(bytes(body))  # same size: the cache would keep it
    (failure,) = scan(url, cache).failures  # type: ignore[attr-defined]
    assert "MD5" in failure.reason and "run again" in failure.reason and not cached.exists()
    again = scan(url, cache)
    assert again.failures == () and [r.bucket for r in again.reports] == ["media"]  # type: ignore[attr-defined]

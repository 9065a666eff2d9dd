"""S3 Inventory reports in their destination bucket -> the local cache: only the latest report of each
configuration is fetched (its manifest.json, manifest.checksum and data files), and a file already cached with
its listed size is not fetched again. Read-only: ListObjectsV2 and GetObject. The layout is the S3 User Guide's
("Locating your inventory list"): PREFIX/SOURCE-BUCKET/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json, with the data
files under CONFIG-ID/data/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.model import SkippedFile
from planner.model.inventory import InventoryFailure
from planner.sources.inventory.manifest import REPORT_FOLDER, ManifestError, read_manifest
from planner.sources.inventory.reports import MANIFEST, LocalReport
from planner.sources.s3.download import RemoteFile, fetch_objects, list_folder, s3_client
from planner.sources.s3.urls import parse_inventory_url

MAX_DEPTH = 4  # PREFIX/ -> SOURCE-BUCKET/ -> CONFIG-ID/ -> report folder


def download_reports(url: str, cache: Path, *, session: Any = None, threads: int = 8,
                     on_progress: Callable[[int, int, int, int], None] | None = None
                     ) -> tuple[list[LocalReport], list[SkippedFile], list[InventoryFailure]]:
    """The latest report of every configuration under `url`, in `<cache>/<bucket>/<key>`. A manifest that
    cannot be fetched fails its report; data files that cannot be fetched are skipped by name (their report then
    fails its checks). Either way only that report's bucket is not read."""
    bucket, prefix = parse_inventory_url(url)
    if prefix and not prefix.endswith(("/", MANIFEST)):
        prefix += "/"  # a folder: s3://dest/inventory/media must not read media-backup/
    client = s3_client(session, threads)
    manifests = ([(prefix, list_folder(client, bucket, _folder(prefix))[1])] if prefix.endswith(MANIFEST)
                 else _latest_manifests(client, bucket, prefix, 0))
    if not manifests:
        raise InputError(f"{url}: no S3 Inventory report under it (no YYYY-MM-DDTHH-MMZ/{MANIFEST}); give the "
                         "inventory's destination s3://BUCKET/PREFIX/ or a report's manifest.json")
    reports: list[LocalReport] = []
    skipped: list[SkippedFile] = []
    failures: list[InventoryFailure] = []
    for key, listed in manifests:
        heads = [f for f in listed if f.key in (key, _folder(key) + "manifest.checksum")]
        _, _, _, missed = fetch_objects(client, bucket, heads, cache, threads=threads)
        local = LocalReport(Path(cache, bucket, *key.split("/")), f"s3://{bucket}/{key}", cached=True)
        if missed or not local.path.is_file():
            why = missed[0].reason if missed else f"s3://{bucket}/{key}: no such object; check the URL"
            failures.append(InventoryFailure(local.bucket, local.named, why))
            continue
        skipped.extend(_fetch_data(client, bucket, local.path, cache, threads, on_progress))
        reports.append(local)
    return reports, skipped, failures


def _folder(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def _latest_manifests(client: Any, bucket: str, prefix: str, depth: int) -> list[tuple[str, list[RemoteFile]]]:
    """Under `prefix`, the manifest key of each configuration's newest report folder, with that folder's objects
    (listed once: they give the sizes the downloads check)."""
    folders, objects = list_folder(client, bucket, prefix)
    if any(o.key == prefix + MANIFEST for o in objects):
        return [(prefix + MANIFEST, objects)]  # a report folder itself
    reports = sorted(f for f in folders if REPORT_FOLDER.match(f[len(prefix):].rstrip("/")))
    for report in reversed(reports):  # the newest report with its manifest (one being written has none yet)
        listed = list_folder(client, bucket, report)[1]
        if any(o.key == report + MANIFEST for o in listed):
            return [(report + MANIFEST, listed)]
    if reports or depth >= MAX_DEPTH:
        return []
    found: list[tuple[str, list[RemoteFile]]] = []
    for folder in folders:
        found.extend(_latest_manifests(client, bucket, folder, depth + 1))
    return found


def _fetch_data(client: Any, bucket: str, manifest: Path, cache: Path, threads: int,
                on_progress: Callable[[int, int, int, int], None] | None) -> tuple[SkippedFile, ...]:
    """The data files the manifest lists (a manifest that cannot be read fetches nothing: it fails when read)."""
    try:
        listed = read_manifest(manifest)
    except ManifestError:
        return ()
    remote = [RemoteFile(f.key, f.size) for f in listed.files]
    return fetch_objects(client, bucket, remote, cache, threads=threads, on_progress=on_progress)[3]

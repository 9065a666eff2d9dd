"""S3 Inventory reports on disk -> InventoryResult: the latest report per bucket and configuration, each data file
checked against the manifest's MD5, each report aggregated in the engine. A report that cannot be used is a
failure of its bucket alone: the others are still read."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from planner.model import SkippedFile
from planner.model.inventory import InventoryFailure, InventoryReport, InventoryResult
from planner.sources.inventory.manifest import (
    REPORT_FOLDER,
    DataFile,
    Manifest,
    ManifestError,
    find_data_file,
    md5_of,
    read_manifest,
)
from planner.sources.inventory.reader import CorruptDataFile, read_report

MANIFEST = "manifest.json"


class ReportError(ValueError):
    """One report cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class LocalReport:
    """A manifest found on disk, and where it was named from (a folder given names every report under it)."""

    path: Path
    named: str  # the shown location: the path, or the s3:// URL it was downloaded from
    cached: bool = False  # fetched into the cache: a data file that fails its checks is removed, to be fetched again

    @property
    def bucket(self) -> str | None:
        """The source bucket the layout names (SOURCE-BUCKET/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json)."""
        return self.path.parent.parent.parent.name if REPORT_FOLDER.match(self.path.parent.name) else None

    @property
    def config_folder(self) -> Path:
        """destination-prefix/source-bucket/config-ID/: one configuration's reports (S3 User Guide, "Locating
        your inventory list")."""
        return self.path.parent.parent if REPORT_FOLDER.match(self.path.parent.name) else self.path.parent


def find_manifests(paths: Iterable[Path]) -> tuple[list[LocalReport], list[SkippedFile]]:
    """Each manifest given, and under each folder given the latest report of every configuration (by the report
    folder's time); the older ones are skipped, by name."""
    found: list[LocalReport] = []
    skipped: list[SkippedFile] = []
    for path in paths:
        if path.is_file():
            found.append(LocalReport(path, str(path)))
            continue
        manifests = sorted(path.rglob(MANIFEST))
        if not manifests:
            raise ReportError(f"--inventory {path}: no {MANIFEST} under it; give an S3 Inventory report's "
                              f"{MANIFEST}, or a folder holding reports")
        latest, older = latest_per_config(LocalReport(m, str(m)) for m in manifests)
        found.extend(latest)
        skipped.extend(SkippedFile(str(r.path), "an older report of the same inventory configuration") for r in older)
    return found, skipped


def latest_per_config(reports: Iterable[LocalReport]) -> tuple[list[LocalReport], list[LocalReport]]:
    """(the newest report of each configuration folder, the others): report folders are named by their UTC time."""
    by_config: dict[Path, list[LocalReport]] = defaultdict(list)
    for report in reports:
        by_config[report.config_folder].append(report)
    latest, older = [], []
    for _, group in sorted(by_config.items()):
        group.sort(key=lambda r: r.path.parent.name)
        latest.append(group[-1])
        older.extend(group[:-1])
    return latest, older


def read_reports(reports: Sequence[LocalReport], threads: int | None = None) -> InventoryResult:
    """Every report read (one per bucket: of a bucket's configurations, the newest with the ACL fields), or a
    failure naming why not."""
    read: list[InventoryReport] = []
    failures: list[InventoryFailure] = []
    for report in reports:
        try:
            manifest = read_manifest(report.path)
        except ManifestError as err:
            failures.append(InventoryFailure(report.bucket, report.named, str(err)))
            continue
        try:
            found = read_report(manifest, checked_files(report.path, manifest, threads, report.cached), threads)
            read.append(dataclasses.replace(found, manifest=report.named))  # s3://... when it was fetched
        except (ReportError, CorruptDataFile) as err:
            failures.append(InventoryFailure(manifest.source_bucket, report.named, str(err)))
    kept, passed_over = _one_per_bucket(read)
    failed = {f.bucket for f in failures if f.bucket}
    kept = [r for r in kept if r.bucket not in failed]  # a bucket with a failed report is not half-read
    return InventoryResult(tuple(sorted(kept, key=lambda r: r.bucket)), tuple(failures),
                           tuple(SkippedFile(r.manifest, f"another inventory configuration of {r.bucket} was read "
                                                         "(the newest with the Object ACL and owner fields)")
                                 for r in passed_over))


def checked_files(manifest_path: Path, manifest: Manifest, threads: int | None = None,
                  discard: bool = False) -> list[Path]:
    """The report's data files on disk, each with the size and MD5 the manifest gives, or a ReportError naming
    the first one that is missing or differs (`discard`: a cached copy that differs is removed, so the next run
    fetches it again)."""
    located = []
    for item in manifest.files:
        path = find_data_file(manifest_path, item.key)
        if path is None:
            raise ReportError(f"{manifest.where}: data file {item.key} is not on disk (looked under the folders "
                              "above the manifest); download the whole report, data files included")
        located.append((item, path))
    with ThreadPoolExecutor(max_workers=max(1, min(threads or 4, 8))) as pool:
        problems = list(pool.map(lambda pair: _check(*pair), located))
    for (_, path), problem in zip(located, problems, strict=True):
        if problem and discard:
            path.unlink(missing_ok=True)
    for problem in problems:
        if problem:
            raise ReportError(problem + (" (the cached copy was removed: run again to fetch it)" if discard else ""))
    return [path for _, path in located]


def _check(item: DataFile, path: Path) -> str | None:
    try:
        size = path.stat().st_size
        if size != item.size:
            return f"{path}: {size} bytes, but the manifest lists {item.size}; download the data file again"
        digest = md5_of(path)
    except OSError as err:
        return f"{path}: cannot read ({err.strerror or err})"
    if digest != item.md5:
        return (f"{path}: MD5 {digest} does not match the manifest's MD5checksum {item.md5}; the file is damaged "
                "or from another report: download it again")
    return None


def _one_per_bucket(reports: Sequence[InventoryReport]) -> tuple[list[InventoryReport], list[InventoryReport]]:
    """Two configurations of one bucket would count its objects twice: keep the newest with the ACL fields."""
    by_bucket: dict[str, list[InventoryReport]] = defaultdict(list)
    for report in reports:
        by_bucket[report.bucket].append(report)
    kept, passed = [], []
    for group in by_bucket.values():
        group.sort(key=lambda r: (r.has_acl_fields, r.created or "", r.manifest))
        kept.append(group[-1])
        passed.extend(group[:-1])
    return kept, passed

"""Logs read on this machine: CloudTrail files and server access logs, from disk or fetched from S3 first.

The one place two sources are combined. Access-log lines that could be evidence become CloudTrail-shaped records
(planner.sources.access_logs), and the engine reads them in the same evidence query as the CloudTrail files
(planner.sources.cloudtrail), so a request that both logs recorded counts once.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.model import DownloadStat, ScanResult
from planner.sources.access_logs import AccessLogFiles
from planner.sources.base import NO_SHARED_RECORDS, Selection, SharedRecords, with_files
from planner.sources.cloudtrail import CloudTrailFiles

if TYPE_CHECKING:  # downloads are imported where they run: local runs never load boto3
    from planner.sources.s3.download import Download

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LocalLogs:
    """CloudTrail trees and files (`cloudtrail`, or `cloudtrail_s3` fetched into `cache`) and server access logs
    (`access_logs`, or `access_logs_s3`), read as one source."""

    cloudtrail: tuple[Path, ...] = ()
    access_logs: tuple[Path, ...] = ()
    cloudtrail_s3: tuple[str, ...] = ()
    access_logs_s3: tuple[str, ...] = ()
    selection: Selection = field(default_factory=Selection)
    cache: Path | None = None
    session: Callable[[], Any] | None = None  # a boto3 session, made only when something is fetched
    threads: int | None = None
    use_prefilter: bool = True
    prefix_depth: int = 1
    progress: Progress | None = None

    def scan(self) -> ScanResult:
        """Fetch what lives in S3, then read everything in one engine pass."""
        trails = [self._download_trail(url) for url in self.cloudtrail_s3]
        log_downloads = [self._download_logs(url) for url in self.access_logs_s3]
        log_files = self.access_logs + tuple(f for d in log_downloads for f in d.local_files)
        cloudtrail = CloudTrailFiles(self.cloudtrail + tuple(d.root for d in trails), self.selection, self.threads,
                                     self.progress, self.use_prefilter, self.prefix_depth)
        result = self._read(cloudtrail, log_files)
        fetched = [*zip(self.cloudtrail_s3, trails, strict=True), *zip(self.access_logs_s3, log_downloads,
                                                                        strict=True)]
        if not fetched:
            return result
        stats = tuple(DownloadStat(url, d.files, d.fetched, d.cached, d.bytes_fetched, len(d.prefixes_listed))
                      for url, d in fetched)
        skipped = tuple(s for _, d in fetched for s in d.skipped)
        return dataclasses.replace(result, skipped=result.skipped + skipped, downloads=stats)

    def _read(self, cloudtrail: CloudTrailFiles, log_files: tuple[Path, ...]) -> ScanResult:
        """CloudTrail files and the access logs' candidate records in one query."""
        if not log_files:
            return cloudtrail.scan(NO_SHARED_RECORDS)
        with tempfile.TemporaryDirectory(prefix="s3plan-access-logs-") as tmp:
            logs = AccessLogFiles(log_files, self.selection.since, self.selection.until,
                                  threads=self.threads).convert(Path(tmp))
            result = cloudtrail.scan(SharedRecords(logs.candidates, logs.groups))
        return with_files(result, logs.files_read, logs.skipped)

    def _download_trail(self, url: str) -> Download:
        """The window's log files of one s3:// trail, fetched into the cache (files already there are kept)."""
        from planner.sources.s3.download import download_trail

        assert self.cache is not None and self.session is not None
        return download_trail(url, self.cache, self.selection, session=self.session(),
                              on_progress=self._shower(url))

    def _download_logs(self, url: str) -> Download:
        """The window's server access logs under one s3:// prefix, fetched into the cache."""
        from planner.sources.s3.download import download_access_logs

        since, until = self.selection.since, self.selection.until
        assert self.cache is not None and self.session is not None and since is not None and until is not None
        return download_access_logs(url, self.cache, since, until, session=self.session(),
                                    on_progress=self._shower(url))

    def _shower(self, url: str) -> Callable[[int, int, int, int], None] | None:
        progress = self.progress
        if progress is None:
            return None

        def show(files: int, total: int, done: int, size: int) -> None:
            progress(f"{url}: {files}/{total} files, {done / 1e6:,.1f}/{size / 1e6:,.1f} MB")

        return show


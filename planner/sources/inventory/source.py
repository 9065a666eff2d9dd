"""The inventory source: local reports and s3:// destinations, read into one InventoryResult."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.model.inventory import NO_INVENTORY, InventoryFailure, InventoryResult
from planner.sources.inventory.reports import ReportError, find_manifests, read_reports


@dataclass(frozen=True)
class InventoryReports:
    """`--inventory`: manifests or folders on disk (`paths`) and s3:// destinations (`urls`, fetched into `cache`)."""

    paths: tuple[Path, ...] = ()
    urls: tuple[str, ...] = ()
    cache: Path | None = None
    session: Callable[[], Any] | None = None  # a boto3 session, made only when something is fetched
    threads: int | None = None

    def scan(self) -> InventoryResult:
        """Every latest report read; a report that cannot be used fails its bucket alone."""
        if not self.paths and not self.urls:
            return NO_INVENTORY
        failures: list[InventoryFailure] = []
        try:
            reports, skipped = find_manifests(self.paths)
        except ReportError as err:
            raise InputError(str(err)) from err
        if self.urls:
            from planner.sources.inventory.remote import download_reports  # boto3 only for s3:// reports

            assert self.cache is not None and self.session is not None
            for url in self.urls:
                fetched, missed, lost = download_reports(url, self.cache / "inventory", session=self.session())
                reports.extend(fetched)
                skipped.extend(missed)
                failures.extend(lost)
        result = read_reports(reports, self.threads)
        unfetched = {f.bucket for f in failures}  # a bucket whose report could not be fetched is not half-read
        return dataclasses.replace(result, reports=tuple(r for r in result.reports if r.bucket not in unfetched),
                                   skipped=tuple(skipped) + result.skipped, failures=tuple(failures) + result.failures)

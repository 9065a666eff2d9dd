"""`s3plan sql ddl --discover`: the accounts and Regions a trail bucket holds, listed read-only (ListObjectsV2 with a
delimiter: one call for AWSLogs/, one per account), so the table enumerates what exists instead of a hand list.
The layout is CloudTrail's (facts §6): AWSLogs/[o-ID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/."""

from __future__ import annotations

import re
from typing import Any

from planner.errors import InputError
from planner.sources.s3.download import list_folder, s3_client
from planner.sources.s3.urls import parse_s3_url

ACCOUNT_FOLDER = re.compile(r"(\d{12})/$")
REGION_FOLDER = re.compile(r"/CloudTrail/([a-z]{2}(?:-[a-z]+)+-\d{1,2})/$")


def discover_trail(location: str, org_id: str | None, session: Any = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(accounts, regions) under the trail's AWSLogs/ (or AWSLogs/o-ID/ for an organization trail)."""
    bucket, prefix = parse_s3_url(location)
    root = f"{prefix}AWSLogs/" + (f"{org_id}/" if org_id else "")
    client = s3_client(session, threads=4)
    folders, _ = list_folder(client, bucket, root)
    accounts = sorted(m[1] for f in folders if (m := ACCOUNT_FOLDER.search(f)))
    if not accounts:
        org = [f.removeprefix(root).rstrip("/") for f in folders if f.removeprefix(root).startswith("o-")]
        hint = f"; it holds {org[0]}/: an organization trail, give --org-id {org[0]}" if org else ""
        raise InputError(f"s3://{bucket}/{root}: no account folder under it{hint}")
    regions: set[str] = set()
    for account in accounts:
        found, _ = list_folder(client, bucket, f"{root}{account}/CloudTrail/")
        regions.update(m[1] for f in found if (m := REGION_FOLDER.search(f)))
    if not regions:
        raise InputError(f"s3://{bucket}/{root}: no CloudTrail/REGION/ folder under its accounts")
    return tuple(accounts), tuple(sorted(regions))

"""s3:// locations of CloudTrail trails: parsed and checked without any AWS library, so option checking stays
light (only runs that read from S3 import boto3)."""

from __future__ import annotations

import re

from planner.errors import UsageError

LOGS = "AWSLogs"
URL_RE = re.compile(r"^s3://(?P<bucket>[^/]*)(?:/(?P<prefix>.*))?$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def parse_s3_url(url: str) -> tuple[str, str]:
    """s3://BUCKET[/PREFIX][/AWSLogs] -> (bucket, prefix before AWSLogs/, ending with / unless empty)."""
    match = URL_RE.match(url.strip())
    if match is None:
        raise UsageError(f"{url!r}: not an S3 URL; give the trail's location as s3://BUCKET/PREFIX/")
    bucket, prefix = match["bucket"], match["prefix"] or ""
    if not BUCKET_RE.match(bucket) or ".." in bucket or IP_RE.match(bucket):
        raise UsageError(f"{url!r}: {bucket!r} is not an S3 bucket name (3-63 lower-case letters, digits, . and -); "
                         "give s3://BUCKET/PREFIX/")
    parts = prefix.rstrip("/").split("/") if prefix.strip("/") else []
    if parts and parts[-1] == LOGS:
        parts.pop()
    if any(part in ("", ".", "..", LOGS) for part in parts):
        raise UsageError(f"{url!r}: unexpected prefix {prefix!r}; give the prefix that stands before AWSLogs/ "
                         "(s3://BUCKET/PREFIX/ or s3://BUCKET/PREFIX/AWSLogs/)")
    return bucket, "".join(f"{part}/" for part in parts)


LOG_URL_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>[A-Za-z0-9!_.*'()/=-]*)$")


def parse_log_url(url: str) -> tuple[str, str]:
    """s3://LOG-BUCKET/PREFIX of server access logs -> (bucket, prefix as given: a target prefix need not end
    with /)."""
    match = LOG_URL_RE.match(url)
    segments = match["prefix"].split("/")[:-1] if match else []  # the last one may be a name prefix, or empty
    if match is None or ".." in match["bucket"] or IP_RE.match(match["bucket"]) \
            or any(part in ("", ".", "..") for part in segments) or match["prefix"].split("/")[-1] in (".", ".."):
        raise UsageError(f"--access-logs {url!r}: expected s3://LOG-BUCKET/PREFIX (the target prefix of the "
                         "bucket's server access logging, or .../ACCOUNT/REGION/SOURCE-BUCKET/ for date-based keys)")
    return match["bucket"], match["prefix"]


def parse_inventory_url(url: str) -> tuple[str, str]:
    """s3://DESTINATION-BUCKET/PREFIX of S3 Inventory reports (a manifest.json, a report's folder, or a prefix
    above them) -> (bucket, prefix as given)."""
    match = LOG_URL_RE.match(url)
    segments = match["prefix"].split("/")[:-1] if match else []
    if match is None or ".." in match["bucket"] or IP_RE.match(match["bucket"]) \
            or any(part in ("", ".", "..") for part in segments):
        raise UsageError(f"--inventory {url!r}: expected s3://DESTINATION-BUCKET/PREFIX/ (the inventory's "
                         "destination, a report folder in it, or a manifest.json)")
    return match["bucket"], match["prefix"]

"""What each caller does in the sample organisation: weighted request profiles, per bucket and account."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from planner.samples.people import (
    ACCT_A,
    ACCT_B,
    BOFC,
    BOTO2,
    BOTO3_OLD,
    BROWSER_UAS,
    BUCKETS,
    CLI_1_11,
    CONSOLE_UA,
    DOTNET_3_1,
    EMRFS,
    HADOOP_2_8,
    JAVA_1_11_100,
    JAVA_1_12_300,
    MGMT_SOURCES,
    MODERN_UAS,
    NODE_2_50,
    NODE_2_1363,
    PHP_2_6,
    RUBY2,
    S3,
    STREAMS,
    TRAIL_BUCKET,
    Rec,
    _People,
    _people,
    _Who,
)


@dataclass(frozen=True)
class _Profile:
    """A kind of traffic: who calls what on which bucket, with which client and signature."""

    weight: float
    account: str
    region: str
    events: tuple[str, ...]
    who: tuple[_Who, ...]
    agents: tuple[tuple[str, str], ...]  # (as written in the record, as reported in the ground truth)
    bucket: str | None = None
    source: str = S3
    sig: str | None = "SigV4"
    auth: str | None = "AuthHeader"
    acl_required: bool = False
    acl: str | None = None
    grant: str | None = None
    host: str = "s3.amazonaws.com"
    host_array: bool = False
    error_rate: float = 0.0
    cross: bool = False
    tls: bool = True
    console: bool = False




def _agents(uas: Iterable[str], bracket: bool = True) -> tuple[tuple[str, str], ...]:
    return tuple((f"[{ua}]" if bracket else ua, ua) for ua in uas)


def _host(bucket: str, region: str, style: str) -> str:
    if style == "path":
        return "s3.amazonaws.com" if region == "us-east-1" else f"s3-{region}.amazonaws.com"
    return f"{bucket}.s3.amazonaws.com" if region == "us-east-1" else f"{bucket}.s3.{region}.amazonaws.com"


def _on(bucket: str, weight: float, events: str, who: tuple[_Who, ...], uas: Iterable[str],
        style: str = "virtual", **kw: Any) -> _Profile:
    """A profile of S3 traffic on one bucket (account and region are the bucket's)."""
    owner, region = BUCKETS[bucket][0], BUCKETS[bucket][1]
    agents = _agents(uas, kw.pop("bracket", True))
    return _Profile(weight=weight, account=owner, region=region, events=tuple(events.split()), who=who,
                    agents=agents, bucket=bucket, host=_host(bucket, region, style), **kw)


BASE_EVENTS = ("GetObject " * 5 + "PutObject " * 3 + "HeadObject " * 2 + "ListObjects " * 2
               + "DeleteObject CopyObject CreateMultipartUpload")
BASE_CALLERS = {ACCT_A: ("a-app a-pipeline", "a-app a-pipeline a-ci"), ACCT_B: ("b-etl b-web", "b-etl b-ml")}


def _baseline(p: _People) -> list[_Profile]:
    """Same-account SigV4 traffic on every bucket, plus AWS Config reading bucket settings."""
    out = []
    for i, (name, (owner, _region, weight, _pre, _ext)) in enumerate(BUCKETS.items()):
        callers = p[BASE_CALLERS[owner][i % 2]]
        out.append(_on(name, weight, BASE_EVENTS, callers, MODERN_UAS, error_rate=0.002))
        config = p["a-config" if owner == ACCT_A else "b-config"]
        out.append(_on(name, 0.1, "GetBucketAcl GetBucketPolicy GetBucketLocation", config, ["AWS Internal"],
                       bracket=False, tls=False))
    return out


def _sigv2(p: _People) -> list[_Profile]:
    """Old clients that still sign SigV2 (header auth), and SigV2 presigned URLs."""
    v2: Rec = {"sig": "SigV2"}
    qs: Rec = {"sig": "SigV2", "auth": "QueryString"}
    return [
        _on("acme-data-lake", 0.3, "GetObject PutObject ListObjects", p["a-legacy"], [CLI_1_11], "path", **v2),
        _on("acme-reports", 0.25, "GetObject PutObject HeadObject", p["a-pipeline"], BOTO3_OLD, **v2),
        _on("acme-backups", 0.25, "GetObject PutObject ListObjects", p["b-etl"], [BOTO2], "path", **v2),
        _on("acme-ml-training", 0.2, "GetObject ListObjects", p["b-legacy"], [JAVA_1_11_100], error_rate=0.05,
            **v2),
        _on("acme-build-artifacts", 0.2, "GetObject PutObject", p["a-app"], [JAVA_1_12_300], **v2),
        _on("acme-web-uploads", 0.15, "PutObject GetObject", p["b-web"], [NODE_2_50], **v2),
        _on("acme-partner-exchange", 0.2, "GetObject ListObjects", p["b-web"], [NODE_2_1363], **v2),
        _on("acme-public-assets", 0.15, "PutObject GetObject", p["a-uploader"], [PHP_2_6], "path", **v2),
        _on("acme-logs-prod", 0.15, "GetObject ListObjects", p["a-app"], [RUBY2], **v2),
        _on("acme-backups", 0.2, "PutObject ListObjects", p["b-backup"], [DOTNET_3_1], **v2),
        _on("acme-data-lake", 0.2, "GetObject ListObjects HeadObject", p["a-emr"], [HADOOP_2_8], **v2),
        _on("acme-data-lake", 0.25, "GetObject PutObject ListObjects DeleteObject", p["a-emr"], [EMRFS], **v2),
        _on("acme-reports", 0.15, "GetObject PutObject ListObjects", p["a-reportsbot"], ["s3cmd/1.4.0"], "path",
            host_array=True, **v2),
        _on("acme-web-uploads", 0.15, "PutObject", p["b-uploader"], ["my-uploader/0.3"], **v2),
        _on("acme-public-assets", 0.2, "GetObject PutObject", p["a-uploader"], [*BROWSER_UAS[:2], "curl/7.29.0"],
            **qs),
        _on("acme-web-uploads", 0.15, "PutObject GetObject", p["b-web"], BROWSER_UAS, **qs),
    ]


def _cross_and_anonymous(p: _People) -> list[_Profile]:
    """Callers that depend on ACLs: other accounts and anonymous readers."""
    x: Rec = {"acl_required": True, "cross": True}
    java2, boto3, gov2 = MODERN_UAS[4], MODERN_UAS[0], MODERN_UAS[6]
    return [
        _on("acme-data-lake", 0.4, "GetObject ListObjects", p["partner"], [java2, boto3], **x),
        _on("acme-reports", 0.25, "GetObject ListObjects", p["partner"], [java2], **x),
        _on("acme-partner-exchange", 0.25, "GetObject DeleteObject ListObjects", p["etl"], [boto3], **x),
        _on("acme-partner-exchange", 0.2, "PutObject", p["etl"], [boto3], acl=BOFC, **x),
        _on("acme-partner-exchange", 0.1, "GetObject PutObject", p["etl"], [JAVA_1_11_100], sig="SigV2", **x),
        _on("acme-backups", 0.2, "GetObject ListObjects PutObject", p["other"], [gov2], **x),
        _on("acme-public-assets", 1.0, "GetObject", p["anon"], BROWSER_UAS, sig=None, auth=None,
            acl_required=True),
    ]


def _acl_setters(p: _People) -> list[_Profile]:
    """Requests that set ACLs (and some that send bucket-owner-full-control, which is fine)."""
    cli = [MODERN_UAS[2]]
    aclreq: Rec = {"acl_required": True}
    return [
        _on("acme-public-assets", 0.1, "PutObject", p["a-ci"], cli, acl="public-read", **aclreq),
        _on("acme-public-assets", 0.05, "PutObject", p["a-uploader"], [BOTO2], "path", acl="public-read",
            sig="SigV2", **aclreq),
        _on("acme-data-lake", 0.3, "PutObject", p["a-pipeline"], MODERN_UAS[:2], acl=BOFC),
        _on("acme-public-assets", 0.03, "PutObjectAcl", p["a-ci"], cli, acl="public-read", **aclreq),
        _on("acme-analytics-sigv4only", 0.03, "PutObjectAcl", p["b-etl"], [MODERN_UAS[0]], **aclreq),
        _on("acme-logs-prod", 0.01, "PutBucketAcl", p["a-root"], [CONSOLE_UA], console=True, **aclreq),
        _on("acme-public-assets", 0.01, "PutBucketAcl", p["a-ci"], cli, **aclreq),
        _on("acme-public-assets", 0.002, "PutObject", p["a-ci"], cli, grant="x-amz-grant-read", **aclreq),
    ]


def _service_and_misc(p: _People) -> list[_Profile]:
    """AWS services writing logs, SigV4 presigned URLs, console reads, ListBuckets."""
    svc: Rec = {"bracket": False, "tls": False}
    return [
        _on(TRAIL_BUCKET, 1.0, "PutObject", p["cloudtrail"], ["cloudtrail.amazonaws.com"], acl=BOFC, **svc),
        _on("acme-access-logs", 1.0, "PutObject", p["logging"], ["logging.s3.amazonaws.com"], **svc),
        _on("acme-web-uploads", 0.5, "PutObject GetObject", p["b-web"], BROWSER_UAS, auth="QueryString"),
        _on("acme-logs-prod", 0.2, "GetObject ListObjects GetBucketAcl", p["a-root"], [CONSOLE_UA],
            console=True),
        _Profile(0.2, ACCT_A, "us-east-1", ("ListBuckets",), p["a-app a-ci"], _agents(MODERN_UAS[2:4])),
        _Profile(0.2, ACCT_B, "us-east-1", ("ListBuckets",), p["b-etl"], _agents(MODERN_UAS[:1])),
        _Profile(0.05, ACCT_A, "us-east-1", ("ListBuckets",), p["a-legacy"], _agents([CLI_1_11]), sig="SigV2"),
    ]


def _management(p: _People, acct: str, region: str, weight: float) -> list[_Profile]:
    """Non-S3 management events for one stream (about a quarter of its records)."""
    callers = p["a-app a-pipeline a-ci a-legacy"] if acct == ACCT_A else p["b-etl b-web b-ml b-backup"]
    sources = [s for s in MGMT_SOURCES if region == "us-east-1" or s[0] != "iam.amazonaws.com"]
    share = weight / len(sources)
    return [_Profile(share, acct, region, names, callers, _agents(MODERN_UAS[:5], False), source=src,
                     sig=None, auth=None, host=_service_host(src, region)) for src, names in sources]


def _service_host(source: str, region: str) -> str:
    return source if source.startswith("iam.") else source.replace(".amazonaws.com", f".{region}.amazonaws.com")


def _catalog(rng: random.Random, start: date) -> dict[tuple[str, str], list[_Profile]]:
    """Every traffic profile, grouped by (account, region) stream."""
    p = _people(rng, start)
    s3 = [*_baseline(p), *_sigv2(p), *_cross_and_anonymous(p), *_acl_setters(p), *_service_and_misc(p)]
    streams: dict[tuple[str, str], list[_Profile]] = {}
    for acct, region in STREAMS:
        mine = [x for x in s3 if (x.account, x.region) == (acct, region)]
        streams[(acct, region)] = mine + _management(p, acct, region, sum(x.weight for x in mine) / 3)
    return streams


# ---------------------------------------------------------------- records

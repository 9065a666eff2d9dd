"""A plain-Python reading of CloudTrail files with the evidence query's semantics, written independently of
the SQL, so tests can check the engine against it on small trees."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

ANONYMOUS = ("anonymous", "ANONYMOUS_PRINCIPAL")
GRANTS = ("x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write",
          "x-amz-grant-write-acp")


def read_records(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode()
    if text.lstrip().startswith('{"Records"') or text.lstrip().startswith('{\n  "Records"'):
        return list(json.loads(text)["Records"])
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def bucket_owner(rec: dict[str, Any]) -> str | None:
    for res in rec.get("resources") or []:
        if res.get("type") == "AWS::S3::Bucket":
            return res.get("accountId")
    return None


def evidence_key(rec: dict[str, Any]) -> tuple[Any, ...] | None:
    """The key tuple of the evidence row a record belongs to, or None when it is no evidence."""
    if rec.get("eventSource") != "s3.amazonaws.com":
        return None
    ident = rec.get("userIdentity") or {}
    extra = rec.get("additionalEventData") or {}
    params = rec.get("requestParameters") or {}
    sigv, acl_req = extra.get("SignatureVersion"), extra.get("aclRequired") == "Yes"
    canned = params.get("x-amz-acl")
    grant = next((g for g in GRANTS if params.get(g) is not None), None)
    anonymous = ident.get("accountId") in ANONYMOUS
    outside = anonymous or ident.get("type") == "AWSAccount"
    sets = rec["eventName"] in ("PutObjectAcl", "PutBucketAcl") or (
        canned is not None and canned != "bucket-owner-full-control") or grant is not None
    if not (sigv == "SigV2" or acl_req or sets or outside):
        return None
    if anonymous:
        principal, ptype, account = "anonymous", "anonymous", None
    else:
        ptype, account = ident.get("type") or "Unknown", ident.get("accountId")
        issuer = ((ident.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        if ptype == "AssumedRole" and issuer:
            principal = issuer
        elif ptype == "AWSService":
            principal = ident.get("invokedBy") or rec.get("sourceIPAddress")
        elif ptype == "AWSAccount":
            principal = f"arn:aws:iam::{account}:root"
        else:
            principal = ident.get("arn") or ident.get("principalId") or "unknown"
    ua = rec.get("userAgent")
    if ua and ua.startswith("[") and ua.endswith("]"):
        ua = ua[1:-1]
    return (params.get("bucketName"), bucket_owner(rec), rec.get("awsRegion"), rec["eventName"], principal, ptype,
            account, ua, sigv, extra.get("AuthenticationMethod"), acl_req,
            canned if canned is not None else grant)


def reference_evidence(files: list[Path]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Evidence key -> {requests (distinct request ids), first_seen, last_seen}."""
    ids: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    times: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for path in files:
        for rec in read_records(path):
            key = evidence_key(rec)
            if key is None:
                continue
            ids[key].add(rec.get("requestID") or rec.get("eventID"))
            if rec.get("eventTime"):
                times[key].append(rec["eventTime"])
    return {k: {"requests": len(v), "first_seen": min(times[k], default=None),
                "last_seen": max(times[k], default=None)} for k, v in ids.items()}


def engine_key(ev: Any) -> tuple[Any, ...]:
    """The same key tuple from an Evidence object."""
    return (ev.bucket, ev.bucket_account_id, ev.region, ev.event_name, ev.principal, ev.principal_type, ev.account_id,
            ev.user_agent, ev.signature_version, ev.auth_method, ev.acl_required, ev.acl_header)

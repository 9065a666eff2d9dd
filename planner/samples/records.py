"""One CloudTrail record from a profile and a time, and the ground truth it adds to (what the planner must find)."""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from planner.samples.busy import busy_key_prefix
from planner.samples.people import (
    ACL_HEADER_EVENTS,
    ALL_USERS,
    BOFC,
    BUCKETS,
    DATA_EVENTS,
    EVIDENCE_FIELDS,
    LOG_DELIVERY,
    MGMT_PARAMS,
    OBJECT_EVENTS,
    READ_ONLY,
    S3,
    TRAIL_BUCKET,
    XSI,
    EvKey,
    Rec,
    T,
    _evidence_sort_key,
    _rand,
    _Who,
)
from planner.samples.profiles import _Profile


@dataclass(frozen=True)
class _Meta:
    """Bookkeeping for one written record, kept apart from the record itself."""

    bucket: str | None
    is_s3: bool
    evidence: EvKey | None


@dataclass
class _Truth:
    """Ground-truth accumulators, fed once per written record (duplicates included)."""

    records: int = 0
    s3_records: int = 0
    first: str = "~"
    last: str = ""
    buckets: dict[str, int] = field(default_factory=dict)
    evidence: dict[EvKey, tuple[set[str], list[str]]] = field(default_factory=dict)

    def add(self, rec: Rec, meta: _Meta) -> None:
        """Count one written record."""
        self.records += 1
        if meta.is_s3:
            self.s3_records += 1
        if meta.bucket is not None:
            self.buckets[meta.bucket] = self.buckets.get(meta.bucket, 0) + 1
        if meta.evidence is not None:
            self._add_evidence(meta.evidence, rec["requestID"], rec["eventTime"])

    def _add_evidence(self, key: EvKey, request_id: str, when: str) -> None:
        ids, span = self.evidence.setdefault(key, (set(), [when, when]))
        ids.add(request_id)
        span[0] = min(span[0], when)
        span[1] = max(span[1], when)

    def to_json(self, seed: int, files: int, digests: int) -> Rec:
        """The ground-truth document."""
        entries = [dict(zip(EVIDENCE_FIELDS, key, strict=True)) | {
            "requests": len(ids), "first_seen": span[0], "last_seen": span[1]}
            for key, (ids, span) in sorted(self.evidence.items(), key=lambda kv: _evidence_sort_key(kv[0]))]
        return {"seed": seed, "records": self.records, "files": files, "digest_files": digests,
                "first_event_time": self.first, "last_event_time": self.last, "s3_records": self.s3_records,
                "bucket_records": dict(sorted(self.buckets.items())), "evidence": entries}





class _Builder:
    """Turns a profile and a time into one CloudTrail record plus its ground-truth bookkeeping."""

    def __init__(self, rng: random.Random, spread_keys: bool = False) -> None:
        self.rng = rng
        self.spread_keys = spread_keys  # the busy shape: keys under thousands of top-level prefixes
        self.bucket_res = {b: {"accountId": v[0], "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{b}"}
                           for b, v in BUCKETS.items()}
        self.bucket_acl = {b: _bucket_acl(rng, b) for b in BUCKETS}

    def uuid(self) -> str:
        """A version-4 UUID from the RNG."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def record(self, p: _Profile, when: str) -> tuple[Rec, _Meta]:
        """One record of profile `p` at `when`."""
        return self._s3(p, when) if p.source == S3 else self._mgmt(p, when)

    def _head(self, p: _Profile, who: _Who, ev: str, when: str, ua: str) -> Rec:
        rng = self.rng
        return {"eventVersion": "1.08" if rng.random() < 0.2 else "1.09", "userIdentity": who.ident,
                "eventTime": when, "eventSource": p.source, "eventName": ev, "awsRegion": p.region,
                "sourceIPAddress": _pick(rng, who.ips), "userAgent": ua}

    def _mgmt(self, p: _Profile, when: str) -> tuple[Rec, _Meta]:
        rng = self.rng
        who = _pick(rng, p.who)
        ev = _pick(rng, p.events)
        rec = self._head(p, who, ev, when, _pick(rng, p.agents)[0])
        rec["requestParameters"] = MGMT_PARAMS[ev]
        rec["responseElements"] = None
        rec["requestID"] = self.uuid()
        rec["eventID"] = self.uuid()
        rec["readOnly"] = ev in READ_ONLY
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = True
        rec["recipientAccountId"] = p.account
        rec["eventCategory"] = "Management"
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                             "clientProvidedHostHeader": p.host}
        return rec, _Meta(None, False, None)

    def _s3(self, p: _Profile, when: str) -> tuple[Rec, _Meta]:
        rng = self.rng
        who = _pick(rng, p.who)
        written, raw = _pick(rng, p.agents)
        ev = _pick(rng, p.events)
        err = p.error_rate > 0 and rng.random() < p.error_rate
        key = self._key(p.bucket, ev)
        params, acl_header = self._params(p, who, ev, key)
        rec = self._head(p, who, ev, when, written)
        if err:
            rec["errorCode"] = "AccessDenied"
            rec["errorMessage"] = "Access Denied"
        rec["requestParameters"] = params
        rec["responseElements"] = None if err or ev in READ_ONLY else _response(ev, p.bucket, key)
        rec["additionalEventData"] = self._extra(p, ev, err)
        rec["requestID"] = f"{rng.getrandbits(64):016X}"
        rec["eventID"] = self.uuid()
        self._tail(rec, p, who, ev, key)
        return rec, self._meta(p, who, raw, ev, acl_header)

    def _tail(self, rec: Rec, p: _Profile, who: _Who, ev: str, key: str | None) -> None:
        data = ev in DATA_EVENTS
        rec["readOnly"] = ev in READ_ONLY
        if p.bucket is not None:
            rec["resources"] = self._resources(p.bucket, ev, key)
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not data
        rec["recipientAccountId"] = p.account
        if p.cross and data:
            rec["sharedEventID"] = self.uuid()
        if who.vpce is not None:
            rec["vpcEndpointId"] = who.vpce
        rec["eventCategory"] = "Data" if data else "Management"
        if p.tls:
            legacy = p.sig == "SigV2"
            rec["tlsDetails"] = {"tlsVersion": "TLSv1.2" if legacy else "TLSv1.3",
                                 "cipherSuite": _cipher(legacy), "clientProvidedHostHeader": p.host}
        if p.console:
            rec["sessionCredentialFromConsole"] = "true"

    def _key(self, bucket: str | None, ev: str) -> str | None:
        if bucket is None or ev not in DATA_EVENTS:
            return None
        prefixes, ext = BUCKETS[bucket][3], BUCKETS[bucket][4]
        prefix = _pick(self.rng, prefixes)
        if self.spread_keys:
            prefix = busy_key_prefix(self.rng, prefix)
        return prefix if ev == "ListObjects" else f"{prefix}{self.rng.getrandbits(24):06x}.{ext}"

    def _params(self, p: _Profile, who: _Who, ev: str, key: str | None) -> tuple[Rec, str | None]:
        """requestParameters, and the ACL header it carries (as the ground truth reports it)."""
        params: Rec = {"host": [p.host]} if p.host_array else {}
        if p.bucket is not None:
            params["bucketName"] = p.bucket
        if not p.host_array:
            params["Host"] = p.host
        self._event_params(params, p, ev, key)
        acl_header = None
        if ev in ACL_HEADER_EVENTS and p.acl is not None:
            params["x-amz-acl"] = acl_header = p.acl
        elif ev in ACL_HEADER_EVENTS and p.grant is not None:
            params[p.grant] = f"uri={ALL_USERS}"
            acl_header = p.grant
        if p.auth == "QueryString":
            self._presign(params, p, who.ident.get("accessKeyId", ""))
        return params, acl_header

    def _event_params(self, params: Rec, p: _Profile, ev: str, key: str | None) -> None:
        if ev == "ListObjects":
            params.update({"prefix": key, "delimiter": "/", "encoding-type": "url"})
            if p.sig == "SigV4":
                params["list-type"] = "2"
        elif key is not None:
            params["key"] = key
        if ev == "CopyObject":
            params["x-amz-copy-source"] = f"{p.bucket}/{key}.orig"
        elif ev == "CreateMultipartUpload":
            params["uploads"] = ""
        elif ev in ("GetBucketAcl", "PutBucketAcl", "PutObjectAcl"):
            params["acl"] = [""]
        elif ev in ("GetBucketPolicy", "GetBucketLocation"):
            params["policy" if ev == "GetBucketPolicy" else "location"] = [""]
        if ev == "PutBucketAcl" and p.bucket is not None:
            params["AccessControlPolicy"] = self.bucket_acl[p.bucket]
        elif ev == "PutObjectAcl" and p.acl is None and p.bucket is not None:
            params["AccessControlPolicy"] = _object_acl(self.bucket_acl[p.bucket])

    def _presign(self, params: Rec, p: _Profile, who_key: str) -> None:
        expires = 1_793_000_000 + self.rng.randrange(3_000_000)
        if p.sig == "SigV2":
            params["AWSAccessKeyId"] = who_key
            params["Expires"] = str(expires)
        else:
            params.update({"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": "20261101T000000Z",
                           "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"})

    def _extra(self, p: _Profile, ev: str, err: bool) -> Rec:
        rng = self.rng
        extra: Rec = {}
        if p.sig is not None:
            extra["SignatureVersion"] = p.sig
        if p.tls:
            extra["CipherSuite"] = _cipher(p.sig == "SigV2")
        put = ev in ("PutObject", "UploadPart") and not err
        extra["bytesTransferredIn"] = 100 + int(rng.random() * 8_000_000) if put else 0
        if p.auth is not None:
            extra["AuthenticationMethod"] = p.auth
        extra["x-amz-id-2"] = base64.b64encode(rng.randbytes(57)).decode()
        get = ev == "GetObject" and not err
        extra["bytesTransferredOut"] = 100 + int(rng.random() * 8_000_000) if get else (0 if err else 512)
        if p.acl_required:
            extra["aclRequired"] = "Yes"
        return extra

    def _resources(self, bucket: str, ev: str, key: str | None) -> list[Rec]:
        bucket_res = self.bucket_res[bucket]
        if ev == "ListObjects":
            return [{"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{key}"}, bucket_res]
        if ev in OBJECT_EVENTS:
            return [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}, bucket_res]
        return [bucket_res]

    @staticmethod
    def _meta(p: _Profile, who: _Who, raw_ua: str, ev: str, acl_header: str | None) -> _Meta:
        sets_acl = ev in ("PutObjectAcl", "PutBucketAcl") or (acl_header not in (None, BOFC))
        if not (p.sig == "SigV2" or p.acl_required or sets_acl):
            return _Meta(p.bucket, True, None)
        key: EvKey = (p.bucket, ev, who.principal, who.ptype, who.account, raw_ua, p.sig, p.auth,
                      p.acl_required, acl_header)
        return _Meta(p.bucket, True, key)


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    """A uniform pick that is cheaper than rng.choice (one C call)."""
    return items[int(rng.random() * len(items))]


def _cipher(legacy: bool) -> str:
    return "ECDHE-RSA-AES128-GCM-SHA256" if legacy else "TLS_AES_128_GCM_SHA256"


def _response(ev: str, bucket: str | None, key: str | None) -> Rec | None:
    if ev in ("PutObject", "CopyObject"):
        return {"x-amz-server-side-encryption": "AES256"}
    if ev == "CreateMultipartUpload":
        return {"bucketName": bucket, "key": key, "uploadId": "EXAMPLEJZ6e0YupT2h66iePQCc9IEbYbD"}
    return None


def _bucket_acl(rng: random.Random, bucket: str) -> Rec:
    owner = _rand(rng, "0123456789abcdef", 64)
    grants = [{"Grantee": {"xsi:type": "CanonicalUser", "xmlns:xsi": XSI, "ID": owner}, "Permission": "FULL_CONTROL"}]
    group = LOG_DELIVERY if bucket == TRAIL_BUCKET else ALL_USERS
    perms = ("WRITE", "READ_ACP") if group == LOG_DELIVERY else ("READ",)
    grants += [{"Grantee": {"xsi:type": "Group", "xmlns:xsi": XSI, "URI": group}, "Permission": perm}
               for perm in perms]
    return {"AccessControlList": {"Grant": grants}, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "Owner": {"ID": owner}}


def _object_acl(bucket_acl: Rec) -> Rec:
    owner = bucket_acl["Owner"]["ID"]
    grants = [bucket_acl["AccessControlList"]["Grant"][0],
              {"Grantee": {"xsi:type": "Group", "xmlns:xsi": XSI, "URI": ALL_USERS}, "Permission": "READ"}]
    return {"AccessControlList": {"Grant": grants}, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "Owner": {"ID": owner}}


# ---------------------------------------------------------------- files

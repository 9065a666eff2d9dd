"""Deterministic sample CloudTrail S3 logs (AWS tree layout, digests) plus the ground truth the planner must find.

Everything is drawn from one `random.Random(seed)`; no wall clock. Record shapes follow the shared
s3-migration-facts reference, §2 (user agents), §5 (records) and §6 (file layout).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import os
import random
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

Rec = dict[str, Any]
T = TypeVar("T")
EvKey = tuple[str | None, str, str, str, str | None, str, str | None, str | None, bool, str | None]

S3 = "s3.amazonaws.com"
ACCT_A = "111122223333"
ACCT_B = "444455556666"
PARTNER_ACCT = "999988887777"
ETL_ACCT = "777766665555"
OTHER_ACCT = "222233334444"
REGIONS = ("us-east-1", "eu-west-1", "us-west-2")
STREAMS: tuple[tuple[str, str], ...] = tuple((a, r) for a in (ACCT_A, ACCT_B) for r in REGIONS)
TRAIL_NAME = "acme-org-trail"
TRAIL_BUCKET = "acme-logs-prod"
BOFC = "bucket-owner-full-control"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GROUND_TRUTH = "ground-truth.json"
CONFIG_ROLE = "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
EVIDENCE_FIELDS = ("bucket", "event_name", "principal", "principal_type", "account_id", "user_agent",
                   "signature_version", "auth_method", "acl_required", "acl_header")
DUP_RATE = 0.005  # share of records that CloudTrail delivers twice (again in a later file of the same day)
LAST_SECOND = 85_800  # records stop at 23:50 so that delivery (+1..9 min) stays in the same UTC day

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits
_ORG_RE = re.compile(r"o-[a-z0-9]{10,32}")

# bucket -> (owner account, region, traffic weight, key prefixes, file extension)
BUCKETS: dict[str, tuple[str, str, float, tuple[str, ...], str]] = {
    "acme-logs-prod": (ACCT_A, "us-east-1", 5.0, ("app-logs/", "AWSLogs/"), "json.gz"),
    "acme-data-lake": (ACCT_A, "us-east-1", 10.0, ("raw/", "curated/", "tmp/"), "parquet"),
    "acme-public-assets": (ACCT_A, "us-east-1", 4.0, ("images/", "css/", "js/"), "png"),
    "acme-reports": (ACCT_A, "eu-west-1", 6.0, ("reports/2026/", "exports/"), "csv"),
    "acme-build-artifacts": (ACCT_A, "us-west-2", 5.0, ("builds/", "releases/"), "zip"),
    "acme-archive-cold": (ACCT_A, "us-west-2", 4.0, ("archive/2025/", "archive/2026/"), "tar"),
    "acme-partner-exchange": (ACCT_B, "us-east-1", 4.0, ("inbound/", "outbound/"), "csv"),
    "acme-access-logs": (ACCT_B, "us-east-1", 3.0, ("s3-access/",), "log"),
    "acme-web-uploads": (ACCT_B, "eu-west-1", 5.0, ("uploads/", "avatars/"), "jpg"),
    "acme-analytics-sigv4only": (ACCT_B, "eu-west-1", 6.0, ("events/", "daily/"), "json"),
    "acme-backups": (ACCT_B, "us-west-2", 5.0, ("db/", "configs/"), "bak"),
    "acme-ml-training": (ACCT_B, "us-west-2", 7.0, ("datasets/", "models/"), "npz"),
}

DATA_EVENTS = frozenset({"GetObject", "PutObject", "HeadObject", "ListObjects", "DeleteObject", "CopyObject",
                         "CreateMultipartUpload", "PutObjectAcl"})
READ_ONLY = frozenset({"GetObject", "HeadObject", "ListObjects", "GetBucketAcl", "GetBucketPolicy",
                       "GetBucketLocation", "ListBuckets", "DescribeInstances", "DescribeSecurityGroups",
                       "DescribeVolumes", "GetCallerIdentity", "Decrypt", "GenerateDataKey", "DescribeKey",
                       "ListRoles", "GetRole", "ListFunctions20150331"})
ACL_HEADER_EVENTS = frozenset({"PutObject", "PutObjectAcl", "CopyObject", "CreateMultipartUpload"})
OBJECT_EVENTS = DATA_EVENTS - {"ListObjects"}

MODERN_UAS = (
    ("Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 "
     "lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36"),
    ("Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/macos#22.6.0 md/arch#arm64 lang/python#3.9.6 "
     "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62"),
    ("aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#x86_64 lang/python#3.12.6 "
     "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.cp"),
    ("aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1016-aws md/arch#x86_64 lang/python#3.12.6 "
     "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off "
     "md/command#s3.sync"),
    ("aws-sdk-java/2.24.5 Linux/5.10.215-203.850.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS "
     "Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy"),
    ("aws-sdk-java/2.15.8 Linux/3.10.0-1127.19.1.el7.x86_64 OpenJDK_64-Bit_Server_VM/25.252-b09 "
     "Java/1.8.0_252 vendor/AdoptOpenJDK io/sync http/Apache"),
    "aws-sdk-go-v2/1.30.4 os/linux lang/go#1.23.0 md/GOOS#linux md/GOARCH#amd64 api/s3#1.60.1",
    "m/E aws-sdk-go-v2/1.30.4 os/macos lang/go#1.23.0 md/GOOS#darwin md/GOARCH#arm64 api/s3#1.60.1",
    ("aws-sdk-js/3.758.0 ua/2.1 os/linux#5.10.234-225.895.amzn2.x86_64 lang/js md/nodejs#20.18.3 "
     "api/s3#3.758.0 m/E,T,i,o"),
)
BROWSER_UAS = (
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/129.0.0.0 Safari/537.36"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/105.0.0.0 Safari/537.36"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:90.0) Gecko/20100101 Firefox/90.0",
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1"),
)
CONSOLE_UA = ("S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.226-192.879.amzn2int.x86_64 "
              "OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation "
              "cfg/retry-mode/standard")
CLI_1_11 = "aws-cli/1.11.10 Python/2.7.8 Linux/3.2.45-0.6.wd.865.49.315.metal1.x86_64 botocore/1.4.67"
BOTO3_OLD = ("Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12",
             "Boto3/1.4.4 Python/2.7.12 Linux/4.4.0-1013-aws Botocore/1.5.12",
             "Boto3/1.4.0 Python/2.7.12 Linux/4.4.0-1013-aws Botocore/1.4.49")
BOTO2 = "Boto/2.49.0 Python/2.7.18 Linux/4.14.0"
JAVA_1_11_100 = ("aws-sdk-java/1.11.100 Linux/4.9.20-11.31.amzn1.x86_64 OpenJDK_64-Bit_Server_VM/25.121-b13 "
                 "java/1.8.0_121")
JAVA_1_12_300 = ("aws-sdk-java/1.12.300 Linux/5.10.135-122.509.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.342-b07 "
                 "java/1.8.0_342 vendor/Amazon.com_Inc. cfg/retry-mode/legacy")
NODE_2_50 = "aws-sdk-nodejs/2.50.0 linux/v6.10.3 callback"
NODE_2_1363 = "aws-sdk-nodejs/2.1363.0 linux/v16.20.2 exec-env/AWS_ECS_FARGATE promise"
PHP_2_6 = "aws-sdk-php/2.6.0 Guzzle/3.9.2 curl/7.29.0 PHP/5.4.16"
RUBY2 = "aws-sdk-ruby2/2.11.19 ruby/2.3.1 x86_64-linux"
DOTNET_3_1 = ("aws-sdk-dotnet-45/ aws-sdk-dotnet-core/3.1.5.0 .NET_Runtime/4.0 .NET_Framework/4.0 "
              "OS/Microsoft_Windows_NT_6.3.9600.0")
HADOOP_2_8 = ("Hadoop 2.8.0, aws-sdk-java/1.10.6 Linux/3.10.0-514.el7.x86_64 "
              "Java_HotSpot(TM)_64-Bit_Server_VM/25.121-b13/1.8.0_121")
EMRFS = ("ElasticMapReduce/1.0.0 emrfs/s3n {}, aws-sdk-java/1.11.129 Linux/4.4.35-33.55.amzn1.x86_64 "
         "OpenJDK_64-Bit_Server_VM/25.141-b16/1.8.0_141")

MGMT_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ec2.amazonaws.com", ("DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes", "CreateTags")),
    ("sts.amazonaws.com", ("AssumeRole", "GetCallerIdentity")),
    ("kms.amazonaws.com", ("Decrypt", "GenerateDataKey", "DescribeKey")),
    ("lambda.amazonaws.com", ("ListFunctions20150331",)),
    ("iam.amazonaws.com", ("ListRoles", "GetRole")),
)
MGMT_PARAMS: dict[str, Rec | None] = {
    "DescribeInstances": {"instancesSet": {}, "filterSet": {}},
    "DescribeSecurityGroups": {"securityGroupSet": {}, "filterSet": {}},
    "DescribeVolumes": {"volumeSet": {}, "filterSet": {}},
    "CreateTags": {"resourcesSet": {"items": [{"resourceId": "i-0a1b2c3d4e5f60718"}]},
                   "tagSet": {"items": [{"key": "team", "value": "data"}]}},
    "AssumeRole": {"roleSessionName": "botocore-session", "durationSeconds": 3600},
    "Decrypt": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "GenerateDataKey": {"keySpec": "AES_256"},
    "DescribeKey": {"keyId": "alias/aws/s3"},
    "ListFunctions20150331": None,
    "GetCallerIdentity": None,
    "ListRoles": None,
    "GetRole": {"roleName": "data-pipeline"},
}


@dataclass(frozen=True)
class SampleSummary:
    """What write_sample_logs wrote."""

    root: Path
    files: int            # log files written (not counting digest files)
    digest_files: int
    records: int          # records written, duplicates included
    ground_truth: Path    # path of the ground-truth JSON


@dataclass(frozen=True)
class _Who:
    """One caller: the userIdentity object and what the ground truth says about it."""

    ident: Rec
    principal: str
    ptype: str
    account: str | None
    ips: tuple[str, ...]
    vpce: str | None = None


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


def _evidence_sort_key(key: Sequence[Any]) -> tuple[Any, ...]:
    """Sort key of an evidence key tuple: None sorts first (as "")."""
    return tuple("" if v is None else v for v in key)


# ---------------------------------------------------------------- identities


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _ips(rng: random.Random, private: bool, n: int = 4) -> tuple[str, ...]:
    if private:
        return tuple(f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(n))
    firsts = (3, 18, 34, 52, 54, 81, 92, 145, 185, 203)
    return tuple(f"{rng.choice(firsts)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                 for _ in range(n))


def _created(rng: random.Random, start: date) -> str:
    secs = rng.randrange(86_400)
    day = (start - timedelta(days=1)).isoformat()
    return f"{day}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"


def _role(rng: random.Random, start: date, acct: str, role: str, sessions: Sequence[str],
          private: bool = True, vpce: str | None = None) -> tuple[_Who, ...]:
    """One AssumedRole identity per session of `role` (same sessionIssuer)."""
    role_id = "AROA" + _rand(rng, _UPPER, 17)
    name = role.rsplit("/", 1)[-1]
    issuer = {"type": "Role", "principalId": role_id, "arn": f"arn:aws:iam::{acct}:role/{role}",
              "accountId": acct, "userName": name}
    ips = _ips(rng, private)
    out = []
    for session in sessions:
        ident = {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
                 "arn": f"arn:aws:sts::{acct}:assumed-role/{name}/{session}", "accountId": acct,
                 "accessKeyId": "ASIA" + _rand(rng, _UPPER, 16),
                 "sessionContext": {"sessionIssuer": issuer, "webIdFederationData": {},
                                    "attributes": {"creationDate": _created(rng, start),
                                                   "mfaAuthenticated": "false"}}}
        out.append(_Who(ident, issuer["arn"], "AssumedRole", acct, ips, vpce))
    return tuple(out)


def _internal(who: tuple[_Who, ...]) -> tuple[_Who, ...]:
    """The same role sessions, used by an AWS service on the account's behalf ("AWS Internal")."""
    return tuple(_Who(w.ident | {"invokedBy": "AWS Internal"}, w.principal, w.ptype, w.account,
                      ("AWS Internal",)) for w in who)


def _user(rng: random.Random, acct: str, name: str, private: bool = True) -> tuple[_Who, ...]:
    arn = f"arn:aws:iam::{acct}:user/{name}"
    ident = {"type": "IAMUser", "principalId": "AIDA" + _rand(rng, _UPPER, 17), "arn": arn,
             "accountId": acct, "accessKeyId": "AKIA" + _rand(rng, _UPPER, 16), "userName": name}
    return (_Who(ident, arn, "IAMUser", acct, _ips(rng, private)),)


def _root(rng: random.Random, start: date, acct: str) -> tuple[_Who, ...]:
    arn = f"arn:aws:iam::{acct}:root"
    ident = {"type": "Root", "principalId": acct, "arn": arn, "accountId": acct,
             "accessKeyId": "ASIA" + _rand(rng, _UPPER, 16),
             "sessionContext": {"attributes": {"creationDate": _created(rng, start), "mfaAuthenticated": "true"}}}
    return (_Who(ident, arn, "Root", acct, _ips(rng, False, 2)),)


def _aws_account(rng: random.Random, acct: str) -> tuple[_Who, ...]:
    ident = {"type": "AWSAccount", "principalId": "AIDA" + _rand(rng, _UPPER, 17), "accountId": acct}
    return (_Who(ident, f"arn:aws:iam::{acct}:root", "AWSAccount", acct, _ips(rng, False)),)


def _anonymous(rng: random.Random) -> tuple[_Who, ...]:
    ident = {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    return (_Who(ident, "anonymous", "anonymous", None, _ips(rng, False, 40)),)


def _service(name: str) -> tuple[_Who, ...]:
    return (_Who({"type": "AWSService", "invokedBy": name}, name, "AWSService", None, (name,)),)


def _sessions(rng: random.Random, kind: str, n: int) -> list[str]:
    if kind == "ec2":
        return [f"i-0{_rand(rng, '0123456789abcdef', 16)}" for _ in range(n)]
    if kind == "botocore":
        return [f"botocore-session-{1793000000 + rng.randrange(2_000_000)}" for _ in range(n)]
    return [f"{kind}-{_rand(rng, string.ascii_lowercase + string.digits, 8)}" for _ in range(n)]


@dataclass(frozen=True)
class _People:
    """Every caller of the sample, by short name."""

    who: dict[str, tuple[_Who, ...]]

    def __getitem__(self, names: str) -> tuple[_Who, ...]:
        return tuple(w for name in names.split() for w in self.who[name])


def _people(rng: random.Random, start: date) -> _People:
    """Build the identity pools (deterministic for the RNG)."""
    a, b = ACCT_A, ACCT_B
    who: dict[str, tuple[_Who, ...]] = {
        "a-app": _role(rng, start, a, "app-backend", _sessions(rng, "ec2", 4)),
        "a-pipeline": _role(rng, start, a, "data-pipeline", _sessions(rng, "botocore", 5),
                            vpce="vpce-0a1b2c3d4e5f60718"),
        "a-ci": _role(rng, start, a, "ci-deployer", ["GitHubActions", "gha-release", "gha-nightly"], False),
        "a-emr": _role(rng, start, a, "EMR_EC2_DefaultRole", _sessions(rng, "ec2", 6)),
        "a-config": _internal(_role(rng, start, a, CONFIG_ROLE, ["AWSConfig-BucketConfigHandler"])),
        "a-legacy": _user(rng, a, "legacy-batch"), "a-uploader": _user(rng, a, "uploader-svc"),
        "a-reportsbot": _user(rng, a, "reports-bot"), "a-root": _root(rng, start, a),
        "b-etl": _role(rng, start, b, "analytics-etl", _sessions(rng, "botocore", 4)),
        "b-ml": _role(rng, start, b, "ml-trainer", _sessions(rng, "sagemaker", 3)),
        "b-web": _role(rng, start, b, "web-backend", _sessions(rng, "ecs", 5)),
        "b-config": _internal(_role(rng, start, b, CONFIG_ROLE, ["AWSConfig-BucketConfigHandler"])),
        "b-legacy": _user(rng, b, "legacy-reports"), "b-uploader": _user(rng, b, "web-uploader", False),
        "b-backup": _user(rng, b, "backup-agent"),
        "partner": _role(rng, start, PARTNER_ACCT, "partner-reader", _sessions(rng, "partner", 4), False),
        "etl": _user(rng, ETL_ACCT, "etl", False), "other": _aws_account(rng, OTHER_ACCT),
        "anon": _anonymous(rng), "cloudtrail": _service("cloudtrail.amazonaws.com"),
        "logging": _service("logging.s3.amazonaws.com"),
    }
    return _People(who)


# ---------------------------------------------------------------- traffic profiles


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


class _Builder:
    """Turns a profile and a time into one CloudTrail record plus its ground-truth bookkeeping."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
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


@dataclass
class _Slot:
    """One (day, account, region): its log files' sizes and what gets written there."""

    day: date
    account: str
    region: str
    sizes: list[int]
    logs: list[Rec] = field(default_factory=list)  # digest logFiles entries


def _plan(rng: random.Random, records: int, per_file: int, start: date, days: int) -> list[_Slot]:
    """Split the records into files, at least two per used (day, stream) where the total allows it."""
    n_slots = days * len(STREAMS)
    files = min(records, max(math.ceil(records / per_file), min(2 * n_slots, math.ceil(records / 100))))
    used = min(n_slots, max(1, files // 2))
    picks = _pick_slots(rng, used, days)
    file_sizes = _split(records, files)
    per_slot = _split(files, used)
    out, i = [], 0
    for (day_index, stream), count in zip(picks, per_slot, strict=True):
        acct, region = STREAMS[stream]
        out.append(_Slot(start + timedelta(days=day_index), acct, region, file_sizes[i:i + count]))
        i += count
    return out


def _pick_slots(rng: random.Random, used: int, days: int) -> list[tuple[int, int]]:
    """`used` (day, stream) pairs covering every stream as evenly as possible, in (day, stream) order."""
    n = len(STREAMS)
    picks = []
    for stream in range(n):
        count = used // n + (stream < used % n)
        picks += [(d, stream) for d in rng.sample(range(days), count)]
    return sorted(picks)


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def _clock(day: str, secs: int) -> str:
    return f"{day}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"


class _Writer:
    """Writes the tree file by file, feeding the ground truth as it goes."""

    def __init__(self, root: Path, seed: int, start: date, org_id: str | None) -> None:
        self.root = root
        self.rng = random.Random(seed)  # noqa: S311, RUF100 (reproducible sample data)
        self.catalog = _catalog(self.rng, start)
        self.cum = {s: list(accumulate(p.weight for p in ps)) for s, ps in self.catalog.items()}
        self.builder = _Builder(self.rng)
        self.truth = _Truth()
        self.prefix = f"AWSLogs/{org_id}/" if org_id else "AWSLogs/"
        self.seen_streams: set[tuple[str, str]] = set()
        self.prev_digest: dict[tuple[str, str], str] = {}
        self.files = 0
        self.digests = 0

    def slot(self, slot: _Slot) -> None:
        """Write every log file of one slot, then its digest."""
        stream = (slot.account, slot.region)
        k = len(slot.sizes)
        windows = _split(LAST_SECOND, k)
        carry: list[tuple[Rec, _Meta]] = []
        w0 = 0
        for j, size in enumerate(slot.sizes):
            w1 = w0 + windows[j]
            fresh = size - len(carry) if k > 1 else size - round(size * DUP_RATE)
            new = self._fresh(stream, slot.day.isoformat(), w0, w1, max(0, fresh))
            batch = carry + new
            if k == 1:
                batch += self.rng.sample(new, min(len(new), size - len(batch)))
            carry = self._carry(new, size, k) if j < k - 1 else []
            self._log_file(slot, batch[:size])
            w0 = w1
        self._digest(slot)

    def _carry(self, new: list[tuple[Rec, _Meta]], size: int, k: int) -> list[tuple[Rec, _Meta]]:
        """Records of this file that CloudTrail will deliver again in the next one (k-1 of k files carry)."""
        want = max(1, round(size * DUP_RATE * k / (k - 1)))
        return self.rng.sample(new, min(len(new), want))

    def _fresh(self, stream: tuple[str, str], day: str, w0: int, w1: int, n: int) -> list[tuple[Rec, _Meta]]:
        profiles = self.catalog[stream]
        chosen: list[_Profile] = []
        if stream not in self.seen_streams:  # first file of a stream: every profile at least once
            self.seen_streams.add(stream)
            chosen = profiles[:n]
        chosen += self.rng.choices(profiles, cum_weights=self.cum[stream], k=n - len(chosen))
        rng, record = self.rng, self.builder.record
        rnd, span = rng.random, w1 - w0
        return [record(p, _clock(day, w0 + int(rnd() * span))) for p in chosen]

    def _log_file(self, slot: _Slot, batch: list[tuple[Rec, _Meta]]) -> None:
        for rec, meta in batch:
            self.truth.add(rec, meta)
        times = [rec["eventTime"] for rec, _ in batch]
        oldest, newest = min(times), max(times)
        self.truth.first, self.truth.last = min(self.truth.first, oldest), max(self.truth.last, newest)
        secs = int(newest[11:13]) * 3600 + int(newest[14:16]) * 60 + self.rng.randrange(60, 540)
        stamp = f"{slot.day:%Y%m%d}T{secs // 3600:02d}{secs // 60 % 60:02d}Z"
        name = f"{slot.account}_CloudTrail_{slot.region}_{stamp}_{_rand(self.rng, _ALNUM, 16)}.json.gz"
        key = f"{self._dir(slot, 'CloudTrail')}/{name}"
        body = json.dumps({"Records": [rec for rec, _ in batch]}, separators=(",", ":")).encode()
        data = gzip.compress(body, compresslevel=1, mtime=0)
        self._put(key, data)
        self.files += 1
        slot.logs.append({"s3Bucket": TRAIL_BUCKET, "s3Object": key, "hashValue": hashlib.sha256(data).hexdigest(),
                          "hashAlgorithm": "SHA-256", "newestEventTime": newest, "oldestEventTime": oldest})

    def _digest(self, slot: _Slot) -> None:
        day = slot.day.isoformat()
        name = (f"{slot.account}_CloudTrail-Digest_{slot.region}_{TRAIL_NAME}_{slot.region}_"
                f"{slot.day:%Y%m%d}T235959Z.json.gz")
        key = f"{self._dir(slot, 'CloudTrail-Digest')}/{name}"
        stream = (slot.account, slot.region)
        prev = self.prev_digest.get(stream)
        doc = {"awsAccountId": slot.account, "digestStartTime": f"{day}T00:00:00Z",
               "digestEndTime": f"{day}T23:59:59Z", "digestS3Bucket": TRAIL_BUCKET, "digestS3Object": key,
               "digestPublicKeyFingerprint": _rand(self.rng, "0123456789abcdef", 32),
               "digestSignatureAlgorithm": "SHA256withRSA",
               "newestEventTime": max(f["newestEventTime"] for f in slot.logs),
               "oldestEventTime": min(f["oldestEventTime"] for f in slot.logs),
               "previousDigestS3Bucket": TRAIL_BUCKET if prev else None, "previousDigestS3Object": prev,
               "previousDigestHashValue": _rand(self.rng, "0123456789abcdef", 64) if prev else None,
               "previousDigestHashAlgorithm": "SHA-256" if prev else None,
               "previousDigestSignature": _rand(self.rng, "0123456789abcdef", 64) if prev else None,
               "logFiles": slot.logs}
        self._put(key, gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=1, mtime=0))
        self.prev_digest[stream] = key
        self.digests += 1

    def _dir(self, slot: _Slot, kind: str) -> str:
        return f"{self.prefix}{slot.account}/{kind}/{slot.region}/{slot.day:%Y/%m/%d}"

    def _put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_sample_logs(root: Path, *, records: int = 20_000, seed: int = 7,
                      start: date = date(2026, 11, 1), days: int = 7,
                      records_per_file: int = 5_000, org_id: str | None = None) -> SampleSummary:
    """Write a deterministic CloudTrail tree of S3 (and other) events under `root`, plus ground-truth.json.

    `records_per_file` is an upper bound: small samples are spread over more, smaller files so that
    every (account, region) stream and several days appear.
    """
    if records < 1 or days < 1 or records_per_file < 1:
        raise ValueError("records, days and records_per_file must be at least 1")
    if org_id is not None and not _ORG_RE.fullmatch(org_id):
        raise ValueError(f"org_id {org_id!r} is not an organization id (o-xxxxxxxxxx)")
    root = Path(root)
    writer = _Writer(root, seed, start, org_id)
    for slot in _plan(writer.rng, records, records_per_file, start, days):
        writer.slot(slot)
    truth = writer.truth.to_json(seed, writer.files, writer.digests)
    gt_path = root / GROUND_TRUTH
    _atomic_write(gt_path, (json.dumps(truth, indent=1) + "\n").encode())
    return SampleSummary(root, writer.files, writer.digests, writer.truth.records, gt_path)


__all__ = ["SampleSummary", "write_sample_logs"]

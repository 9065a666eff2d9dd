"""Who calls S3 in the sample organisation: its accounts, regions, user agents and principals."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
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
class _Who:
    """One caller: the userIdentity object and what the ground truth says about it."""

    ident: Rec
    principal: str
    ptype: str
    account: str | None
    ips: tuple[str, ...]
    vpce: str | None = None




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

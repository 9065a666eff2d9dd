"""S3 server access log lines (facts §8): parsed field by field, and turned into CloudTrail-shaped records so the
one evidence query reads both sources. Strings from the log are data: never evaluated, only copied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from planner.model import partition_of

# Facts §8: the documented fields, in order (Athena column names). Older logs stop early; newer may add more.
FIELDS = (
    "bucketowner", "bucket_name", "requestdatetime", "remoteip", "requester", "requestid", "operation", "key",
    "request_uri", "httpstatus", "errorcode", "bytessent", "objectsize", "totaltime", "turnaroundtime", "referrer",
    "useragent", "versionid", "hostid", "sigv", "ciphersuite", "authtype", "endpoint", "tlsversion",
    "accesspointarn", "aclrequired", "sourceregion",
)
MIN_FIELDS = FIELDS.index("useragent") + 1  # the oldest lines still name the user agent
QUOTED = frozenset({"request_uri", "referrer", "useragent"})
_TIME = "%d/%b/%Y:%H:%M:%S %z"
_ROLE_SESSION = re.compile(
    r"^arn:(?P<part>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$")
_IAM = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>user|role|root)")
_CANONICAL = re.compile(r"^[0-9a-f]{64}$")
# The Region in an S3 endpoint (the Host header): virtual-hosted (bucket.s3.REGION...) or path-style (s3.REGION...),
# legacy dashes (s3-REGION), FIPS, dual-stack, access points and websites, in every partition's DNS suffix
# (botocore partitions.json dnsSuffix). The same pattern is in templates/sql/access_log_records.sql.
REGION_HOST = (r"(?:^|\.)s3(?:-fips|-accesspoint|-object-lambda|-website)?[.-](?:fips\.)?(?:dualstack\.)?"
               r"([a-z]{2,4}(?:-[a-z]+)+-[0-9]+)\.(?:amazonaws\.com|amazonaws\.eu|c2s\.ic\.gov|sc2s\.sgov\.gov"
               r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)")
_REGION_HOST = re.compile(REGION_HOST)


@dataclass(frozen=True)
class AccessLogLine:
    """One parsed line: the documented fields by name (`None` for `-` or for fields an older format lacks)."""

    fields: dict[str, str | None]

    def __getitem__(self, name: str) -> str | None:
        return self.fields.get(name)


@dataclass(frozen=True)
class BadLine:
    """A line that is not an access-log record, and why: a value, never an exception."""

    reason: str


_WORD = r"([^ ]+)"
_QUOTED = r'("[^"\\]*(?:\\.[^"\\]*)*"|-)'  # "...", with \" escapes, or -
# Facts §8, fields 1-17 (bucket owner ... user agent): the time in brackets; request URI, referrer and user agent
# quoted. The fields after them are plain words; older lines stop after the user agent, newer ones may add more.
_HEAD = re.compile(" ".join([_WORD, _WORD, r"\[([^\]]*)\]", *[_WORD] * 5, _QUOTED, *[_WORD] * 6, _QUOTED, _QUOTED])
                   + r"(?= |$)")


def parse_line(line: str) -> AccessLogLine | BadLine:
    """Split one log line into its fields (`-` becomes None), or say why it is not an access-log line."""
    text = line.rstrip("\r\n")
    match = _HEAD.match(text)
    if match is None:
        return BadLine(_why_not(text))
    values = [*match.groups(), *text[match.end():].split(" ")[1:]]
    fields: dict[str, str | None] = dict(zip(FIELDS, [None if v == "-" else v for v in values], strict=False))
    for name in QUOTED:
        value = fields[name]
        if value is not None and value[:1] == '"':
            inner = value[1:-1].replace('\\"', '"')
            fields[name] = None if inner == "-" else inner
    if parse_time(fields["requestdatetime"] or "") is None:
        return BadLine(f"time {fields['requestdatetime']!r} is not [dd/Mon/yyyy:HH:MM:SS +zzzz]")
    return AccessLogLine(fields)


def _why_not(line: str) -> str:
    """A reader's reason for a line the pattern refused."""
    words = line.split()
    if len(words) < MIN_FIELDS:
        return f"{len(words)} fields, expected at least {MIN_FIELDS} (bucket owner ... user agent)"
    if not words[2].startswith("["):
        return "no [time] as the third field"
    return "a quoted field (request URI, referrer, user agent) is not closed, or a field is out of place"


_MONTHS = {m: n for n, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
_FAST_TIME = re.compile(r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000$")


def parse_time(text: str) -> str | None:
    """`06/Feb/2019:00:00:38 +0000` -> `2019-02-06T00:00:38Z` (UTC), or None."""
    fast = _FAST_TIME.match(text)  # S3 writes UTC: read it without strptime, which is slow
    if fast and fast[2] in _MONTHS:
        try:
            moment = datetime(int(fast[3]), _MONTHS[fast[2]], int(fast[1]), int(fast[4]), int(fast[5]), int(fast[6]))
        except ValueError:
            return None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        moment = datetime.strptime(text, _TIME)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Facts §8 operations -> the CloudTrail event names the evidence schema uses. Copies log a second line
# (REST.COPY.OBJECT_GET) and multi-object deletes one BATCH.DELETE.OBJECT line per key beside the request's own
# line: those are not requests of their own and map to None, as do lifecycle and other S3-internal actions.
OPERATIONS = {
    "REST.GET.OBJECT": "GetObject", "REST.HEAD.OBJECT": "HeadObject", "REST.PUT.OBJECT": "PutObject",
    "REST.POST.OBJECT": "PostObject", "REST.DELETE.OBJECT": "DeleteObject", "REST.COPY.OBJECT": "CopyObject",
    "REST.COPY.PART": "UploadPartCopy", "REST.PUT.PART": "UploadPart", "REST.POST.UPLOADS": "CreateMultipartUpload",
    "REST.POST.UPLOAD": "CompleteMultipartUpload", "REST.DELETE.UPLOAD": "AbortMultipartUpload",
    "REST.GET.UPLOAD": "ListParts", "REST.GET.UPLOADS": "ListMultipartUploads",
    "REST.POST.MULTI_OBJECT_DELETE": "DeleteObjects", "REST.HEAD.BUCKET": "HeadBucket",
    "REST.GET.BUCKETVERSIONS": "ListObjectVersions", "REST.GET.LOCATION": "GetBucketLocation",
    "REST.GET.VERSIONING": "GetBucketVersioning", "REST.GET.LOGGING_STATUS": "GetBucketLogging",
    "REST.GET.BUCKETPOLICY": "GetBucketPolicy", "REST.GET.OWNERSHIP_CONTROLS": "GetBucketOwnershipControls",
    "REST.GET.PUBLIC_ACCESS_BLOCK": "GetPublicAccessBlock", "REST.GET.TAGGING": "GetObjectTagging",
    "REST.PUT.TAGGING": "PutObjectTagging", "REST.GET.OBJECT_TAGGING": "GetObjectTagging",
    "REST.PUT.OBJECT_TAGGING": "PutObjectTagging", "REST.POST.RESTORE": "RestoreObject",
    "WEBSITE.GET.OBJECT": "GetObject", "WEBSITE.HEAD.OBJECT": "HeadObject",
    "REST.COPY.OBJECT_GET": None, "BATCH.DELETE.OBJECT": None,
}


def event_name(line: AccessLogLine) -> str | None:
    """The CloudTrail event name of the line's operation (None: not a request of its own, e.g. lifecycle)."""
    operation = line["operation"] or ""
    if operation in ("REST.PUT.ACL", "REST.GET.ACL"):
        verb = "Put" if ".PUT." in operation else "Get"
        return f"{verb}ObjectAcl" if line["key"] else f"{verb}BucketAcl"
    if operation == "REST.GET.BUCKET":
        return "ListObjectsV2" if "list-type=2" in (line["request_uri"] or "") else "ListObjects"
    if operation in OPERATIONS:
        return OPERATIONS[operation]
    if operation.startswith(("S3.", "BATCH.")):
        return None
    parts = operation.split(".")
    return "".join(p.title() for p in parts[1:3]).replace("_", "") if len(parts) >= 3 else None


def identity(requester: str | None, bucket_owner: str | None) -> dict[str, Any]:
    """The CloudTrail `userIdentity` a requester stands for (facts §5c shapes): `-` is anonymous, `svc:` an AWS
    service, a canonical id the bucket owner (same id) or an account s3plan cannot name."""
    if requester is None:
        return {"type": "AWSAccount", "accountId": "anonymous", "principalId": ""}
    if requester.startswith("svc:"):
        return {"type": "AWSService", "invokedBy": requester[4:]}
    session = _ROLE_SESSION.match(requester)
    if session:
        # an assumed-role ARN keeps the role's name but not its path (aws-reserved/sso.amazonaws.com/...,
        # aws-service-role/...), so the role ARN is not written here: the evidence query names the role from
        # CloudTrail where it can, and otherwise keeps the session without its name, which is never drafted
        return {"type": "AssumedRole", "arn": requester, "accountId": session["account"],
                "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": session["account"]}}}
    iam = _IAM.match(requester)
    if iam:
        kind = {"user": "IAMUser", "role": "Role", "root": "Root"}[iam["kind"]]
        return {"type": kind, "arn": requester, "accountId": iam["account"]}
    if _CANONICAL.match(requester):
        owner = requester == bucket_owner
        return {"type": "Root" if owner else "CanonicalUser", "principalId": requester}
    return {"type": "Unknown", "principalId": requester}


def decode_key(line: AccessLogLine) -> str:
    """The object key of the line. AWS documents the Key field only as "URL encoded" (S3 User Guide, Amazon S3
    server access log format); what operators report (Yelp Engineering, "S3 server access logs at scale", 2025; a
    public Athena query that decodes REST.GET.OBJECT keys twice) is that REST and WEBSITE operations log it encoded
    twice, and BATCH.DELETE.OBJECT and the lifecycle (S3.*) operations once, with + for a space (a real
    BATCH.DELETE.OBJECT line logs "Screen+Shot+2019-09-09+at+9.08.44+AM.png"). Decoded that way, and the same
    way by the Athena adapter (templates/sql/access_log_records.sql)."""
    raw = line["key"] or ""
    once = unquote_plus(raw)
    twice = (line["operation"] or "").startswith(("REST.", "WEBSITE.")) and not _BAD_ESCAPE.search(once)
    return unquote_plus(once) if twice else once  # a bad escape left after one decode: once (as Athena's try())


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def line_region(line: AccessLogLine) -> str | None:
    """The Region of the endpoint the request was sent to (Host header), when it names one."""
    host = _REGION_HOST.search(line["endpoint"] or "")
    return host[1] if host else None


def line_partition(line: AccessLogLine) -> str:
    """The ARN partition of the line's bucket: its endpoint's Region's, else the requester ARN's, else aws."""
    region = line_region(line)
    if region:
        return partition_of(region)
    requester = re.match(r"^arn:(aws[a-z-]*):", line["requester"] or "")
    return requester[1] if requester else "aws"


def shows_signals(line: AccessLogLine) -> bool:
    """Whether the line's format has the Signature Version and aclRequired fields (facts §8, fields 20 and 26):
    older lines stop before them and cannot show SigV2 or ACL dependence, so they prove no readiness."""
    return "sigv" in line.fields and "aclrequired" in line.fields


def is_read(line: AccessLogLine) -> bool:
    """Whether the request only reads (GET or HEAD; facts §8 operations are REST.METHOD.RESOURCE, WEBSITE.METHOD...)."""
    return (line["operation"] or "").split(".")[1:2] in (["GET"], ["HEAD"])


def to_record(line: AccessLogLine, bucket_account: str | None = None) -> dict[str, Any] | None:
    """The line as a CloudTrail-shaped S3 data event (facts §5), or None when it is not a request of its own.
    `bucket_account` is the bucket owner's account id when the log's location tells it (the line names the owner
    only by canonical id)."""
    name = event_name(line)
    if name is None:
        return None
    params: dict[str, Any] = {"bucketName": line["bucket_name"]}
    if line["key"]:
        params["key"] = decode_key(line)
    query = parse_qs(urlsplit(_uri_path(line["request_uri"])).query, keep_blank_values=True)
    if name.startswith("List") and "prefix" in query:
        params["prefix"] = query["prefix"][0]
    if line["versionid"]:
        params["versionId"] = line["versionid"]
    # the cipher suite says the request came over TLS ("-": plain HTTP, facts section 8, field 21)
    extra: dict[str, Any] = {"AuthenticationMethod": line["authtype"], "SignatureVersion": line["sigv"],
                             "CipherSuite": line["ciphersuite"]}
    if line["aclrequired"] == "Yes":
        extra["aclRequired"] = "Yes"
    region = line_region(line)
    status_text = line["httpstatus"] or ""
    status = int(status_text) if status_text.isascii() and status_text.isdigit() else None
    error = line["errorcode"] or (f"HTTP{status}" if status is not None and status >= 400 else None)
    if error == "AccessControlListNotSupported":
        # S3 answers this only to a request that sets an ACL on a bucket with ACLs disabled (facts §4b); the log
        # does not keep the header, so the value is unknown
        params["x-amz-acl"] = "unknown (refused: AccessControlListNotSupported)"
    who = identity(line["requester"], line["bucketowner"])
    if who.get("type") == "Root" and bucket_account:
        who["accountId"] = bucket_account
    record: dict[str, Any] = {
        "eventTime": parse_time(line["requestdatetime"] or ""), "eventSource": "s3.amazonaws.com",
        "eventName": name, "eventType": "AwsS3AccessLog", "awsRegion": region,
        "sourceIPAddress": line["remoteip"], "userAgent": line["useragent"], "errorCode": error,
        "requestID": line["requestid"], "userIdentity": who,
        # the access logs record every request to the bucket, data-level ones included: readiness counts them as
        # data events (planner/plan/readiness.py), whatever CloudTrail would call a bucket-level call, when the
        # line can show SigV2 and aclRequired; readOnly a string, as the Athena table reads it
        # (templates/sql/access_log_records.sql)
        "eventCategory": "Data" if shows_signals(line) else "AccessLogOlderFormat",
        "readOnly": "true" if is_read(line) else "false",
        "requestParameters": params, "additionalEventData": {k: v for k, v in extra.items() if v is not None},
    }
    if bucket_account:
        record["resources"] = [{"type": "AWS::S3::Bucket", "accountId": bucket_account,
                                "ARN": f"arn:{line_partition(line)}:s3:::{line['bucket_name']}"}]
    return record


def _uri_path(request_uri: str | None) -> str:
    """`GET /bucket/key?x=y HTTP/1.1` -> `/bucket/key?x=y`."""
    parts = (request_uri or "").split(" ")
    return parts[1] if len(parts) >= 2 else ""


def format_line(fields: dict[str, str | None]) -> str:
    """A log line from fields (the inverse of parse_line, for tests and samples): `-` for None, quotes and
    brackets where S3 writes them."""
    out = []
    for name in FIELDS:
        if name not in fields:
            break
        value = fields[name]
        if name == "requestdatetime":
            out.append(f"[{value}]")
        elif name in QUOTED:
            out.append("-" if value is None else '"' + value.replace('"', '\\"') + '"')
        else:
            out.append("-" if value is None else value)
    return " ".join(out)

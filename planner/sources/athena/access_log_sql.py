"""Athena SQL for S3 server access logs: the table (RegexSerDe, partition projection on the date-based key format)
and the evidence query over it, alone or together with the CloudTrail table (one query, so a request both
recorded counts once). Every value that reaches the SQL is validated or quoted by sqlglot."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlglot import exp

from planner.errors import UsageError
from planner.sources import base
from planner.sources.access_logs.parse import FIELDS, OPERATIONS, REGION_HOST
from planner.sources.athena.sql import NAME_RE, partition_condition, table_name

# A location for the date-based key format ends with the source bucket's folder (facts §8):
# s3://LOG-BUCKET/PREFIX/ACCOUNT/REGION/SOURCE-BUCKET/ ; any other location is read whole.
LOCATION_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.()=-]+)*/$")
DATED_RE = re.compile(r"/\d{12}/[a-z]{2}(-[a-z]+)+-\d/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/$")
QUOTED = r'(\"[^\"]*\"|-)'
# Facts §8's regex, with the referrer read as a quoted field too (the guide's reads it as one word, which breaks
# on a referrer with a space) and every field after the user agent optional (older logs stop early).
INPUT_REGEX = (r"([^ ]*) ([^ ]*) \\[(.*?)\\] ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) " + QUOTED
               + r" (-|[0-9]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*) " + QUOTED + " " + QUOTED
               + "(?: ([^ ]*))?" * (len(FIELDS) - 17) + ".*$")


def access_log_ddl(location: str, table: str = "s3_access_logs", database: str | None = None,
                   since: date = date(2020, 1, 1)) -> str:
    """CREATE EXTERNAL TABLE for the server access logs under `location`, day-projected for the date-based format."""
    if not LOCATION_RE.match(location):
        raise UsageError(f"--location {location!r}: expected s3://LOG-BUCKET/PREFIX/ (ending with /); for the "
                         "date-based format s3://LOG-BUCKET/PREFIX/ACCOUNT/REGION/SOURCE-BUCKET/")
    for option, name in (("--table", table), ("--database", database or "default")):
        if not NAME_RE.match(name):
            raise UsageError(f"{option} {name!r}: use lower-case letters, digits and _")
    name = f"{database}.{table}" if database else table
    columns = ",\n".join(f"  `{c}` STRING" for c in FIELDS)
    properties = {}
    partitioned = ""
    if DATED_RE.search(location):
        partitioned = "PARTITIONED BY (`timestamp` STRING)\n"
        properties = {
            "projection.enabled": "true", "projection.timestamp.type": "date",
            "projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.interval": "1",
            "projection.timestamp.interval.unit": "DAYS", "projection.timestamp.range": f"{since:%Y/%m/%d},NOW",
            "storage.location.template": f"{location}${{timestamp}}",
        }
    props = "".join(f",\n  '{k}'='{v}'" for k, v in properties.items())
    return (f"CREATE EXTERNAL TABLE {name} (\n{columns}\n)\n{partitioned}"
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'\n"
            f"WITH SERDEPROPERTIES (\n  'input.regex'='{INPUT_REGEX}'\n)\n"
            f"LOCATION '{location}'\n"
            f"TBLPROPERTIES (\n  'has_encrypted_data'='false'{props}\n)\n")


def event_name_case() -> exp.Expr:
    """access_log.event_name as SQL: ACL and listing calls by key and URI, the mapped operations, NULL for lines
    that are not requests of their own, REST.METHOD.RESOURCE as MethodResource otherwise."""
    op, key, uri = exp.column("operation"), exp.column("key"), exp.column("request_uri")
    case = exp.Case()
    for verb in ("PUT", "GET"):
        acl = op.eq(exp.Literal.string(f"REST.{verb}.ACL"))
        name = verb.title()
        case = case.when(exp.and_(acl, key.neq(exp.Literal.string("-"))), exp.Literal.string(f"{name}ObjectAcl"))
        case = case.when(acl, exp.Literal.string(f"{name}BucketAcl"))
    listing = op.eq(exp.Literal.string("REST.GET.BUCKET"))
    v2 = exp.GT(this=exp.func("strpos", uri, exp.Literal.string("list-type=2")), expression=exp.Literal.number(0))
    case = case.when(exp.and_(listing, v2), exp.Literal.string("ListObjectsV2"))
    case = case.when(listing, exp.Literal.string("ListObjects"))
    for operation, event in sorted(OPERATIONS.items()):
        value: exp.Expr = exp.Null() if event is None else exp.Literal.string(event)
        case = case.when(op.eq(exp.Literal.string(operation)), value)
    internal = exp.or_(op.like(exp.Literal.string("S3.%")), op.like(exp.Literal.string("BATCH.%")))
    case = case.when(internal, exp.Null())
    generic = "concat(regexp_replace(lower(split_part(operation, '.', 2)), '^([a-z])', x -> upper(x[1])), " \
              "regexp_replace(lower(split_part(operation, '.', 3)), '(^|_)([a-z])', x -> upper(x[2])))"
    parsed: exp.Expr = exp.maybe_parse(generic, dialect="athena")
    return case.else_(parsed)


def access_log_records(table: str, since: date, until: date) -> exp.Select:
    """The adapter query over one access-log table, with the window (and its days, when day-projected)."""
    query = base.parse_athena("access_log_records")
    for column in list(query.find_all(exp.Column)):
        if column.name == "s3plan_event_name":
            column.replace(event_name_case())
        elif column.name == "s3plan_region_host":
            column.replace(exp.Literal.string(REGION_HOST))
    for source in query.find_all(exp.Table):
        if source.name == "access_logs":
            source.replace(exp.to_table(table_name(table, "--access-log-table")))
    window = exp.and_(
        exp.column("eventtime") >= exp.Literal.string(f"{since.isoformat()}T00:00:00Z"),
        exp.column("eventtime") < exp.Literal.string(f"{(until + timedelta(days=1)).isoformat()}T00:00:00Z"))
    assert isinstance(query, exp.Select)
    return query.where(window, copy=False)


def access_log_days(since: date, until: date) -> exp.Expr:
    """The projected days of the window, for a day-projected access-log table."""
    day = exp.column(exp.to_identifier("timestamp", quoted=True))
    return day.between(exp.Literal.string(f"{since:%Y/%m/%d}"), exp.Literal.string(f"{until:%Y/%m/%d}"))


CLOUDTRAIL_READ = ("eventsource", "eventname", "eventtype", "eventtime", "awsregion", "sourceipaddress", "useragent",
                   "errorcode", "requestid", "eventid", "requestparameters", "additionaleventdata", "resources",
                   "eventcategory", "readonly", "vpcendpointid")
# The CloudTrail table's userIdentity has more fields than the access-log records'; a UNION needs one row type,
# so the CloudTrail side is cast to the fields the evidence query reads (the adapter's type).
IDENTITY = (
    "CAST(ROW(useridentity.type, useridentity.principalid, useridentity.arn, useridentity.accountid, "
    "useridentity.invokedby, ROW(ROW(useridentity.sessioncontext.sessionissuer.type, "
    "useridentity.sessioncontext.sessionissuer.arn, useridentity.sessioncontext.sessionissuer.accountid))) "
    "AS ROW(type varchar, principalid varchar, arn varchar, accountid varchar, invokedby varchar, "
    "sessioncontext ROW(sessionissuer ROW(type varchar, arn varchar, accountid varchar)))) AS useridentity")


def combined_evidence_query(*, cloudtrail: str | None, access_logs: str, since: date, until: date,
                            accounts: tuple[str, ...] = (), regions: tuple[str, ...] = (), prefix_depth: int = 1,
                            dated: bool = False) -> str:
    """The evidence query over the access-log table, and the CloudTrail table too when given: one relation, so
    a request both recorded counts once (evidence.sql's `deduped`)."""
    logs = access_log_records(access_logs, since, until)
    if dated:
        inner = next(s for s in logs.find_all(exp.Select) if s is not logs)
        inner.where(access_log_days(since, until), copy=False)
    relation: exp.Expr = logs
    if cloudtrail is not None:
        columns = [exp.column(c) for c in CLOUDTRAIL_READ]
        columns.insert(10, exp.maybe_parse(IDENTITY, dialect="athena"))  # the adapter's column order
        trail = exp.select(*columns).from_(exp.to_table(table_name(cloudtrail)))
        trail = trail.where(partition_condition(since, until, accounts, regions))
        relation = exp.union(trail, logs, distinct=False)
    query = base.fill_integers(base.parse_athena("evidence"), {"prefix_depth": prefix_depth})
    for node in list(query.find_all(exp.Table)):
        if node.name == "cloudtrail":
            node.replace(exp.Subquery(this=relation, alias=exp.TableAlias(this=exp.to_identifier("cloudtrail"))))
    return query.sql(dialect="athena", pretty=True) + "\n"

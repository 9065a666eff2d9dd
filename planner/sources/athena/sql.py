"""The Athena side of the one SQL text: the CloudTrail table DDL with partition projection, and the evidence
query with partition predicates so Athena reads only the window (facts §7a-§7c)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlglot import exp

from planner.errors import UsageError
from planner.sources import base

LOCATION_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.()/-]*)?$")
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")

# Columns as in the Athena guide's CloudTrail table (facts §7c), so queries written for it run unchanged.
COLUMNS = """    eventversion STRING,
    useridentity STRUCT<
        type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING,
        accesskeyid: STRING, username: STRING,
        onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
            sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    addendum STRUCT<reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING>,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>"""


@dataclass(frozen=True)
class Table:
    """Where the trail is and how the table is named; every value is validated before it reaches SQL."""

    location: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    org_id: str | None = None
    since: date = date(2020, 1, 1)
    table: str = "cloudtrail_logs"
    database: str | None = None

    def __post_init__(self) -> None:
        if not LOCATION_RE.match(self.location):
            raise UsageError(f"--location {self.location!r}: expected s3://BUCKET[/PREFIX]/AWSLogs/")
        if self.org_id is not None and not ORG_RE.match(self.org_id):
            raise UsageError(f"--org-id {self.org_id!r}: expected o- and 10 to 32 letters or digits")
        for option, name in (("--table", self.table), ("--database", self.database or "default")):
            if not NAME_RE.match(name):
                raise UsageError(f"{option} {name!r}: use lower-case letters, digits and _")

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}" if self.database else self.table

    @property
    def logs_root(self) -> str:
        """s3://bucket/prefix/AWSLogs[/o-id] (a location given before or ending with AWSLogs/ both work)."""
        root = self.location.rstrip("/")
        if not root.endswith("/AWSLogs"):
            root += "/AWSLogs"
        return f"{root}/{self.org_id}" if self.org_id else root


def table_name(name: str, option: str = "--table") -> str:
    """TABLE or DATABASE.TABLE, checked before it reaches SQL."""
    if not all(NAME_RE.match(part) for part in name.split(".")) or name.count(".") > 1:
        raise UsageError(f"{option} {name!r}: use TABLE or DATABASE.TABLE in lower-case letters, digits and _")
    return name


def partition_regions(partition: str = "aws") -> tuple[str, ...]:
    """The Regions of an ARN partition that CloudTrail serves, as botocore's endpoint data (the one file the SDK
    itself reads, kept current with each botocore release) lists them."""
    import botocore.session  # only `sql ddl` without --regions needs it

    return tuple(sorted(botocore.session.get_session().get_available_regions("cloudtrail", partition_name=partition)))


def cloudtrail_ddl(table: Table) -> str:
    """CREATE EXTERNAL TABLE with account, region and day projected (facts §7c, multi-account form). Without
    accounts the account is injected: every query must then name its accounts (`--accounts`); without regions
    every Region of the partition is enumerated (a Region with no logs costs nothing to list)."""
    template = f"{table.logs_root}/${{account}}/CloudTrail/${{region}}/${{timestamp}}"
    regions = table.regions or partition_regions()
    accounts = ({"projection.account.type": "enum", "projection.account.values": ",".join(table.accounts)}
                if table.accounts else {"projection.account.type": "injected"})
    properties = {
        "projection.enabled": "true",
        **accounts,
        "projection.region.type": "enum",
        "projection.region.values": ",".join(regions),
        "projection.timestamp.type": "date",
        "projection.timestamp.format": "yyyy/MM/dd",
        "projection.timestamp.interval": "1",
        "projection.timestamp.interval.unit": "DAYS",
        "projection.timestamp.range": f"{table.since:%Y/%m/%d},NOW",
        "storage.location.template": template,
    }
    props = ",\n".join(f"  '{k}'='{v}'" for k, v in properties.items())
    notes = "" if table.accounts else (
        "-- s3plan: the account is injected (no --accounts): every query on this table must name its accounts\n"
        "-- (s3plan sql queries --accounts ..., s3plan plan --athena-table ... --accounts ...); Athena refuses\n"
        "-- a query that does not. `s3plan sql ddl --discover` lists them from the bucket instead.\n")
    if not table.regions:
        notes += (f"-- s3plan: no --regions: the {len(regions)} Regions of the aws partition that botocore lists for "
                  "CloudTrail are projected.\n")
    return (f"{notes}CREATE EXTERNAL TABLE {table.name} (\n{COLUMNS}\n)\n"
            "PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)\n"
            "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
            "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
            "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
            f"LOCATION '{table.logs_root}/'\n"
            f"TBLPROPERTIES (\n{props}\n)\n")


def partition_condition(since: date, until: date, accounts: Sequence[str] = (),
                        regions: Sequence[str] = ()) -> exp.Expr:
    """Predicates on the projected partition columns, so Athena reads only these days, accounts and regions;
    plus the eventtime window itself. Values are validated dates and ids, quoted by sqlglot."""
    parts: list[exp.Expr] = [
        exp.column(exp.to_identifier("timestamp", quoted=True)).between(exp.Literal.string(f"{since:%Y/%m/%d}"),
                                        exp.Literal.string(f"{until:%Y/%m/%d}")),
        exp.column("eventtime") >= exp.Literal.string(f"{since.isoformat()}T00:00:00Z"),
        exp.column("eventtime") < exp.Literal.string(f"{(until + timedelta(days=1)).isoformat()}T00:00:00Z"),
    ]
    if accounts:
        parts.append(exp.column("account").isin(*(exp.Literal.string(a) for a in accounts)))
    if regions:
        parts.append(exp.column("region").isin(*(exp.Literal.string(r) for r in regions)))
    condition: exp.Expr = exp.and_(*parts)
    return condition


def evidence_query(table: str, since: date, until: date, accounts: Sequence[str] = (),
                   regions: Sequence[str] = (), prefix_depth: int = 1) -> str:
    """The evidence query for Athena: the shipped text on `table`, with the window's partition predicates."""
    query = base.fill_integers(base.parse_athena("evidence"), {"prefix_depth": prefix_depth})
    query = base.with_filter(query, partition_condition(since, until, accounts, regions))
    for node in query.find_all(exp.Table):
        if node.name == "cloudtrail":
            node.replace(exp.to_table(table_name(table)))
    return query.sql(dialect="athena", pretty=True) + "\n"

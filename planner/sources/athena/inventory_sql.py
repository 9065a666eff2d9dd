"""Athena SQL for S3 Inventory reports: the table the S3 User Guide documents ("Querying Amazon S3 Inventory with
Amazon Athena": the report's hive/ folder, `dt` projected by the hour) and the queries that aggregate it as
`s3plan plan --inventory` does locally (objects per owner, object-ACL grants to others per grantee and permission,
ACL status counts). Every value that reaches the SQL is validated first."""

from __future__ import annotations

import re
from datetime import date

from planner.errors import UsageError
from planner.sources.athena.sql import NAME_RE, table_name

# s3://DESTINATION-BUCKET/[PREFIX/]SOURCE-BUCKET/CONFIG-ID/hive/ (S3 User Guide, "Locating your inventory list")
LOCATION_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.()=-]+)+/hive/$")
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}$")
SERDES = {
    "ORC": "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    "Parquet": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "CSV": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
}
# The fields in the order and with the types of the guide's DDL: ORC/Parquet typed, CSV all strings except the
# booleans (as the guide declares them).
FIELDS = (
    ("bucket", "string"), ("key", "string"), ("version_id", "string"), ("is_latest", "boolean"),
    ("is_delete_marker", "boolean"), ("size", "bigint"), ("last_modified_date", "timestamp"), ("e_tag", "string"),
    ("storage_class", "string"), ("is_multipart_uploaded", "boolean"), ("replication_status", "string"),
    ("encryption_status", "string"), ("object_lock_retain_until_date", "bigint"), ("object_lock_mode", "string"),
    ("object_lock_legal_hold_status", "string"), ("intelligent_tiering_access_tier", "string"),
    ("bucket_key_status", "string"), ("checksum_algorithm", "string"), ("object_access_control_list", "string"),
    ("object_owner", "string"), ("lifecycle_expiration_date", "timestamp"),
)
CSV_TYPED = frozenset({"is_latest", "is_delete_marker", "is_multipart_uploaded"})


def inventory_ddl(location: str, file_format: str, table: str = "s3_inventory", database: str | None = None,
                  since: date = date(2020, 1, 1), fields: str | None = None) -> str:
    """CREATE EXTERNAL TABLE over one inventory configuration's hive/ folder. CSV columns are positional, so a CSV
    table needs the report's fields (the manifest's fileSchema); ORC and Parquet are read by name."""
    if not LOCATION_RE.match(location):
        raise UsageError(f"--location {location!r}: expected the report's hive folder, "
                         "s3://DESTINATION-BUCKET/[PREFIX/]SOURCE-BUCKET/CONFIG-ID/hive/")
    if file_format not in SERDES:
        raise UsageError(f"--format {file_format!r}: give ORC, Parquet or CSV (the inventory's output format)")
    for option, name in (("--table", table), ("--database", database or "default")):
        if not NAME_RE.match(name):
            raise UsageError(f"{option} {name!r}: use lower-case letters, digits and _")
    columns = _columns(file_format, fields)
    name = f"{database}.{table}" if database else table
    body = ",\n".join(f"  {c} {t}" for c, t in columns)
    return (f"CREATE EXTERNAL TABLE {name} (\n{body}\n)\nPARTITIONED BY (dt string)\n"
            f"ROW FORMAT SERDE '{SERDES[file_format]}'\n"
            "  STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n"
            "  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'\n"
            f"  LOCATION '{location}'\n"
            "  TBLPROPERTIES (\n    \"projection.enabled\" = \"true\",\n    \"projection.dt.type\" = \"date\",\n"
            "    \"projection.dt.format\" = \"yyyy-MM-dd-HH-mm\",\n"
            f"    \"projection.dt.range\" = \"{since:%Y-%m-%d}-00-00,NOW\",\n"
            "    \"projection.dt.interval\" = \"1\",\n    \"projection.dt.interval.unit\" = \"HOURS\"\n  );\n")


def _columns(file_format: str, fields: str | None) -> list[tuple[str, str]]:
    if file_format != "CSV":
        return list(FIELDS)
    if not fields:
        raise UsageError("--format CSV: give --fields with the report's fileSchema (from its manifest.json, e.g. "
                         "\"Bucket, Key, ObjectOwner, ObjectAccessControlList\"): CSV columns are read by position")
    from planner.sources.inventory.manifest import snake  # the one reading of fileSchema names

    known = dict(FIELDS)
    out = []
    for raw in fields.split(","):
        column = snake(raw)
        if column not in known:
            raise UsageError(f"--fields: {raw.strip()!r} is not an S3 Inventory field (Bucket, Key, ObjectOwner, "
                             "ObjectAccessControlList, ...)")
        out.append((column, "boolean" if column in CSV_TYPED else "string"))
    return out


def inventory_queries(table: str, dt: str, encoded_keys: bool = False, all_versions: bool = False) -> str:
    """Three queries over one report (`dt`, as the table's projection names it): objects per owner, object-ACL
    grants to others than the object's owner, and the ACL status counts. Keys of CSV reports are URL-encoded; a
    report of all versions lists delete markers, which have no ACL."""
    name = table_name(table, "--inventory-table")
    if not DT_RE.match(dt):
        raise UsageError(f"--dt {dt!r}: give the report's time as YYYY-MM-DD-HH-MM (SELECT DISTINCT dt FROM "
                         f"{name} ORDER BY 1 DESC LIMIT 10 lists them)")
    # the smallest keys as the report writes them, decoded (as the local reader takes them)
    samples = ("transform(min({k}, 3), s -> url_decode(replace(s, '+', ' ')))" if encoded_keys
               else "min({k}, 3)")
    live = f"dt = '{dt}'" + (" AND NOT coalesce(is_delete_marker, false)" if all_versions else "")
    acl = "from_utf8(from_base64(object_access_control_list))"
    return f"""-- s3plan: objects per owner (canonical ids; `s3plan plan --canonical-ids` maps them to accounts)
SELECT bucket, object_owner, count(*) AS objects, {samples.format(k='key')} AS sample_keys
FROM {name}
WHERE {live}
GROUP BY bucket, object_owner
ORDER BY bucket, objects DESC;

-- s3plan: object-ACL grants to others than the object's owner, per grantee and permission
WITH objects AS (
  SELECT bucket, key AS object_key, object_owner,
         json_extract_scalar({acl}, '$.status') AS acl_status,
         CAST(json_extract({acl}, '$.grants') AS ARRAY(MAP(VARCHAR, VARCHAR))) AS grants
  FROM {name}
  WHERE {live}
)
SELECT bucket, element_at(g, 'type') AS grantee_type,
       coalesce(element_at(g, 'canonicalId'), element_at(g, 'uri')) AS grantee,
       element_at(g, 'permission') AS permission, count(*) AS objects,
       {samples.format(k='object_key')} AS sample_keys
FROM objects CROSS JOIN UNNEST(grants) AS t(g)
WHERE acl_status = 'AVAILABLE'
  AND NOT (element_at(g, 'type') = 'CanonicalUser' AND element_at(g, 'canonicalId') = object_owner)
GROUP BY 1, 2, 3, 4
ORDER BY bucket, objects DESC;

-- s3plan: Object ACL status (UNAVAILABLE objects are counted, never guessed)
SELECT bucket, json_extract_scalar({acl}, '$.status') AS acl_status, count(*) AS objects
FROM {name}
WHERE {live}
GROUP BY 1, 2
ORDER BY 1, 2;
"""

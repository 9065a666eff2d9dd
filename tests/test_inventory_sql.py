"""`s3plan sql ddl --inventory` and `sql queries --inventory-table`: the table the S3 User Guide documents, and
the aggregate queries, run here on DuckDB (transpiled by sqlglot from the printed Athena text) over a real report,
giving what the local reader gives."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner

from planner.cli import main
from planner.errors import UsageError
from planner.sources.athena.inventory_sql import inventory_ddl, inventory_queries
from planner.sources.inventory.reports import find_manifests, read_reports
from tests.inventory_reports import ALL_USERS, OWNER, PARTNER, WRITER, Obj, Report, write_report

LOCATION = "s3://acme-inventory/inventory/media/acls/hive/"


def test_the_orc_table_is_the_documented_one() -> None:
    ddl = inventory_ddl(LOCATION, "ORC", "inv", "s3plan", )
    assert ddl.startswith("CREATE EXTERNAL TABLE s3plan.inv (\n  bucket string,\n  key string,")
    assert "object_access_control_list string,\n  object_owner string" in ddl
    assert "'org.apache.hadoop.hive.ql.io.orc.OrcSerde'" in ddl and f"LOCATION '{LOCATION}'" in ddl
    assert '"projection.dt.format" = "yyyy-MM-dd-HH-mm"' in ddl and '"projection.dt.interval.unit" = "HOURS"' in ddl
    assert sqlglot.parse_one(ddl.rstrip().rstrip(";"), read="athena") is not None
    assert "ParquetHiveSerDe" in inventory_ddl(LOCATION, "Parquet")


def test_a_csv_table_takes_the_manifest_fields_in_order() -> None:
    ddl = inventory_ddl(LOCATION, "CSV", fields="Bucket, Key, IsDeleteMarker, ObjectOwner, ObjectAccessControlList")
    assert "  bucket string,\n  key string,\n  is_delete_marker boolean,\n  object_owner string,\n" in ddl
    assert "OpenCSVSerde" in ddl
    with pytest.raises(UsageError, match="--fields with the report's fileSchema"):
        inventory_ddl(LOCATION, "CSV")
    with pytest.raises(UsageError, match="'Colour' is not an S3 Inventory field"):
        inventory_ddl(LOCATION, "CSV", fields="Bucket, Key, Colour")


@pytest.mark.parametrize(("location", "table", "message"), [
    ("s3://acme-inventory/inventory/media/acls/", "inv", "hive folder"),
    ("s3://acme-inventory/x'; DROP/hive/", "inv", "hive folder"),
    (LOCATION, "Inv-1", "--table"),
])
def test_ddl_values_are_checked(location: str, table: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        inventory_ddl(location, "ORC", table)


def test_query_values_are_checked() -> None:
    with pytest.raises(UsageError, match="--dt"):
        inventory_queries("inv", "2026-11-30' OR '1'='1")
    with pytest.raises(UsageError, match="--inventory-table"):
        inventory_queries("inv; drop", "2026-11-30-01-00")


@pytest.mark.parametrize("csv_report", [True, False])
def test_the_queries_give_what_the_local_reader_gives(tmp_path: Path, csv_report: bool) -> None:
    objects = [Obj("a b+c", grants=[("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", ALL_USERS, "READ")]),
               Obj("d", grants=[("CanonicalUser", OWNER, "FULL_CONTROL"), ("CanonicalUser", PARTNER, "READ")]),
               Obj("e", owner=WRITER), Obj("gone", status="UNAVAILABLE"), Obj("dm", delete_marker=True),
               *(Obj(k, grants=[("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", ALL_USERS, "READ")])
                 for k in ("x y", "x+y", "x%z", "{a}", "0/b"))]  # the samples' order depends on the encoding
    manifest = write_report(tmp_path, Report("media", objects, "CSV" if csv_report else "Parquet"))
    (local,) = read_reports(find_manifests([manifest])[0]).reports
    data = next((manifest.parent.parent / "data").iterdir())
    con = duckdb.connect()
    if csv_report:
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in ("bucket", "key", "version_id", "is_latest",
                                                           "is_delete_marker", "size", "last_modified_date", "e_tag",
                                                           "storage_class", "object_access_control_list",
                                                           "object_owner"))
        con.execute(f"CREATE VIEW raw AS SELECT * FROM read_csv('{data}', header = false, columns = {{{columns}}})")
        con.execute("CREATE VIEW inv AS SELECT * REPLACE (is_delete_marker = 'true' AS is_delete_marker), "
                    "'2026-11-30-01-00' AS dt FROM raw")
    else:
        con.execute(f"CREATE VIEW inv AS SELECT *, '2026-11-30-01-00' AS dt FROM read_parquet('{data}')")
    owners, grants, status = (con.execute(q.sql("duckdb")).fetchall()
                              for q in sqlglot.parse(inventory_queries("inv", "2026-11-30-01-00", csv_report, True),
                                                     read="athena"))
    assert [(o, n) for _, o, n, _ in owners if o != "UNAVAILABLE"] == [(x.owner, x.objects) for x in local.owners]
    assert sorted((t, g, p, n, tuple(k)) for _, t, g, p, n, k in grants) == sorted(
        (x.grantee_type, x.grantee, x.permission, x.objects, x.sample_keys) for x in local.grants)
    assert dict((s, n) for _, s, n in status)["UNAVAILABLE"] == local.acl_unavailable


def test_the_commands_print_them() -> None:
    runner = CliRunner()
    ddl = runner.invoke(main, ["sql", "ddl", "--inventory", "--location", LOCATION, "--format", "Parquet"])
    assert ddl.exit_code == 0 and "ParquetHiveSerDe" in ddl.output
    queries = runner.invoke(main, ["sql", "queries", "--inventory-table", "db.inv", "--dt", "2026-11-30-01-00"])
    assert queries.exit_code == 0 and "FROM db.inv" in queries.output and "url_decode" not in queries.output
    missing = runner.invoke(main, ["sql", "queries", "--inventory-table", "db.inv"])
    assert missing.exit_code == 2 and "give --dt" in missing.output
    both = runner.invoke(main, ["sql", "ddl", "--inventory", "--access-logs", "--location", LOCATION])
    assert both.exit_code == 2

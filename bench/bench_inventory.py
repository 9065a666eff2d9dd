"""Benchmark of S3 Inventory reading: rows/s of `s3plan plan --inventory`'s reader (MD5 of every data file, the
engine's aggregation, the fold) per format, against the target and two baselines measured in the same run, each
in its own process: plain DuckDB counting the rows of the same files (the engine's floor) and a plain Python loop
over the CSV (gzip, csv, a Counter per owner and ACL).

The reports are generated once (cached under bench/out/): 10,000,000 rows by default in 10 data files per format,
shaped like a large bucket: 3 owners, 500 top-level folders, 99% default ACLs, 0.5% public-read, 0.5% granted to
a partner; ORC files zlib-compressed. A benchmark, not a test: it never fails the build.

    make bench
    .venv/bin/python bench/bench_inventory.py --rows 10000000 --runs 3
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import measure, target

HERE = Path(__file__).resolve().parent
TARGET_RATE = 2_000_000  # rows/s, on 2 cores
FILES = 10
OWNER, WRITER, OTHER = "a" * 64, "b" * 64, "c" * 64
PARTNER = "d" * 64
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
EXT = {"CSV": "csv.gz", "Parquet": "parquet", "ORC": "orc"}
COLUMNS = ("bucket", "key", "size", "last_modified_date", "e_tag", "storage_class", "object_access_control_list",
           "object_owner")
CSV_FIELDS = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, ObjectAccessControlList, ObjectOwner"

READ = r"""
import sys
from pathlib import Path
from planner.sources.inventory.reports import find_manifests, read_reports
result = read_reports(find_manifests([Path(sys.argv[1])])[0])
assert not result.failures, result.failures
print(result.reports[0].objects)
"""
PLAIN_DUCKDB = r"""
import sys, duckdb
files, fmt = sys.argv[2:], sys.argv[1]
reader = {"CSV": "read_csv($f, header = false, compression = 'gzip')", "Parquet": "read_parquet($f)"}[fmt]
print(duckdb.connect().execute(f"SELECT count(*) FROM {reader}", {"f": files}).fetchone()[0])
"""
PLAIN_PYTHON = r"""
import csv, gzip, sys
from collections import Counter
counts = Counter()
for path in sys.argv[1:]:
    with gzip.open(path, "rt", newline="") as rows:
        for row in csv.reader(rows):
            counts[(row[7], row[6])] += 1
print(sum(counts.values()))
"""


def acl(grants: list[tuple[str, str, str]]) -> str:
    doc = {"version": "2022-11-10", "status": "AVAILABLE", "grants": [
        {"type": t, "canonicalId" if t == "CanonicalUser" else "uri": g, "permission": p} for t, g, p in grants]}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def ensure_reports(rows: int) -> dict[str, Path]:
    """One report per format of `rows` rows each (made in DuckDB: a Python loop would take longer than the read)."""
    root = HERE / "out" / f"inventory-{rows}"
    manifests = {f: root / f.lower() / "inv" / "big" / "cfg" / "2026-11-30T01-00Z" / "manifest.json" for f in EXT}
    missing = {f: m for f, m in manifests.items() if not m.exists()}
    if not missing:
        return manifests
    print(f"generating {rows:,} inventory rows ({', '.join(missing)}) in {root} ...", flush=True)
    con = duckdb.connect()
    mine = {o: acl([("CanonicalUser", o, "FULL_CONTROL")]) for o in (OWNER, WRITER, OTHER)}
    public = acl([("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", ALL_USERS, "READ")])
    partner = acl([("CanonicalUser", OWNER, "FULL_CONTROL"), ("CanonicalUser", PARTNER, "READ")])
    con.execute(f"""CREATE TABLE objects AS SELECT 'big' AS bucket,
        'folder' || (i % 500) || '/' || 'object+' || i || ' v.bin' AS key, (i % 9973)::BIGINT AS size,
        '2026-11-01T00:00:00.000Z' AS last_modified_date, md5(i::VARCHAR) AS e_tag, 'STANDARD' AS storage_class,
        CASE WHEN i % 200 = 0 THEN '{public}' WHEN i % 200 = 1 THEN '{partner}'
             WHEN i % 50 = 2 THEN '{mine[WRITER]}' WHEN i % 97 = 3 THEN '{mine[OTHER]}' ELSE '{mine[OWNER]}' END
          AS object_access_control_list,
        CASE WHEN i % 50 = 2 THEN '{WRITER}' WHEN i % 97 = 3 THEN '{OTHER}' ELSE '{OWNER}' END AS object_owner,
        i % {FILES} AS part
        FROM range({rows}) t(i)""")
    for file_format, manifest in missing.items():
        data = manifest.parent.parent / "data"
        data.mkdir(parents=True, exist_ok=True)
        files = []
        for part in range(FILES):
            path = data / f"part-{part:02d}.{EXT[file_format]}"
            select = f"SELECT {', '.join(COLUMNS)} FROM objects WHERE part = {part}"
            if file_format == "CSV":  # keys URL-encoded, a space as +, every field quoted (as S3 writes them)
                encoded = select.replace(" key,", " replace(url_encode(key), '%20', '+') AS key,", 1)
                con.execute(f"COPY ({encoded}) TO '{path}' (HEADER false, FORCE_QUOTE *, COMPRESSION gzip)")
            elif file_format == "Parquet":
                con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
            else:
                import pyarrow.orc as orc

                orc.write_table(con.sql(select).to_arrow_table(), str(path), compression="zlib")
            body = path.read_bytes()
            files.append({"key": f"inv/big/cfg/data/{path.name}", "size": len(body),
                          "MD5checksum": hashlib.md5(body).hexdigest()})
        schema = CSV_FIELDS if file_format == "CSV" else ("struct<" + ",".join(f"{c}:string" for c in COLUMNS) + ">"
                                                          if file_format == "ORC" else
                                                          "message s3.inventory { " + " ".join(
                                                              f"optional binary {c} (UTF8);" for c in COLUMNS) + " }")
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"sourceBucket": "big", "destinationBucket": "arn:aws:s3:::inv",
                                        "version": "2016-11-30", "creationTimestamp": "1796000400000",
                                        "fileFormat": file_format, "fileSchema": schema, "files": files}))
    return manifests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    manifests = ensure_reports(args.rows)
    python = sys.executable
    for file_format, manifest in manifests.items():
        files = sorted(str(p) for p in (manifest.parent.parent / "data").iterdir())
        mine, engine, plain = [], [], []
        for _ in range(args.runs):
            mine.append(measure([python, "-c", READ, str(manifest)]))
            if file_format != "ORC":
                engine.append(measure([python, "-c", PLAIN_DUCKDB, file_format, *files]))
            if file_format == "CSV":
                plain.append(measure([python, "-c", PLAIN_PYTHON, *files[:1]]))
        best = min(t for t, _ in mine)
        rate = args.rows / best
        line = f"{file_format:8s} s3plan {rate:12,.0f} rows/s ({best:.2f} s, peak {max(m for _, m in mine):.0f} MB)"
        if engine:
            floor = args.rows / min(t for t, _ in engine)
            line += f"; plain DuckDB count {floor:12,.0f} rows/s ({rate / floor:.2f}x)"
        if plain:
            python_rate = args.rows / FILES / min(t for t, _ in plain)
            line += f"; plain Python {python_rate:10,.0f} rows/s ({rate / python_rate:.1f}x)"
        print(line, flush=True)
        target(f"inventory {file_format}", f"{rate:,.0f} rows/s", rate >= TARGET_RATE, f">= {TARGET_RATE:,} rows/s")


if __name__ == "__main__":
    main()

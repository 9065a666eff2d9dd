"""Real S3 Inventory reports written for the tests, in the layout and formats the S3 User Guide documents ("Locating
your inventory list", "Working with the Object ACL field"): DEST/SOURCE-BUCKET/CONFIG/YYYY-MM-DDTHH-MMZ/manifest.json
and manifest.checksum, data files under CONFIG/data/, CSV gzipped without a header (keys URL-encoded, space as +),
Parquet and ORC with snake_case columns; the Object ACL field is base64 of its JSON."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"  # facts §3d example format
PARTNER = "8f2d4c1a9b7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c"
WRITER = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
CSV_FIELDS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag",
              "StorageClass", "ObjectAccessControlList", "ObjectOwner")
COLUMNS = ("bucket", "key", "version_id", "is_latest", "is_delete_marker", "size", "last_modified_date", "e_tag",
           "storage_class", "object_access_control_list", "object_owner")


def acl_field(grants: Sequence[tuple[str, str, str]], status: str = "AVAILABLE") -> str:
    """The Object ACL field: base64 of {"version", "status", "grants": [...]} (grants: (type, grantee, permission))."""
    doc = {"version": "2022-11-10", "status": status, "grants": [
        {"type": t, "canonicalId" if t == "CanonicalUser" else "uri": g, "permission": p} for t, g, p in grants]}
    return base64.b64encode(json.dumps(doc).encode()).decode()


@dataclass
class Obj:
    """One object row of a report."""

    key: str
    owner: str = OWNER
    grants: Sequence[tuple[str, str, str]] | None = None  # None: the owner's FULL_CONTROL alone (the default ACL)
    status: str = "AVAILABLE"
    delete_marker: bool = False
    acl: str | None = None  # the raw field, instead of one made from owner/grants/status

    def field(self) -> str:
        if self.acl is not None:
            return self.acl
        grants = (("CanonicalUser", self.owner, "FULL_CONTROL"),) if self.grants is None else self.grants
        return acl_field(grants if self.status == "AVAILABLE" else (), self.status)

    def row(self, bucket: str) -> dict[str, object]:
        unavailable = self.status == "UNAVAILABLE"
        return {"bucket": bucket, "key": self.key, "version_id": "", "is_latest": True,
                "is_delete_marker": self.delete_marker, "size": 10, "last_modified_date": "2026-11-01T00:00:00.000Z",
                "e_tag": "abc", "storage_class": "STANDARD", "object_access_control_list": self.field(),
                "object_owner": "UNAVAILABLE" if unavailable else self.owner}


@dataclass
class Report:
    """A report to write: its bucket, format, objects (split over `files` data files) and the time of its scan."""

    bucket: str
    objects: Sequence[Obj]
    file_format: str = "CSV"
    files: int = 1
    stamp: str = "2026-11-30T01-00Z"
    config: str = "acls"
    columns: Sequence[str] = field(default_factory=lambda: COLUMNS)


def write_report(dest: Path, report: Report, prefix: str = "inventory") -> Path:
    """Write the report's data files, manifest.json and manifest.checksum under `dest`; returns the manifest path."""
    base = f"{prefix}/{report.bucket}/{report.config}"
    chunks = [list(report.objects[n::report.files]) for n in range(report.files)]
    files = []
    for n, chunk in enumerate(chunks):
        ext = {"CSV": "csv.gz", "Parquet": "parquet", "ORC": "orc"}[report.file_format]
        key = f"{base}/data/{report.stamp}-{n:04d}.{ext}"
        body = _data(report, chunk)
        path = dest / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files.append({"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()})
    manifest = {"sourceBucket": report.bucket, "destinationBucket": f"arn:aws:s3:::{dest.name}",
                "version": "2016-11-30", "creationTimestamp": "1796000400000", "fileFormat": report.file_format,
                "fileSchema": _schema(report), "files": files}
    folder = dest / base / report.stamp
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2).encode()
    (folder / "manifest.json").write_bytes(text)
    (folder / "manifest.checksum").write_text(hashlib.md5(text).hexdigest() + "\n")
    return folder / "manifest.json"


def _schema(report: Report) -> str:
    names = [n for n in COLUMNS if n in report.columns]
    if report.file_format == "CSV":
        return ", ".join(CSV_FIELDS[COLUMNS.index(n)] for n in names)
    if report.file_format == "ORC":
        return "struct<" + ",".join(f"{n}:string" for n in names) + ">"
    return "message s3.inventory { " + " ".join(f"optional binary {n} (UTF8);" for n in names) + " }"


def _data(report: Report, objects: Sequence[Obj]) -> bytes:
    rows = [{c: v for c, v in o.row(report.bucket).items() if c in report.columns} for o in objects]
    if report.file_format == "CSV":
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for row in rows:
            writer.writerow([_csv_value(c, row[c]) for c in COLUMNS if c in report.columns])
        return gzip.compress(out.getvalue().encode())
    import pyarrow as pa

    columns = [c for c in COLUMNS if c in report.columns]
    types = {"is_latest": pa.bool_(), "is_delete_marker": pa.bool_(), "size": pa.int64()}
    table = pa.table({c: pa.array([r[c] for r in rows], type=types.get(c, pa.string())) for c in columns})
    sink = io.BytesIO()
    if report.file_format == "Parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink)
    else:
        import pyarrow.orc as orc

        orc.write_table(table, sink)
    return sink.getvalue()


def _csv_value(column: str, value: object) -> str:
    if column == "key":
        return quote_plus(str(value), safe="/")  # S3 Inventory CSV: URL-encoded, a space as +
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

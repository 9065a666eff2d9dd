"""An S3 Inventory manifest (manifest.json): the source bucket, the format and columns of the data files, and each
data file's key, size and MD5. Format as the S3 User Guide, "Locating your inventory list" documents it: CSV
columns are named in `fileSchema` ("Bucket, Key, ..."), ORC's as `struct<bucket:string,...>` and Parquet's as
`message s3.inventory { required binary bucket (UTF8); ... }`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMATS = ("CSV", "ORC", "Parquet")
# the report's folder is named by the time its scan began: YYYY-MM-DDTHH-MMZ (same page)
REPORT_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$")
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PARQUET_FIELD = re.compile(r"(?:required|optional|repeated)\s+\w+\s+(\w+)")
_ORC_FIELD = re.compile(r"(?:^|,)\s*(\w+)\s*:")


class ManifestError(ValueError):
    """The manifest cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class DataFile:
    """One data file the manifest lists, as its key in the destination bucket."""

    key: str
    size: int
    md5: str


@dataclass(frozen=True)
class Manifest:
    """What a manifest.json says, checked."""

    where: str                 # the manifest's path or s3:// URL, for messages
    source_bucket: str
    destination_bucket: str
    file_format: str           # CSV | ORC | Parquet
    columns: tuple[str, ...]   # snake_case, in file order (CSV) or as the schema lists them (ORC, Parquet)
    created_ms: int | None
    files: tuple[DataFile, ...]

    @property
    def created(self) -> str | None:
        """The report's creation time, ISO 8601 UTC."""
        if self.created_ms is None:
            return None
        stamp = datetime.fromtimestamp(self.created_ms / 1000, tz=timezone.utc).replace(microsecond=0)
        return stamp.isoformat().replace("+00:00", "Z")

    @property
    def has_acl_fields(self) -> bool:
        return {"object_owner", "object_access_control_list"} <= set(self.columns)


def snake(name: str) -> str:
    """A CSV fileSchema name as the ORC/Parquet column of the same field: ObjectAccessControlList ->
    object_access_control_list, ETag -> e_tag (the names the S3 User Guide's Athena DDL uses)."""
    return _CAMEL.sub("_", name.strip()).lower()


def parse_manifest(text: bytes, where: str, checksum: bytes | None = None) -> Manifest:
    """The manifest's fields, checked; `checksum` is the report's manifest.checksum (the MD5 of manifest.json)."""
    if checksum is not None:
        expected = checksum.decode("ascii", "replace").strip().lower()
        actual = hashlib.md5(text, usedforsecurity=False).hexdigest()
        if expected != actual:
            raise ManifestError(f"{where}: its MD5 is {actual} but manifest.checksum says {expected}; the manifest "
                                "is damaged or was changed: download the report again")
    try:
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{where}: not a JSON manifest ({err}); give the manifest.json of an S3 Inventory "
                            "report") from err
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: not a JSON object; give the manifest.json of an S3 Inventory report")
    file_format = _text(doc, "fileFormat", where)
    if file_format not in FORMATS:
        raise ManifestError(f"{where}: fileFormat {file_format!r} is not one s3plan reads ({', '.join(FORMATS)})")
    return Manifest(where, _text(doc, "sourceBucket", where), _text(doc, "destinationBucket", where), file_format,
                    _columns(file_format, _text(doc, "fileSchema", where), where), _created(doc, where),
                    _files(doc, where))


def _text(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: `{key}` is missing or empty; give the manifest.json of an S3 Inventory report")
    return value.strip()


def _columns(file_format: str, schema: str, where: str) -> tuple[str, ...]:
    if file_format == "CSV":
        names = [snake(n) for n in schema.split(",") if n.strip()]
    elif file_format == "Parquet":
        names = _PARQUET_FIELD.findall(schema)
    else:
        inner = schema.strip()
        inner = inner[len("struct<"):-1] if inner.startswith("struct<") and inner.endswith(">") else inner
        names = _ORC_FIELD.findall(inner)
    if not {"bucket", "key"} <= set(names):
        raise ManifestError(f"{where}: fileSchema {schema[:80]!r} names no Bucket and Key field")
    return tuple(names)


def _created(doc: dict[str, Any], where: str) -> int | None:
    value = doc.get("creationTimestamp")
    if value is None:
        return None
    try:
        ms = int(str(value).split(".")[0])
    except ValueError as err:
        raise ManifestError(f"{where}: creationTimestamp {value!r} is not epoch milliseconds") from err
    if not 0 <= ms < 253402300800000:  # up to 9999-12-31: a time Python can show
        raise ManifestError(f"{where}: creationTimestamp {value!r} is not a time in epoch milliseconds")
    return ms


def _files(doc: dict[str, Any], where: str) -> tuple[DataFile, ...]:
    items = doc.get("files")
    if not isinstance(items, list):
        raise ManifestError(f"{where}: `files` is missing; give the manifest.json of an S3 Inventory report")
    out = []
    for n, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        md5 = str(item.get("MD5checksum") or "").lower() if isinstance(item, dict) else ""
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key or ".." in key.split("/") or not MD5_RE.match(md5) \
                or not isinstance(size, int) or size < 0:
            raise ManifestError(f"{where}: files[{n}] needs a key, a size and an MD5checksum of 32 hex digits")
        out.append(DataFile(key, size, md5))
    return tuple(out)


def read_manifest(path: Path) -> Manifest:
    """A manifest.json on disk, checked against the manifest.checksum beside it when there is one."""
    try:
        text = path.read_bytes()
        beside = path.with_name("manifest.checksum")
        checksum = beside.read_bytes() if path.name == "manifest.json" and beside.is_file() else None
    except OSError as err:
        raise ManifestError(f"{path}: cannot read ({err.strerror or err})") from err
    return parse_manifest(text, str(path), checksum)


def find_data_file(manifest_path: Path, key: str) -> Path | None:
    """Where a data file of a local report is: the key under a folder above the manifest (a copy of the
    destination bucket or part of it), or the key's tail beside the report's config folder (data/NAME)."""
    parts = key.split("/")
    folders = [manifest_path.parent, *manifest_path.parent.parents]
    for depth in range(len(parts), 0, -1):  # the longest tail of the key first: the most specific match
        tail = Path(*parts[-depth:])
        for folder in folders:
            candidate = folder / tail
            if candidate.is_file():
                return candidate
    return None


def md5_of(path: Path, chunk: int = 1 << 22) -> str:
    """The MD5 of a file, read in large chunks (hashlib releases the GIL on them, so threads check in parallel)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()

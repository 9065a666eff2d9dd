"""One inventory report's data files -> counts per owner and per ACL grant, in the engine. An inventory lists every
object, so the engine reads the files (CSV and Parquet natively, ORC through pyarrow's reader, stripe by stripe)
and groups the rows by (owner, ACL): objects with the same ACL share the same field value, so the groups are few,
and only they reach Python, where each distinct ACL is decoded once."""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import os
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import duckdb

from planner.model.inventory import GrantCount, InventoryReport, OwnerCount
from planner.sources.inventory.manifest import Manifest

SAMPLES = 3
PREFIXES = 50  # first key segments kept per grant; past it, a grant may be under any prefix
COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
UNAVAILABLE = "UNAVAILABLE"
WANTED = ("key", "is_delete_marker", "object_owner", "object_access_control_list")


class CorruptDataFile(ValueError):
    """The engine could not read a data file; the message names it."""


@dataclass(frozen=True)
class _Group:
    owner: str | None
    acl: str | None
    objects: int
    keys: tuple[str, ...]  # the smallest keys as the report writes them (URL-encoded in CSV)
    top: str | None = ""   # decoded; None: some key's / came encoded, so its first segment is not known


def read_report(manifest: Manifest, files: Sequence[Path], threads: int | None = None) -> InventoryReport:
    """The report's counts: objects, owners, grants to others, and ACLs UNAVAILABLE or unreadable."""
    if not manifest.has_acl_fields:
        objects = sum(g.objects for g in _groups(manifest, files, threads))
        return InventoryReport(manifest.source_bucket, manifest.where, manifest.file_format, manifest.created,
                               objects, 0, 0, has_acl_fields=False)
    return _fold(manifest, _groups(manifest, files, threads), unquote_plus if manifest.file_format == "CSV" else str)


def _groups(manifest: Manifest, files: Sequence[Path], threads: int | None) -> list[_Group]:
    """Rows grouped by (owner, ACL field) with their count and smallest keys; a file the engine refuses is named."""
    if not files:  # a report of an empty bucket lists no data file
        return []
    try:
        return _query(manifest, files, threads)
    except duckdb.Error as err:
        for path in files:  # which file: each alone (only on failure, so a good report is read once)
            try:
                _query(manifest, [path], 1)
            except duckdb.Error as one:
                raise CorruptDataFile(f"{path}: not a readable {manifest.file_format} inventory data file "
                                      f"({_first_line(one)}); download it again") from one
        raise CorruptDataFile(f"{manifest.where}: its data files cannot be read together ({_first_line(err)})") \
            from err


def _query(manifest: Manifest, files: Sequence[Path], threads: int | None) -> list[_Group]:
    present = [c for c in WANTED if c in manifest.columns]
    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        source, params = _source(con, manifest, files, present, threads)
        owner = "object_owner" if "object_owner" in present else "NULL"
        acl = "object_access_control_list" if "object_access_control_list" in present else "NULL"
        live = _not_delete_marker(manifest.file_format) if "is_delete_marker" in present else "TRUE"
        # the first segment of the key (folder/, or '' for a key at the top): what tells a grant's objects apart
        # from the key prefixes of a request that needed an ACL. CSV keys are URL-encoded as ListObjectsV2's
        # encoding-type=url does (a space as +, / kept): only the few segments and samples are decoded, in Python;
        # the samples are the smallest keys as the report writes them
        # (a key with no / is checked for an encoded one: then its segment is not known)
        sql = (f"WITH objects AS (SELECT {owner} AS owner, {acl} AS acl, key, "
               "CASE WHEN contains(key, '/') THEN split_part(key, '/', 1) || '/' ELSE '' END AS top "
               f"FROM {source} WHERE {live}) "
               f"SELECT owner, acl, top, count(*) AS n, min(key, {SAMPLES}) AS keys, "
               "bool_or(top = '' AND contains(lower(key), '%2f')) AS hidden FROM objects GROUP BY owner, acl, top")
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    decode = unquote_plus if manifest.file_format == "CSV" else str
    return [_Group(o, a, int(n), tuple(keys or ()), None if hidden else decode(top))
            for o, a, top, n, keys, hidden in rows]


def _source(con: duckdb.DuckDBPyConnection, manifest: Manifest, files: Sequence[Path],
            present: Sequence[str], threads: int | None = None) -> tuple[str, dict[str, Any]]:
    """The FROM clause over the files: column names come from the manifest, so each is checked before use."""
    names = [str(p) for p in files]
    if manifest.file_format == "CSV":
        for column in manifest.columns:
            if not COLUMN_RE.match(column):
                raise CorruptDataFile(f"{manifest.where}: fileSchema field {column!r} is not a column name")
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in manifest.columns)
        return (f"read_csv($files, header = false, columns = {{{columns}}}, quote = '\"', escape = '\"', "
                "compression = 'gzip', auto_detect = false, strict_mode = true, null_padding = false)",
                {"files": names})
    if manifest.file_format == "Parquet":
        return "read_parquet($files, union_by_name = true)", {"files": names}
    con.register("orc_stripes", _orc_batches(files, present, threads))
    return "orc_stripes", {}


def _orc_batches(files: Sequence[Path], columns: Sequence[str], threads: int | None) -> Any:
    """A stream of the ORC files' stripes (only the columns needed), read by a few threads at once (pyarrow
    releases the GIL while it inflates and decodes), so memory stays a few stripes deep."""
    import pyarrow as pa
    import pyarrow.orc as orc

    fields = {"key": pa.string(), "is_delete_marker": pa.bool_(), "object_owner": pa.string(),
              "object_access_control_list": pa.string()}
    schema = pa.schema([(c, fields[c]) for c in columns])
    workers = max(1, threads or os.cpu_count() or 1)

    def stripe(path: Path, n: int) -> Any:
        try:
            return orc.ORCFile(str(path)).read_stripe(n, columns=list(columns)).select(list(columns)).cast(schema)
        except (pa.ArrowException, OSError, ValueError) as err:
            raise duckdb.InvalidInputException(f"{path}: {err}") from err

    def stripes() -> Iterator[Any]:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3plan-orc") as pool:
            pending: deque[Future[Any]] = deque()
            for path in files:
                try:
                    count = orc.ORCFile(str(path)).nstripes
                except (pa.ArrowException, OSError, ValueError) as err:
                    raise duckdb.InvalidInputException(f"{path}: {err}") from err
                for n in range(count):
                    pending.append(pool.submit(stripe, path, n))
                    if len(pending) >= workers:
                        yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    return pa.RecordBatchReader.from_batches(schema, stripes())


def _not_delete_marker(file_format: str) -> str:
    """Delete markers have no ACL and no owner that matters here (a versioned report lists them as rows). Read
    as text, so a boolean and a string column both work."""
    return "coalesce(lower(CAST(is_delete_marker AS VARCHAR)), 'false') <> 'true'"


def _fold(manifest: Manifest, groups: Iterable[_Group], decode: Callable[[str], str]) -> InventoryReport:
    """Owners and grants over the groups: each distinct ACL value decoded once; the sample keys are the smallest
    as written, decoded at the end."""
    owners: dict[str, list[Any]] = defaultdict(lambda: [0, []])
    grants: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, [], set()])
    objects = unavailable = unreadable = 0
    decoded_acls: dict[str | None, tuple[str, list[tuple[str, str, str]]] | None] = {}
    for group in groups:
        objects += group.objects
        if group.acl not in decoded_acls:
            decoded_acls[group.acl] = decode_acl(group.acl)
        decoded = decoded_acls[group.acl]
        if decoded is None:
            unreadable += group.objects
            continue
        status, pairs = decoded
        if status == UNAVAILABLE or group.owner in (None, "", UNAVAILABLE):
            unavailable += group.objects
            continue
        _add(owners[str(group.owner)], group)
        for grantee_type, grantee, permission in set(pairs):
            if grantee_type == "CanonicalUser" and grantee == group.owner:
                continue  # the owner's own grant on its object: the default ACL, not access for anyone else
            total = grants[(grantee_type, grantee, permission)]
            _add(total, group)
            total[2].add(group.top)  # None: a key whose / came encoded, so the grant may be under any prefix
    return InventoryReport(
        manifest.source_bucket, manifest.where, manifest.file_format, manifest.created, objects, unavailable,
        unreadable,
        owners=tuple(OwnerCount(o, n, tuple(map(decode, keys))) for o, (n, keys) in sorted(owners.items(),
                                                                                            key=_largest)),
        grants=tuple(GrantCount(t, g, p, n, tuple(map(decode, keys)), tuple(sorted(tops - {None})[:PREFIXES]),
                                len(tops) <= PREFIXES and None not in tops)
                     for (t, g, p), (n, keys, tops) in sorted(grants.items())))


def _add(total: list[Any], group: _Group) -> None:
    total[0] += group.objects
    total[1] = heapq.nsmallest(SAMPLES, {*total[1], *group.keys})


def _largest(item: tuple[str, list[Any]]) -> tuple[int, str]:
    return -item[1][0], item[0]


def decode_acl(value: str | None) -> tuple[str, list[tuple[str, str, str]]] | None:
    """The Object ACL field (base64 of the JSON the S3 User Guide, "Working with the Object ACL field", shows:
    version, status AVAILABLE/UNAVAILABLE, grants of CanonicalUser `canonicalId` or Group `uri` with a
    permission) -> (status, [(type, grantee, permission)]); None when it is empty or not that."""
    if not value:
        return None
    try:
        doc = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
        return None
    pairs = []
    for grant in doc.get("grants") or []:
        if not isinstance(grant, dict):
            return None
        kind = str(grant.get("type") or "")
        grantee = grant.get("canonicalId") if kind == "CanonicalUser" else grant.get("uri")
        if not grantee or not grant.get("permission"):
            return None
        pairs.append((kind, str(grantee), str(grant["permission"])))
    return doc["status"], pairs


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__

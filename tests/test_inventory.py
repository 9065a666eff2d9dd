"""S3 Inventory reports: real CSV-gz, Parquet and ORC files with manifests whose checksums match, read in the engine;
checks of every file; and the object-ACL findings set against the log evidence."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.model.inventory import GrantCount, InventoryReport, InventoryResult
from planner.sources.inventory import InventoryReports
from planner.sources.inventory.manifest import ManifestError, parse_manifest, read_manifest, snake
from planner.sources.inventory.reader import decode_acl
from planner.sources.inventory.reports import find_manifests, read_reports
from tests.inventory_reports import (
    ALL_USERS,
    AUTHENTICATED,
    OWNER,
    PARTNER,
    WRITER,
    Obj,
    Report,
    acl_field,
    write_report,
)

FORMATS = ("CSV", "Parquet", "ORC")
ME = ("CanonicalUser", OWNER, "FULL_CONTROL")
# keys as S3 allows them: spaces, plus signs, percent signs, unicode, a newline (CSV encodes them all)
ODD_KEYS = ("photos/a b+c.jpg", "photos/100%.png", "photos/naïve é.txt", "photos/x+y=z&q?.bin", "line\nbreak")


def mixed_objects() -> list[Obj]:
    """Public, partner and foreign-owned objects, an UNAVAILABLE one, a delete marker and a garbled ACL field."""
    public = [Obj(k, grants=[ME, ("Group", ALL_USERS, "READ")]) for k in ODD_KEYS]
    return [*public,
            Obj("data/p.csv", grants=[ME, ("CanonicalUser", PARTNER, "READ"), ("CanonicalUser", PARTNER, "READ_ACP")]),
            Obj("up/w.bin", owner=WRITER, grants=[("CanonicalUser", WRITER, "FULL_CONTROL"), ME]),
            Obj("gone", status="UNAVAILABLE"), Obj("dm", delete_marker=True), Obj("bad", acl="not base64 !!")]


def read_one(tmp_path: Path, report: Report) -> InventoryReport:
    manifest = write_report(tmp_path / "dest", report)
    result = read_reports(find_manifests([manifest])[0])
    assert result.failures == ()
    (found,) = result.reports
    return found


@pytest.mark.parametrize("file_format", FORMATS)
def test_each_format_gives_the_same_counts(tmp_path: Path, file_format: str) -> None:
    found = read_one(tmp_path, Report("media", mixed_objects(), file_format, files=3))
    assert (found.bucket, found.file_format, found.created) == ("media", file_format, "2026-11-30T01:00:00Z")
    assert found.objects == 9  # the delete marker is not an object
    assert (found.acl_unavailable, found.acl_unreadable) == (1, 1)
    assert [(o.owner, o.objects) for o in found.owners] == [(OWNER, 6), (WRITER, 1)]
    grants = {(g.grantee_type, g.grantee, g.permission): g.objects for g in found.grants}
    assert grants == {("Group", ALL_USERS, "READ"): 5, ("CanonicalUser", PARTNER, "READ"): 1,
                      ("CanonicalUser", PARTNER, "READ_ACP"): 1,
                      ("CanonicalUser", OWNER, "FULL_CONTROL"): 1}  # the bucket owner's grant on WRITER's object


@pytest.mark.parametrize("file_format", FORMATS)
def test_sample_keys_come_back_decoded(tmp_path: Path, file_format: str) -> None:
    found = read_one(tmp_path, Report("media", mixed_objects(), file_format))
    public = next(g for g in found.grants if g.grantee == ALL_USERS)
    written = (lambda k: quote_plus(k, safe="/")) if file_format == "CSV" else str  # the order the report has
    assert public.sample_keys == tuple(sorted(ODD_KEYS, key=written)[:3])


def test_csv_keys_with_spaces_and_plus_signs_are_decoded_exactly(tmp_path: Path) -> None:
    keys = ["a b", "a+b", "a%2Bb literal", "c++/d e+f"]
    found = read_one(tmp_path, Report("keys", [Obj(k, grants=[ME, ("Group", ALL_USERS, "READ")]) for k in keys]))
    raw = (tmp_path / "dest/inventory/keys/acls/data").glob("*.csv.gz")
    written = gzip.decompress(next(raw).read_bytes()).decode()  # encoded, as S3 writes them: a space as +
    assert '"a+b"' in written and '"a%2Bb"' in written and '"a%252Bb+literal"' in written
    assert found.grants[0].sample_keys == tuple(sorted(keys, key=lambda k: quote_plus(k, safe="/"))[:3])
    assert found.grants[0].prefixes == ("", "c++/")


def test_the_latest_report_of_each_configuration_is_read(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    write_report(dest, Report("media", [Obj("old", grants=[ME, ("Group", ALL_USERS, "READ")])],
                              stamp="2026-11-28T01-00Z"))
    write_report(dest, Report("media", [Obj("new")], stamp="2026-11-30T01-00Z"))
    result = InventoryReports((dest,)).scan()
    assert [r.objects for r in result.reports] == [1] and result.reports[0].grants == ()
    assert [Path(s.path).parent.name for s in result.skipped] == ["2026-11-28T01-00Z"]


def test_two_configurations_of_one_bucket_count_once(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    write_report(dest, Report("media", [Obj("a"), Obj("b")], config="acls"))
    write_report(dest, Report("media", [Obj("a"), Obj("b")], config="sizes", columns=("bucket", "key", "size"),
                              stamp="2026-12-01T01-00Z"))
    result = InventoryReports((dest,)).scan()
    assert [(r.objects, r.has_acl_fields) for r in result.reports] == [(2, True)]
    assert any("another inventory configuration" in s.reason for s in result.skipped)


def test_a_report_without_the_acl_fields_says_so(tmp_path: Path) -> None:
    found = read_one(tmp_path, Report("media", [Obj("a")], columns=("bucket", "key", "size")))
    assert (found.has_acl_fields, found.objects, found.grants) == (False, 1, ())


def broken_and_good(tmp_path: Path) -> tuple[Path, Path, Path]:
    dest = tmp_path / "dest"
    good = write_report(dest, Report("good", [Obj("a", grants=[ME, ("Group", ALL_USERS, "READ")])]))
    bad = write_report(dest, Report("bad", [Obj("b"), Obj("c")], files=2))
    return dest, good, bad


def data_files(manifest: Path) -> list[Path]:
    return sorted((manifest.parent.parent / "data").iterdir())


def test_a_bad_checksum_fails_that_bucket_only_and_names_the_file(tmp_path: Path) -> None:
    dest, _, bad = broken_and_good(tmp_path)
    victim = data_files(bad)[1]
    body = bytearray(victim.read_bytes())
    body[-1] ^= 1
    victim.write_bytes(bytes(body))
    result = InventoryReports((dest,)).scan()
    assert [r.bucket for r in result.reports] == ["good"]
    (failure,) = result.failures
    assert failure.bucket == "bad" and str(victim) in failure.reason and "MD5" in failure.reason
    assert "download it again" in failure.reason


def test_a_missing_data_file_is_named(tmp_path: Path) -> None:
    dest, _, bad = broken_and_good(tmp_path)
    gone = data_files(bad)[0]
    gone.unlink()
    (failure,) = InventoryReports((dest,)).scan().failures
    assert gone.name in failure.reason and "not on disk" in failure.reason


def test_a_corrupt_data_file_with_a_matching_checksum_is_named(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    write_report(dest, Report("good", [Obj("a")]))
    bad = write_report(dest, Report("bad", [Obj("b"), Obj("c")], files=2))
    victim = data_files(bad)[0]
    victim.write_bytes(b"\x1f\x8b\x08\x00garbage that is no gzip stream")
    manifest = json.loads(bad.read_text())
    for item in manifest["files"]:
        if item["key"].endswith(victim.name):
            item["size"], item["MD5checksum"] = victim.stat().st_size, hashlib.md5(victim.read_bytes()).hexdigest()
    text = json.dumps(manifest).encode()
    bad.write_bytes(text)
    bad.with_name("manifest.checksum").write_text(hashlib.md5(text).hexdigest())
    result = InventoryReports((dest,)).scan()
    assert [r.bucket for r in result.reports] == ["good"]
    (failure,) = result.failures
    assert failure.reason.startswith(str(victim)) and "not a readable CSV" in failure.reason
    assert "\n" not in failure.reason


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
def test_a_corrupt_columnar_file_is_named(tmp_path: Path, file_format: str) -> None:
    manifest = write_report(tmp_path / "dest", Report("bad", [Obj("b")], file_format))
    victim = data_files(manifest)[0]
    victim.write_bytes(b"PAR1 not really" if file_format == "Parquet" else b"ORC not really")
    doc = json.loads(manifest.read_text())
    doc["files"][0].update(size=victim.stat().st_size, MD5checksum=hashlib.md5(victim.read_bytes()).hexdigest())
    manifest.write_text(json.dumps(doc))
    manifest.with_name("manifest.checksum").unlink()
    (failure,) = InventoryReports((manifest,)).scan().failures
    assert failure.reason.startswith(str(victim)) and f"not a readable {file_format}" in failure.reason


def test_a_changed_manifest_fails_its_checksum(tmp_path: Path) -> None:
    manifest = write_report(tmp_path / "dest", Report("media", [Obj("a")]))
    manifest.write_text(manifest.read_text().replace('"media"', '"other"'))
    with pytest.raises(ManifestError, match=r"manifest\.checksum says"):
        read_manifest(manifest)


@pytest.mark.parametrize(("doc", "message"), [
    (b"{", "not a JSON manifest"),
    (b"[]", "not a JSON object"),
    (json.dumps({"sourceBucket": "b", "destinationBucket": "d", "fileFormat": "JSON", "fileSchema": "Bucket, Key",
                 "files": []}).encode(), "fileFormat 'JSON'"),
    (json.dumps({"sourceBucket": "b", "destinationBucket": "d", "fileFormat": "CSV", "fileSchema": "Size",
                 "files": []}).encode(), "names no Bucket and Key"),
    (json.dumps({"sourceBucket": "b", "destinationBucket": "d", "fileFormat": "CSV", "fileSchema": "Bucket, Key",
                 "files": [{"key": "../x", "size": 1, "MD5checksum": "0" * 32}]}).encode(), r"files\[0\]"),
    (json.dumps({"destinationBucket": "d", "fileFormat": "CSV", "fileSchema": "Bucket, Key",
                 "files": []}).encode(), "`sourceBucket` is missing"),
])
def test_bad_manifests_are_one_line_naming_the_file(doc: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as caught:
        parse_manifest(doc, "m.json")
    assert str(caught.value).startswith("m.json: ") and "\n" not in str(caught.value)


def test_the_documented_manifest_schemas_give_the_columns() -> None:
    """The three manifests of the S3 User Guide's "Locating your inventory list" (schemas shortened)."""
    base = {"sourceBucket": "example-source-bucket", "destinationBucket": "arn:aws:s3:::example-destination-bucket",
            "version": "2016-11-30", "creationTimestamp": "1514944800000",
            "files": [{"key": "k", "size": 56291, "MD5checksum": "5925f4e78e1695c2d020b9f6e0000000"}]}
    schemas = {
        "CSV": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ETag, ObjectAccessControlList, ObjectOwner",
        "ORC": "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,"
               "size:bigint,e_tag:string,object_access_control_list:string,object_owner:string>",
        "Parquet": "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional "
                   "binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; "
                   "optional int64 size; optional binary e_tag (UTF8); optional binary object_access_control_list "
                   "(UTF8); optional binary object_owner (UTF8); }",
    }
    want = ("bucket", "key", "version_id", "is_latest", "is_delete_marker", "size", "e_tag",
            "object_access_control_list", "object_owner")
    for file_format, schema in schemas.items():
        manifest = parse_manifest(json.dumps({**base, "fileFormat": file_format, "fileSchema": schema}).encode(), "m")
        assert manifest.columns == want and manifest.has_acl_fields
        assert manifest.created == "2018-01-03T02:00:00Z"


@pytest.mark.parametrize(("name", "column"), [("ObjectAccessControlList", "object_access_control_list"),
                                              ("ETag", "e_tag"), ("IsDeleteMarker", "is_delete_marker"),
                                              ("ObjectOwner", "object_owner"), (" BucketKeyStatus", "bucket_key_status"),
                                              ("IntelligentTieringAccessTier", "intelligent_tiering_access_tier")])
def test_csv_field_names_read_as_the_columnar_names(name: str, column: str) -> None:
    assert snake(name) == column


def test_the_documented_object_acl_example_decodes() -> None:
    """The Object ACL field example of the S3 User Guide ("Working with the Object ACL field"), base64-encoded."""
    example = {"version": "2022-11-10", "status": "AVAILABLE", "grants": [
        {"uri": "http://acs.amazonaws.com/groups/global/AllUsers", "permission": "READ", "type": "Group"},
        {"canonicalId": "example-canonical-id", "permission": "FULL_CONTROL", "type": "CanonicalUser"}]}
    import base64

    field = base64.b64encode(json.dumps(example).encode()).decode()
    assert decode_acl(field) == ("AVAILABLE", [("Group", ALL_USERS, "READ"),
                                               ("CanonicalUser", "example-canonical-id", "FULL_CONTROL")])
    assert decode_acl(acl_field((), "UNAVAILABLE")) == ("UNAVAILABLE", [])
    for garbled in (None, "", "!!", "e30=", "WzFd"):  # e30= is {}, WzFd is [1]
        assert decode_acl(garbled) is None


GRANTEES = st.sampled_from([("Group", ALL_USERS), ("Group", AUTHENTICATED), ("CanonicalUser", PARTNER),
                            ("CanonicalUser", WRITER)])
PERMISSIONS = st.sampled_from(["READ", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"])
OBJECTS = st.lists(st.tuples(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                                     max_size=12),
                             st.sampled_from([OWNER, WRITER]),
                             st.lists(st.tuples(GRANTEES, PERMISSIONS), max_size=3)),
                   min_size=1, max_size=25, unique_by=lambda o: o[0])


@settings(max_examples=40, deadline=None)
@given(objects=OBJECTS, file_format=st.sampled_from(FORMATS))
def test_engine_counts_equal_a_count_in_python(tmp_path_factory: pytest.TempPathFactory,
                                               objects: list[tuple[str, str, list[tuple[tuple[str, str], str]]]],
                                               file_format: str) -> None:
    """Any keys, owners and grants: the engine's aggregation equals counting the objects one by one."""
    rows = [Obj(key, owner=owner, grants=[("CanonicalUser", owner, "FULL_CONTROL"), *((t, g, p) for (t, g), p in extra)])
            for key, owner, extra in objects]
    found = read_one(tmp_path_factory.mktemp("inv"), Report("prop", rows, file_format, files=2))
    owners = Counter(o.owner for o in rows)
    grants: Counter[tuple[str, str, str]] = Counter()
    samples: dict[tuple[str, str, str], set[str]] = {}
    for obj in rows:
        for grant in {g for g in obj.grants or () if not (g[0] == "CanonicalUser" and g[1] == obj.owner)}:
            grants[grant] += 1
            samples.setdefault(grant, set()).add(obj.key)
    assert {o.owner: o.objects for o in found.owners} == owners
    assert {(g.grantee_type, g.grantee, g.permission): g.objects for g in found.grants} == grants
    written = (lambda k: quote_plus(k, safe="/")) if file_format == "CSV" else str  # the order the report has
    for grant in found.grants:
        key = (grant.grantee_type, grant.grantee, grant.permission)
        assert grant.sample_keys == tuple(sorted(samples[key], key=written)[:3])
        tops = {k.split("/", 1)[0] + "/" if "/" in k else "" for k in samples[key]}
        assert (grant.prefixes, grant.prefixes_complete) == (tuple(sorted(tops)), True)


def test_grant_counts_know_what_is_public() -> None:
    assert GrantCount("Group", ALL_USERS, "READ", 1).public and GrantCount("Group", AUTHENTICATED, "READ", 1).public
    assert not GrantCount("Group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE", 1).public
    assert not GrantCount("CanonicalUser", PARTNER, "READ", 1).public


def test_an_empty_inventory_reads_nothing() -> None:
    assert InventoryReports().scan() == InventoryResult()


def test_a_folder_with_no_manifest_is_an_input_error(tmp_path: Path) -> None:
    from planner.errors import InputError

    with pytest.raises(InputError, match=r"no manifest\.json under it"):
        InventoryReports((tmp_path,)).scan()


def test_a_grant_whose_keys_hide_their_folder_may_be_under_any_prefix(tmp_path: Path) -> None:
    """Should a report encode / as %2F, no key shows its folder: the grant is then not told apart by prefix."""
    manifest = write_report(tmp_path / "dest", Report("enc", [Obj("a/b", grants=[ME, ("Group", ALL_USERS, "READ")])]))
    data = data_files(manifest)[0]
    body = gzip.compress(gzip.decompress(data.read_bytes()).replace(b'"a/b"', b'"a%2Fb"'))
    data.write_bytes(body)
    doc = json.loads(manifest.read_text())
    doc["files"][0].update(size=len(body), MD5checksum=hashlib.md5(body).hexdigest())
    manifest.write_text(json.dumps(doc))
    manifest.with_name("manifest.checksum").unlink()
    (grant,) = read_reports(find_manifests([manifest])[0]).reports[0].grants
    assert (grant.sample_keys, grant.prefixes, grant.prefixes_complete) == (("a/b",), (), False)


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_report_of_an_empty_bucket_has_no_objects(tmp_path: Path, file_format: str) -> None:
    manifest = write_report(tmp_path / "dest", Report("empty", [Obj("a")], file_format))
    doc = json.loads(manifest.read_text())
    doc["files"] = []
    manifest.write_text(json.dumps(doc))
    manifest.with_name("manifest.checksum").unlink()
    (found,) = read_reports(find_manifests([manifest])[0]).reports
    assert (found.objects, found.owners, found.grants) == (0, (), ())


def test_a_parquet_delete_marker_column_of_text_is_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = write_report(tmp_path / "dest", Report("text", [Obj("a"), Obj("dm", delete_marker=True)], "Parquet"))
    data = data_files(manifest)[0]
    table = pq.read_table(data)
    column = table.schema.get_field_index("is_delete_marker")
    as_text = pa.array(["true" if v else "false" for v in table.column(column).to_pylist()])
    pq.write_table(table.set_column(column, "is_delete_marker", as_text), data)
    doc = json.loads(manifest.read_text())
    doc["files"][0].update(size=data.stat().st_size, MD5checksum=hashlib.md5(data.read_bytes()).hexdigest())
    manifest.write_text(json.dumps(doc))
    manifest.with_name("manifest.checksum").unlink()
    (found,) = read_reports(find_manifests([manifest])[0]).reports
    assert found.objects == 1


def test_odd_manifest_and_acl_values_are_refused_not_crashed_on() -> None:
    base = {"sourceBucket": "b", "destinationBucket": "d", "fileFormat": "CSV", "fileSchema": "Bucket, Key",
            "files": []}
    for stamp in ("99999999999999999999", "-99999999999999999"):
        with pytest.raises(ManifestError, match="creationTimestamp"):
            parse_manifest(json.dumps({**base, "creationTimestamp": stamp}).encode(), "m")
    import base64

    deep = base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode()
    assert decode_acl(deep) is None


def test_a_broken_manifest_fails_its_bucket_and_no_other_configuration_stands_in(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    broken = write_report(dest, Report("media", [Obj("a")], config="acls"))
    write_report(dest, Report("media", [Obj("a")], config="sizes", columns=("bucket", "key", "size")))
    broken.write_text("{")
    broken.with_name("manifest.checksum").unlink()
    result = InventoryReports((dest,)).scan()
    assert result.reports == () and [f.bucket for f in result.failures] == ["media"]

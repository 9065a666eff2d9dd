"""S3 server access logs: real lines and the documentation's examples parse field by field; any line built from
valid fields parses back; garbage is reported, never raised; the same scenario written as CloudTrail records and
as access-log lines gives the same tasks and statements, and with both sources nothing is counted twice."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from planner.cli import main
from planner.sources.access_logs.parse import (
    FIELDS,
    MIN_FIELDS,
    AccessLogLine,
    BadLine,
    format_line,
    parse_line,
    to_record,
)
from tests.conftest import ANONYMOUS, FIXTURES, log_path, role, s3_record, shared, write_log

LOGS = FIXTURES / "access-logs"
OWNER, PARTNER = "111122223333", "999988887777"
OWNER_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def parsed(text: str) -> AccessLogLine:
    line = parse_line(text)
    assert isinstance(line, AccessLogLine), line
    return line


def fixture_lines(name: str) -> list[str]:
    return (LOGS / name).read_text().splitlines()


def doc_examples() -> list[str]:
    """The AWS documentation's example line (facts section 8) and a Hadoop S3A line of the older 24-field format
    (tests/fixtures/access-logs/SOURCES.md)."""
    return [*fixture_lines("aws-docs-example.log"), fixture_lines("own.log")[0]]


def facts_examples() -> list[str]:
    """The two example lines of facts section 8, read in place (an extra)."""
    section = shared("reference", "s3-migration-facts.md").read_text().split("## 8. S3 server access log format")[1]
    section = section.split("\n## ")[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, re.S) if "REST." in block]


def test_the_documentation_example_parses_field_by_field() -> None:
    doc, hadoop = (parsed(text) for text in doc_examples())
    assert doc.fields == {
        "bucketowner": OWNER_ID, "bucket_name": "amzn-s3-demo-bucket1", "requestdatetime": "06/Feb/2019:00:00:38 +0000",
        "remoteip": "192.0.2.3", "requester": OWNER_ID, "requestid": "3E57427F3EXAMPLE",
        "operation": "REST.GET.VERSIONING", "key": None, "request_uri": "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1",
        "httpstatus": "200", "errorcode": None, "bytessent": "113", "objectsize": None, "totaltime": "7",
        "turnaroundtime": None, "referrer": None, "useragent": "S3Console/0.4", "versionid": None,
        "hostid": "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=", "sigv": "SigV4",
        "ciphersuite": "ECDHE-RSA-AES128-GCM-SHA256", "authtype": "AuthHeader",
        "endpoint": "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com", "tlsversion": "TLSV1.2",
        "accesspointarn": "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP", "aclrequired": "Yes",
        "sourceregion": "us-east-1"}
    assert len(hadoop.fields) == 24 and hadoop["aclrequired"] is None  # the older format stops at TLS version
    assert hadoop["useragent"] is not None and hadoop["useragent"].startswith("Hadoop 3.3.4, aws-sdk-java/")
    assert hadoop["referrer"] is not None and hadoop["referrer"].startswith("https://hadoop.apache.org/audit/")
    record = to_record(hadoop)
    assert record is not None and record["userIdentity"] == {
        "type": "IAMUser", "arn": "arn:aws:iam::444455556666:user/etl-runner", "accountId": "444455556666"}
    assert (record["eventName"], record["eventTime"], record["awsRegion"]) == (
        "PutObject", "2022-03-12T09:15:27Z", "eu-west-2")


def test_the_facts_examples_in_place_match_the_fixtures() -> None:
    doc, hadoop = facts_examples()
    assert doc == doc_examples()[0]  # the fixture is the documentation's line, unchanged
    real = parsed(hadoop)
    assert (len(real.fields), real["aclrequired"], real["requester"]) == (
        24, None, "arn:aws:iam::152813717728:user/stevel-dev")
    record = to_record(real)
    assert record is not None and (record["eventName"], record["awsRegion"]) == ("PutObject", "eu-west-2")


def test_real_lines_parse_field_by_field() -> None:
    opensearch = fixture_lines("opensearch-raw.log")
    assert len(opensearch) == 18 and all(isinstance(parse_line(t), AccessLogLine) for t in opensearch)
    first = parsed(opensearch[0])
    assert (first["requestid"], first["operation"], first["key"], first["objectsize"], first["sigv"],
            first["aclrequired"], len(first.fields)) == ("7ERH6MMR32AXYMKY", "REST.PUT.OBJECT",
                                                         "locales/en/cluster.json", "9427", "SigV4", None, 26)
    record = to_record(first)
    # finding 7: the session names its role but not the role's path, so no role ARN is made up from it
    assert record is not None and "arn" not in record["userIdentity"]["sessionContext"]["sessionIssuer"]
    assert record["userIdentity"]["arn"].startswith(
        "arn:aws:sts::347283850106:assumed-role/CentralizedLogging-CustomCDKBucketDeployment8693BB-1X4DVR38SF7ZY/")

    assert_trusted_advisor_lines(fixture_lines("own.log")[1:], "512000")  # the shapes of the real lines below

    drumadrian = parsed(fixture_lines("drumadrian-get-acl.log")[0])
    record = to_record(drumadrian)
    assert record is not None and record["eventName"] == "GetObjectAcl"
    assert record["requestParameters"] == {"bucketName": "345testmpb", "key": "update_to_ryan.mov"}


def test_real_trusted_advisor_lines_in_place() -> None:
    """An extra: the Elastic-licensed real lines that own.log imitates."""
    assert_trusted_advisor_lines(shared("data", "elastic-beats", "s3_server_access.log").read_text().splitlines(),
                                 "344017")


def assert_trusted_advisor_lines(texts: list[str], deleted_size: str) -> None:
    """Trusted Advisor's REST.GET.LOCATION / REST.GET.BUCKET calls, then one key of a BATCH.DELETE.OBJECT."""
    lines = [parsed(t) for t in texts]
    assert [b["operation"] for b in lines] == ["REST.GET.LOCATION"] * 2 + ["REST.GET.BUCKET", "REST.GET.LOCATION",
                                                                            "BATCH.DELETE.OBJECT"]
    batch = lines[-1]
    assert (batch["request_uri"], batch["httpstatus"], batch["objectsize"], batch["useragent"]) == (
        None, "204", deleted_size, None)
    assert to_record(batch) is None  # one key of a multi-object delete: not a request of its own
    listing = to_record(lines[2])
    assert listing is not None and listing["eventName"] == "ListObjects"


_plain = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='[]"\\'),
                 min_size=1, max_size=12).filter(lambda t: t != "-")
_quoted = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="\\"), max_size=30)


@st.composite
def fields(draw: st.DrawFn) -> dict[str, str | None]:
    count = draw(st.integers(min_value=MIN_FIELDS, max_value=len(FIELDS)))
    out: dict[str, str | None] = {}
    for name in FIELDS[:count]:
        if name == "requestdatetime":
            out[name] = draw(st.sampled_from(["06/Feb/2019:00:00:38 +0000", "31/Dec/2026:23:59:59 +0100"]))
        elif name in ("bucket_name", "operation"):
            out[name] = draw(_plain)
        elif name in ("request_uri", "referrer", "useragent"):
            out[name] = draw(st.one_of(st.none(), _quoted))
        else:
            out[name] = draw(st.one_of(st.none(), _plain))
    return out


@settings(max_examples=300)
@given(fields())
def test_any_line_of_valid_fields_parses_back(values: dict[str, str | None]) -> None:
    line = parse_line(format_line(values))
    assert isinstance(line, AccessLogLine)
    assert line.fields == {k: (None if v == "-" else v) for k, v in values.items()}


@given(st.text(max_size=300))
def test_garbage_is_reported_never_raised(text: str) -> None:
    result = parse_line(text)
    assert isinstance(result, (AccessLogLine, BadLine))
    if isinstance(result, AccessLogLine):
        to_record(result)


PARTNER_ROLE = f"arn:aws:iam::{PARTNER}:role/partner-reader"


# One scenario, twice: as CloudTrail records and as the access-log lines S3 writes for the same requests.
def scenario() -> list[dict[str, Any]]:
    app, partner = role(OWNER, "app"), role(PARTNER, "partner-reader")
    old = "[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"
    return [
        s3_record(identity=app, sigv="SigV2", ua=old, request_id="REQ1"),
        s3_record(identity=app, sigv="SigV2", ua=old, request_id="REQ2", time="2026-11-03T08:00:00Z"),
        s3_record(identity=partner, acl_required=True, key="exports/a.csv", request_id="REQ3"),
        s3_record("PutObjectAcl", identity=app, request_id="REQ4", key="exports/b.csv"),
        s3_record(identity=ANONYMOUS, sigv=None, auth=None, acl_required=True, key="site/index.html",
                  request_id="REQ5"),
        s3_record(identity=app, request_id="REQ6"),  # SigV4, same account: only counted
    ]


def as_line(record: dict[str, Any]) -> str:
    """The access-log line S3 writes for a request CloudTrail recorded as `record`."""
    who = record["userIdentity"]
    requester = None if who.get("accountId") == "anonymous" else who["arn"]
    params, extra = record["requestParameters"], record["additionalEventData"]
    stamp = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).strftime("%d/%b/%Y:%H:%M:%S +0000")
    operation = {"GetObject": "REST.GET.OBJECT", "PutObjectAcl": "REST.PUT.ACL"}[record["eventName"]]
    key = params.get("key")
    return format_line({
        "bucketowner": OWNER_ID, "bucket_name": params["bucketName"], "requestdatetime": stamp,
        "remoteip": record["sourceIPAddress"], "requester": requester, "requestid": record["requestID"],
        "operation": operation, "key": key, "request_uri": f"GET /{params['bucketName']}/{key} HTTP/1.1",
        "httpstatus": "200", "errorcode": None, "bytessent": "10", "objectsize": "10", "totaltime": "5",
        "turnaroundtime": "4", "referrer": None, "useragent": record["userAgent"].strip("[]"), "versionid": None,
        "hostid": "abc=", "sigv": extra.get("SignatureVersion"), "ciphersuite": "TLS_AES_128_GCM_SHA256",
        "authtype": extra.get("AuthenticationMethod"), "endpoint": params["Host"], "tlsversion": "TLSv1.3",
        "accesspointarn": None, "aclrequired": "Yes" if extra.get("aclRequired") else None})


def write_access_logs(root: Path, records: list[dict[str, Any]]) -> Path:
    """The lines in the date-based delivery layout (which names the source bucket's account)."""
    folder = root / "logs" / OWNER / "us-east-1" / "bucket-a" / "2026" / "11" / "02"
    folder.mkdir(parents=True)
    (folder / "2026-11-02-10-00-00-ABCDEF").write_text("\n".join(as_line(r) for r in records) + "\n")
    return root / "logs"


def run(tmp_path: Path, name: str, *args: str) -> dict[str, Any]:
    out = tmp_path / name
    result = CliRunner().invoke(main, ["plan", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return json.loads((out / "plan.json").read_text())


def without_sources(plan: dict[str, Any]) -> dict[str, Any]:
    """Tasks and statements without the evidence ids they cite (ids name aggregates of each run's rows) and the
    bucket owners' accounts (the date-based key layout names them, a plain folder does not)."""
    return {"tasks": [{k: v for k, v in t.items() if k not in ("evidence", "accounts")} for t in plan["tasks"]],
            "statements": [{k: v for k, v in s.items() if k != "evidence"} for s in plan["statements"]]}


def test_the_same_scenario_from_either_source_gives_the_same_plan(tmp_path: Path) -> None:
    records = scenario()
    write_log(log_path(tmp_path / "trail", OWNER, "us-east-1", "2026-11-02"), records)
    logs = write_access_logs(tmp_path, records)
    from_trail = run(tmp_path, "trail-out", "--cloudtrail", str(tmp_path / "trail"))
    from_logs = run(tmp_path, "logs-out", "--access-logs", str(logs))
    # finding 7: the access logs name a role's sessions but not the role's path, so alone they name each role as
    # its session without a name, and draft nothing for it (the note says how to find the role ARN)
    def work(plan: dict[str, Any]) -> set[tuple[str, str | None]]:
        named = json.loads(json.dumps(plan).replace(f"arn:aws:iam::{OWNER}:role/app",
                                                    f"arn:aws:sts::{OWNER}:assumed-role/app"))
        return {(t["kind"], t["principal"]) for t in named["tasks"]} | {
            (s["access"], json.dumps(s["statement"]["Resource"])) for s in named["statements"]}
    assert work(from_logs) == {w for w in work(from_trail) if w[1] != PARTNER_ROLE} - {
        ("read-object", '"arn:aws:s3:::bucket-a/exports/*"')}
    assert [s["principal"] for s in from_logs["statements"]] == ["anonymous"]
    assert any(f"arn:aws:sts::{PARTNER}:assumed-role/partner-reader is a session of role partner-reader" in n
               and "get-role --role-name partner-reader" in n for n in from_logs["notes"])
    assert {e["source"] for e in from_logs["evidence"]} == {"access-log"}
    assert len(from_trail["statements"]) >= 2 and len(from_trail["tasks"]) >= 4

    both = run(tmp_path, "both-out", "--cloudtrail", str(tmp_path / "trail"), "--access-logs", str(logs))
    assert without_sources(both) == without_sources(from_trail)
    assert sum(e["requests"] for e in both["evidence"]) == sum(e["requests"] for e in from_trail["evidence"]) == 5
    assert {e["source"] for e in both["evidence"]} == {"cloudtrail+access-log"}
    assert all(e["cloudtrail_requests"] == e["access_log_requests"] == e["requests"] for e in both["evidence"])
    assert both["buckets"][0]["requests"] == from_trail["buckets"][0]["requests"] == 6
    # 6 CloudTrail records and the one access-log line whose request is not evidence (the copies of evidence
    # requests CloudTrail recorded are folded into them)
    assert both["run"]["records"] == 7 and both["run"]["sources"][1].startswith("access-log:")
    sheet = load_workbook(tmp_path / "both-out" / "migration-plan.xlsx")["Evidence"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=False)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert {(r["Logged by"], r["CloudTrail requests"], r["Access log requests"]) for r in rows} == {
        ("cloudtrail+access-log", r["Requests"], r["Requests"]) for r in rows}


def test_requests_refused_after_the_switch_show_as_still_failing(tmp_path: Path) -> None:
    """After SigV2 is denied, CloudTrail no longer sees the caller; the access logs show its refused requests."""
    records = scenario()[:2]
    lines = [as_line(r).replace(" 200 - 10 10 ", " 403 AccessDenied 243 - ") for r in records]
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "2026-11-03-08-00-00-ABCDEF").write_text("\n".join(lines) + "\n")
    plan = run(tmp_path, "out", "--access-logs", str(folder))
    [task] = [t for t in plan["tasks"] if t["kind"] == "upgrade-sdk"]
    assert task["failing"] == "still failing since 2026-11-02T10:00:00Z (AccessDenied)"
    [row] = plan["evidence"]
    assert (row["errors"], row["error_codes"], row["last_error"]) == (2, ["AccessDenied"], "2026-11-03T08:00:00Z")


def test_an_acl_refused_after_acls_were_disabled_becomes_a_stop_setting_acls_task(tmp_path: Path) -> None:
    line = as_line(s3_record(identity=role(OWNER, "uploader"), request_id="R9")).replace(
        "REST.GET.OBJECT", "REST.PUT.OBJECT").replace(" 200 - 10 10 ", " 400 AccessControlListNotSupported 300 - ")
    (tmp_path / "acl.log").write_text(line + "\n")
    plan = run(tmp_path, "out", "--access-logs", str(tmp_path / "acl.log"))
    [task] = [t for t in plan["tasks"] if t["kind"] == "stop-setting-acls"]
    assert "AccessControlListNotSupported" in task["action"] and task["failing"].startswith("still failing since")


def test_bad_lines_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    good = as_line(scenario()[0])
    (tmp_path / "mixed.log").write_text(f"{good}\nnot an access log line\n{good.replace('REQ1', 'REQ7')}\n")
    (tmp_path / "junk.log").write_text("hello\nworld\n")
    result = CliRunner().invoke(main, ["plan", "--access-logs", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "mixed.log: 1 of 3 lines are not access-log records" in result.output
    assert "junk.log: no access-log line" in result.output
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert sum(e["requests"] for e in plan["evidence"]) == 2


@pytest.mark.parametrize("value", ["s3://Bad_Bucket/prefix/", "s3://logs", "/no/such/folder"])
def test_access_logs_option_errors_are_one_line(tmp_path: Path, value: str) -> None:
    result = CliRunner().invoke(main, ["plan", "--access-logs", value, "--out", str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1


def test_bucket_totals_count_every_access_log_line_when_cloudtrail_did_not_see_the_bucket(tmp_path: Path) -> None:
    app = role(OWNER, "app")
    records = [s3_record(identity=app, request_id=f"T{n}", sigv="SigV2" if n == 0 else "SigV4") for n in range(10)]
    (tmp_path / "a.log").write_text("".join(as_line(r) + "\n" for r in records))
    plan = run(tmp_path, "out", "--access-logs", str(tmp_path / "a.log"))
    assert [(b["bucket"], b["requests"], b["sigv2_requests"]) for b in plan["buckets"]] == [("bucket-a", 10, 1)]
    assert plan["run"]["records"] == 10


def test_a_sigv2_line_without_a_request_id_still_blocks_the_deny_draft(tmp_path: Path) -> None:
    line = as_line(scenario()[0]).replace(" REQ1 ", " - ")
    (tmp_path / "a.log").write_text(line + "\n")
    plan = run(tmp_path, "out", "--access-logs", str(tmp_path / "a.log"))
    [bucket] = plan["buckets"]
    assert (bucket["sigv2_requests"], bucket["sigv4_ready"], bucket["sigv4_deny_draft"]) == (1, False, None)
    assert not (tmp_path / "out" / "policies" / "bucket-a.sigv4-deny.json").exists()


def test_corrupt_gzip_and_odd_values_are_reported_not_fatal(tmp_path: Path) -> None:
    import gzip as gz
    good = as_line(scenario()[0])
    data = bytearray(gz.compress(((good + "\n") * 50).encode()))
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.log.gz").write_bytes(bytes(data))
    odd_status = good.replace(" 200 - 10 10 ", " ²00 - 10 10 ").replace("REQ1", "REQ8")
    bad_date = good.replace("02/Nov/2026", "31/Feb/2026").replace("REQ1", "REQ9")
    (tmp_path / "odd.log").write_text(f"{good}\n{odd_status}\n{bad_date}\n")
    result = CliRunner().invoke(main, ["plan", "--access-logs", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "bad.log.gz: cannot read" in result.output and "odd.log: 1 of 3 lines" in result.output
    assert isinstance(parse_line(bad_date), BadLine)


def test_a_role_is_one_principal_whichever_log_named_its_requests(tmp_path: Path) -> None:
    """Finding 7: CloudTrail names an IAM Identity Center role with its path (role/aws-reserved/sso.amazonaws.com/
    AWSReservedSSO_X); the access logs name its sessions without it. Requests only the access logs saw join the
    role CloudTrail named, so one role is one principal and its statement names the real role ARN."""
    sso = role(PARTNER, "AWSReservedSSO_Reader_0123456789abcdef")
    sso["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{PARTNER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Reader_0123456789abcdef")
    seen_by_both = s3_record(identity=sso, acl_required=True, key="exports/a.csv", request_id="S1")
    logs_only = s3_record(identity=sso, acl_required=True, key="exports/b.csv", request_id="S2")
    write_log(log_path(tmp_path / "trail", OWNER, "us-east-1", "2026-11-02"), [seen_by_both])
    logs = write_access_logs(tmp_path, [seen_by_both, logs_only])
    plan = run(tmp_path, "out", "--cloudtrail", str(tmp_path / "trail"), "--access-logs", str(logs))
    principals = {e["principal"] for e in plan["evidence"]}
    assert principals == {sso["sessionContext"]["sessionIssuer"]["arn"]}
    (statement,) = plan["statements"]
    assert statement["statement"]["Principal"] == {"AWS": sso["sessionContext"]["sessionIssuer"]["arn"]}
    assert statement["requests"] == 2


@pytest.mark.parametrize(("operation", "logged", "key"), [
    ("REST.GET.OBJECT", "odd/a%2520b%252Bc%2525d", "odd/a b+c%d"),
    ("REST.PUT.OBJECT", "reports/2026/x.csv", "reports/2026/x.csv"),
    ("WEBSITE.GET.OBJECT", "site/%25E2%2582%25AC.html", "site/\u20ac.html"),
    ("BATCH.DELETE.OBJECT", "Screen+Shot+2019-09-09+at+9.08.44+AM.png", "Screen Shot 2019-09-09 at 9.08.44 AM.png"),
])
def test_keys_are_decoded_as_each_operation_logs_them(operation: str, logged: str, key: str) -> None:
    """Finding 7: REST and WEBSITE operations log the key URL-encoded twice, BATCH.DELETE.OBJECT once with + for a
    space (access_log.decode_key cites the reports); decoding once left %20 and %2B in drafted resources."""
    from planner.sources.access_logs.parse import decode_key
    line = parse_line(format_line({**parse_line(doc_examples()[0]).fields, "operation": operation, "key": logged}))
    assert isinstance(line, AccessLogLine) and decode_key(line) == key


def test_a_key_that_decodes_once_to_a_bad_escape_is_decoded_once() -> None:
    """Finding 7 (review): after one decode, `%zz` is no escape; Athena's try(url_decode(...)) then keeps the one
    decode, and so does the local reader (both gave different keys before)."""
    from planner.sources.access_logs.parse import decode_key
    line = parse_line(format_line({**parse_line(doc_examples()[0]).fields, "operation": "REST.GET.OBJECT",
                                   "key": "a%2541%25zz"}))
    assert isinstance(line, AccessLogLine) and decode_key(line) == "a%41%zz"


def test_the_cipher_suite_field_says_whether_a_line_came_over_tls() -> None:
    """Facts section 8, field 21: the cipher suite, or `-` for plain HTTP; the record carries it as CloudTrail does
    (additionalEventData.CipherSuite), so the evidence counts the requests that came over TLS."""
    doc = parsed(doc_examples()[0])
    record = to_record(doc)
    assert record is not None and record["additionalEventData"]["CipherSuite"] == "ECDHE-RSA-AES128-GCM-SHA256"
    http = to_record(parsed(format_line({**doc.fields, "ciphersuite": None})))
    assert http is not None and "CipherSuite" not in http["additionalEventData"]

"""`s3plan plan --inventory`: the inventory's object ACLs and owners set against the log evidence of the sample
trees (whose principals and ACL-dependent requests are known), through the command line, into plan.json, the
review notes and the workbook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from planner.cli import main
from planner.errors import RuleError, UsageError
from planner.samples import write_sample_logs
from tests.inventory_reports import ALL_USERS, PARTNER, WRITER, Obj, Report, write_report

A, B, U = "a" * 64, "b" * 64, "c" * 64  # owners of the sample accounts 111122223333 and 444455556666; unmapped
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "plan.schema.json").read_text())


def me(owner: str) -> tuple[str, str, str]:
    return ("CanonicalUser", owner, "FULL_CONTROL")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    write_sample_logs(root, records=5000, seed=7)
    return root


def inventory(dest: Path) -> Path:
    """Reports for four sample buckets: a public one whose ACL is read anonymously in the logs, a partner bucket
    (the partner 777766665555 reads it in the logs; an unknown id never does), an archive whose public grant no
    request uses, and a bucket with an object another account wrote."""
    write_report(dest, Report("acme-public-assets", [
        *(Obj(f"images/img{i}.png", owner=A, grants=[me(A), ("Group", ALL_USERS, "READ")]) for i in range(5)),
        Obj("private/x", owner=A)], "Parquet"))
    write_report(dest, Report("acme-partner-exchange", [
        *(Obj(f"outbound/f {i}+v.csv", owner=B, grants=[me(B), ("CanonicalUser", PARTNER, "READ")]) for i in range(3)),
        Obj("old/q.csv", owner=B, grants=[me(B), ("CanonicalUser", U, "READ")])]))
    write_report(dest, Report("acme-archive-cold", [Obj("2019/a.tar", owner=A, grants=[me(A), ("Group", ALL_USERS,
                                                                                               "READ")])], "ORC"))
    write_report(dest, Report("acme-ml-training", [Obj("in/x", owner=WRITER, grants=[me(WRITER), me(B)]),
                                                   Obj("in/y", owner=B), Obj("gone", status="UNAVAILABLE")]))
    return dest


def ids(path: Path) -> Path:
    path.write_text(f'"{A}": "111122223333"\n"{B}": "444455556666"\n"{PARTNER}": "777766665555"\n'
                    f'"{WRITER}": "222233334444"\n')
    return path


def run(logs: Path, out: Path, *extra: str, code: int = 0) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(logs), "--out", str(out), *extra])
    assert result.exit_code == code, result.output
    return json.loads((out / "plan.json").read_text()), result.output


@pytest.fixture(scope="module")
def planned(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("planned")
    out = tmp / "out"
    plan, _ = run(logs, out, "--inventory", str(inventory(tmp / "dest")), "--canonical-ids", str(ids(tmp / "i.yaml")))
    return plan, out


def grants(plan: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["bucket"], r["grantee"], r["permission"]): r for r in plan["object_acls"]}


def bucket(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in plan["buckets"] if b["bucket"] == name)


def test_plan_json_validates_with_the_inventory(planned: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned
    jsonschema.validate(plan, SCHEMA)
    assert plan["inventory_failures"] == []
    assert any(s.startswith("inventory:") for s in plan["run"]["sources"])


def test_a_public_grant_read_anonymously_is_exercised_and_noted_on_the_public_draft(
        planned: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned
    row = grants(plan)[("acme-public-assets", ALL_USERS, "READ")]
    assert (row["exercised"], row["public"], row["objects"]) == (True, True, 5)
    anonymous = {e["id"] for e in plan["evidence"] if e["principal_type"] == "anonymous"
                 and e["bucket"] == "acme-public-assets" and e["acl_required"]}
    assert anonymous and set(row["evidence"]) <= anonymous
    public = [s for s in plan["statements"] if s["bucket"] == "acme-public-assets" and s["principal"] == "anonymous"]
    assert public and any("the object ACLs made 5 object(s) public" in r for s in public for r in s["risk"])
    assert not any(b["kind"] == "object-acl-public" for b in bucket(plan, "acme-public-assets")["blockers"])


def test_a_public_grant_no_request_uses_blocks_its_bucket(planned: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned
    row = grants(plan)[("acme-archive-cold", ALL_USERS, "READ")]
    assert row["exercised"] is False and "no request in the window" in row["why"]
    report = bucket(plan, "acme-archive-cold")
    assert not report["acls_ready"] and report["sigv4_ready"]  # only the ACL migration is blocked
    (blocker,) = [b for b in report["blockers"] if b["kind"] == "object-acl-public"]
    assert "2019/a.tar" in blocker["detail"]


def test_the_partners_grant_is_exercised_and_the_unknown_id_is_not(planned: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned
    partner = grants(plan)[("acme-partner-exchange", PARTNER, "READ")]
    unknown = grants(plan)[("acme-partner-exchange", U, "READ")]
    assert (partner["exercised"], partner["account"]) == (True, "777766665555")
    # an account has one canonical id, and the unknown id's object is under old/, which no request touched
    assert (unknown["exercised"], unknown["account"]) == (False, None)
    assert partner["sample_keys"] == ["outbound/f 0+v.csv", "outbound/f 1+v.csv", "outbound/f 2+v.csv"]
    task = next(t for t in plan["tasks"] if t["kind"] == "confirm-object-acls"
                and t["buckets"] == ["acme-partner-exchange"])
    assert f"canonical id {U} (account unknown) READ on 1 object(s)" in task["action"]
    disable = next(t for t in plan["tasks"] if t["kind"] == "disable-acls"
                   and t["buckets"] == ["acme-partner-exchange"])
    assert task["id"] in disable["depends_on"]


def test_objects_another_account_owns_are_counted_and_get_a_task(planned: tuple[dict[str, Any], Path]) -> None:
    plan, _ = planned
    report = bucket(plan, "acme-ml-training")
    # one object's ACL (and owner) is UNAVAILABLE: the count is not proven, and the bucket says why
    assert report["foreign_owned_objects"] is None
    assert report["inventory"]["acl_unavailable"] == 1 and report["inventory"]["bucket_owner"] == B
    (unknown,) = [b for b in report["blockers"] if b["kind"] == "object-acls-unknown"]
    assert "1 object(s) (1 UNAVAILABLE, 0 unreadable)" in unknown["detail"] and not report["acls_ready"]
    assert report["inventory"]["owners"] == [[WRITER, "222233334444", 1], [B, "444455556666", 1]]  # ties by id
    task = next(t for t in plan["tasks"] if t["kind"] == "foreign-owned-objects")
    assert task["buckets"] == ["acme-ml-training"] and "at least 1 object(s)" in task["title"]
    assert "Account 222233334444 owns 1 object(s) and made no request in the window" in task["action"]
    # the bucket owner's own FULL_CONTROL grant on the writer's object is no grant to anyone else
    assert not [r for r in plan["object_acls"] if r["bucket"] == "acme-ml-training"]


def test_without_canonical_ids_nothing_is_called_foreign(logs: Path, tmp_path: Path) -> None:
    plan, _ = run(logs, tmp_path / "out", "--inventory", str(inventory(tmp_path / "dest")))
    report = bucket(plan, "acme-ml-training")
    assert report["foreign_owned_objects"] is None and report["inventory"]["bucket_owner"] is None
    assert not any(t["kind"] == "foreign-owned-objects" for t in plan["tasks"])
    partner = grants(plan)[("acme-partner-exchange", PARTNER, "READ")]
    unknown = grants(plan)[("acme-partner-exchange", U, "READ")]
    # unmapped, the ids are told apart by where their objects are: only the partner's lie under outbound/
    assert partner["exercised"] is True and "may be the bucket owner" not in partner["why"]
    assert unknown["exercised"] is False and "may be the bucket owner itself" in unknown["why"]


def test_the_log_evidence_is_unchanged_by_the_inventory(logs: Path, planned: tuple[dict[str, Any], Path],
                                                        tmp_path: Path) -> None:
    without, _ = run(logs, tmp_path / "out")
    with_inventory, _ = planned
    assert with_inventory["evidence"] == without["evidence"]
    assert without["object_acls"] == [] and all(b["inventory"] is None for b in without["buckets"])


def test_review_notes_have_the_inventory_section(planned: tuple[dict[str, Any], Path]) -> None:
    _, out = planned
    archive = (out / "policies" / "acme-archive-cold.review.md").read_text()  # no draft, still a note
    assert "## Object ACLs and owners (S3 Inventory)" in archive
    assert '"Principal": "*"' in archive and "arn:aws:s3:::acme-archive-cold/2019/a.tar" in archive
    assert not (out / "policies" / "acme-archive-cold.policy.json").exists()
    partner = (out / "policies" / "acme-partner-exchange.review.md").read_text()
    assert "### Grants in use (1)" in partner and "### Grants no request is known to use (1)" in partner
    assert f'"CanonicalUser": "{U}"' in partner


def test_the_workbook_has_the_object_acls_sheet(planned: tuple[dict[str, Any], Path]) -> None:
    _, out = planned
    wb = load_workbook(out / "migration-plan.xlsx", read_only=True)
    rows = list(wb["Object ACLs"].iter_rows(values_only=True))
    assert rows[0][:8] == ("Bucket", "Grantee", "Grantee type", "Account", "Permission", "Objects", "Public",
                           "Used in the window")
    used = {(r[0], r[4]): r[7] for r in rows[1:] if r[1] == ALL_USERS}
    assert used == {("acme-public-assets", "READ"): "yes", ("acme-archive-cold", "READ"): "no"}
    buckets = list(wb["Buckets"].iter_rows(values_only=True))
    column = buckets[0].index("Foreign-owned objects")
    assert {r[0]: r[column] for r in buckets[1:]}["acme-ml-training"] == "at least 1"


def test_a_corrupt_report_is_one_line_exit_2_and_the_others_are_still_read(logs: Path, tmp_path: Path) -> None:
    dest = inventory(tmp_path / "dest")
    victim = next((dest / "inventory" / "acme-archive-cold" / "acls" / "data").iterdir())
    victim.write_bytes(b"not the file the manifest lists")
    plan, output = run(logs, tmp_path / "out", "--inventory", str(dest), code=2)
    errors = [line for line in output.splitlines() if line.startswith("s3plan: error:")]
    assert len(errors) == 1 and str(victim) in errors[0]
    assert [f["bucket"] for f in plan["inventory_failures"]] == ["acme-archive-cold"]
    report = bucket(plan, "acme-archive-cold")
    assert report["inventory"] is None and not report["acls_ready"]
    assert [b["kind"] for b in report["blockers"] if b["kind"].startswith("inventory")] == ["inventory-unreadable"]
    assert bucket(plan, "acme-public-assets")["inventory"]["objects"] == 6  # the other reports still count


def test_canonical_ids_file(tmp_path: Path) -> None:
    from planner.classify.loader import load_canonical_ids

    good = tmp_path / "ids.yaml"
    good.write_text(f'"{A}": "111122223333"\n{PARTNER}: 777766665555\n')
    assert load_canonical_ids(good) == {A: "111122223333", PARTNER: "777766665555"}
    for text, message in ((f"{A}: 011122223333\n", r"ids.yaml:1: .*quote it"),
                          (f"{A}: '1234'\n", "not a 12-digit account id"),
                          ("\nnot-an-id: '111122223333'\n", r"ids.yaml:2: key 'not-an-id' is not a canonical"),
                          ("- a\n", "expected a mapping")):
        good.write_text(text)
        with pytest.raises(RuleError, match=message):
            load_canonical_ids(good)


def test_inventory_options_are_checked(tmp_path: Path) -> None:
    from planner.config import make_config

    with pytest.raises(UsageError, match=r"--inventory .*no such file or folder"):
        make_config(cloudtrail=[str(tmp_path)], out=str(tmp_path / "out"), inventory=[str(tmp_path / "nope")])
    with pytest.raises(UsageError, match="--inventory 's3://B/x'"):
        make_config(cloudtrail=[str(tmp_path)], out=str(tmp_path / "out"), inventory=["s3://B/x"])
    with pytest.raises(UsageError, match="--canonical-ids"):
        make_config(cloudtrail=[str(tmp_path)], out=str(tmp_path / "out"), canonical_ids=str(tmp_path / "x.yaml"))
    config = make_config(cloudtrail=[str(tmp_path)], out=str(tmp_path / "out"),
                         inventory=[str(tmp_path), "s3://acme-inventory/inventory/"])
    assert config.inventory == (tmp_path,) and config.inventory_s3 == ("s3://acme-inventory/inventory/",)
    assert config.cache == tmp_path / "out" / ".s3-cache"
    assert f"inventory:{tmp_path}" in config.sources_named()


# --- the matching rules, on evidence rows made by hand ---------------------------------------------------------

def _row(principal: str, account: str | None, event: str = "GetObject", prefixes: tuple[str, ...] = ("data/",),
         count: int | None = None, kind: str = "AssumedRole") -> Any:
    from planner.model import Evidence

    return Evidence(source="cloudtrail", bucket="b", bucket_account_id="111122223333", region="us-east-1",
                    event_name=event, principal=principal, principal_type=kind, account_id=account,
                    user_agent="aws-cli/2.13.25", signature_version="SigV4", auth_method="AuthHeader",
                    acl_required=True, acl_header=None, requests=3, errors=0, first_seen=None, last_seen=None,
                    key_prefixes=prefixes, key_prefix_count=len(prefixes) if count is None else count)


def _verdicts(rows: list[Any], grants: list[Any], accounts: dict[str, str] | None = None,
              reads: int = 5, writes: int = 5) -> dict[tuple[str, str], bool | None]:
    from planner.classify.loader import load_rules, operation_table
    from planner.model import DataEvents
    from planner.model.inventory import InventoryReport
    from planner.plan.object_acls import Context, bucket_grants

    ctx = Context(rows, operation_table(load_rules("acl")), {"b": "111122223333"}, {"b": DataEvents(reads, writes)},
                  accounts or {}, {})
    report = InventoryReport("b", "m", "CSV", None, 10, 0, 0, grants=tuple(grants))
    return {(r.grantee, r.permission): r.exercised for r in bucket_grants(report, ctx)}


def _grant(grantee: str, permission: str = "READ", prefixes: tuple[str, ...] = ("data/",),
           kind: str = "CanonicalUser") -> Any:
    from planner.model.inventory import GrantCount

    return GrantCount(kind, grantee, permission, 2, ("data/x",), prefixes, True)


PARTNER_ROLE = "arn:aws:iam::777766665555:role/reader"


def test_two_unmapped_ids_under_the_same_prefix_cannot_be_told_apart() -> None:
    found = _verdicts([_row(PARTNER_ROLE, "777766665555")], [_grant(PARTNER), _grant(U)])
    assert found == {(PARTNER, "READ"): None, (U, "READ"): None}


def test_a_mapped_account_has_no_other_canonical_id() -> None:
    found = _verdicts([_row(PARTNER_ROLE, "777766665555")], [_grant(PARTNER), _grant(U)],
                      {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): True, (U, "READ"): False}


def test_rows_whose_prefixes_are_not_all_kept_match_any_grant() -> None:
    rows = [_row(PARTNER_ROLE, "777766665555", prefixes=("data/",), count=60)]  # 60 prefixes, one sampled
    found = _verdicts(rows, [_grant(PARTNER, prefixes=("old/",)), _grant(U, prefixes=("data/",))])
    assert found == {(PARTNER, "READ"): None, (U, "READ"): None}


def test_anonymous_requests_only_go_through_all_users() -> None:
    rows = [_row("anonymous", None, kind="anonymous")]
    found = _verdicts(rows, [_grant(ALL_USERS, kind="Group"),
                             _grant("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", kind="Group"),
                             _grant(PARTNER)])
    assert found == {(ALL_USERS, "READ"): True,
                     ("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ"): False,
                     (PARTNER, "READ"): False}


def test_the_permission_must_give_what_the_request_needed() -> None:
    found = _verdicts([_row(PARTNER_ROLE, "777766665555", event="GetObjectAcl")],
                      [_grant(PARTNER, "READ"), _grant(PARTNER, "READ_ACP"), _grant(PARTNER, "FULL_CONTROL")],
                      {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): False, (PARTNER, "READ_ACP"): None, (PARTNER, "FULL_CONTROL"): None}


def test_a_window_without_reads_proves_no_read_grant_unused() -> None:
    found = _verdicts([], [_grant(PARTNER, "READ"), _grant(PARTNER, "WRITE_ACP")], reads=0, writes=4)
    assert found == {(PARTNER, "READ"): None, (PARTNER, "WRITE_ACP"): False}
    assert _verdicts([], [_grant(PARTNER, "WRITE_ACP")], reads=3, writes=0) == {(PARTNER, "WRITE_ACP"): None}


def test_a_caller_named_by_its_canonical_id_is_that_grantee_alone() -> None:
    """Server access logs name another account's root caller by canonical id only (no account)."""
    rows = [_row(PARTNER, None, kind="CanonicalUser")]
    found = _verdicts(rows, [_grant(PARTNER), _grant(U)], {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): True, (U, "READ"): False}


def test_a_caller_whose_account_is_unknown_may_be_any_grantee() -> None:
    rows = [_row("s3.amazonaws.com", None, kind="AWSService")]
    found = _verdicts(rows, [_grant(PARTNER)], {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): True}  # the only grant that could have let it in


def test_a_copy_that_read_its_source_here_may_have_used_a_read_grant() -> None:
    import dataclasses

    copy = dataclasses.replace(_row(PARTNER_ROLE, "777766665555", event="CopyObject"), bucket="elsewhere",
                               copy_sources=("b",))
    found = _verdicts([copy], [_grant(PARTNER, "READ"), _grant(PARTNER, "READ_ACP")], {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): None, (PARTNER, "READ_ACP"): False}


def test_a_copy_seen_only_in_access_logs_may_have_read_from_any_bucket() -> None:
    import dataclasses

    copy = dataclasses.replace(_row(PARTNER_ROLE, "777766665555", event="CopyObject"), bucket="elsewhere",
                               source="access-log", cloudtrail_requests=0, access_log_requests=3)
    found = _verdicts([copy], [_grant(PARTNER, "READ")], {PARTNER: "777766665555"})
    assert found == {(PARTNER, "READ"): None}
    traced = dataclasses.replace(copy, source="cloudtrail", cloudtrail_requests=3, access_log_requests=0,
                                 copy_sources=("another",))
    assert _verdicts([traced], [_grant(PARTNER, "READ")], {PARTNER: "777766665555"}) == {(PARTNER, "READ"): False}


def test_what_people_read_cites_aws_pages_never_this_repository(planned: tuple[dict[str, Any], Path]) -> None:
    plan, out = planned
    texts = [t["action"] for t in plan["tasks"]] + [b["detail"] for r in plan["buckets"] for b in r["blockers"]]
    texts += plan["notes"] + [r["why"] for r in plan["object_acls"]]
    texts += [p.read_text() for p in (out / "policies").glob("*.md")]
    assert texts and not [t for t in texts if "facts §" in t or "s3-migration-facts" in t]

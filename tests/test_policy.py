"""Policy drafts: least privilege from evidence, and safety invariants that refuse anything broader."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.classify.loader import load_rules
from planner.classify.remedies import classify_acl
from planner.errors import InternalError
from planner.model import Evidence, Statement
from planner.policy.bucket import bucket_policies
from planner.policy.check import BUCKET_POLICY_LIMIT, check_statement
from planner.policy.draft import draft_statements, make_sid, object_pattern

ACL_RULES = load_rules("acl")
ACTIONS = {r.fields["event"]: r.fields for r in ACL_RULES if "event" in r.fields}


def ev(**kw: Any) -> Evidence:
    base: dict[str, Any] = dict(
        source="cloudtrail", bucket="bucket-a", bucket_account_id="111122223333", region="us-east-1",
        event_name="GetObject", principal="arn:aws:iam::999988887777:role/partner", principal_type="AssumedRole",
        account_id="999988887777", user_agent="aws-cli/2.13.25", signature_version="SigV4", auth_method="AuthHeader",
        acl_required=True, acl_header=None, requests=3, errors=0, first_seen="2026-11-02T10:00:00Z",
        last_seen="2026-11-03T10:00:00Z", key_prefixes=("exports/",), key_prefix_count=1)
    base.update(kw)
    return Evidence(**base)


def draft(*evidence: Evidence) -> tuple[Statement, ...]:
    statements, _ = draft_statements(classify_acl(evidence, ACL_RULES))
    return statements


def test_cross_account_read_becomes_a_scoped_allow() -> None:
    (stmt,) = draft(ev(), ev(key_prefixes=("a.txt",), requests=1, user_agent="Boto3/1.28.62"))
    assert stmt.document["Principal"] == {"AWS": "arn:aws:iam::999988887777:role/partner"}
    assert stmt.document["Action"] == ["s3:GetObject"]
    assert stmt.document["Resource"] == ["arn:aws:s3:::bucket-a/a.txt", "arn:aws:s3:::bucket-a/exports/*"]
    assert stmt.requests == 4 and len(stmt.evidence) == 2


def test_actions_are_granted_only_on_the_prefixes_they_were_seen_on() -> None:
    """A write seen on uploads/ and a delete seen on important/ must not become both actions on both prefixes."""
    stmts = draft(ev(event_name="PutObject", key_prefixes=("uploads/",)),
                  ev(event_name="DeleteObject", key_prefixes=("important/",)))
    pairs = {(a, r) for s in stmts for a in s.document["Action"]
             for r in ([s.document["Resource"]] if isinstance(s.document["Resource"], str) else s.document["Resource"])}
    assert pairs == {("s3:PutObject", "arn:aws:s3:::bucket-a/uploads/*"),
                     ("s3:DeleteObject", "arn:aws:s3:::bucket-a/important/*")}
    assert len({s.sid for s in stmts}) == 2


def test_a_statement_joining_unobserved_pairs_is_refused() -> None:
    put, delete = ev(event_name="PutObject", key_prefixes=("uploads/",)), ev(event_name="DeleteObject",
                                                                           key_prefixes=("important/",))
    stmt = draft(put, delete)[0]
    joined = _with(stmt, Action=["s3:DeleteObject", "s3:PutObject"],
                   Resource=["arn:aws:s3:::bucket-a/important/*", "arn:aws:s3:::bucket-a/uploads/*"])
    joined = dataclasses.replace(joined, evidence=(put.id, delete.id))
    with pytest.raises(InternalError, match="no evidence shows"):
        check_statement(joined, {put.id: put, delete.id: delete}, ACTIONS)


def test_list_is_on_the_bucket_and_separate_from_object_access() -> None:
    stmts = draft(ev(), ev(event_name="ListObjects", key_prefixes=(), key_prefix_count=0))
    by_access = {s.access: s.document for s in stmts}
    assert by_access["list-bucket"]["Resource"] == "arn:aws:s3:::bucket-a"
    assert by_access["list-bucket"]["Action"] == ["s3:ListBucket"]
    assert by_access["read-object"]["Resource"] == "arn:aws:s3:::bucket-a/exports/*"


def test_no_statement_for_same_account_writers_or_sessions() -> None:
    statements, notes = draft_statements(classify_acl([ev(account_id="111122223333")], ACL_RULES))
    assert not statements and "no statement is needed" in notes[0]  # same account: enforcement resolves it (§4c)
    assert not draft(ev(event_name="PutObjectAcl"))
    statements, notes = draft_statements(classify_acl(
        [ev(principal="arn:aws:sts::999988887777:assumed-role/partner/s1")], ACL_RULES))
    assert not statements and "not a role, user or account ARN" in notes[0]


def test_anonymous_access_becomes_a_public_statement_flagged_high_risk() -> None:
    public = ev(principal="anonymous", principal_type="anonymous", account_id=None, key_prefixes=("assets/",))
    (stmt,) = draft(public)
    assert stmt.document["Principal"] == "*" and stmt.document["Action"] == ["s3:GetObject"]
    assert stmt.document["Resource"] == "arn:aws:s3:::bucket-a/assets/*"
    assert any("high risk" in r for r in stmt.risk) and any("Block Public Access" in r for r in stmt.risk)
    check_statement(stmt, {public.id: public}, ACTIONS)


def test_log_delivery_becomes_a_service_statement_with_source_conditions() -> None:
    delivery = ev(principal="logging.s3.amazonaws.com", principal_type="AWSService", account_id=None,
                  event_name="PutObject", key_prefixes=("logs/",))
    (stmt,) = draft(delivery)
    assert stmt.document["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert stmt.document["Action"] == ["s3:PutObject"]
    assert stmt.document["Condition"] == {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"},
                                          "StringEquals": {"aws:SourceAccount": "111122223333"}}
    check_statement(stmt, {delivery.id: delivery}, ACTIONS)
    unpinned = _with(stmt, Condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}})
    with pytest.raises(InternalError):
        check_statement(unpinned, {delivery.id: delivery}, ACTIONS)


def test_a_partner_write_that_sets_an_acl_keeps_its_access() -> None:
    partner_put = ev(event_name="PutObject", acl_header="public-read", key_prefixes=("incoming/",))
    findings = classify_acl([partner_put], ACL_RULES)
    assert [f.access_kind for f in findings] == ["acl-write", "cross-account"]
    statements, _ = draft_statements(findings)
    assert [s.document["Action"] for s in statements] == [["s3:PutObject"]]


def test_public_writes_are_never_drafted() -> None:
    anon_put = ev(principal="anonymous", principal_type="anonymous", account_id=None, event_name="PutObject",
                  key_prefixes=("up/",))
    statements, notes = draft_statements(classify_acl([anon_put], ACL_RULES))
    assert not statements and "never public writes" in notes[0]


def test_versioned_requests_get_their_version_actions_only_where_seen() -> None:
    versioned = ev(key_prefixes=("a/",), versioned_requests=2)
    plain = ev(key_prefixes=("b/",), user_agent="other")
    deletes = ev(event_name="DeleteObject", key_prefixes=("c/",), versioned_requests=1, user_agent="third")
    statements = draft(versioned, plain, deletes)
    pairs = {(a, r) for s in statements for a in s.document["Action"]
             for r in ([s.document["Resource"]] if isinstance(s.document["Resource"], str) else s.document["Resource"])}
    assert ("s3:GetObjectVersion", "arn:aws:s3:::bucket-a/a/*") in pairs
    assert ("s3:GetObjectVersion", "arn:aws:s3:::bucket-a/b/*") not in pairs
    assert ("s3:DeleteObjectVersion", "arn:aws:s3:::bucket-a/c/*") in pairs


def test_head_bucket_keeps_listing_unconditioned() -> None:
    listing = ev(event_name="ListObjectsV2", key_prefixes=("reports/",))
    head = ev(event_name="HeadBucket", key_prefixes=(), user_agent="head")
    (stmt,) = draft(listing, head)
    assert "Condition" not in stmt.document


def test_wildcards_in_keys_stay_literal() -> None:
    assert object_pattern("a*b?c$", False) == "a${*}b${?}c${$}"
    assert object_pattern("dir*/", True) == "dir${*}/*"


def _with(stmt: Statement, **changes: Any) -> Statement:
    return dataclasses.replace(stmt, document={**stmt.document, **changes})


@pytest.mark.parametrize("changes", [
    {"Action": ["s3:*"]}, {"Action": "*"}, {"Action": ["s3:Get*"]}, {"Action": ["s3:DeleteObject"]},
    {"Principal": "*"}, {"Principal": {"AWS": "*"}},
    {"Principal": {"AWS": "arn:aws:sts::999988887777:assumed-role/partner/s1"}},
    {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
    {"Resource": "arn:aws:s3:::other-bucket/*"}, {"Resource": "*"}, {"Resource": "arn:aws:s3:::bucket-a2/x"},
    {"Resource": "arn:aws:s3:::bucket-a/*"}, {"Resource": "arn:aws:s3:::bucket-a/other/*"},
    {"Principal": {"AWS": "arn:aws:iam::999988887777:role/*"}},
    {"Effect": "Deny"},
])
def test_safety_invariants_refuse_broader_drafts(changes: dict[str, Any]) -> None:
    e = ev()
    (stmt,) = draft(e)
    check_statement(stmt, {e.id: e}, ACTIONS)
    with pytest.raises(InternalError):
        check_statement(_with(stmt, **changes), {e.id: e}, ACTIONS)


@given(st.lists(st.tuples(st.sampled_from(["111111111111", "222222222222", "333333333333"]),
                          st.sampled_from(["GetObject", "PutObject", "ListObjects", "DeleteObject", "HeadObject"]),
                          st.sampled_from(["bucket-a", "bucket-b"]),
                          st.lists(st.sampled_from(["a/", "b/", "c.txt", "x*y/"]), max_size=3)),
                min_size=1, max_size=12))
def test_every_draft_names_only_its_own_principal_and_passes_the_checks(rows: list[Any]) -> None:
    evidence = [ev(principal=f"arn:aws:iam::{acct}:user/u", account_id=acct, principal_type="IAMUser",
                   event_name=event, bucket=bucket, key_prefixes=tuple(sorted(set(prefixes))),
                   key_prefix_count=len(set(prefixes)), user_agent=f"agent/{n}")
                for n, (acct, event, bucket, prefixes) in enumerate(rows)]
    by_id = {e.id: e for e in evidence}
    for stmt in draft(*evidence):
        check_statement(stmt, by_id, ACTIONS)
        assert {by_id[i].principal for i in stmt.evidence} == {stmt.principal}
        assert {by_id[i].bucket for i in stmt.evidence} == {stmt.bucket}


def test_policy_over_the_size_limit_becomes_a_blocker() -> None:
    evidence = [ev(principal=f"arn:aws:iam::{n:012d}:role/r", account_id=f"{n:012d}",
                   key_prefixes=tuple(f"p{n}-{i}/" for i in range(10)), key_prefix_count=10) for n in range(80)]
    by_id = {e.id: e for e in evidence}
    (policy,), blockers = bucket_policies(draft(*evidence), {}, {}, lambda s: check_statement(s, by_id, ACTIONS))
    assert policy.merged is None
    assert [b.kind for b in blockers["bucket-a"]] == ["policy-too-large"]
    assert str(BUCKET_POLICY_LIMIT) in blockers["bucket-a"][0].detail


def test_sids_are_stable_alphanumeric_and_distinct() -> None:
    a = make_sid("b", "arn:aws:iam::999988887777:role/partner-reader", "read-object")
    assert a == make_sid("b", "arn:aws:iam::999988887777:role/partner-reader", "read-object")
    assert a.isalnum() and a.startswith("S3PlanAclReadObjectPartnerReader")
    assert make_sid("b", "arn:aws:iam::222233334444:root", "read-object").startswith(
        "S3PlanAclReadObjectAccount222233334444")
    assert a != make_sid("b", "arn:aws:iam::999988887777:role/partner-reader", "list-bucket")
    assert a != make_sid("b", "arn:aws:iam::999988887777:role/partner-reader", "read-object", "s3:GetObject")

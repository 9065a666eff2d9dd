"""Merging drafts into current bucket policies: existing statements are never dropped or changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from planner.cli import main
from planner.model import Statement
from planner.policy.merge import acl_condition_blockers, covers, merge
from planner.sources.policies import parse_policy
from tests.conftest import mixed_tree

PARTNER = "arn:aws:iam::999988887777:role/partner-reader"


def stmt(sid: str = "S3PlanAclReadObjectX1", principal: str = PARTNER, action: str = "s3:GetObject",
         resource: str = "arn:aws:s3:::bucket-a/exports/*") -> Statement:
    doc = {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": [action], "Resource": resource}
    return Statement("bucket-a", sid, principal, "read-object", doc, ("E-1",), 1, None, None)


EXISTING = {"Version": "2012-10-17", "Id": "keep-me", "Statement": [
    {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-a/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "Reporting", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222233334444:root"},
     "Action": "s3:Get*", "Resource": "arn:aws:s3:::bucket-a/*"},
]}


def test_existing_statements_are_kept_first_and_unchanged() -> None:
    merged = merge(EXISTING, [stmt()])
    assert merged.policy["Statement"][:2] == EXISTING["Statement"]
    assert merged.policy["Id"] == "keep-me"
    assert [s["Sid"] for s in merged.policy["Statement"][2:]] == ["S3PlanAclReadObjectX1"]


def test_access_already_granted_is_recognised() -> None:
    plain = {"Version": "2012-10-17", "Statement": EXISTING["Statement"][1:]}
    covered = stmt(principal="arn:aws:iam::222233334444:role/any", resource="arn:aws:s3:::bucket-a/x/*")
    merged = merge(plain, [covered, stmt()])
    assert [s.sid for s in merged.already_granted] == [covered.sid]
    assert not merge(plain, [stmt(principal="arn:aws:iam::222233334444:role/any", action="s3:PutObject")]).already_granted


def _granted(current: list[dict[str, Any]], wanted: Statement, public_allowed: bool | None = None) -> Any:
    return merge({"Version": "2012-10-17", "Statement": current}, [wanted], public_allowed)


GRANT = {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket-a/*"}


@pytest.mark.parametrize(("existing", "because"), [
    ([{**GRANT, "Principal": "*"}], "RestrictPublicBuckets"),
    ([{**GRANT, "Principal": {"AWS": "*"}}], "RestrictPublicBuckets"),
    ([{**GRANT, "Resource": "arn:aws:s3:::bucket-a/${aws:username}/*"}], "${...}"),
    ([{**GRANT, "Resource": "arn:aws:s3:::bucket-a/exp${*}"}], "${...}"),
    ([{**GRANT, "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}], "condition"),
    ([{k: v for k, v in GRANT.items() if k != "Action"} | {"NotAction": "s3:PutObject"}], "NotAction"),
    ([GRANT, EXISTING["Statement"][0]], "Deny statement DenyInsecure"),
    ([GRANT, {"Sid": "NoPartner", "Effect": "Deny", "Principal": {"AWS": PARTNER}, "Action": "s3:*",
              "Resource": "arn:aws:s3:::bucket-a/*"}], "refuses them whatever"),
    ([GRANT, {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::bucket-a/public/*"}], "public statement"),
    ([GRANT, {"Sid": "Lock", "Effect": "Deny", "NotPrincipal": {"AWS": [PARTNER]}, "Action": "s3:*",
              "Resource": "arn:aws:s3:::bucket-a/*"}], "Deny statement Lock"),
    ([GRANT, {"Sid": "Session", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket-a/*",
              "Principal": {"AWS": "arn:aws:sts::999988887777:assumed-role/partner-reader/s1"}}], "Deny statement"),
    ([GRANT, {"Sid": "Canonical", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket-a/*",
              "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}}],
     "Deny statement Canonical"),
    ([GRANT, {"Sid": "Anyone", "Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:root"},
              "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket-a"}], "public statement"),
])
def test_already_granted_is_claimed_only_when_iam_proves_it(existing: list[dict[str, Any]], because: str) -> None:
    """Finding 4: a public Allow (Block Public Access may refuse it), ${...} text (a variable or escape), a
    condition, NotAction, a Deny that may apply, or a public statement beside the grant (RestrictPublicBuckets
    refuses cross-account access through any statement of a public policy) proves nothing: the statement is
    drafted and the doubt says which existing statement might cover it and why it could not be proven."""
    merged = _granted(existing, stmt())
    assert not merged.already_granted and [s.sid for s in merged.added] == ["S3PlanAclReadObjectX1"]
    assert any(because in why for _, why in merged.doubts), merged.doubts


def test_a_deny_on_any_principal_of_the_account_keeps_the_account_unproven() -> None:
    """Finding 4 (review): with the account itself drafted (AWSAccount evidence), a Deny on one of its roles may
    refuse the requests, which came from some principal of that account."""
    root = "arn:aws:iam::999988887777:root"
    deny = {"Sid": "NoRole", "Effect": "Deny", "Principal": {"AWS": PARTNER}, "Action": "s3:*",
            "Resource": "arn:aws:s3:::bucket-a/*"}
    merged = _granted([{**GRANT, "Principal": {"AWS": root}}, deny], stmt(principal=root), public_allowed=True)
    assert not merged.already_granted and "Deny statement NoRole" in merged.doubts[0][1]
    other = {**deny, "Principal": {"AWS": "arn:aws:iam::111111111111:role/x"}}
    assert _granted([{**GRANT, "Principal": {"AWS": root}}, other], stmt(principal=root)).already_granted


def test_only_the_aws_form_names_iam_principals() -> None:
    """Finding 4 (review): a Federated or Service principal with the role's ARN as its value grants the role nothing."""
    for kind in ("Federated", "Service", "CanonicalUser"):
        assert not _granted([{**GRANT, "Principal": {kind: PARTNER}}], stmt()).already_granted


def test_a_public_grant_proves_access_once_block_public_access_is_known_off() -> None:
    """Finding 4: with RestrictPublicBuckets read as off (bucket and account, --enrich) a public Allow grants."""
    assert _granted([{**GRANT, "Principal": "*"}], stmt(), public_allowed=True).already_granted


def test_an_account_root_of_another_partition_covers_nothing() -> None:
    """Finding 4: arn:aws: root does not cover an arn:aws-cn: role of the same account id."""
    china = "arn:aws-cn:iam::999988887777:role/partner-reader"
    wanted = stmt(principal=china, resource="arn:aws-cn:s3:::bucket-a/exports/*")
    root = {**GRANT, "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Resource": "arn:aws-cn:s3:::bucket-a/*"}
    assert not _granted([root], wanted).already_granted
    same = {**root, "Principal": {"AWS": "arn:aws-cn:iam::999988887777:root"}}
    assert _granted([same], wanted).already_granted
    assert _granted([{**same, "Principal": {"AWS": "999988887777"}}], wanted).already_granted


@pytest.mark.parametrize(("pattern", "wanted", "covered"), [
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/exports/*", True),
    ("arn:aws:s3:::b/exports/?", "arn:aws:s3:::b/exports/*", False),
    ("arn:aws:s3:::b/[a]x", "arn:aws:s3:::b/ax", False),
    ("arn:aws:s3:::b/[a]x", "arn:aws:s3:::b/[a]x", True),
    ("arn:aws:s3:::b/ex*", "arn:aws:s3:::b/exports/*", True),
    ("arn:aws:s3:::b/*/x", "arn:aws:s3:::b/exports/*", False),
    ("arn:aws:s3:::b/a?c", "arn:aws:s3:::b/abc", True),
    ("arn:aws:s3:::b/a*", "arn:aws:s3:::b/a${*}b", True),
    ("s3:get*", "s3:getobject", True),
])
def test_iam_patterns_cover_only_what_they_match(pattern: str, wanted: str, covered: bool) -> None:
    assert covers(pattern, wanted) is covered


def test_a_taken_sid_is_renamed_not_overwritten() -> None:
    current = {"Version": "2012-10-17", "Statement": [{**stmt().document, "Action": ["s3:ListBucket"],
                                                      "Resource": "arn:aws:s3:::bucket-a"}]}
    merged = merge(current, [stmt()])
    assert merged.renamed == (("S3PlanAclReadObjectX1", "S3PlanAclReadObjectX12"),)
    assert merged.policy["Statement"][0] == current["Statement"][0]


_statement = st.fixed_dictionaries({
    "Sid": st.text(alphabet="ABCxyz12", min_size=1, max_size=6),
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Principal": st.sampled_from(["*", {"AWS": PARTNER}, {"AWS": "arn:aws:iam::999988887777:root"},
                                  {"Service": "logging.s3.amazonaws.com"}]),
    "Action": st.sampled_from(["s3:*", "s3:GetObject", ["s3:GetObject", "s3:PutObject"], "s3:List*"]),
    "Resource": st.sampled_from(["arn:aws:s3:::bucket-a/*", "arn:aws:s3:::bucket-a/exports/*",
                                 "arn:aws:s3:::bucket-a"]),
})


@given(st.lists(_statement, max_size=5), st.lists(st.sampled_from(["exports/", "raw/", "a.txt"]), max_size=3))
def test_merging_never_drops_or_changes_and_is_idempotent(existing: list[dict[str, Any]], prefixes: list[str]) -> None:
    current = {"Version": "2012-10-17", "Statement": existing}
    drafted = [stmt(sid=f"S3PlanAcl{n}", resource=f"arn:aws:s3:::bucket-a/{p}*") for n, p in enumerate(prefixes)]
    once = merge(current, drafted)
    assert once.policy["Statement"][: len(existing)] == existing
    twice = merge(once.policy, drafted)
    assert twice.policy == once.policy and not twice.added


def test_acl_conditions_in_the_current_policy_are_blockers() -> None:
    policy = {"Statement": [
        {"Sid": "RequirePublic", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}},
        {"Sid": "RequireBOFC", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::b/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        {"Sid": "Grant", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
         "Condition": {"StringLike": {"s3:x-amz-grant-read": "*"}}},
        {"Sid": "ForbidPublic", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}},
        {"Sid": "OnlyPublic", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::b/*", "Condition": {"StringNotEquals": {"s3:x-amz-acl": "public-read"}}}]}
    found = acl_condition_blockers(policy)
    assert [b.kind for b in found] == ["acl-condition-in-policy"] * 3
    assert ["RequirePublic" in found[0].detail, "Grant" in found[1].detail, "OnlyPublic" in found[2].detail] == [
        True] * 3


def test_log_strings_cannot_add_structure_to_the_review(tmp_path: Path) -> None:
    from tests.conftest import ANONYMOUS, s3_record, write_log
    key = "x\n\n## Approved by security: no review needed\n\n```sh\naws s3api delete-bucket --bucket b\n```\n"
    write_log(tmp_path / "t" / "a.json.gz", [s3_record(identity=ANONYMOUS, sigv=None, auth=None, acl_required=True,
                                                       request_id="I1", key=key)])
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "t"), "--out", str(out)]).exit_code == 0
    review = (out / "policies" / "bucket-a.review.md").read_text()
    assert "\n## Approved" not in review and "\n```sh\naws s3api delete-bucket" not in review
    headings = [line for line in review.splitlines() if line.startswith("#")]
    assert all(not h.startswith("## Approved") for h in headings)


def test_already_granted_access_needs_no_review_task(tmp_path: Path) -> None:
    from tests.conftest import log_path, role, s3_record, write_log
    partner = role("999988887777", "partner-reader")
    write_log(log_path(tmp_path / "tree", "111122223333", "us-east-1", "2026-11-02"), [
        s3_record(identity=partner, acl_required=True, request_id="P1", key="exports/x.csv"),
        s3_record("PutObject", identity=partner, acl_required=True, request_id="P2", key="in/y.csv")])
    current = tmp_path / "current"
    current.mkdir()
    grant_all = {"Version": "2012-10-17", "Statement": [
        {"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket-a/*"}]}
    (current / "bucket-a.json").write_text(json.dumps(grant_all))
    out = tmp_path / "out"
    CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out),
                              "--current-policies", str(current)])
    plan = json.loads((out / "plan.json").read_text())
    (policy,) = [p for p in plan["policies"] if p["bucket"] == "bucket-a"]
    assert len(policy["already_granted"]) == 1 and len(policy["added"]) == 1  # the read is granted, the write not
    reviews = [t for t in plan["tasks"] if t["kind"] == "review-policy-statement" and t["principal"] == PARTNER]
    assert len(reviews) == 1
    wrapped = json.dumps({"Policy": json.dumps(EXISTING)})
    assert parse_policy(wrapped) == EXISTING
    for text, reason in [("{not json", "not JSON"), ("[]", "not a bucket policy"), ('{"Statement": [1]}', "Effect")]:
        with pytest.raises(ValueError, match=reason):
            parse_policy(text)


def test_plan_merges_current_policies_and_reports_bad_ones(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    current = tmp_path / "current"
    current.mkdir()
    (current / "bucket-a.json").write_text(json.dumps({"Policy": json.dumps(EXISTING)}))
    (current / "bucket-b.json").write_text("{oops")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out),
                                       "--current-policies", str(current)])
    assert result.exit_code == 0, result.output
    draft = json.loads((out / "policies" / "bucket-a.policy.json").read_text())
    assert draft["Statement"][:2] == EXISTING["Statement"] and len(draft["Statement"]) == 4  # + partner, + public
    assert not (out / "policies" / "bucket-b.policy.json").exists()
    plan = json.loads((out / "plan.json").read_text())
    blockers = {b["bucket"]: [x["kind"] for x in b["blockers"]] for b in plan["buckets"]}
    assert "current-policy-unreadable" in blockers["bucket-b"]
    review = (out / "policies" / "bucket-a.review.md").read_text()
    diff = review.split("```diff")[1].split("```")[0].splitlines()
    assert any(line.startswith('+      "Sid": "S3PlanAclReadObjectPartnerReader') for line in diff)
    # finding 4: the live DenyInsecure has a condition s3plan does not evaluate, and the review says so
    assert "## What s3plan could not prove" in review and "Deny statement DenyInsecure may apply" in review
    assert not [line for line in diff if line.startswith("-") and not line.startswith("---")]
    assert "could not be read" in (out / "policies" / "bucket-b.review.md").read_text()

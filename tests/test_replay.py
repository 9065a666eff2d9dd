"""The replay: ACL-dependent requests against their bucket as it will be once ACLs are disabled. Drafts must keep
the evidence that produced them working; a Deny, a narrowing condition, Block Public Access or an ACL the request
sets must show up as `denied`."""

from __future__ import annotations

import ast
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.classify.loader import load_rules, operation_table
from planner.cli import main
from planner.config import make_config
from planner.errors import InternalError
from planner.model import Evidence, Plan
from planner.outputs.review import render_reviews
from planner.pipeline import make_plan, scan
from planner.policy.deny import sigv4_deny_policy
from planner.policy.replay import replay_bucket, sigv2_deny_refusals
from planner.samples import write_sample_logs

OPERATIONS = operation_table(load_rules("acl"))
OWNER, PARTNER = "111122223333", "999988887777"
ROLE = f"arn:aws:iam::{PARTNER}:role/partner-reader"


def row(**fields: Any) -> Evidence:
    base: dict[str, Any] = dict(
        source="cloudtrail", bucket="shared-data", bucket_account_id=OWNER, region="us-east-1",
        event_name="GetObject", principal=ROLE, principal_type="AssumedRole", account_id=PARTNER,
        user_agent="aws-cli/2.15.0", signature_version="SigV4", auth_method="AuthHeader", acl_required=True,
        acl_header=None, requests=12, errors=0, first_seen="2026-11-01T00:00:00Z", last_seen="2026-11-02T00:00:00Z",
        key_prefixes=("exports/",), key_prefix_count=1)
    return Evidence(**{**base, **fields})


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


GRANT = {"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared-data/exports/*"}


@pytest.fixture(scope="module")
def sample_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    tmp = tmp_path_factory.mktemp("replay")
    write_sample_logs(tmp / "logs", records=20_000, seed=7)
    config = make_config(cloudtrail=[str(tmp / "logs")], out=str(tmp / "out"))
    return make_plan(config, scan(config))


def test_every_drafted_statement_keeps_the_requests_that_produced_it(sample_plan: Plan) -> None:
    by_id = {e.id: e for e in sample_plan.evidence}
    seen: Counter[str] = Counter()
    for bucket in sample_plan.policies:
        assert bucket.merged is not None
        rows = [by_id[i] for s in sample_plan.statements if s.bucket == bucket.bucket for i in s.evidence]
        for replayed in replay_bucket(rows, bucket.merged, OPERATIONS, public_ok=True):
            seen[replayed.after] += 1
            assert replayed.after == "allowed", replayed
    assert seen["allowed"] >= 15


def test_requests_that_set_an_acl_are_refused_and_anonymous_ones_wait_for_block_public_access(
        sample_plan: Plan) -> None:
    verdicts = [r for b in sample_plan.policies
                for r in replay_bucket([e for e in sample_plan.evidence if e.bucket == b.bucket], b.merged, OPERATIONS)]
    setters = [r for r in verdicts if r.sets_acl]
    assert setters and all(r.after == "denied" and "sets an ACL" in r.why for r in setters)
    public = [r for r in verdicts if r.principal == "anonymous"]
    assert public and all(r.after == "unknown" and "Block Public Access" in r.why for r in public)


def test_a_grant_keeps_a_cross_account_read() -> None:
    [replayed] = replay_bucket([row()], policy(GRANT), OPERATIONS)
    assert (replayed.after, replayed.statement) == ("allowed", "PartnerRead")


def test_an_existing_deny_refuses_it() -> None:
    deny = {"Sid": "NoPartners", "Effect": "Deny", "Principal": {"AWS": PARTNER}, "Action": "s3:*",
            "Resource": "arn:aws:s3:::shared-data/*"}
    [replayed] = replay_bucket([row()], policy(GRANT, deny), OPERATIONS)
    assert (replayed.after, replayed.statement) == ("denied", "NoPartners")


def test_a_narrowing_condition_refuses_what_the_evidence_shows() -> None:
    narrowed = {**GRANT, "Condition": {"StringEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}}
    [sigv2] = replay_bucket([row(signature_version="SigV2")], policy(narrowed), OPERATIONS)
    assert sigv2.after == "denied" and "implicit deny" in sigv2.why
    vpce = {**GRANT, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    [unproven] = replay_bucket([row()], policy(vpce), OPERATIONS)
    assert unproven.after == "unknown" and "aws:SourceVpce" in unproven.why


def test_block_public_access_decides_a_public_read() -> None:
    public = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::shared-data/exports/*"}
    anonymous = row(principal="anonymous", principal_type="anonymous", account_id=None, signature_version=None,
                    auth_method=None)
    verdicts = {ok: replay_bucket([anonymous], policy(public), OPERATIONS, public_ok=ok)[0].after
                for ok in (True, False, None)}
    assert verdicts == {True: "allowed", False: "denied", None: "unknown"}


def test_an_acl_setting_request_is_refused_whatever_the_policy() -> None:
    put = row(event_name="PutObject", acl_header="public-read", acl_required=False)
    everything = {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    [replayed] = replay_bucket([put], policy(everything), OPERATIONS)
    assert (replayed.after, replayed.sets_acl) == ("denied", True)
    [kept] = replay_bucket([dataclasses.replace(put, acl_header="bucket-owner-full-control")], policy(everything),
                           OPERATIONS)
    assert kept.after == "allowed"


def test_the_same_account_needs_no_allow_but_a_deny_still_refuses() -> None:
    own = row(principal=f"arn:aws:iam::{OWNER}:role/app", account_id=OWNER)
    assert replay_bucket([own], None, OPERATIONS)[0].after == "allowed"
    deny = {"Sid": "NoApp", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:role/app"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared-data/*"}
    assert replay_bucket([own], policy(deny), OPERATIONS)[0].after == "denied"


def test_listings_replay_each_prefix_they_named() -> None:
    listing = row(event_name="ListObjects", key_prefixes=("exports/", "private/"), key_prefix_count=2)
    grant = {"Sid": "List", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:ListBucket",
             "Resource": "arn:aws:s3:::shared-data", "Condition": {"StringLike": {"s3:prefix": ["exports/*"]}}}
    assert replay_bucket([listing], policy(grant), OPERATIONS)[0].after == "denied"
    wider = {**grant, "Condition": {"StringLike": {"s3:prefix": ["exports/*", "private/*"]}}}
    assert replay_bucket([listing], policy(wider), OPERATIONS)[0].after == "allowed"


def test_keys_outside_the_sampled_prefixes_are_not_proven() -> None:
    [replayed] = replay_bucket([row(key_prefix_count=7)], policy(GRANT), OPERATIONS)
    assert replayed.after == "unknown" and "not proven on the other 6" in replayed.why


def test_the_replay_shares_no_code_with_the_drafter() -> None:
    source = Path(__file__).resolve().parents[1] / "planner" / "policy" / "replay.py"
    imported = {n.module for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "collections.abc", "dataclasses", "typing", "planner.errors", "planner.model",
                        "planner.policy.evaluate"}


def _planned(tmp_path: Path, current: dict[str, dict[str, Any]]) -> Plan:
    write_sample_logs(tmp_path / "logs", records=5_000, seed=7)
    folder = tmp_path / "current"
    folder.mkdir()
    for bucket, document in current.items():
        (folder / f"{bucket}.json").write_text(json.dumps(document))
    config = make_config(cloudtrail=[str(tmp_path / "logs")], out=str(tmp_path / "out"),
                         current_policies=str(folder))
    return make_plan(config, scan(config))


def test_a_run_replays_against_the_current_policy_and_blocks_what_it_would_break(tmp_path: Path) -> None:
    first = _planned(tmp_path / "a", {})
    drafted = sorted({r.bucket for r in first.replay if r.statement and r.principal != "anonymous"})
    assert drafted and all(r.after == "unknown" and "current policy was not read" in r.why
                           for r in first.replay if r.bucket in drafted and not r.sets_acl)
    bucket = drafted[0]
    callers = sorted({r.principal for r in first.replay if r.bucket == bucket and r.statement})
    deny = {"Sid": "NoOutsiders", "Effect": "Deny", "Principal": {"AWS": callers}, "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{bucket}/*"}
    empty = {"Version": "2012-10-17", "Statement": []}
    second = _planned(tmp_path / "b", {**{b: empty for b in drafted}, bucket: policy(deny)})
    refused = [r for r in second.replay if r.bucket == bucket and r.after == "denied" and not r.sets_acl]
    assert refused and {r.statement for r in refused} == {"NoOutsiders"}
    report = next(b for b in second.buckets if b.bucket == bucket)
    assert not report.acls_ready and any(b.kind == "replay-denies" for b in report.blockers)
    others = [r for r in second.replay if r.bucket in drafted[1:] and not r.sets_acl and r.principal != "anonymous"]
    assert others and all(r.after == "allowed" for r in others)
    assert second.replay_counts(bucket)["broken"] == sum(r.requests for r in refused)
    note = render_reviews(second)[bucket]
    section = note.split("## After ACLs are disabled")[1].split("\n## ")[0]
    assert note.index("## After ACLs are disabled") < note.index("## New statements")
    assert "### Would break" in section and "refused by Deny NoOutsiders" in section
    assert "change the statement or Deny named, or add the access, before enforcing" in section


def test_the_summary_says_what_the_replay_found(tmp_path: Path) -> None:
    write_sample_logs(tmp_path / "logs", records=3_000, seed=7)
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "logs"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    broken = sum(r["requests"] for r in plan["replay"] if r["after"] == "denied")
    unknown = sum(r["requests"] for r in plan["replay"] if r["after"] == "unknown")
    buckets = len({r["bucket"] for r in plan["replay"] if r["after"] == "denied"})
    assert broken and f"Replay: 0 ACL-dependent requests keep working, {broken:,} would break (in {buckets} " \
        f"bucket(s)), {unknown:,} unknown." in result.stdout


def test_the_sigv2_deny_refuses_exactly_the_sigv2_requests_and_none_on_ready_buckets(sample_plan: Plan) -> None:
    for report in sample_plan.buckets:
        refused = sample_plan.sigv2_deny_refusals[report.bucket]
        assert refused == report.sigv2_requests, report.bucket  # the evaluator agrees with the readiness count
        if report.sigv4_ready:
            assert refused == 0
    assert any(sample_plan.sigv2_deny_refusals.values())


def test_a_ready_bucket_whose_deny_would_refuse_a_request_stops_the_run() -> None:
    sigv2 = row(signature_version="SigV2", acl_required=False)
    assert sigv2_deny_refusals([sigv2], [("shared-data", "aws", False)], sigv4_deny_policy) == {"shared-data": 12}
    with pytest.raises(InternalError, match="would refuse 12 observed request"):
        sigv2_deny_refusals([sigv2], [("shared-data", "aws", True)], sigv4_deny_policy)
    unsigned = row(principal="anonymous", principal_type="anonymous", account_id=None, signature_version=None)
    assert sigv2_deny_refusals([unsigned], [("shared-data", "aws", True)], sigv4_deny_policy) == {"shared-data": 0}


def test_the_callers_name_and_type_reach_policy_variables_and_conditions() -> None:
    """IAM, global condition keys: aws:username is an IAM user's name, aws:PrincipalType its kind of principal."""
    user = row(principal=f"arn:aws:iam::{PARTNER}:user/etl", principal_type="IAMUser",
               key_prefixes=("home/etl/",))
    home = {"Sid": "Home", "Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared-data/home/${aws:username}/*",
            "Condition": {"StringEquals": {"aws:PrincipalType": "User"}}}
    assert replay_bucket([user], policy(home), OPERATIONS)[0].after == "allowed"
    other = dataclasses.replace(user, principal=f"arn:aws:iam::{PARTNER}:user/bob")
    assert replay_bucket([other], policy(home), OPERATIONS)[0].after == "denied"
    role_row = row(key_prefixes=("home/etl/",))  # a role: another principal type, and no aws:username
    assert replay_bucket([role_row], policy(home), OPERATIONS)[0].after == "denied"
    untyped = dataclasses.replace(user, principal_type="AWSAccount")  # CloudTrail names only the account
    assert replay_bucket([untyped], policy(home), OPERATIONS)[0].after == "unknown"


def test_tls_evidence_decides_a_deny_on_insecure_transport() -> None:
    """The common DenyInsecureTransport statement (Bool aws:SecureTransport false): requests that all named a
    cipher suite keep working; when some did not, the evidence cannot prove they came over TLS."""
    insecure = {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    over_tls = replay_bucket([row(tls_requests=12)], policy(GRANT, insecure), OPERATIONS)[0]
    assert (over_tls.after, over_tls.statement) == ("allowed", "PartnerRead")
    some = replay_bucket([row(tls_requests=11)], policy(GRANT, insecure), OPERATIONS)[0]
    assert some.after == "unknown" and "aws:SecureTransport" in some.why
    assert replay_bucket([row()], policy(GRANT, insecure), OPERATIONS)[0].after == "unknown"


def test_a_vpc_endpoint_deny_is_decided_when_every_request_came_through_it() -> None:
    only_vpce = {"Sid": "OnlyVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"],
                 "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
    through = replay_bucket([row(vpc_endpoint="vpce-1a2b3c4d")], policy(GRANT, only_vpce), OPERATIONS)[0]
    elsewhere = replay_bucket([row(vpc_endpoint="vpce-99999999")], policy(GRANT, only_vpce), OPERATIONS)[0]
    unknown = replay_bucket([row()], policy(GRANT, only_vpce), OPERATIONS)[0]
    assert (through.after, elsewhere.after, elsewhere.statement, unknown.after) == (
        "allowed", "denied", "OnlyVpce", "unknown")


def test_a_source_ip_condition_is_decided_only_when_every_ip_was_sampled() -> None:
    """The S3 User Guide's IP-restriction example (example-bucket-policies.html, NotIpAddress aws:SourceIp): a row
    whose every source IP is in the sample is decided IP by IP; one with more IPs than sampled is unknown for the
    rest, unless a sampled IP already shows the Deny refusing it."""
    ip_deny = {"Sid": "IPAllow", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
               "Resource": ["arn:aws:s3:::shared-data", "arn:aws:s3:::shared-data/*"],
               "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}
    inside = row(source_ips=("192.0.2.10", "192.0.2.11"), source_ip_count=2)
    kept = replay_bucket([inside], policy(GRANT, ip_deny), OPERATIONS)[0]
    assert (kept.after, kept.statement) == ("allowed", "PartnerRead")
    one_outside = dataclasses.replace(inside, source_ips=("192.0.2.10", "198.51.100.7"))
    refused = replay_bucket([one_outside], policy(GRANT, ip_deny), OPERATIONS)[0]
    assert (refused.after, refused.statement) == ("denied", "IPAllow")
    more = dataclasses.replace(inside, source_ip_count=9)
    partly = replay_bucket([more], policy(GRANT, ip_deny), OPERATIONS)[0]
    assert partly.after == "unknown" and "the 2 source IPs sampled, not for the other 7" in partly.why
    uncounted = dataclasses.replace(inside, source_ip_count=None)  # an older Athena result: not counted
    assert replay_bucket([uncounted], policy(GRANT, ip_deny), OPERATIONS)[0].after == "unknown"
    assert replay_bucket([more], policy(GRANT), OPERATIONS)[0].after == "allowed"  # no IP condition: no question


def test_a_listing_condition_on_a_key_the_evidence_does_not_keep_is_unknown() -> None:
    """s3:delimiter and s3:max-keys (S3 User Guide, "Bucket policy examples using condition keys",
    amazon-s3-policy-keys.html) are not in the evidence: an Allow that needs them cannot be proven."""
    listing = row(event_name="ListObjects", key_prefixes=("exports/",))
    for key, value in (("s3:delimiter", "/"), ("s3:max-keys", "100")):
        operator = "NumericLessThanEquals" if key == "s3:max-keys" else "StringEquals"
        allow_list = {"Sid": "PartnerList", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:ListBucket",
                      "Resource": "arn:aws:s3:::shared-data", "Condition": {operator: {key: value}}}
        replayed = replay_bucket([listing], policy(allow_list), OPERATIONS)[0]
        assert replayed.after == "unknown" and key in replayed.why, replayed

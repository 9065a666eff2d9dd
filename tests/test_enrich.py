"""Read-only bucket state (planner.enrich.aws) against a moto server on 127.0.0.1, and the blockers it gives.

Buckets are seeded with boto3 before the `read_only` guard is set up; everything s3plan calls afterwards must be a
read. Moto does not enforce bucket policies (a Deny-everything policy does not stop GetBucketAcl there), so the
AccessDenied case is injected with a botocore event hook on the session: it proves that s3plan records a ClientError
raised through botocore's normal error path and goes on, not that AWS or moto would deny those calls.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import NoCredentialsError

from planner.enrich.aws import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    CLOUDFRONT_LOG_DELIVERY,
    LOG_DELIVERY,
    BucketState,
    Grant,
    ObjectAclSample,
    accounts_from_owners,
    public_access_blockers,
    read_bucket_states,
    state_blockers,
)
from tests.aws import is_read

PARTNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"  # facts §3d example canonical id
PARTNER_ACCOUNT = "999988887777"
OWNER_ACCOUNT = "111122223333"
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"},
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pol-bucket/*"}]}
LOCKED = "locked-bucket"
DENIED = {"GetBucketPolicy", "GetBucketAcl"}
BUCKETS = ["pol-bucket", "enforced-bucket", "shared-bucket", "logs-bucket", "cf-logs-bucket", "pab-bucket",
           "objects-bucket", "eu-bucket", LOCKED, "missing-bucket"]
PREFIXES = {"objects-bucket": ["exports/", "shared/"], "enforced-bucket": ["exports/"]}
READS = {"GetBucketLocation", "GetBucketPolicy", "GetBucketOwnershipControls", "GetBucketAcl",
         "GetPublicAccessBlock", "GetBucketLogging", "ListObjectsV2", "GetObjectAcl", "s3control:GetPublicAccessBlock"}
MOTO_ACCOUNT = "123456789012"  # the account moto's server answers for
# the evidence names every owner but eu-bucket's (whose account-level Block Public Access stays unknown) and the
# missing bucket's
OWNERS = {b: MOTO_ACCOUNT for b in BUCKETS if b not in ("eu-bucket", "missing-bucket")}


def _grant(permission: str, *, canonical: str | None = None, uri: str | None = None) -> dict[str, Any]:
    grantee = {"Type": "CanonicalUser", "ID": canonical} if canonical else {"Type": "Group", "URI": uri}
    return {"Grantee": grantee, "Permission": permission}


def _set_acl(s3: Any, bucket: str, *grants: dict[str, Any]) -> None:
    """Owner FULL_CONTROL plus `grants` on the bucket."""
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    policy = {"Owner": owner, "Grants": [_grant("FULL_CONTROL", canonical=owner["ID"]), *grants]}
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy)


def reset_moto(endpoint: str) -> None:
    """Empty moto's in-process backends: they outlive one server, so each test starts from nothing and leaves nothing."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture
def seeded(moto_server: str) -> Iterator[str]:
    """Every kind of bucket state, written before the read-only guard exists; yields the owner's canonical id."""
    reset_moto(moto_server)
    # a fresh session, not boto3's default one: that may have been made under another test's read-only guard
    s3 = boto3.Session().client("s3")
    for bucket in BUCKETS[:-1]:
        config = {"CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}} if bucket == "eu-bucket" else {}
        s3.create_bucket(Bucket=bucket, **config)
    s3.put_bucket_policy(Bucket="pol-bucket", Policy=json.dumps(POLICY))
    s3.put_bucket_ownership_controls(Bucket="enforced-bucket",
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_object(Bucket="enforced-bucket", Key="exports/e.csv", Body=b"e")
    _set_acl(s3, "shared-bucket", _grant("READ", canonical=PARTNER), _grant("WRITE", canonical=PARTNER),
             _grant("READ", uri=ALL_USERS))
    s3.put_bucket_ownership_controls(Bucket="shared-bucket",
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    _set_acl(s3, "logs-bucket", _grant("WRITE", uri=LOG_DELIVERY), _grant("READ_ACP", uri=LOG_DELIVERY))
    s3.put_bucket_logging(Bucket="pol-bucket", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs-bucket", "TargetPrefix": "pol/"}})
    _set_acl(s3, "cf-logs-bucket", _grant("FULL_CONTROL", canonical=CLOUDFRONT_LOG_DELIVERY))
    s3.put_public_access_block(Bucket="pab-bucket", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False})
    for key in [f"exports/{n}.csv" for n in range(6)] + ["shared/a.txt", "shared/b.txt", "private/p.txt"]:
        s3.put_object(Bucket="objects-bucket", Key=key, Body=b"x")
    owner = s3.get_bucket_acl(Bucket="objects-bucket")["Owner"]["ID"]
    # grant headers: moto ignores an AccessControlPolicy body on PutObjectAcl
    s3.put_object_acl(Bucket="objects-bucket", Key="exports/0.csv", GrantRead=f'id="{PARTNER}"',
                      GrantFullControl=f'id="{owner}"')
    s3.put_object_acl(Bucket="objects-bucket", Key="shared/a.txt", ACL="public-read")
    s3.put_bucket_ownership_controls(Bucket=LOCKED,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.put_public_access_block(Bucket=LOCKED, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    yield s3.get_bucket_acl(Bucket="pol-bucket")["Owner"]["ID"]
    reset_moto(moto_server)


class RecordingSession:
    """A boto3 session that records the region and config of each client s3plan asks for."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.clients: list[tuple[str, Any]] = []

    @property
    def region_name(self) -> str | None:
        region: str | None = self.session.region_name
        return region

    def client(self, service_name: str, **kwargs: Any) -> Any:
        client = self.session.client(service_name, **kwargs)
        self.clients.append((kwargs["region_name"], client.meta.config.retries))
        return client


def deny_on_locked_bucket(session: boto3.Session) -> None:
    """Answer DENIED calls on the locked bucket with a 403 AccessDenied before they reach moto."""
    def mark(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["deny"] = params.get("Bucket") == LOCKED and model.name in DENIED

    def deny(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not context.get("deny"):
            return None
        return AWSResponse("https://denied.invalid", 403, {}, None), {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403}}

    # on the generic event names, after the read_only guard (registered first, on `before-parameter-build`)
    session.events.register("before-parameter-build", mark)
    session.events.register("before-call", deny)


@pytest.fixture
def read(seeded: str, read_only: list[str]) -> Iterator[tuple[dict[str, BucketState], RecordingSession, list[str]]]:
    """The states of every seeded bucket (and a missing one), read through the read-only guard."""
    session = boto3.Session()
    deny_on_locked_bucket(session)
    recording = RecordingSession(session)
    states = read_bucket_states(recording, BUCKETS, PREFIXES, sample_size=4, threads=4, bucket_accounts=OWNERS)
    yield states, recording, read_only


@pytest.fixture
def states(read: tuple[dict[str, BucketState], RecordingSession, list[str]]) -> dict[str, BucketState]:
    return read[0]


def test_every_bucket_is_read_in_the_order_given(states: dict[str, BucketState]) -> None:
    assert list(states) == BUCKETS
    assert all(s.errors == () for b, s in states.items() if b not in (LOCKED, "missing-bucket"))


def test_policy_ownership_region_and_logging(states: dict[str, BucketState], seeded: str) -> None:
    pol = states["pol-bucket"]
    assert pol.policy == POLICY and pol.owner_id == seeded and pol.region == "us-east-1"
    assert pol.logging_target == "logs-bucket" and pol.ownership is None and pol.public_access_block is None
    assert states["enforced-bucket"].ownership == "BucketOwnerEnforced"
    assert states["shared-bucket"].ownership == "ObjectWriter"
    assert states["eu-bucket"].region == "eu-west-1"
    assert all(s.policy is None for b, s in states.items() if b != "pol-bucket")
    assert all(s.logging_target is None for b, s in states.items() if b != "pol-bucket")


def test_bucket_acl_grants_are_read_with_their_grantee_type(states: dict[str, BucketState], seeded: str) -> None:
    owner = Grant("CanonicalUser", seeded, "FULL_CONTROL", None)
    assert set(states["shared-bucket"].grants) == {
        owner, Grant("CanonicalUser", PARTNER, "READ", None), Grant("CanonicalUser", PARTNER, "WRITE", None),
        Grant("Group", ALL_USERS, "READ", None)}
    assert {(g.grantee, g.permission) for g in states["logs-bucket"].grants} == {
        (seeded, "FULL_CONTROL"), (LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")}
    assert {(g.grantee_type, g.grantee) for g in states["cf-logs-bucket"].grants} == {
        ("CanonicalUser", seeded), ("CanonicalUser", CLOUDFRONT_LOG_DELIVERY)}
    assert [(g.grantee, g.permission) for g in states["pol-bucket"].grants] == [(seeded, "FULL_CONTROL")]


def test_public_access_block_is_read(states: dict[str, BucketState]) -> None:
    assert states["pab-bucket"].public_access_block == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False}


def test_object_acls_are_sampled_under_the_evidence_prefixes_only(states: dict[str, BucketState],
                                                                  seeded: str) -> None:
    samples = {s.key: s for s in states["objects-bucket"].object_acls}
    # sample_size=4 over two prefixes: two keys each; nothing outside the prefixes (private/ is never read)
    assert sorted(samples) == ["exports/0.csv", "exports/1.csv", "shared/a.txt", "shared/b.txt"]
    assert all(s.owner_id == seeded for s in samples.values())
    assert Grant("CanonicalUser", PARTNER, "READ", None) in samples["exports/0.csv"].grants
    assert Grant("Group", ALL_USERS, "READ", None) in samples["shared/a.txt"].grants
    assert [g.grantee for g in samples["shared/b.txt"].grants] == [seeded]
    # under BucketOwnerEnforced object ACLs say nothing, so they are not sampled at all
    assert states["enforced-bucket"].object_acls == ()
    assert all(s.object_acls == () for b, s in states.items() if b != "objects-bucket")


def test_access_denied_is_recorded_and_the_other_calls_and_buckets_go_on(states: dict[str, BucketState]) -> None:
    locked = states[LOCKED]
    assert locked.errors == (("GetBucketPolicy", "AccessDenied: Access Denied"),
                             ("GetBucketAcl", "AccessDenied: Access Denied"))
    assert locked.policy is None and locked.owner_id is None and locked.grants == ()
    # the calls that were not denied on the same bucket still answered
    assert locked.region == "us-east-1" and locked.ownership == "BucketOwnerPreferred"
    assert locked.public_access_block is not None and locked.public_access_block["RestrictPublicBuckets"]
    # and the buckets around it are complete
    assert states["shared-bucket"].grants and states["pol-bucket"].policy == POLICY


def test_a_missing_bucket_is_recorded_once(states: dict[str, BucketState]) -> None:
    missing = states["missing-bucket"]
    assert [op for op, _ in missing.errors] == ["GetBucketLocation"]
    assert missing.errors[0][1].startswith("NoSuchBucket: ")
    assert missing == BucketState("missing-bucket", errors=missing.errors)


def test_only_read_calls_with_adaptive_retries_in_the_bucket_region(
        read: tuple[dict[str, BucketState], RecordingSession, list[str]]) -> None:
    _, session, calls = read
    assert all(is_read(op) for op in calls)
    assert set(calls) == READS
    assert calls.count("GetBucketLocation") == len(BUCKETS)
    assert calls.count("GetObjectAcl") == 4
    assert calls.count("GetBucketAcl") == len(BUCKETS) - 1  # not for the missing bucket
    assert calls.count("s3control:GetPublicAccessBlock") == 1  # once per account the evidence names
    regions = [region for region, _ in session.clients]
    assert sorted(regions) == ["eu-west-1", "us-east-1", "us-east-1"]  # one S3 client per region, and S3 Control
    assert all(retries["mode"] == "adaptive" for _, retries in session.clients)


def test_blockers_by_bucket(states: dict[str, BucketState], seeded: str) -> None:
    accounts = {**accounts_from_owners(states, {"pol-bucket": OWNER_ACCOUNT}), PARTNER: PARTNER_ACCOUNT}
    kinds = {b: sorted(x.kind for x in state_blockers(s, accounts)) for b, s in states.items()}
    assert kinds == {
        "pol-bucket": [], "enforced-bucket": [], "pab-bucket": [], "eu-bucket": [], LOCKED: [], "missing-bucket": [],
        "shared-bucket": ["bucket-acl-grant", "bucket-acl-grant"],
        "logs-bucket": ["log-delivery-acl"],
        "cf-logs-bucket": ["cloudfront-log-delivery"],
        "objects-bucket": ["bucket-acl-grant", "bucket-acl-grant"],
    }
    shared = [b.detail for b in state_blockers(states["shared-bucket"], accounts)]
    assert any(f"READ, WRITE to account {PARTNER_ACCOUNT} (canonical id {PARTNER})" in d for d in shared)
    assert any("READ to AllUsers group" in d for d in shared)
    assert all(d.startswith("bucket ACL grants") for d in shared)
    logs = state_blockers(states["logs-bucket"], accounts)[0].detail
    assert "READ_ACP, WRITE to the LogDelivery group" in logs and "logging.s3.amazonaws.com" in logs
    assert CLOUDFRONT_LOG_DELIVERY in state_blockers(states["cf-logs-bucket"], accounts)[0].detail
    objects = sorted(b.detail for b in state_blockers(states["objects-bucket"], accounts))
    assert objects[0].startswith(f"object ACL on exports/0.csv grants READ to account {PARTNER_ACCOUNT}")
    assert objects[1].startswith("object ACL on shared/a.txt grants READ to AllUsers group")


def test_public_access_block_blocks_a_public_draft_only(states: dict[str, BucketState]) -> None:
    assert public_access_blockers(states["pab-bucket"], public_statement=False) == []
    pab = public_access_blockers(states["pab-bucket"], public_statement=True)
    assert [b.kind for b in pab] == ["public-access-block"] and "BlockPublicPolicy" in pab[0].detail
    locked = public_access_blockers(states[LOCKED], public_statement=True)
    assert ["BlockPublicPolicy" in b.detail for b in locked] == [True, False]
    assert "RestrictPublicBuckets" in locked[1].detail
    # the account set none (NoSuchPublicAccessBlockConfiguration): read as {} and nothing blocks
    assert states["pol-bucket"].account_public_access_block == {}
    unblocked = [b for b in states if b not in ("pab-bucket", LOCKED, "eu-bucket", "missing-bucket")]
    assert all(public_access_blockers(states[b], True) == [] for b in unblocked)
    (unknown,) = public_access_blockers(states["eu-bucket"], True)
    assert "unknown" in unknown.detail and "owner account is unknown" in unknown.detail


def test_account_level_block_public_access_counts_with_the_bucket_level(seeded: str, moto_server: str) -> None:
    """Finding 4: the account's RestrictPublicBuckets refuses a public policy whatever the bucket says, and then
    every cross-account statement of that policy too (S3 User Guide, Blocking public access)."""
    boto3.Session().client("s3control").put_public_access_block(
        AccountId=MOTO_ACCOUNT, PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True})
    states = read_bucket_states(boto3.Session(), ["pol-bucket"], bucket_accounts={"pol-bucket": MOTO_ACCOUNT})
    state = states["pol-bucket"]
    assert state.public_access_block is None and state.account_public_access_block["RestrictPublicBuckets"]
    (blocker,) = public_access_blockers(state, public_statement=True, cross_account=True)
    assert "RestrictPublicBuckets is on" in blocker.detail and "every cross-account statement" in blocker.detail
    from planner.enrich.state import public_allowed
    assert public_allowed(states) == {"pol-bucket": False}


def test_canonical_ids_map_to_accounts_from_evidence(states: dict[str, BucketState], seeded: str) -> None:
    assert accounts_from_owners(states, {"pol-bucket": OWNER_ACCOUNT, "no-such": "1"}) == {seeded: OWNER_ACCOUNT}
    assert accounts_from_owners(list(states.values()), {}) == {}
    # one canonical id tied to two accounts by the evidence: left out, never guessed
    assert accounts_from_owners(states, {"pol-bucket": OWNER_ACCOUNT, "eu-bucket": "444455556666"}) == {}
    # a grant to a known owner is named by account; an unknown one by canonical id only
    other = BucketState("b", owner_id="a" * 64, grants=(Grant("CanonicalUser", seeded, "READ"),
                                                        Grant("CanonicalUser", "f" * 64, "READ", "bob")))
    details = [b.detail for b in state_blockers(other, {seeded: OWNER_ACCOUNT})]
    assert details[0].startswith(f"bucket ACL grants READ to account {OWNER_ACCOUNT}")
    assert details[1].startswith(f"bucket ACL grants READ to canonical id {'f' * 64} (account unknown, bob)")


OWNER = "a" * 64
EVERY_GRANT = (Grant("CanonicalUser", OWNER, "FULL_CONTROL"), Grant("CanonicalUser", PARTNER, "READ"),
               Grant("Group", AUTHENTICATED_USERS, "READ"), Grant("Group", LOG_DELIVERY, "WRITE"),
               Grant("CanonicalUser", CLOUDFRONT_LOG_DELIVERY, "FULL_CONTROL"),
               Grant("AmazonCustomerByEmail", "someone@example.com", "READ"))


def test_every_grantee_kind_without_aws() -> None:
    state = BucketState("b", owner_id=OWNER, grants=EVERY_GRANT, object_acls=(
        ObjectAclSample("k", PARTNER, (Grant("CanonicalUser", PARTNER, "FULL_CONTROL"),
                                       Grant("CanonicalUser", OWNER, "READ"))),))
    found = state_blockers(state, {})
    assert [b.kind for b in found] == ["bucket-acl-grant", "bucket-acl-grant", "log-delivery-acl",
                                       "cloudfront-log-delivery", "bucket-acl-grant", "bucket-acl-grant"]
    assert "AuthenticatedUsers group" in found[1].detail and "email grantee someone@example.com" in found[4].detail
    assert found[5].detail.startswith(f"object ACL on k grants FULL_CONTROL to canonical id {PARTNER}")
    assert "(the object's owner)" in found[5].detail


def test_an_enforced_bucket_has_no_acl_blockers_whatever_its_acl_says() -> None:
    state = BucketState("b", owner_id=OWNER, ownership="BucketOwnerEnforced", grants=EVERY_GRANT)
    assert state_blockers(state, {}) == []
    assert state_blockers(replace(state, ownership="BucketOwnerPreferred"), {}) != []


def test_with_the_owner_unknown_only_group_grants_on_objects_count() -> None:
    sample = ObjectAclSample("k", None, (Grant("CanonicalUser", OWNER, "FULL_CONTROL"), Grant("Group", ALL_USERS, "READ")))
    found = state_blockers(BucketState("b", object_acls=(sample,)), {})
    assert [b.kind for b in found] == ["bucket-acl-grant"] and "AllUsers group" in found[0].detail


class Unreachable:
    """A session whose every S3 call fails in botocore before any answer (no credentials, no endpoint)."""

    region_name = None

    def client(self, service_name: str, **kwargs: Any) -> Any:
        class Client:
            def __getattr__(self, name: str) -> Any:
                def fail(**params: Any) -> None:
                    raise NoCredentialsError()
                return fail
        return Client()


def test_botocore_errors_are_recorded_too_and_nothing_to_read_is_nothing() -> None:
    states = read_bucket_states(Unreachable(), ["a-bucket", "b-bucket", "a-bucket"], {"a-bucket": ["x/"]})
    assert list(states) == ["a-bucket", "b-bucket"]
    assert [op for op, _ in states["a-bucket"].errors] == [
        "GetBucketLocation", "GetBucketPolicy", "GetBucketOwnershipControls", "GetBucketAcl", "GetPublicAccessBlock",
        "GetBucketLogging", "ListObjectsV2"]
    assert states["a-bucket"].errors[0] == ("GetBucketLocation", "NoCredentialsError: Unable to locate credentials")
    assert read_bucket_states(Unreachable(), []) == {}

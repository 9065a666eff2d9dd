"""The IAM evaluator on its own: AWS's documented examples with a stated outcome (each cites its page), the
three-valued rules for keys the evidence cannot supply, and properties that any correct evaluator keeps."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.policy.evaluate import Caller, Request, evaluate

IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
BUCKET = "amzn-s3-demo-bucket"
OBJECT = f"arn:aws:s3:::{BUCKET}/reports/a.csv"
ALICE = Caller("arn:aws:iam::111122223333:user/alice", "111122223333")
PARTNER_ROLE = Caller("arn:aws:iam::444455556666:role/etl", "444455556666",
                      session_arn="arn:aws:sts::444455556666:assumed-role/etl/run-1")
ANONYMOUS = Caller(None, None)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any = "*", action: Any = "s3:GetObject", resource: Any = f"arn:aws:s3:::{BUCKET}/*",
          **extra: Any) -> dict[str, Any]:
    return {"Sid": extra.pop("Sid", "Allow"), "Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": resource, **extra}


def deny(**fields: Any) -> dict[str, Any]:
    return {**allow(**fields), "Effect": "Deny", "Sid": fields.get("Sid", "Deny")}


def request(caller: Caller = ALICE, action: str = "s3:GetObject", resource: str = OBJECT,
            context: dict[str, tuple[str, ...]] | None = None, absent: frozenset[str] = frozenset()) -> Request:
    return Request(caller, action, resource, context or {}, absent)


# ---------------------------------------------------------------- documented examples


def test_an_explicit_deny_overrides_an_allow_and_nothing_is_an_implicit_deny() -> None:
    """IAM, "Policy evaluation logic" (reference_policies_evaluation-logic.html): an explicit deny in any policy
    overrides any allow; a request no statement allows is implicitly denied."""
    doc = policy(allow(action="s3:*", Sid="All"), deny(action="s3:DeleteObject", Sid="NoDelete"))
    assert evaluate(doc, request(action="s3:DeleteObject")).verdict == "denied"
    assert evaluate(doc, request(action="s3:DeleteObject")).sid == "NoDelete"
    assert evaluate(doc, request(action="s3:GetObject")).sid == "All"
    assert evaluate(policy(), request()).why == "no statement allows it (implicit deny)"


@pytest.mark.parametrize(("context", "after"), [
    ({"aws:tagkeys": ("key1:legal",)}, "allowed"),
    ({"aws:tagkeys": ("key1:hr", "key1:personnel")}, "allowed"),
    ({"aws:tagkeys": ("key2:audit",)}, "denied"),
    ({}, "denied"),
])
def test_the_for_all_values_deny_example(context: dict[str, tuple[str, ...]], after: str) -> None:
    """IAM, "Multivalued context key examples" (reference_policies_condition_examples-multi-valued-context-keys.html),
    "Deny a single policy condition value": with ForAllValues:StringNotLike aws:TagKeys "key1*", key1:legal and
    key1:hr + key1:personnel do not match the Deny, key2:audit and a request without aws:TagKeys do."""
    doc = policy(allow(principal="*", action="iam:*", resource="*"),
                 deny(principal="*", action=["iam:Tag*", "iam:UnTag*"], resource=["*"],
                      Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}))
    absent = frozenset() if context else frozenset({"aws:tagkeys"})
    req = request(action="iam:TagUser", resource="arn:aws:iam::111122223333:user/bob", context=context, absent=absent)
    assert evaluate(doc, req).verdict == after


@pytest.mark.parametrize(("operator", "outcome"), [
    ("StringLike", False), ("StringNotLike", True), ("ArnNotLike", True), ("StringLikeIfExists", True),
    ("StringEquals", False), ("ForAnyValue:StringLike", False), ("ForAllValues:StringLike", True),
])
def test_a_key_missing_from_the_request(operator: str, outcome: bool) -> None:
    """IAM, "Condition operators" (reference_policies_elements_condition_operators.html): a key not in the request
    makes the condition false, true for a negated operator (StringNotLike, ArnNotLike), and true for ...IfExists;
    "Multivalued context key examples": ForAllValues is also true without the key."""
    doc = policy(allow(Condition={operator: {"aws:PrincipalTag/team": "data*"}}))
    after = evaluate(doc, request(absent=frozenset({"aws:principaltag/team"}))).verdict
    assert after == ("allowed" if outcome else "denied")


def test_null_tests_whether_the_key_is_there() -> None:
    """IAM, "Condition operators", Null: "true" matches a request without the key, "false" one with it."""
    doc = policy(allow(Condition={"Null": {"s3:x-amz-acl": "true"}}))
    assert evaluate(doc, request(absent=frozenset({"s3:x-amz-acl"}))).verdict == "allowed"
    assert evaluate(doc, request(context={"s3:x-amz-acl": ("public-read",)})).verdict == "denied"


def test_the_source_ip_deny_example() -> None:
    """S3 User Guide, bucket policy examples (example-bucket-policies.html), the source-IP example: a Deny of s3:*
    with NotIpAddress aws:SourceIp 192.0.2.0/24 refuses requests from outside the range."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:*", Sid="Owner"),
                 deny(action="s3:*", resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"], Sid="IPAllow",
                      Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))
    assert evaluate(doc, request(context={"aws:sourceip": ("192.0.2.17",)})).verdict == "allowed"
    assert evaluate(doc, request(context={"aws:sourceip": ("198.51.100.4",)})).sid == "IPAllow"
    assert evaluate(doc, request()).verdict == "unknown"  # the source IP is not in the evidence


def test_the_secure_transport_deny_example() -> None:
    """S3 User Guide, bucket policy examples, the HTTPS-only example (and AWS re:Post, "s3-bucket-ssl-requests-only"):
    a Deny with Bool aws:SecureTransport "false" refuses plain-HTTP requests only."""
    doc = policy(allow(principal={"AWS": "arn:aws:iam::444455556666:root"}),
                 deny(action="s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}, Sid="RestrictToTLS"))
    assert evaluate(doc, request(PARTNER_ROLE, context={"aws:securetransport": ("true",)})).verdict == "allowed"
    assert evaluate(doc, request(PARTNER_ROLE, context={"aws:securetransport": ("false",)})).sid == "RestrictToTLS"


def test_the_bucket_owner_full_control_example() -> None:
    """S3 User Guide, bucket policy examples, the cross-account upload example that requires the
    bucket-owner-full-control canned ACL: the Allow of s3:PutObject holds only for requests that send it."""
    doc = policy(allow(principal={"AWS": "arn:aws:iam::444455556666:root"}, action="s3:PutObject",
                       Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}))
    put = {"caller": PARTNER_ROLE, "action": "s3:PutObject"}
    with_acl = request(**put, context={"s3:x-amz-acl": ("bucket-owner-full-control",)})
    assert evaluate(doc, with_acl).verdict == "allowed"
    assert evaluate(doc, request(**put, absent=frozenset({"s3:x-amz-acl"}))).verdict == "denied"
    assert evaluate(doc, request(**put)).verdict == "unknown"


def test_principals_as_the_principal_element_page_describes() -> None:
    """IAM, "Principal" (reference_policies_elements_principal.html): an account id and its :root ARN both name every
    principal of the account; a role's ARN covers its sessions; `*` is everyone, anonymous callers included; a
    wildcard cannot match part of a principal ARN."""
    for principal in ({"AWS": "444455556666"}, {"AWS": "arn:aws:iam::444455556666:root"},
                      {"AWS": "arn:aws:iam::444455556666:role/etl"}, "*", {"AWS": "*"}):
        assert evaluate(policy(allow(principal=principal)), request(PARTNER_ROLE)).verdict == "allowed", principal
    assert evaluate(policy(allow(principal={"AWS": "arn:aws:iam::444455556666:role/*"})),
                    request(PARTNER_ROLE)).verdict == "denied"
    assert evaluate(policy(allow(principal={"AWS": "444455556666"})), request(ANONYMOUS)).verdict == "denied"
    assert evaluate(policy(allow(principal="*")), request(ANONYMOUS)).verdict == "allowed"
    service = Caller(None, None, service="logging.s3.amazonaws.com")
    assert evaluate(policy(allow(principal={"Service": "logging.s3.amazonaws.com"}, action="s3:PutObject")),
                    request(service, "s3:PutObject")).verdict == "allowed"


def test_not_principal_applies_to_everyone_else() -> None:
    """IAM, "NotPrincipal" (reference_policies_elements_notprincipal.html): a Deny with NotPrincipal refuses every
    principal but those listed."""
    doc = policy(allow(principal="*"), {"Sid": "OnlyAlice", "Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn},
                                        "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    assert evaluate(doc, request(ALICE)).verdict == "allowed"
    assert evaluate(doc, request(PARTNER_ROLE)).sid == "OnlyAlice"


def test_policy_variables_and_their_escapes() -> None:
    """IAM, "Policy variables" (reference_policies_variables.html): ${aws:username} is the caller's name; ${*}, ${?}
    and ${$} are the literal characters; a default applies when the key has no value."""
    doc = policy(allow(principal={"AWS": "111122223333"}, resource=f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*"))
    alice = {"aws:username": ("alice",)}
    assert evaluate(doc, request(resource=f"arn:aws:s3:::{BUCKET}/home/alice/a", context=alice)).verdict == "allowed"
    assert evaluate(doc, request(resource=f"arn:aws:s3:::{BUCKET}/home/bob/a", context=alice)).verdict == "denied"
    assert evaluate(doc, request(resource=f"arn:aws:s3:::{BUCKET}/home/alice/a")).verdict == "unknown"
    literal = policy(allow(resource=f"arn:aws:s3:::{BUCKET}/odd${{*}}name"))
    assert evaluate(literal, request(resource=f"arn:aws:s3:::{BUCKET}/odd*name")).verdict == "allowed"
    assert evaluate(literal, request(resource=f"arn:aws:s3:::{BUCKET}/oddXname")).verdict == "denied"
    fallback = policy(allow(resource=f"arn:aws:s3:::{BUCKET}/${{aws:username, 'shared'}}/*"))
    shared = request(resource=f"arn:aws:s3:::{BUCKET}/shared/a", absent=frozenset({"aws:username"}))
    assert evaluate(fallback, shared).verdict == "allowed"


def test_wildcards_and_case_per_element() -> None:
    """IAM, "Action" and "Resource" (reference_policies_elements_action.html, ..._resource.html): actions match
    without regard to case, ARNs with regard to case; `*` and `?` match within one value."""
    assert evaluate(policy(allow(action="S3:get*")), request()).verdict == "allowed"
    assert evaluate(policy(allow(resource=f"arn:aws:s3:::{BUCKET}/Reports/*")), request()).verdict == "denied"
    assert evaluate(policy(allow(resource=f"arn:aws:s3:::{BUCKET}/reports/?.csv")), request()).verdict == "allowed"
    assert evaluate(policy(allow(action="s3:Get?bject")), request()).verdict == "allowed"
    not_action = {"Sid": "NotDelete", "Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*",
                  "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    assert evaluate(policy(not_action), request()).verdict == "allowed"
    assert evaluate(policy(not_action), request(action="s3:DeleteObject")).verdict == "denied"


def test_arn_and_string_operators() -> None:
    """IAM, "Condition operators": ArnLike matches each colon-separated part; StringEqualsIgnoreCase ignores case;
    values of one key are ORed, of a negated operator NORed."""
    arn_like = policy(allow(Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/etl"}}))
    assert evaluate(arn_like, request(context={"aws:principalarn": (PARTNER_ROLE.arn or "",)})).verdict == "allowed"
    ignore = policy(allow(Condition={"StringEqualsIgnoreCase": {"s3:prefix": ["Reports/", "logs/"]}}))
    assert evaluate(ignore, request(context={"s3:prefix": ("reports/",)})).verdict == "allowed"
    nor = policy(allow(Condition={"StringNotEquals": {"s3:prefix": ["a/", "b/"]}}))
    assert evaluate(nor, request(context={"s3:prefix": ("b/",)})).verdict == "denied"
    assert evaluate(nor, request(context={"s3:prefix": ("c/",)})).verdict == "allowed"


def test_bool_compares_booleans_only() -> None:
    """IAM, "Condition operators", Boolean: true or false. A value that is neither cannot be compared, so it is
    unknown, not a match or a miss (a differential run against another evaluator disagreed on exactly these)."""
    doc = policy(allow(Condition={"Bool": {"aws:SecureTransport": "TRUE"}}))
    assert evaluate(doc, request(context={"aws:securetransport": ("true",)})).verdict == "allowed"
    assert evaluate(doc, request(context={"aws:securetransport": ("false",)})).verdict == "denied"
    assert evaluate(doc, request(context={"aws:securetransport": ("yes",)})).verdict == "unknown"
    odd = policy(allow(Condition={"Bool": {"aws:SecureTransport": "a/"}}))
    assert evaluate(odd, request(context={"aws:securetransport": ("true",)})).verdict == "unknown"


def test_numeric_date_and_unknown_operators() -> None:
    """IAM, "Condition operators", Numeric (its example: NumericLessThanEquals s3:max-keys 10) and Date: values
    compare as numbers and instants. An operator the evaluator does not implement is unknown, never a guess."""
    doc = policy(allow(Condition={"NumericLessThanEquals": {"s3:max-keys": "10"},
                                  "DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}}))
    ctx = {"s3:max-keys": ("10",), "aws:currenttime": ("2026-12-01T12:00:00Z",)}
    assert evaluate(doc, request(context=ctx)).verdict == "allowed"
    assert evaluate(doc, request(context={**ctx, "s3:max-keys": ("11",)})).verdict == "denied"
    odd = policy(allow(Condition={"BinaryEquals": {"s3:x": "QmluYXJ5"}}))
    assert evaluate(odd, request(context={"s3:x": ("QmluYXJ5",)})).verdict == "unknown"  # never a guess


def test_the_mfa_age_example_from_the_production_bucket_policy() -> None:
    """IAM, "Amazon S3: S3 Bucket access, but production bucket denied without recent MFA"
    (reference_policies_examples_s3_full-access-except-production.html): NumericGreaterThanIfExists
    aws:MultiFactorAuthAge 1800 "returns true if MFA is not present or if the age of the MFA is greater than 30
    minutes. In those situations, access is denied." """
    production = "arn:aws:s3:::amzn-s3-demo-bucket-production"
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:*", resource="arn:aws:s3:::*/*",
                       Sid="AllowBucketObjectActions"),
                 deny(principal={"AWS": "111122223333"}, action="s3:*", resource=[f"{production}/*", production],
                      Sid="RequireMFAForProductionBucket",
                      Condition={"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "1800"}}))
    get = {"resource": f"{production}/a.csv"}
    assert evaluate(doc, request(**get, context={"aws:multifactorauthage": ("600",)})).verdict == "allowed"
    assert evaluate(doc, request(**get, context={"aws:multifactorauthage": ("3600",)})).verdict == "denied"
    assert evaluate(doc, request(**get, absent=frozenset({"aws:multifactorauthage"}))).verdict == "denied"
    assert evaluate(doc, request(context={"aws:multifactorauthage": ("3600",)})).verdict == "allowed"  # other bucket


@pytest.mark.parametrize(("source_ip", "after"), [
    ("54.240.143.7", "allowed"), ("54.240.143.188", "denied"), ("54.240.144.1", "denied")])
def test_an_ip_range_with_one_address_excepted(source_ip: str, after: str) -> None:
    """S3 User Guide, "Restricting access to specific IP addresses" (example-bucket-policies.html): IpAddress
    54.240.143.0/24 with NotIpAddress 54.240.143.188/32 in one statement allows the range except that address
    (IAM, "Conditions with multiple context keys or values", reference_policies_multi-value-conditions.html:
    condition operators are ANDed)."""
    doc = policy(allow(action="s3:*", Sid="IPAllow",
                       Condition={"IpAddress": {"aws:SourceIp": "54.240.143.0/24"},
                                  "NotIpAddress": {"aws:SourceIp": "54.240.143.188/32"}}))
    assert evaluate(doc, request(ANONYMOUS, context={"aws:sourceip": (source_ip,)})).verdict == after


@pytest.mark.parametrize(("source_ip", "after"), [
    ("203.0.113.9", "allowed"), ("2001:db8:1234:5678::1", "allowed"), ("2001:db8:1234:5679::1", "denied"),
    ("198.51.100.1", "denied")])
def test_ipv4_and_ipv6_ranges_in_one_condition(source_ip: str, after: str) -> None:
    """IAM, "IP address condition operators" (reference_policies_elements_condition_operators.html#Conditions_IPAddress):
    the example allows 203.0.113.0/24 or 2001:DB8:1234:5678::/64; values of one key are ORed."""
    doc = policy(allow(action="s3:*", Condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24",
                                                                             "2001:DB8:1234:5678::/64"]}}))
    assert evaluate(doc, request(context={"aws:sourceip": (source_ip,)})).verdict == after


def test_read_only_for_anonymous_users() -> None:
    """S3 User Guide, "Granting read-only permission to a public anonymous user" (example-bucket-policies.html):
    Principal "*" with s3:GetObject lets anyone read, anonymous callers included, and nothing more."""
    doc = policy(allow(principal="*", action=["s3:GetObject", "s3:GetObjectVersion"], Sid="PublicRead"))
    assert evaluate(doc, request(ANONYMOUS)).sid == "PublicRead"
    assert evaluate(doc, request(ANONYMOUS, action="s3:PutObject")).verdict == "denied"
    assert evaluate(doc, request(ANONYMOUS, resource=f"arn:aws:s3:::{BUCKET}")).verdict == "denied"


def test_uploads_without_the_kms_header_are_denied() -> None:
    """S3 User Guide, "Requiring SSE-KMS for all objects written to a bucket" (example-bucket-policies.html): a Deny of
    s3:PutObject with StringNotEquals s3:x-amz-server-side-encryption aws:kms refuses uploads that send another
    value or none."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:PutObject"),
                 deny(action="s3:PutObject", Sid="RequireKms",
                      Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}))
    put = {"action": "s3:PutObject"}
    assert evaluate(doc, request(**put, context={"s3:x-amz-server-side-encryption": ("aws:kms",)})).verdict == "allowed"
    assert evaluate(doc, request(**put, context={"s3:x-amz-server-side-encryption": ("AES256",)})).sid == "RequireKms"
    assert evaluate(doc, request(**put, absent=frozenset({"s3:x-amz-server-side-encryption"}))).verdict == "denied"
    assert evaluate(doc, request(**put)).verdict == "unknown"  # the header is not in the evidence


def test_the_vpc_endpoint_deny_example() -> None:
    """S3 User Guide, "Controlling access from VPC endpoints with bucket policies" (example-bucket-policies-vpc-endpoint.html):
    a Deny of s3:* with StringNotEquals aws:SourceVpce vpce-1a2b3c4d refuses every request from elsewhere."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:*"),
                 deny(action="s3:*", resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                      Sid="Access-to-specific-VPCE-only",
                      Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}))
    assert evaluate(doc, request(context={"aws:sourcevpce": ("vpce-1a2b3c4d",)})).verdict == "allowed"
    assert evaluate(doc, request(context={"aws:sourcevpce": ("vpce-9z8y7x6w",)})).verdict == "denied"
    assert evaluate(doc, request(absent=frozenset({"aws:sourcevpce"}))).verdict == "denied"  # came over the internet


def test_the_signature_age_example() -> None:
    """S3 API Reference, "Amazon S3 Signature Version 4 Authentication Specific Policy Keys"
    (bucket-policy-s3-sigv4-conditions.html): a Deny of s3:* when NumericGreaterThan s3:signatureAge 600000 refuses
    presigned requests whose signature is more than ten minutes old."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:*"),
                 deny(action="s3:*", Sid="Deny a presigned URL request if the signature is more than 10 min old",
                      Condition={"NumericGreaterThan": {"s3:signatureAge": "600000"}}))
    assert evaluate(doc, request(context={"s3:signatureage": ("300000",)})).verdict == "allowed"
    assert evaluate(doc, request(context={"s3:signatureage": ("900000",)})).verdict == "denied"
    assert evaluate(doc, request()).verdict == "unknown"


@pytest.mark.parametrize(("version", "after"), [("AWS", "denied"), ("AWS4-HMAC-SHA256", "allowed")])
def test_the_signature_version_condition(version: str, after: str) -> None:
    """S3 API Reference, the same page: s3:signatureversion is "AWS" for Signature Version 2 and "AWS4-HMAC-SHA256"
    for Signature Version 4, so a Deny with StringNotEquals AWS4-HMAC-SHA256 refuses SigV2 requests only."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:*"),
                 deny(action="s3:*", Condition={"StringNotEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}))
    assert evaluate(doc, request(context={"s3:signatureversion": (version,)})).verdict == after


def test_the_server_access_log_delivery_policy() -> None:
    """S3 User Guide, "Enabling Amazon S3 server access logging" (enable-server-access-logging.html): the logging
    service principal may put objects when aws:SourceArn is the source bucket and aws:SourceAccount its owner."""
    doc = policy(allow(principal={"Service": "logging.s3.amazonaws.com"}, action="s3:PutObject",
                       resource=f"arn:aws:s3:::{BUCKET}/logs/*", Sid="S3ServerAccessLogsPolicy",
                       Condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::amzn-s3-demo-source-bucket"},
                                  "StringEquals": {"aws:SourceAccount": "111122223333"}}))
    service = Caller(None, None, service="logging.s3.amazonaws.com")
    put = {"caller": service, "action": "s3:PutObject", "resource": f"arn:aws:s3:::{BUCKET}/logs/2026-12-01"}
    source = {"aws:sourcearn": ("arn:aws:s3:::amzn-s3-demo-source-bucket",), "aws:sourceaccount": ("111122223333",)}
    assert evaluate(doc, request(**put, context=source)).verdict == "allowed"
    other = {**source, "aws:sourceaccount": ("444455556666",)}
    assert evaluate(doc, request(**put, context=other)).verdict == "denied"
    assert evaluate(doc, request(PARTNER_ROLE, "s3:PutObject", put["resource"], source)).verdict == "denied"


def test_listing_a_home_folder_with_s3_prefix() -> None:
    """IAM, "Amazon S3: Allows IAM users access to their S3 home directory, programmatically and in the console"
    (reference_policies_examples_s3_home-directory-console.html): s3:ListBucket is allowed when s3:prefix is "",
    "home/" or "home/${aws:username}/*"."""
    doc = policy(allow(principal={"AWS": "111122223333"}, action="s3:ListBucket", resource=f"arn:aws:s3:::{BUCKET}",
                       Sid="AllowListingOfUserFolder",
                       Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}))
    listing = {"action": "s3:ListBucket", "resource": f"arn:aws:s3:::{BUCKET}"}
    for prefix, after in (("", "allowed"), ("home/", "allowed"), ("home/alice/photos/", "allowed"),
                          ("home/bob/", "denied")):
        context = {"s3:prefix": (prefix,), "aws:username": ("alice",)}
        assert evaluate(doc, request(**listing, context=context)).verdict == after, prefix


@pytest.mark.parametrize(("now", "after"), [("2020-05-15T12:00:00Z", "allowed"), ("2020-03-31T23:59:59Z", "denied"),
                                            ("2020-07-01T00:00:00Z", "denied")])
def test_access_within_a_range_of_dates(now: str, after: str) -> None:
    """IAM, "AWS: Allows access based on date and time" (reference_policies_examples_aws-dates.html): DateGreaterThan
    2020-04-01T00:00:00Z and DateLessThan 2020-06-30T23:59:59Z on aws:CurrentTime."""
    doc = policy(allow(action="s3:*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                                                 "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}))
    assert evaluate(doc, request(context={"aws:currenttime": (now,)})).verdict == after


def test_a_canonical_user_principal() -> None:
    """IAM, "Principal" (reference_policies_elements_principal.html), and S3 User Guide, "Bucket policy examples":
    a CanonicalUser principal names the canonical user id (as CloudFront origin access identities once did)."""
    canonical = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    doc = policy(allow(principal={"CanonicalUser": canonical}))
    assert evaluate(doc, request(Caller(None, None, canonical_id=canonical))).verdict == "allowed"
    assert evaluate(doc, request(Caller(None, None, canonical_id="0" * 64))).verdict == "denied"
    assert evaluate(doc, request(ALICE)).verdict == "unknown"  # her account's canonical id is not in the evidence
    refused = policy(allow(principal="*"), deny(principal={"CanonicalUser": canonical}))
    assert evaluate(refused, request(ALICE)).verdict == "unknown"
    assert evaluate(refused, request(ANONYMOUS)).verdict == "allowed"


# ---------------------------------------------------------------- unknown, never allowed


def test_a_deny_on_a_key_the_evidence_lacks_makes_the_verdict_unknown() -> None:
    doc = policy(allow(), deny(Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, Sid="OnlyVpce"))
    decision = evaluate(doc, request())
    assert decision.verdict == "unknown" and "aws:SourceVpce" in decision.why and decision.sid == "OnlyVpce"
    assert evaluate(doc, request(context={"aws:sourcevpce": ("vpce-1a2b3c4d",)})).verdict == "allowed"


# ---------------------------------------------------------------- properties

_KEYS = ("aws:SourceIp", "aws:SecureTransport", "s3:prefix", "s3:x-amz-acl")
_VALUES = ("192.0.2.1", "192.0.2.0/24", "true", "false", "a/", "a/*", "bucket-owner-full-control", "*")
_OPERATORS = ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "Bool", "IpAddress",
              "NotIpAddress", "StringEqualsIfExists", "ForAllValues:StringLike", "ForAnyValue:StringEquals", "Null")
_PRINCIPALS = ("*", {"AWS": "111122223333"}, {"AWS": "arn:aws:iam::444455556666:root"},
               {"AWS": "arn:aws:iam::444455556666:role/etl"}, {"AWS": "999988887777"},
               {"AWS": ["111122223333", "arn:aws:sts::444455556666:assumed-role/etl/run-1"]},
               {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
               {"Service": "logging.s3.amazonaws.com"})
_ACTIONS = ("s3:GetObject", "s3:*", "s3:Get*", "s3:PutObject", "s3:ListBucket")
_RESOURCES = (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/reports/*", f"arn:aws:s3:::{BUCKET}",
              f"arn:aws:s3:::{BUCKET}/other/*")

statements = st.builds(
    lambda effect, negated, principal, action, resource, condition: {
        "Effect": effect, "NotPrincipal" if negated else "Principal": principal, "Action": action,
        "Resource": resource, **({"Condition": condition} if condition else {})},
    st.sampled_from(("Allow", "Deny")), st.sampled_from((False, False, False, True)), st.sampled_from(_PRINCIPALS),
    st.sampled_from(_ACTIONS),
    st.sampled_from(_RESOURCES),
    st.none() | st.dictionaries(st.sampled_from(_OPERATORS), st.dictionaries(st.sampled_from(_KEYS),
                                                                              st.sampled_from(_VALUES), min_size=1,
                                                                              max_size=2), min_size=1, max_size=2))
requests = st.builds(
    lambda caller, action, context, absent: Request(caller, action, OBJECT, context, absent),
    st.sampled_from((ALICE, PARTNER_ROLE, ANONYMOUS)), st.sampled_from(("s3:GetObject", "s3:PutObject")),
    st.dictionaries(st.sampled_from([k.lower() for k in _KEYS]), st.tuples(st.sampled_from(_VALUES)), max_size=3),
    st.frozensets(st.sampled_from([k.lower() for k in _KEYS]), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(statements, max_size=4), statements, requests)
def test_adding_a_deny_never_allows_and_adding_an_allow_never_denies(base: list[dict[str, Any]],
                                                                     extra: dict[str, Any], req: Request) -> None:
    before = evaluate(policy(*base), req).verdict
    after = evaluate(policy(*base, extra), req).verdict
    if extra["Effect"] == "Deny":
        assert not (after == "allowed" and before != "allowed")
    else:
        assert not (before == "allowed" and after != "allowed")
        assert not (before == "unknown" and after == "denied")


@settings(max_examples=200, deadline=None)
@given(statements, requests)
def test_an_account_principal_never_matches_a_caller_of_another_account(statement: dict[str, Any],
                                                                        req: Request) -> None:
    named = {"Principal": {"AWS": "999988887777"}, "Effect": "Allow"}
    decision = evaluate(policy({**statement, **named}), req)
    assert decision.verdict != "allowed"


def test_the_evaluator_shares_no_code_with_the_drafter() -> None:
    source = Path(__file__).resolve().parents[1] / "planner" / "policy" / "evaluate.py"
    imported = {n.module for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.startswith("planner")}


@settings(max_examples=300, deadline=None)
@given(st.lists(statements, max_size=6), st.lists(requests, min_size=1, max_size=4))
def test_the_principal_index_and_the_kept_decisions_change_no_verdict(found: list[dict[str, Any]],
                                                                       asked: list[Request]) -> None:
    """Policy reads a policy once for many requests (statements indexed by principal, decisions kept per request
    alike in what the policy reads): every decision equals the one made against every statement afresh."""
    from planner.policy.evaluate import Policy, _decide  # the unindexed path, to compare with

    document = policy(*found)
    compiled = Policy(document)
    everyone = [(str(s.get("Sid") or f"statement {n + 1}"), s) for n, s in enumerate(found)]
    for req in asked * 2:  # the second round comes from the kept decisions
        assert compiled.evaluate(req) == _decide(everyone, req)

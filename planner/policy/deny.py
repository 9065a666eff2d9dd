"""The SigV4 cutover draft: a bucket-policy Deny on requests signed with SigV2 (facts §10a, §10b)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.errors import InternalError
from planner.policy.draft import BUCKET_NAME, POLICY_VERSION

DENY_SID = "S3PlanDenySigV2"


def sigv4_deny_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Deny every S3 action on the bucket and its objects when `s3:signatureversion` is `AWS` (SigV2), in the
    bucket's ARN partition.

    StringEquals leaves unsigned (anonymous) requests alone, which carry no signature version (facts §10b).
    """
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": DENY_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
            "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
        }],
    }


def check_deny_policy(bucket: str, policy: Mapping[str, Any], partition: str = "aws") -> None:
    """The deny draft is the one fixed shape above and nothing else: a Deny that only ever removes SigV2 access."""
    if not BUCKET_NAME.match(bucket) or policy != sigv4_deny_policy(bucket, partition):
        raise InternalError(f"unsafe SigV2 deny draft for {bucket!r}")

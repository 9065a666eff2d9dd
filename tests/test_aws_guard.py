"""The read-only guard itself: a write through any boto3 session fails the test, reads pass and are recorded."""

from __future__ import annotations

import boto3
import pytest


def test_the_guard_fails_a_write_and_lets_reads_through(moto_server: str, read_only: list[str]) -> None:
    s3 = boto3.client("s3")
    s3.list_buckets()
    with pytest.raises(pytest.fail.Exception, match="s3:CreateBucket, which is not read-only"):
        s3.create_bucket(Bucket="never")
    assert read_only == ["ListBuckets", "CreateBucket"]
    assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == []

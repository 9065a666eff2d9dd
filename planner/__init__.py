"""s3plan: plan the S3 SigV4 cutover and the move to ACLs disabled, from CloudTrail evidence."""

__version__ = "0.1.0"

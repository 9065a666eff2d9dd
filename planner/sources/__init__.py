"""The sources stage: every input that gives evidence, one package per source, each behind the EvidenceSource
interface of `base` (scan() -> ScanResult).

- `cloudtrail/`: CloudTrail files on this machine (listing and pruning, the C pre-filter, the DuckDB engine).
- `access_logs/`: S3 server access log files on this machine, turned into CloudTrail-shaped records.
- `athena/`: the evidence query on Amazon Athena, its DDL, and results downloaded from the console.
- `s3/`: s3:// locations and downloads, shared by the CloudTrail and access-log sources.
- `local.py`: the one place two sources are combined: local CloudTrail files and access logs in one query.
- `policies.py`: current bucket policies from a folder (not evidence: what the drafts are merged with).

The packages do not import one another (import-linter), except where pyproject.toml says why.
"""

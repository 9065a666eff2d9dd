"""Synthetic CloudTrail logs for demos, tests and benchmarks (`s3plan sample-logs`): not a source of evidence.

`people` is who calls S3 in the sample organisation, `profiles` what each caller does, `records` turns a profile
and a time into one CloudTrail record and its ground truth, `busy` spreads the profiles out like a large
organisation's, and `generate` lays the records out as a CloudTrail
tree with digest files and writes `ground-truth.json`, the answer the planner must find.
"""

from planner.samples.generate import SHAPES, SampleSummary, write_sample_logs
from planner.samples.people import ACCT_A, ACCT_B

__all__ = ["ACCT_A", "ACCT_B", "SHAPES", "SampleSummary", "write_sample_logs"]

"""policies/<bucket>.json: one bucket-policy draft per bucket that needs statements."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from planner.model import Statement
from planner.outputs.atomic import write_bytes
from planner.policy.draft import policy_document

SAFE_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def write_policy_files(statements: Sequence[Statement], folder: Path) -> list[Path]:
    """Write one draft per bucket; bucket names that are not valid S3 names are refused, not written."""
    by_bucket: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        by_bucket[s.bucket].append(s)
    written = []
    for bucket, items in sorted(by_bucket.items()):
        if not SAFE_BUCKET.match(bucket) or ".." in bucket:
            continue
        path = folder / f"{bucket}.json"
        text = json.dumps(policy_document(items), indent=2, sort_keys=True) + "\n"
        write_bytes(path, text.encode())
        written.append(path)
    return written

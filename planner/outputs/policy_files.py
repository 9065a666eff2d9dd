"""policies/<bucket>.json: one bucket-policy draft per bucket that needs statements, and nothing else."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planner.model import Statement
from planner.outputs.atomic import write_bytes
from planner.policy.deny import check_deny_policy, sigv4_deny_policy
from planner.policy.draft import policy_document


def write_policy_files(statements: Sequence[Statement], sigv4_ready: Sequence[str], folder: Path) -> list[Path]:
    """Replace `folder` with this run's drafts, so no draft of an earlier run is left to be applied by mistake.

    Writes `<bucket>.json` (statements replacing ACL grants) and, for each bucket where no SigV2 request was seen,
    `<bucket>.sigv4-deny.json`.
    """
    by_bucket: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        by_bucket[s.bucket].append(s)
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    names = []
    for bucket, items in sorted(by_bucket.items()):
        names.append(_write(fresh / f"{bucket}.json", policy_document(items)))
    for bucket in sorted(sigv4_ready):
        deny = sigv4_deny_policy(bucket)
        check_deny_policy(bucket, deny)
        names.append(_write(fresh / f"{bucket}.sigv4-deny.json", deny))
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        folder.rename(old / folder.name)
        fresh.rename(folder)
        shutil.rmtree(old)
    else:
        fresh.rename(folder)
    return [folder / name for name in names]


def _write(path: Path, policy: dict[str, Any]) -> str:
    write_bytes(path, (json.dumps(policy, indent=2, sort_keys=True) + "\n").encode())
    return path.name

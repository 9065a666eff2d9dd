"""policies/<bucket>.json: one bucket-policy draft per bucket that needs statements, and nothing else."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from planner.model import Statement
from planner.outputs.atomic import write_bytes
from planner.policy.draft import policy_document


def write_policy_files(statements: Sequence[Statement], folder: Path) -> list[Path]:
    """Replace `folder` with this run's drafts, so no draft of an earlier run is left to be applied by mistake."""
    by_bucket: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        by_bucket[s.bucket].append(s)
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    for bucket, items in sorted(by_bucket.items()):
        text = json.dumps(policy_document(items), indent=2, sort_keys=True) + "\n"
        write_bytes(fresh / f"{bucket}.json", text.encode())
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        folder.rename(old / folder.name)
        fresh.rename(folder)
        shutil.rmtree(old)
    else:
        fresh.rename(folder)
    return [folder / f"{bucket}.json" for bucket in sorted(by_bucket)]

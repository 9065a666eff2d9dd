"""policies/<bucket>.policy.json: one bucket-policy draft per bucket that needs statements, and nothing else."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from planner.atomic import set_default_mode, write_bytes
from planner.model import Plan, deny_file, policy_file, review_file
from planner.outputs.review import render_reviews
from planner.policy.deny import check_deny_policy, sigv4_deny_policy


def write_policy_files(plan: Plan, folder: Path) -> list[Path]:
    """Replace `folder` with this run's drafts, so no draft of an earlier run is left to be applied by mistake.

    Per bucket: `<bucket>.policy.json` (the current policy with the new statements merged in) and
    `<bucket>.review.md` (also for a bucket whose inventory shows grants or owners to review);
    and for each bucket ready to deny SigV2, `<bucket>.sigv4-deny.json` (file names never collide: model.py).
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    set_default_mode(fresh)
    names = []
    reviews = render_reviews(plan)
    for policy in plan.policies:
        if policy.merged is not None:
            names.append(_write(fresh / policy_file(policy.bucket), dict(policy.merged)))
    for bucket, note in sorted(reviews.items()):
        review = fresh / review_file(bucket)
        write_bytes(review, note.encode())
        names.append(review.name)
    for report in sorted((b for b in plan.buckets if b.sigv4_deny_draft), key=lambda b: b.bucket):
        deny = sigv4_deny_policy(report.bucket, report.partition)
        check_deny_policy(report.bucket, deny, report.partition)
        names.append(_write(fresh / deny_file(report.bucket), deny))
    replace_folder(fresh, folder)
    return [folder / name for name in names]


def replace_folder(fresh: Path, folder: Path) -> None:
    """Put `fresh` where `folder` is, with no moment where half of either is there."""
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        folder.rename(old / folder.name)
        fresh.rename(folder)
        shutil.rmtree(old)
    else:
        fresh.rename(folder)


def _write(path: Path, policy: dict[str, Any]) -> str:
    write_bytes(path, (json.dumps(policy, indent=2, sort_keys=True) + "\n").encode())
    return path.name

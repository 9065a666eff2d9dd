"""Every draft s3plan writes lints clean with parliament.

One false positive is suppressed, and only on the SigV2 deny draft: parliament's action table does not list
`s3:signatureversion` for every S3 action that `s3:*` expands to (UNKNOWN_CONDITION_FOR_ACTION), although AWS
documents the key for all S3 requests (s3-migration-facts.md §10a)."""

from __future__ import annotations

import json
from pathlib import Path

import parliament
from click.testing import CliRunner

from planner.cli import main
from planner.samples import write_sample_logs
from tests.conftest import mixed_tree

SUPPRESSED = {("UNKNOWN_CONDITION_FOR_ACTION", "s3:signatureversion")}


def _issues(path: Path) -> list[tuple[str, str]]:
    policy = parliament.analyze_policy_string(path.read_text(), include_community_auditors=False)
    found = []
    for finding in policy.findings:
        detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail)
        if path.name.endswith(".sigv4-deny.json") and any(
                finding.issue == issue and key in detail for issue, key in SUPPRESSED):
            continue
        found.append((finding.issue, detail))
    return found


def test_every_draft_lints_clean(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "mixed")
    write_sample_logs(tmp_path / "generated", records=6_000, seed=5, days=3)
    drafts = []
    for name in ("mixed", "generated"):
        out = tmp_path / f"out-{name}"
        result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / name), "--out", str(out)])
        assert result.exit_code == 0, result.output
        drafts += sorted((out / "policies").glob("*.json"))
    assert len(drafts) >= 6 and any(p.name.endswith(".sigv4-deny.json") for p in drafts)
    assert {p.name: _issues(p) for p in drafts} == {p.name: [] for p in drafts}

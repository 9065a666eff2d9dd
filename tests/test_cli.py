"""The command line: exit codes, one-line errors, outputs in --out, the workbook backup."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from planner.cli import PLAN_OPTION_GROUPS, main, plan
from tests.conftest import mixed_tree, s3_record, write_log


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_plan_writes_outputs_and_exits_0(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    result = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "SigV2: 2 callers to fix" in result.output
    assert (out / "plan.json").exists() and (out / "migration-plan.xlsx").exists()
    assert sorted(p.name for p in (out / "policies").iterdir()) == [
        "bucket-a.policy.json", "bucket-a.review.md", "bucket-b.policy.json", "bucket-b.review.md",
        "bucket-b.sigv4-deny.json"]
    policy = json.loads((out / "policies" / "bucket-a.policy.json").read_text())
    assert policy["Version"] == "2012-10-17" and policy["Statement"]


def test_fail_on_blockers_exits_1(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    result = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o"), "--fail-on-blockers")
    assert result.exit_code == 1
    assert (tmp_path / "o" / "plan.json").exists()


def test_previous_workbook_is_kept_as_a_backup(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    for _ in range(2):
        assert run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out)).exit_code == 0
    backups = list(out.glob("migration-plan.*.xlsx"))
    assert len(backups) == 1


def test_input_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        (["plan", "--cloudtrail", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], "no such file or folder"),
        (["plan", "--cloudtrail", str(tmp_path), "--out", str(tmp_path / "o")], "no CloudTrail log files"),
        (["plan", "--cloudtrail", str(tmp_path), "--since", "2026-13-01"], "--since '2026-13-01'"),
        (["plan", "--cloudtrail", str(tmp_path), "--regions", "us-east-1,Mars"], "--regions 'Mars'"),
        (["plan", "--cloudtrail", str(tmp_path), "--accounts", "12345"], "--accounts '12345'"),
        (["plan", "--cloudtrail", str(tmp_path), "--since", "2026-11-05", "--until", "2026-11-01"], "is after"),
        (["plan", "--cloudtrail", str(tmp_path), "--prefix-depth", "9"], "--prefix-depth 9"),
    ]
    for args, fragment in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and not result.stdout, (args, result.output)


def test_out_and_rules_must_be_folders(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    (tmp_path / "afile").write_text("x")
    for args, fragment in [(["--out", str(tmp_path / "afile")], "is a file"),
                           (["--out", str(tmp_path / "o"), "--rules", str(tmp_path / "none")], "no such folder")]:
        result = run("plan", "--cloudtrail", str(tmp_path / "tree"), *args)
        assert result.exit_code == 2 and fragment in result.stderr and "Traceback" not in result.output


def test_a_rerun_removes_drafts_that_no_longer_apply(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    assert run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out)).exit_code == 0
    assert (out / "policies" / "bucket-a.policy.json").exists()
    quiet = tmp_path / "quiet"
    write_log(quiet / "a.json.gz", [s3_record(request_id="Q1")])
    assert run("plan", "--cloudtrail", str(quiet), "--out", str(out)).exit_code == 0
    assert [p.name for p in (out / "policies").iterdir()] == ["bucket-a.sigv4-deny.json"]
    assert not [p for p in out.iterdir() if p.name.startswith(".policies")]


def test_strict_turns_skipped_files_into_exit_2(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    extra = tmp_path / "loose"
    extra.mkdir()
    (extra / "broken.json.gz").write_bytes(b"\x1f\x8bnot really gzip")
    args = ["plan", "--cloudtrail", str(tmp_path / "tree"), "--cloudtrail", str(extra), "--out", str(tmp_path / "o")]
    relaxed = run(*args)
    assert relaxed.exit_code == 0 and "1 skipped" in relaxed.stdout
    assert relaxed.stderr.startswith("s3plan: skipped ") and "broken.json.gz" in relaxed.stderr
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert [Path(s["path"]).name for s in plan["run"]["skipped"]] == ["broken.json.gz"]
    strict = run(*args, "--strict", "--out", str(tmp_path / "strict"))
    assert strict.exit_code == 2 and "broken.json.gz" in strict.stderr
    assert not (tmp_path / "strict").exists()


def test_selection_values_that_match_nothing_are_said(tmp_path: Path) -> None:
    """Issue 14, finding 9: --regions/--accounts values that matched nothing passed with exit 0 and no word."""
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    result = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out), "--regions",
                 "us-east-1,eu-west-9", "--accounts", "111122223333,999999999999")
    assert result.exit_code == 0, result.output
    assert ("s3plan: warning: --regions eu-west-9 matched no log file (the logs hold us-east-1)" in result.stderr)
    assert "--accounts 999999999999 matched no log file (the logs hold 111122223333)" in result.stderr
    assert len(json.loads((out / "plan.json").read_text())["run"]["warnings"]) == 2
    nothing = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out), "--regions", "eu-west-9")
    assert nothing.exit_code == 2 and "matched no log file (the logs hold us-east-1)" in nothing.stderr
    late = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(out), "--since", "2027-01-01")
    assert late.exit_code == 2 and "the logs hold 2026-11-02 to 2026-11-02" in late.stderr


def test_owner_coverage_and_the_blocked_buckets_are_said(tmp_path: Path) -> None:
    """Issue 14, finding 9: the summary says how many tasks got an owner, and --fail-on-blockers names the
    blocked buckets in one line when it exits 1."""
    mixed_tree(tmp_path / "tree")
    owners = tmp_path / "owners.yaml"
    owners.write_text("owners:\n  - team: partners\n    match: {account: '999988887777'}\n")
    result = run("plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "out"), "--owners",
                 str(owners), "--fail-on-blockers")
    assert result.exit_code == 1
    assert re.search(r"Owners: \d+ of \d+ tasks have an owner from --owners; the others match no entry",
                     result.stdout)
    assert result.stderr.strip().splitlines()[-1] == (
        "s3plan: 2 bucket(s) still have blockers (--fail-on-blockers): bucket-a, bucket-b")


def test_plan_help_lists_every_option_under_its_heading() -> None:
    grouped = [name for names in PLAN_OPTION_GROUPS.values() for name in names]
    options = {p.name for p in plan.params}
    assert sorted(grouped) == sorted(options) and len(grouped) == len(set(grouped))
    text = CliRunner().invoke(main, ["plan", "--help"]).output
    headings = [line for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings == ["Sources:", "Window:", "Object ACLs:", "Policies:", "AWS access:", "Outputs:", "Other:"]
    assert text.index("--cloudtrail") < text.index("--since") < text.index("--current-policies") < text.index(
        "--profile") < text.index("--out ") < text.index("--help")

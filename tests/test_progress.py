"""What a run says on stderr: a status line in place on a terminal, a line per stage when piped, nothing quiet."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.progress import Reporter, mode_for
from planner.samples import write_sample_logs
from tests.conftest import mixed_tree


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_mode_follows_the_stream_and_quiet() -> None:
    assert mode_for(_Tty(), quiet=False) == "terminal"
    assert mode_for(io.StringIO(), quiet=False) == "lines"
    assert mode_for(_Tty(), quiet=True) == "off" and mode_for(io.StringIO(), quiet=True) == "off"


def test_a_terminal_gets_one_status_line_rewritten_and_cleared() -> None:
    out = _Tty()
    reporter = Reporter("terminal", out)
    with reporter.stage("scan") as stage:
        reporter.status("1/2 files")
        reporter.status("2/2 files")
        stage.done("2 files")
    assert out.getvalue() == ("\r\033[Ks3plan: scan...\r\033[Ks3plan: 1/2 files\r\033[Ks3plan: 2/2 files"
                              "\r\033[K")
    assert "\n" not in out.getvalue()


def test_piped_gets_one_plain_line_per_stage_and_no_status() -> None:
    out = io.StringIO()
    reporter = Reporter("lines", out)
    with reporter.stage("scan") as stage:
        reporter.status("1/2 files")
        stage.done("2 files")
    with reporter.stage("write"):
        pass
    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["s3plan: scan: 2 files", "s3plan: write"]
    assert all(line.endswith(" s)") for line in lines) and "\r" not in out.getvalue()


def test_a_failing_stage_clears_the_terminal_line_for_the_error() -> None:
    out = _Tty()
    with pytest.raises(ValueError), Reporter("terminal", out).stage("write"):
        raise ValueError("boom")
    assert out.getvalue() == "\r\033[Ks3plan: write...\r\033[K"


@pytest.mark.progress
def test_a_piped_strict_run_with_a_bad_file_is_one_line(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "broken.json.gz").write_bytes(b"\x1f\x8bnot really gzip")
    result = CliRunner().invoke(main, ["plan", "--strict", "--cloudtrail", str(tmp_path / "tree"), "--cloudtrail",
                                       str(tmp_path / "loose"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("s3plan: error: ") and "broken.json.gz" in (
        result.stderr)


def test_a_failing_stage_says_nothing_and_off_says_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(ValueError), Reporter("lines", out).stage("scan"):
        raise ValueError("boom")
    quiet = io.StringIO()
    reporter = Reporter("off", quiet)
    with reporter.stage("scan") as stage:
        reporter.status("x")
        stage.done("1 file")
    assert out.getvalue() == "" and quiet.getvalue() == ""


@pytest.mark.progress
def test_a_piped_plan_prints_a_line_per_stage_and_quiet_none(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "tree"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    stages = [line.split(":")[1].strip() for line in result.stderr.splitlines() if line.startswith("s3plan: ")]
    assert stages == ["scan", "plan", "write"]
    assert "records from" in result.stderr and "Tasks:" in result.stdout and "s3plan: scan" not in result.stdout
    quiet = CliRunner().invoke(main, ["plan", "-q", "--cloudtrail", str(tmp_path / "tree"), "--out",
                                      str(tmp_path / "o")])
    assert quiet.exit_code == 0 and quiet.stderr == "" and "Tasks:" in quiet.stdout


@pytest.mark.progress
def test_sample_logs_reports_each_slot_up_to_the_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int, int]] = []
    summary = write_sample_logs(tmp_path / "s", records=3_000, on_progress=lambda *c: calls.append(c))
    assert calls and calls[-1] == (summary.files, summary.records, summary.records)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(calls))
    piped = CliRunner().invoke(main, ["sample-logs", "--records", "500", str(tmp_path / "t")])
    assert piped.exit_code == 0 and piped.stderr.startswith("s3plan: sample logs: 500 records in ")

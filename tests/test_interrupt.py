"""Ctrl-C during a plan: the workers and the engine stop, nothing is left behind, the outputs are untouched, and
the exit code is 130 with one line and no traceback, however many times it is pressed."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import mixed_tree, role, s3_record

FILES, PER_FILE = 160, 12_000
MARK = "S3PLAN_INTERRUPT_TEST"


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1.9 million records in 160 files: long enough to be interrupted in the pre-filter or the engine."""
    root = tmp_path_factory.mktemp("big")
    partner = role("999988887777", "partner")
    records = [s3_record(request_id=f"R{n}", identity=partner if n % 50 == 0 else None, acl_required=n % 50 == 0,
                         key=f"reports/{n % 97}/x.csv") for n in range(PER_FILE)]
    data = gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=1)
    for n in range(FILES):
        (root / f"trail-{n:03d}.json.gz").write_bytes(data)
    return root


def _previous_outputs(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """An --out holding a previous run's outputs, and their bytes."""
    mixed_tree(tmp_path / "small")
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "planner.cli", "plan", "--cloudtrail", str(tmp_path / "small"),
                    "--out", str(out)], check=True, capture_output=True)
    return out, {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _marked_processes() -> Iterator[int]:
    """Processes (workers included) that carry this test's environment mark."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if MARK.encode() in (entry / "environ").read_bytes():
                    yield int(entry.name)
            except OSError:
                continue


@pytest.mark.parametrize("presses", [1, 2])
@pytest.mark.parametrize("engine", ["prefilter", "no-prefilter"])
def test_ctrl_c_stops_everything_and_changes_nothing(big_tree: Path, tmp_path: Path, engine: str,
                                                     presses: int) -> None:
    """Issue 14, finding 1: SIGINT printed `Aborted!` and hung on the worker pool, a second one gave a traceback
    and orphaned workers, DuckDB's interruption surfaced as a traceback, and the exit code was 1."""
    out, before = _previous_outputs(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), MARK: "1"}
    args = [sys.executable, "-m", "planner.cli", "plan", "--cloudtrail", str(big_tree), "--out", str(out),
            "--threads", "2"] + (["--no-prefilter"] if engine == "no-prefilter" else [])
    # a session of its own, signalled as a whole: Ctrl-C reaches every process of the terminal's foreground group
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    time.sleep(2.5)  # well inside the scan: the whole run takes several times that
    assert child.poll() is None, "the run ended before it could be interrupted"
    for _ in range(presses):
        os.killpg(child.pid, signal.SIGINT)
        time.sleep(0.3)
    try:
        _, stderr = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail("s3plan did not stop after Ctrl-C")
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    assert stderr.strip().splitlines()[-1] == "s3plan: interrupted; no output was changed"
    time.sleep(0.5)
    assert list(_marked_processes()) == [], "worker processes were left running"
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".s3plan")]
    assert list(temp.iterdir()) == [], f"temporary files were left: {list(temp.iterdir())}"

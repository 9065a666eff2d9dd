"""An output written in a forked process: its errors come back to the parent, a child that dies is reported, and
leaving the block early stops it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from planner.errors import OutputError
from planner.outputs.alongside import Alongside

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runs in turn without fork")


def test_the_work_runs_in_a_child_while_this_process_goes_on(tmp_path: Path) -> None:
    def work() -> None:
        (tmp_path / "pid").write_text(str(os.getpid()))

    with Alongside(work) as job:
        (tmp_path / "parent").write_text("meanwhile")
        job.wait()
    assert int((tmp_path / "pid").read_text()) != os.getpid()
    assert (tmp_path / "parent").exists()


def test_an_error_in_the_child_is_raised_here() -> None:
    def work() -> None:
        raise OutputError("out/migration-plan.xlsx: no space left")

    with Alongside(work) as job, pytest.raises(OutputError, match="no space left"):
        job.wait()


def test_an_error_that_does_not_pickle_comes_back_as_its_text() -> None:
    class Odd(Exception):
        def __reduce__(self) -> str:
            raise TypeError("not picklable")

    def work() -> None:
        raise Odd("odd failure")

    with Alongside(work) as job, pytest.raises(OutputError, match="Odd: odd failure"):
        job.wait()


def test_a_child_that_dies_without_a_word_is_reported() -> None:
    with Alongside(lambda: os._exit(3)) as job, pytest.raises(OutputError, match="exit code 3"):
        job.wait()


def test_leaving_early_stops_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "finished"

    def work() -> None:
        time.sleep(30)
        marker.write_text("too late")

    with pytest.raises(RuntimeError), Alongside(work) as job:
        process = job.process
        raise RuntimeError("the parent failed first")
    assert process is not None and not process.is_alive()
    assert not marker.exists()


def test_an_error_that_pickles_but_does_not_unpickle_comes_back_as_its_text() -> None:
    class TwoArguments(Exception):
        def __init__(self, path: str, why: str) -> None:
            super().__init__(f"{path}: {why}")

    def work() -> None:
        raise TwoArguments("out/x.xlsx", "disk full")

    with Alongside(work) as job, pytest.raises(OutputError, match=r"TwoArguments: out/x\.xlsx: disk full"):
        job.wait()

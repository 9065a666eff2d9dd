"""One output written in a forked process while this one writes the others: on two cores the workbook (the
slowest output) no longer waits for plan.json and the drafts. The child inherits the plan as it is in memory
(nothing is pickled but an error on the way back). Where fork is not the safe default (macOS, Windows) the work
runs here, in turn."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType

from planner.errors import OutputError


class Alongside:
    """`with Alongside(work) as job: ...; job.wait()`: `work` runs in a child from the start of the block;
    `wait` returns when it has finished and raises what it raised. Leaving the block early stops the child."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.work = work
        self.process: BaseProcess | None = None
        self.results: Connection | None = None

    def __enter__(self) -> Alongside:
        if not sys.platform.startswith("linux"):
            self.work()  # no fork: in turn
            return self
        context = multiprocessing.get_context("fork")
        self.results, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=_child, args=(self.work, sender), name="s3plan-output", daemon=True)
        self.process.start()
        sender.close()
        return self

    def wait(self) -> None:
        """Wait for the child; raise the error it reported, or an OutputError if it died without a word."""
        if self.process is None or self.results is None:
            return
        try:
            error = self.results.recv()
        except EOFError:  # it ended without a word: its exit code says how, once it is joined
            self.process.join()
            error = OutputError(f"the {self.process.name} process stopped (exit code {self.process.exitcode})")
        self.process.join()
        self.process = None
        if error is not None:
            raise error

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.process is not None:  # left early (an error, Ctrl-C): the child's output is not wanted
            self.process.terminate()
            self.process.join()
        if self.results is not None:
            self.results.close()


def _child(work: Callable[[], object], sender: Connection) -> None:
    try:
        work()
        sender.send(None)
    except BaseException as err:  # every error goes back to the parent, which raises it
        try:
            # an error the parent could not rebuild would hide the real one (these are our own bytes)
            pickle.loads(pickle.dumps(err))  # noqa: S301
            sender.send(err)
        except Exception:  # an error that does not make the way back goes back as its text
            sender.send(OutputError(f"{type(err).__name__}: {err}"))
    finally:
        sender.close()

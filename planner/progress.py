"""What a run says on stderr while it works: on a terminal one status line rewritten in place; piped (a log file,
CI, cron) one plain line as each stage ends, with its numbers and time; with --quiet nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

MODES = ("terminal", "lines", "off")


def counted(n: int, what: str) -> str:
    """`1 file`, `2 files`: a count with its noun."""
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def mode_for(stream: TextIO, quiet: bool) -> str:
    """The mode a command's stderr asks for: off with --quiet, in place on a terminal, else a line per stage."""
    if quiet:
        return "off"
    try:
        return "terminal" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "lines"


@dataclass
class Stage:
    """One stage being run; `done(summary)` gives the numbers its end line shows."""

    name: str
    summary: str = ""

    def done(self, summary: str) -> None:
        self.summary = summary


@dataclass
class Reporter:
    """Status and stage lines for one run, by mode (see MODES)."""

    mode: str = "off"
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    _status_shown: bool = False

    def status(self, text: str) -> None:
        """A passing status (files done, ETA): on a terminal only, rewritten in place."""
        if self.mode == "terminal":
            self.stream.write(f"\r\033[Ks3plan: {text}")
            self.stream.flush()
            self._status_shown = True

    def clear(self) -> None:
        """Remove the status line, before other output is written below it."""
        if self._status_shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._status_shown = False

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Run a stage: its name as the status on a terminal, then, piped, one line `s3plan: name: summary (1.2 s)`
        when it ends. A stage that fails says nothing: the error is the line to read."""
        stage = Stage(name)
        self.status(f"{name}...")
        start = time.monotonic()
        try:
            yield stage
        finally:  # an error's line, or Ctrl-C's, starts on a clean line
            self.clear()
        if self.mode == "lines":
            summary = f": {stage.summary}" if stage.summary else ""
            self.stream.write(f"s3plan: {name}{summary} ({time.monotonic() - start:.1f} s)\n")
            self.stream.flush()

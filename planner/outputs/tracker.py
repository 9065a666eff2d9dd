"""The Tasks sheet as a tracker that survives re-runs: what people typed is carried over by task id, tasks that
are no longer observed are kept and marked, new ones are marked new, and a trend row is added per run."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from planner.errors import InputError
from planner.model import Plan, Task

# Columns people fill in; s3plan writes them only for new tasks (owner from --owners, status Todo).
USER_COLUMNS = ("Owner", "Status", "Due date", "Notes")
OBSERVED = "Observed state"
UNNAMED = "(unnamed column"
GONE = "no longer observed since "
CLOSED = ("Done", "Won't do")
TREND_HEADER = ("Run", "Window", "SigV2 callers", "ACL-dependent requesters", "Open tasks")


@dataclass(frozen=True)
class Previous:
    """What an earlier workbook holds that a re-run must keep."""

    header: tuple[str, ...] = ()
    rows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trend: tuple[tuple[Any, ...], ...] = ()

    @property
    def exists(self) -> bool:
        return bool(self.header)


def read_previous(path: Path | None) -> Previous:
    """Task rows (by task id) and trend rows of an earlier workbook s3plan wrote; nothing when there is none. A
    file that is not one, or cannot be read whole, is an input error naming it (read before the scan starts)."""
    if path is None or not path.exists():
        return Previous()
    what = "move it away or pass --previous with another file"
    try:
        book = load_workbook(path, read_only=True)  # a formula someone typed is kept as its text, not lost
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as err:
        raise InputError(f"{path}: not a workbook s3plan wrote (not an .xlsx file: {err}); {what}") from err
    except (OSError, ValueError, TypeError, EOFError, ParseError, zlib.error) as err:
        raise InputError(f"{path}: the previous workbook cannot be read ({type(err).__name__}: {err}); "
                         f"{what}") from err
    try:
        if "Tasks" not in book.sheetnames:
            raise InputError(f"{path}: not a workbook s3plan wrote (no Tasks sheet); {what}")
        rows = list(book["Tasks"].iter_rows(values_only=True))
        trend = tuple(tuple(r) for r in list(book["Trend"].iter_rows(values_only=True))[1:]
                      if any(v is not None for v in r)) if "Trend" in book.sheetnames else ()
    except (OSError, KeyError, ValueError, TypeError, EOFError, ParseError, zlib.error) as err:
        raise InputError(f"{path}: the previous workbook cannot be read ({type(err).__name__}: {err}); "
                         f"{what}") from err
    finally:
        book.close()
    if not rows or not rows[0] or rows[0][0] != "Task id":
        raise InputError(f"{path}: not a workbook s3plan wrote (its Tasks sheet does not start with Task id); {what}")
    header = column_names(rows[0])
    tasks = {str(r[0]): dict(zip(header, r, strict=False)) for r in rows[1:] if r and r[0]}
    return Previous(header, tasks, trend)


def column_names(cells: Sequence[Any]) -> tuple[str, ...]:
    """The Tasks header as names, one per column, in place: a column someone added without a header is
    `(unnamed column C)` (its letter then), and a repeated name gets ` (2)`, so no value moves to another column."""
    names: list[str] = []
    for n, cell in enumerate(cells, start=1):
        name = str(cell).strip() if cell is not None and str(cell).strip() else f"{UNNAMED} {get_column_letter(n)})"
        base, count = name, 2
        while name in names:
            name, count = f"{base} ({count})", count + 1
        names.append(name)
    return tuple(names)


def tracker_rows(plan: Plan, ours: Sequence[str], values: Mapping[str, Any], previous: Previous
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of the Tasks sheet: this run's tasks with carried-over user columns, then tasks that are
    no longer observed. `values(task)` gives our columns for a task. Extra columns people added stay, on the right."""
    extra = [h for h in previous.header if h not in ours]
    today = plan.run.generated_at[:10]
    rows = []
    for task in plan.tasks:
        row = dict(values[task.id])
        before = previous.rows.get(task.id)
        if before is not None:
            for column in (*USER_COLUMNS, *extra):
                if before.get(column) not in (None, ""):
                    row[column] = before[column]
        row[OBSERVED] = "still observed" if before is not None else ("new" if previous.exists else "observed")
        rows.append(row)
    current = {t.id for t in plan.tasks}
    for task_id, before in previous.rows.items():
        if task_id in current:
            continue
        row = dict(before)
        state = str(before.get(OBSERVED) or "")
        row[OBSERVED] = state if state.startswith(GONE) else f"{GONE}{today}"
        rows.append(row)
    return [*ours, *extra], rows


def trend_rows(plan: Plan, rows: Sequence[Mapping[str, Any]], previous: Previous) -> list[tuple[Any, ...]]:
    """The trend table: every earlier run's row, then this run's (SigV2 callers, ACL-dependent requesters,
    open tasks), which feeds the burn-down chart."""
    sigv2, acl = len(plan.sigv2_callers), len(plan.acl_requesters)
    open_tasks = sum(1 for r in rows if r.get("Status") not in CLOSED and not str(r.get(OBSERVED, "")).startswith(GONE))
    window = f"{plan.run.window_seen.since or '?'} to {plan.run.window_seen.until or '?'}"
    return [*previous.trend, (plan.run.generated_at, window, sigv2, acl, open_tasks)]


def task_values(task: Task) -> dict[str, Any]:
    """Our columns of one task, by header."""
    owner = None
    if task.owner is not None:
        owner = task.owner.team + (f" ({task.owner.contact})" if task.owner.contact else "")
    return {
        "Task id": task.id, "Kind": task.kind, "Title": task.title, "Owner": owner, "Wave": task.wave,
        "Stream": task.stream, "Status": "Todo", "Due date": None, "Notes": None,
        "Depends on": ", ".join(task.depends_on), "Buckets": ", ".join(task.buckets), "Requests": task.requests,
        "First seen": task.first_seen, "Last seen": task.last_seen, "Principal": task.principal,
        "Action": task.action, "User agents": ", ".join(task.user_agents), "Source IPs": ", ".join(task.source_ips),
        "Rules": ", ".join(task.rules), "Failing": task.failing,
    }

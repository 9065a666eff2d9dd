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
from planner.model import Plan, Scope, Task

# Columns people fill in; s3plan writes them only for new tasks (owner from --owners, status Todo).
USER_COLUMNS = ("Owner", "Status", "Due date", "Notes")
OBSERVED = "Observed state"
RETIRED = frozenset({"Stream"})  # columns earlier versions wrote and this one replaced ("Work stream")
UNNAMED = "(unnamed column"
GONE = "no longer observed since "
OUT_OF_SCOPE = "not in this run's scope"
CLOSED = ("Done", "Won't do")
SAME_SCOPE = "Same scope as the latest run"
TREND_HEADER = ("Run", "Window", "Regions", "Accounts", "Sources", "SigV2 callers", "ACL-dependent requesters",
                "Open tasks", SAME_SCOPE)


@dataclass(frozen=True)
class Previous:
    """What an earlier workbook holds that a re-run must keep."""

    header: tuple[str, ...] = ()
    rows: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trend: tuple[Mapping[str, Any], ...] = ()  # by the Trend sheet's own header (older runs had fewer columns)

    @property
    def exists(self) -> bool:
        return bool(self.header)

    @property
    def scope(self) -> Scope | None:
        """The scope of the run that wrote the workbook: its trend row, when it recorded one."""
        return trend_scope(self.trend[-1]) if self.trend else None


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
        trend_sheet = list(book["Trend"].iter_rows(values_only=True)) if "Trend" in book.sheetnames else []
        trend_header = column_names(trend_sheet[0]) if trend_sheet else ()
        trend = tuple(dict(zip(trend_header, r, strict=False)) for r in trend_sheet[1:]
                      if any(v is not None for v in r))
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
    extra = [h for h in previous.header if h not in ours and h not in RETIRED]
    last_day = plan.run.window_seen.until or plan.run.generated_at[:10]
    narrower = plan.run.scope.narrower_than(previous.scope) if previous.scope else []
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
        outside = _outside(before, plan.run.scope, narrower)
        row[OBSERVED] = state if state.startswith(GONE) else (
            f"{OUT_OF_SCOPE} ({outside})" if outside else f"{GONE}{last_day}")
        rows.append(row)
    return [*ours, *extra], rows


def _outside(before: Mapping[str, Any], scope: Scope, narrower: Sequence[str]) -> str | None:
    """Why a task this run did not see may just be outside what it read: its regions or accounts were not read,
    or the run read less than the last one in a way the task's row cannot rule out."""
    for name, read in (("Regions", scope.regions), ("Accounts", scope.accounts)):
        held = {v.strip() for v in str(before.get(name) or "").split(",") if v.strip()}
        if read and held and not held & set(read):
            return f"its {name.lower()} {', '.join(sorted(held))} were not read"
    unproven = [n for n in narrower if not n.startswith(("fewer regions", "fewer accounts"))
                or not before.get("Regions" if "regions" in n else "Accounts")]
    return f"this run read {', '.join(unproven)} than the last one" if unproven else None


def trend_rows(plan: Plan, rows: Sequence[Mapping[str, Any]], previous: Previous) -> list[tuple[Any, ...]]:
    """The trend table, by TREND_HEADER: every earlier run's row, then this run's (its scope, SigV2 callers,
    ACL-dependent requesters, open tasks), which feeds the burn-down chart; each row says whether its scope is the
    latest run's, since counts of runs that read different logs do not compare."""
    run = plan.run
    open_tasks = sum(1 for r in rows if r.get("Status") not in CLOSED and not str(r.get(OBSERVED, "")).startswith(GONE))
    ours = {"Run": run.generated_at, "Window": f"{run.window_seen.since or '?'} to {run.window_seen.until or '?'}",
            "Regions": ", ".join(run.regions) or "all", "Accounts": ", ".join(run.accounts) or "all",
            "Sources": ", ".join(run.sources), "SigV2 callers": len(plan.sigv2_callers),
            "ACL-dependent requesters": len(plan.acl_requesters), "Open tasks": open_tasks}
    out = []
    for row in [*previous.trend, ours]:
        theirs = trend_scope(row)
        same = "unknown (an older run)" if theirs is None else "yes" if _same(theirs, run.scope) else (
            "no: " + _differences(theirs, run.scope))
        out.append(tuple({**row, SAME_SCOPE: same}.get(h) for h in TREND_HEADER))
    return out


def trend_scope(row: Mapping[str, Any]) -> Scope | None:
    """The scope a trend row recorded (None for rows of runs before scopes were recorded)."""
    if row.get("Regions") is None:
        return None
    since, _, until = str(row.get("Window") or "").partition(" to ")

    def listed(value: Any) -> tuple[str, ...]:
        return () if value in (None, "all") else tuple(v.strip() for v in str(value).split(",") if v.strip())

    return Scope(listed(row.get("Sources")), listed(row.get("Regions")), listed(row.get("Accounts")),
                 since if since not in ("", "?") else None, until if until not in ("", "?") else None)


def _same(a: Scope, b: Scope) -> bool:
    return (set(a.sources), set(a.regions), set(a.accounts), a.days) == (set(b.sources), set(b.regions),
                                                                         set(b.accounts), b.days)


def _differences(theirs: Scope, ours: Scope) -> str:
    return "; ".join(theirs.narrower_than(ours) + [f"wider: {n}" for n in ours.narrower_than(theirs)]
                     ) or "another window length"


def task_values(task: Task) -> dict[str, Any]:
    """Our columns of one task, by header."""
    owner = None
    if task.owner is not None:
        owner = task.owner.team + (f" ({task.owner.contact})" if task.owner.contact else "")
    return {
        "Task id": task.id, "Kind": task.kind, "Title": task.title, "Owner": owner, "Wave": task.wave,
        "Work stream": f"{task.stream}: {task.stream_name}" if task.stream_name else task.stream,
        "Status": "Todo", "Due date": None, "Notes": None,
        "Depends on": ", ".join(task.depends_on), "Buckets": ", ".join(task.buckets), "Requests": task.requests,
        "First seen": task.first_seen, "Last seen": task.last_seen, "Principal": task.principal,
        "Action": task.action, "User agents": ", ".join(task.user_agents), "Source IPs": ", ".join(task.source_ips),
        "Rules": ", ".join(task.rules), "Failing": task.failing, "Regions": ", ".join(task.regions),
        "Accounts": ", ".join(task.accounts),
    }

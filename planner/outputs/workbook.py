"""migration-plan.xlsx: the tracker people work in. Every log-derived string is written as inert text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from planner.atomic import write_with
from planner.classify.remedies import INVESTIGATE_FAMILIES
from planner.errors import InternalError
from planner.model import BucketPolicy, BucketReport, Plan, ReplayRow, Statement, Task, policy_file
from planner.outputs.bulk_rows import DATE_FORMAT, MOMENT_FORMAT, BulkRows, UtcMoment
from planner.outputs.plan_json import evidence_to_dict
from planner.outputs.tracker import TREND_HEADER, Previous, task_values, tracker_rows, trend_rows
from planner.outputs.xml_text import cell_text
from planner.policy.draft import HIGH_RISK
from planner.resources import templates_dir

MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
STATUSES = ("Todo", "In progress", "Blocked", "Done", "Won't do")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Column:
    """One sheet column: header, width, and how to get the value from a row object."""

    header: str
    width: int
    value: Callable[[Any], Any]


text = cell_text  # for the cells openpyxl writes; the streamed rows are made safe as they are written


# Long text wraps in its column (top-aligned), and its row grows to show it, so a printed page cuts nothing.
WRAPPED = frozenset({"Title", "Action", "Resources", "Risk", "Notes", "Why", "User agents", "User agent",
                     "Blockers", "Sample keys", "Replay", "Failing", "ACL grants", "Key prefixes", "Principal",
                     "Depends on", "Buckets", "SigV2 callers", "Evidence ids", "Actions", "Source IPs"})
# Times from logs (ISO 8601, UTC) become Excel dates with a time, so they sort, filter and compute as dates.
MOMENTS = frozenset({"First seen", "Last seen", "Last error", "Run", "Generated at"})
EXCEL_FIRST_DAY = datetime(1900, 3, 1)  # Excel's 1900 dates are off by one before (its 29 February 1900)
LINE_POINTS = 15.0   # the height of one line of 11-point text
MAX_LINES = 12       # a row shows at most this many lines; the cell keeps all its text
SAMPLED = 2_000      # rows read to size a column
UNWRAPPED_MAX = 60   # the widest a column of text that does not wrap grows to show its values whole


def write_sheet(ws: Worksheet, columns: Sequence[Column], rows: Iterable[Any], bulk: BulkRows) -> int:
    """Header, frozen pane, autofilter and widths (from the content, at most the layout's) by openpyxl; the rows,
    as safe values, wait in `bulk` to be streamed in when the workbook is saved, long text wrapped and rows as tall
    as it needs. Past Excel's row limit the rows go on in `<sheet> (2)`, `<sheet> (3)`, ..., each with the same
    header. Returns the number of rows on the first sheet."""
    values = [[column.value(row) for column in columns] for row in rows]  # made safe as bulk writes them
    for n in [n for n, c in enumerate(columns) if c.header in MOMENTS]:
        for row in values:
            row[n] = excel_moment(row[n])
    columns = fitted(columns, values)
    wrapped = frozenset(n for n, c in enumerate(columns) if c.header in WRAPPED)
    title = ws.title
    for part, start in enumerate(range(0, max(len(values), 1), MAX_DATA_ROWS), start=1):
        if part > 1:
            ws = ws.parent.create_sheet(f"{title} ({part})"[:31], ws.parent.index(ws) + 1)
        chunk = values[start:start + MAX_DATA_ROWS]
        _header(ws, columns)
        bulk.add(ws.title, chunk, wrapped, row_heights(chunk, columns, wrapped))
        _finish(ws, columns, len(chunk))
    return min(len(values), MAX_DATA_ROWS)


def fitted(columns: Sequence[Column], values: Sequence[Sequence[Any]]) -> list[Column]:
    """Each column as wide as its header and its longest value (in the first rows): wrapped text at most the
    layout's width, other text (a Sid, a file name) up to UNWRAPPED_MAX so it is not cut, and never narrower than
    a number or date in it, which would show as ###."""
    out = []
    for n, column in enumerate(columns):
        sample = [row[n] for row in values[:SAMPLED]]
        longest = max((len(_shown(v)) for v in sample), default=0)
        if not longest:  # an empty column (Owner, Notes on a first run) keeps its room for what people type
            out.append(column)
            continue
        cap = column.width if column.header in WRAPPED else max(column.width, UNWRAPPED_MAX)
        width = max(len(column.header) + 2, min(cap, longest + 2), 6)
        width = min(width, max(cap, len(column.header) + 2))
        numbers = max((len(_shown(v)) + (5 if isinstance(v, datetime) else 3) for v in sample
                       if isinstance(v, (int, float, date))), default=0)
        out.append(Column(column.header, max(width, numbers), column.value))
    return out


def row_heights(rows: Sequence[Sequence[Any]], columns: Sequence[Column],
                wrapped: frozenset[int]) -> list[float | None]:
    """Per row, the height that shows its wrapped text (None: one line, the default)."""
    if not wrapped:
        return []
    out: list[float | None] = []
    for row in rows:
        lines = max((lines_needed(_shown(row[n]), columns[n].width) for n in wrapped
                     if n < len(row) and row[n] is not None), default=1)
        out.append(LINE_POINTS * min(lines, MAX_LINES) if lines > 1 else None)
    return out


def lines_needed(text_value: str, width: int) -> int:
    """The lines a text takes when it wraps in a column `width` wide (about 1.15 characters per unit)."""
    per_line = max(int(width * 1.15), 1)
    if len(text_value) <= per_line and "\n" not in text_value:
        return 1
    return sum(-(-max(len(part), 1) // per_line) for part in text_value.split("\n"))


def _shown(value: Any) -> str:
    """The text a cell shows, as bulk_rows writes it (`cell_text`: lists joined, made safe; a time as its
    number format shows it)."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    return "" if value is None else str(cell_text(value))


def excel_moment(value: Any) -> Any:
    """A time s3plan recorded ("2026-11-02T10:00:00Z", or read back from an earlier workbook) as a UtcMoment, as
    Excel holds times; anything else (None, text that is not a time, a time Excel cannot show) as it is."""
    if isinstance(value, datetime):
        return value if isinstance(value, UtcMoment) else UtcMoment.of(value)
    if type(value) is not str or len(value) < 19 or value[4] != "-" or value[10] != "T":
        return value
    try:  # Python 3.10 reads no "Z"
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):  # a zone that pushes year 1 or 9999 out of range
        return value
    return UtcMoment.of(moment) if moment >= EXCEL_FIRST_DAY else value


def print_setup(ws: Worksheet, plan: Plan, *, one_page: bool = False, title_row: bool = True) -> None:
    """Landscape, one page wide (the whole sheet on one page for the Overview), the header row on every page, and
    the sheet's name, the run's window and the page number in the margins."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    if title_row:
        ws.print_title_rows = "1:1"
    window = f"{plan.run.window_seen.since or '?'} to {plan.run.window_seen.until or '?'}".replace("&", "")
    ws.oddHeader.center.text = f"&A: s3plan, evidence from {window}"  # &A: the sheet's name
    ws.oddFooter.center.text = "Page &P of &N"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3


def _header(ws: Worksheet, columns: Sequence[Column]) -> None:
    ws.append([c.header for c in columns])
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL


def _finish(ws: Worksheet, columns: Sequence[Column], rows: int) -> None:
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    for col, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(col)].width = column.width


LAYOUT_FILE = templates_dir() / "workbook.yaml"
RED, GREEN, ORANGE = (PatternFill("solid", bgColor=c) for c in ("FFC7CE", "C6EFCE", "FFEB9C"))


SIGV2_COLUMNS = (
    Column("Principal", 50, lambda c: c.principal), Column("Client family", 18, lambda c: c.family),
    Column("Version", 14, lambda c: c.version), Column("Minimum version", 14, lambda c: c.minimum_version),
    Column("Remedy", 20, lambda c: c.remedy or "none (AWS service, informational)"),
    Column("Presigned URL", 9, lambda c: "yes" if c.presigned else ""), Column("Task id", 16, lambda c: c.task),
    Column("Buckets", 30, lambda c: c.buckets), Column("Requests", 10, lambda c: c.requests),
    Column("Last seen", 21, lambda c: c.last_seen), Column("Rule", 9, lambda c: c.rule),
    Column("User agents", 70, lambda c: c.user_agents),
)
ACL_COLUMNS = (
    Column("Bucket", 28, lambda e: e["bucket"]), Column("Operation", 18, lambda e: e["event_name"]),
    Column("Principal", 50, lambda e: e["principal"]), Column("Principal type", 14, lambda e: e["principal_type"]),
    Column("Account", 14, lambda e: e["account_id"]), Column("Bucket owner", 14, lambda e: e["bucket_account_id"]),
    Column("aclRequired", 11, lambda e: "Yes" if e["acl_required"] else ""),
    Column("ACL header", 26, lambda e: e["acl_header"]), Column("Requests", 10, lambda e: e["requests"]),
    Column("Key prefixes", 30, lambda e: e["key_prefixes"]), Column("Last seen", 21, lambda e: e["last_seen"]),
    Column("Evidence id", 16, lambda e: e["id"]),
)
STATEMENT_COLUMNS = (
    Column("Bucket", 28, lambda s: s[0].bucket), Column("Sid", 40, lambda s: s[0].sid),
    Column("Status", 16, lambda s: s[1]),
    Column("Principal", 50, lambda s: s[0].principal), Column("Access", 14, lambda s: s[0].access),
    Column("Actions", 30, lambda s: s[0].document.get("Action")),
    Column("Resources", 50, lambda s: s[0].document.get("Resource")),
    Column("Requests", 10, lambda s: s[0].requests), Column("Risk", 40, lambda s: s[0].risk),
    Column("Draft file", 30, lambda s: f"policies/{policy_file(s[0].bucket)}"),
)
AFTER = {"denied": "would break", "unknown": "not proven", "allowed": "keeps working"}
REPLAY_COLUMNS = (
    Column("Bucket", 28, lambda r: r.bucket), Column("After ACLs are disabled", 16, lambda r: AFTER[r.after]),
    Column("Principal", 50, lambda r: r.principal), Column("Operation", 18, lambda r: r.event_name),
    Column("Requests", 10, lambda r: r.requests), Column("Why", 90, lambda r: r.why),
    Column("Statement", 40, lambda r: r.statement), Column("Sets an ACL", 10, lambda r: "yes" if r.sets_acl else ""),
    Column("Evidence id", 16, lambda r: r.evidence_id),
)
USED = {True: "yes", False: "no", None: "unknown"}
OBJECT_ACL_COLUMNS = (
    Column("Bucket", 28, lambda r: r.bucket), Column("Grantee", 50, lambda r: r.grantee),
    Column("Grantee type", 14, lambda r: r.grantee_type), Column("Account", 14, lambda r: r.account),
    Column("Permission", 13, lambda r: r.permission), Column("Objects", 10, lambda r: r.objects),
    Column("Public", 8, lambda r: "yes" if r.public else ""),
    Column("Used in the window", 12, lambda r: USED[r.exercised]),
    Column("Sample keys", 50, lambda r: ", ".join(r.sample_keys)), Column("Why", 80, lambda r: r.why),
    Column("Evidence ids", 30, lambda r: ", ".join(r.evidence)),
)
BUCKET_COLUMNS = (
    Column("Bucket", 28, lambda b: b.bucket), Column("Account", 14, lambda b: b.account_id),
    Column("Requests", 10, lambda b: b.requests), Column("SigV2 requests", 12, lambda b: b.sigv2_requests),
    Column("ACL requests", 12, lambda b: b.acl_requests),
    Column("SigV4 ready", 11, lambda b: "yes" if b.sigv4_ready else "no"),
    Column("ACLs ready", 11, lambda b: "yes" if b.acls_ready else "no"),
    Column("SigV2 callers", 40, lambda b: b.sigv2_callers),
    Column("SigV2 deny draft", 30, lambda b: b.sigv4_deny_draft),
    Column("Blockers", 80, lambda b: [f"{x.kind}: {x.detail}" for x in b.blockers]),
    Column("Object Ownership", 22, lambda b: b.object_ownership or "not read (--enrich)"),
    Column("ACL grants", 60, lambda b: b.acl_grants),
    Column("Foreign-owned objects", 12, lambda b: _foreign(b)),
)


def _foreign(bucket: BucketReport) -> int | str:
    """The bucket's objects another account owns: a count, or why there is none."""
    if bucket.inventory is None:
        return "no inventory"
    status = bucket.inventory
    if status.bucket_owner is None:
        return "bucket owner's id unknown"
    if status.foreign_owned_objects is None:  # some ACLs (and so owners) the report could not show
        return f"at least {status.known_foreign}"
    return status.foreign_owned_objects


def _field(name: str) -> Callable[[Any], Any]:
    return lambda row: row[name]


EVIDENCE_HEADERS = {  # plan.json's field -> the Evidence sheet's header
    "id": "Evidence id", "bucket": "Bucket", "event_name": "Operation", "principal": "Principal",
    "principal_type": "Principal type", "account_id": "Account", "user_agent": "User agent",
    "signature_version": "Signature", "auth_method": "Authentication", "acl_required": "aclRequired",
    "acl_header": "ACL header", "requests": "Requests", "errors": "Errors", "first_seen": "First seen",
    "last_seen": "Last seen", "region": "Region", "bucket_account_id": "Bucket owner", "source_ips": "Source IPs",
    "source": "Logged by", "cloudtrail_requests": "CloudTrail requests", "access_log_requests": "Access log requests",
    "error_codes": "Error codes", "last_error": "Last error",
}
EVIDENCE_COLUMNS = tuple(Column(header, 50 if name in ("principal", "user_agent") else 14, _field(name))
                         for name, header in EVIDENCE_HEADERS.items())


def statement_status(policies: Mapping[str, BucketPolicy], stmt: Statement) -> str:
    """new (in the draft), already granted (by the current policy), joined (to fit 20 KB) or not written."""
    policy = policies.get(stmt.bucket)
    if policy is None or policy.merged is None:
        return "not written"
    if stmt.sid in policy.already_granted:
        return "already granted"
    return "new" if stmt.sid in policy.added else "joined"


def _overview(ws: Worksheet, plan: Plan, open_tasks: int) -> None:
    sigv2 = [e for e in plan.evidence if e.is_sigv2]
    rows = [
        ("s3plan migration plan", ""),
        ("Window seen", f"{plan.run.window_seen.since or '?'} to {plan.run.window_seen.until or '?'}"),
        ("Records scanned", plan.run.records),
        ("SigV2 callers (needing work)", len(plan.sigv2_callers)),
        ("SigV2 requests", sum(e.requests for e in sigv2)),
        ("ACL-dependent requesters", len(plan.acl_requesters)),
        ("Buckets seen", len(plan.buckets)),
        ("Buckets ready to deny SigV2", sum(b.sigv4_ready for b in plan.buckets)),
        ("Buckets ready to disable ACLs", sum(b.acls_ready for b in plan.buckets)),
        ("Tasks", len(plan.tasks)),
        ("Open tasks (not Done or Won't do)", open_tasks),
        ("Policy statements drafted", len(plan.statements)),
        ("Files skipped", len(plan.run.skipped)),
    ]
    for key, value in rows:
        ws.append([key, text(value)])
    ws["A1"].font = Font(bold=True, size=14)
    for column, width in (("A", 32), ("B", 24), ("C", 2), ("D", 26), ("E", 14), ("F", 10), ("I", 12)):
        ws.column_dimensions[column].width = width  # the small tables beside the charts show their labels whole
    _overview_charts(ws, plan)
    _typed_cells(ws)


def _daily_chart(ws: Worksheet, plan: Plan) -> None:
    """SigV2 requests per day, from a small table at column I, row 40 on."""
    days: dict[str, int] = {}
    for ev in plan.evidence:
        for day, count in ev.sigv2_days:
            days[day] = days.get(day, 0) + count
    ws["I40"], ws["J40"] = "Day", "SigV2 requests"
    for n, (day, count) in enumerate(sorted(days.items()), start=41):
        ws.cell(row=n, column=9, value=_day(day))
        ws.cell(row=n, column=10, value=count)
    if days:
        line = LineChart()
        line.title, line.y_axis.title = "SigV2 requests per day", "requests"
        line.add_data(Reference(ws, min_col=10, min_row=40, max_row=40 + len(days)), titles_from_data=True)
        line.set_categories(Reference(ws, min_col=9, min_row=41, max_row=40 + len(days)))
        _straight(line)
        ws.add_chart(line, "G38")


def _day(day: str) -> date | str:
    """A day of the evidence ("2026-11-02") as an Excel date; anything else as text."""
    try:
        return date.fromisoformat(day)
    except ValueError:
        return str(text(day))


def _overview_charts(ws: Worksheet, plan: Plan) -> None:
    """SigV2 requests by client family, and bucket readiness for both migrations, from small tables beside."""
    families: dict[str, int] = {}
    for client in plan.clients:
        families[client.family] = families.get(client.family, 0) + client.requests
    ws["D1"], ws["E1"] = "Client family", "SigV2 requests"
    for n, (family, count) in enumerate(sorted(families.items(), key=lambda kv: -kv[1]), start=2):
        ws.cell(row=n, column=4, value=text(family)).data_type = "s"
        ws.cell(row=n, column=5, value=count)
    if families:
        bars = BarChart()
        bars.title = "SigV2 requests by client family"
        bars.add_data(Reference(ws, min_col=5, min_row=1, max_row=len(families) + 1), titles_from_data=True)
        bars.set_categories(Reference(ws, min_col=4, min_row=2, max_row=len(families) + 1))
        ws.add_chart(bars, "G2")
    _daily_chart(ws, plan)
    ws["D20"], ws["E20"], ws["F20"] = "Bucket readiness", "Ready", "Blocked"
    ready_sigv4 = sum(b.sigv4_ready for b in plan.buckets)
    ready_acls = sum(b.acls_ready for b in plan.buckets)
    for n, (label, ready) in enumerate((("Deny SigV2", ready_sigv4), ("Disable ACLs", ready_acls)), start=21):
        ws.cell(row=n, column=4, value=label)
        ws.cell(row=n, column=5, value=ready)
        ws.cell(row=n, column=6, value=len(plan.buckets) - ready)
    readiness = BarChart()
    readiness.type, readiness.grouping, readiness.overlap = "bar", "stacked", 100
    readiness.title = "Bucket readiness"
    readiness.add_data(Reference(ws, min_col=5, max_col=6, min_row=20, max_row=22), titles_from_data=True)
    readiness.set_categories(Reference(ws, min_col=4, min_row=21, max_row=22))
    ws.add_chart(readiness, "G20")


def _run(ws: Worksheet, plan: Plan) -> None:
    run = plan.run
    for key, value in (
        ("Tool version", run.tool_version), ("Generated at", excel_moment(run.generated_at)), ("Sources", run.sources),
        ("Window requested", f"{run.window_requested.since or 'open'} to {run.window_requested.until or 'open'}"),
        ("Window seen", f"{run.window_seen.since or '?'} to {run.window_seen.until or '?'}"),
        ("Records scanned", run.records), ("Files read", run.files_read), ("Files pruned by path", run.files_pruned),
        ("Files skipped", len(run.skipped)), ("Rules", run.rules),
        ("Athena queries", [f"{q.query_id}: {q.bytes_scanned:,} bytes, {q.engine_ms} ms, ~${q.cost_usd}"
                            for q in run.queries] or "none"),
    ):
        ws.append([key, text(value)])
    ws.append([])
    ws.append(["Skipped file", "Reason"])
    for skipped in run.skipped:
        ws.append([text(skipped.path), text(skipped.reason)])
    ws.column_dimensions["A"].width = 60
    ws.column_dimensions["B"].width = 80
    _wrap_column(ws, 2, 80)  # the rule list, skip reasons: long
    _typed_cells(ws)


def _wrap_column(ws: Worksheet, column: int, width: int) -> None:
    """Text in `column` (1-based, that wide) wraps top-aligned, and each row is as tall as its text needs."""
    for (cell,) in ws.iter_rows(min_col=column, max_col=column):
        cell.alignment = WRAP_TOP
        lines = lines_needed(cell.value, width) if isinstance(cell.value, str) else 1
        if lines > 1:
            ws.row_dimensions[cell.row].height = LINE_POINTS * min(lines, MAX_LINES)
            for other in ws[cell.row]:  # the row's label reads beside the top of its text
                if other is not cell:
                    other.alignment = Alignment(vertical="top")


def _typed_cells(ws: Worksheet) -> None:
    """Every string cell of a sheet as text (never a formula, whatever it starts with), every date shown as one."""
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"
            elif isinstance(cell.value, date):  # a datetime too: an s3plan time in these sheets
                cell.number_format = MOMENT_FORMAT if isinstance(cell.value, datetime) else DATE_FORMAT
                cell.alignment = Alignment(horizontal="left", vertical="top", indent=1)  # apart from a count


def build_workbook(plan: Plan, previous: Previous | None = None) -> tuple[Workbook, BulkRows]:
    """All sheets of the tracker, in the order and with the columns of templates/workbook.yaml, and the table
    rows to stream in at save; `previous` carries people's edits over from an earlier run."""
    previous = previous or Previous()
    bulk = BulkRows()
    values = {t.id: {**task_values(t), "Replay": _replay_text(plan, t)} for t in plan.tasks}
    header, rows = tracker_rows(plan, sheet_headers("Tasks"), values, previous)
    trend = trend_rows(plan, rows, previous)
    evidence = [evidence_to_dict(e) for e in plan.evidence]
    builders: dict[str, Callable[[Worksheet], object]] = {
        "Overview": lambda ws: _overview(ws, plan, trend[-1][TREND_HEADER.index("Open tasks")]),
        "Tasks": lambda ws: _tasks(ws, header, rows, bulk),
        "SigV2 clients": lambda ws: write_sheet(ws, columns_for("SigV2 clients", SIGV2_COLUMNS), plan.clients, bulk),
        "ACL dependencies": lambda ws: write_sheet(ws, columns_for("ACL dependencies", ACL_COLUMNS),
                                                   [e for e in evidence if e["acl_required"] or e["acl_header"]], bulk),
        "Policy statements": lambda ws: _statements(ws, plan, bulk),
        "Replay": lambda ws: write_sheet(ws, columns_for("Replay", REPLAY_COLUMNS), _replay_order(plan), bulk),
        "Object ACLs": lambda ws: write_sheet(ws, columns_for("Object ACLs", OBJECT_ACL_COLUMNS), plan.object_acls,
                                              bulk),
        "Buckets": lambda ws: write_sheet(ws, columns_for("Buckets", BUCKET_COLUMNS), plan.buckets, bulk),
        "Evidence": lambda ws: write_sheet(ws, columns_for("Evidence", EVIDENCE_COLUMNS), evidence, bulk),
        "Unrecognised clients": lambda ws: write_sheet(ws, columns_for("Unrecognised clients", SIGV2_COLUMNS),
                                                       [c for c in plan.clients if c.family in INVESTIGATE_FAMILIES],
                                                       bulk),
        "Trend": lambda ws: _trend(ws, trend),
        "Run": lambda ws: _run(ws, plan),
    }
    wb = Workbook()
    for n, name in enumerate(layout()):
        if name not in builders:
            raise InternalError(f"{LAYOUT_FILE}: unknown sheet {name!r}")
        ws = wb.active if n == 0 else wb.create_sheet(name)
        ws.title = name
        builders[name](ws)
    for ws in wb.worksheets:
        print_setup(ws, plan, one_page=ws.title == "Overview", title_row=ws.title not in ("Overview", "Run"))
    return wb, bulk


@cache
def layout() -> dict[str, tuple[tuple[str, int], ...]]:
    """Sheet name -> its (header, width) columns, in order, from templates/workbook.yaml."""
    doc = yaml.safe_load(LAYOUT_FILE.read_text())
    return {sheet["name"]: tuple((c["header"], int(c["width"])) for c in sheet.get("columns", ()))
            for sheet in doc["sheets"]}


def sheet_headers(sheet: str) -> tuple[str, ...]:
    return tuple(h for h, _ in layout()[sheet])


def columns_for(sheet: str, available: Sequence[Column]) -> list[Column]:
    """The layout's columns for a sheet, each bound to the field of that name."""
    fields = {c.header: c.value for c in available}
    missing = [h for h in sheet_headers(sheet) if h not in fields]
    if missing:
        raise InternalError(f"{LAYOUT_FILE}: sheet {sheet!r} has unknown columns {missing}")
    return [Column(h, w, fields[h]) for h, w in layout()[sheet]]


def write_workbook(plan: Plan, path: Path, previous: Previous | None = None) -> None:
    """Write the workbook atomically."""
    workbook, bulk = build_workbook(plan, previous)
    write_with(path, lambda fh: bulk.save(workbook, fh))




def _tasks(ws: Worksheet, header: Sequence[str], rows: Sequence[dict[str, Any]], bulk: BulkRows) -> None:
    """The tracker: our columns, then any people added; Status drop-down; blocked red, done green, overdue amber."""
    widths = dict(layout()["Tasks"])
    columns = [Column(h, widths.get(h, 18), _field(h)) for h in header]
    last = max(write_sheet(ws, columns, [{h: row.get(h) for h in header} for row in rows], bulk) + 1, 2)
    if "Notes" in header:  # it prints its working columns, up to Notes (the layout puts them first)
        ws.print_area = f"A1:{get_column_letter(header.index('Notes') + 1)}{last}"
    status_col = get_column_letter(header.index("Status") + 1)
    due_col = get_column_letter(header.index("Due date") + 1)
    status = DataValidation(type="list", formula1='"' + ",".join(STATUSES) + '"', allow_blank=True)
    ws.add_data_validation(status)
    status.add(f"{status_col}2:{status_col}{last}")
    area = f"A2:{get_column_letter(len(header))}{last}"
    ws.conditional_formatting.add(area, FormulaRule(formula=[f'${status_col}2="Blocked"'], fill=RED))
    ws.conditional_formatting.add(area, FormulaRule(formula=[f'${status_col}2="Done"'], fill=GREEN))
    ws.conditional_formatting.add(area, FormulaRule(
        formula=[f'AND(ISNUMBER(${due_col}2),${due_col}2<TODAY(),${status_col}2<>"Done",${status_col}2<>"Won\'t do")'],
        fill=ORANGE))


def _replay_order(plan: Plan) -> list[ReplayRow]:
    """Broken rows first, then those not proven, then those that keep working; the most requests first."""
    rank = {"denied": 0, "unknown": 1, "allowed": 2}
    return sorted(plan.replay, key=lambda r: (rank[r.after], -r.requests, r.bucket, r.principal))


def _replay_text(plan: Plan, task: Task) -> str | None:
    """On a disable-acls task: how many of the bucket's ACL-dependent requests keep working and would break."""
    if task.kind != "disable-acls" or len(task.buckets) != 1:
        return None
    counts = plan.replay_counts(task.buckets[0])
    return (f"{counts['kept']:,} requests keep working, {counts['broken']:,} would break, "
            f"{counts['unknown']:,} not proven")


def _statements(ws: Worksheet, plan: Plan, bulk: BulkRows) -> None:
    """Drafted statements, each with a link to its bucket's draft (bucket names are checked S3 names)."""
    columns = columns_for("Policy statements", STATEMENT_COLUMNS)
    policies = {p.bucket: p for p in plan.policies}
    write_sheet(ws, columns, [(s, statement_status(policies, s)) for s in plan.statements], bulk)
    headers = [c.header for c in columns]
    _highlight_risks(ws, headers, min(len(plan.statements), MAX_DATA_ROWS) + 1)
    if "Draft file" not in headers:
        return
    col = headers.index("Draft file") + 1
    written = {p.bucket for p in plan.policies if p.merged is not None}
    for n, stmt in enumerate(plan.statements[:MAX_DATA_ROWS], start=2):
        if stmt.bucket in written:
            bulk.link(ws.title, f"{get_column_letter(col)}{n}", f"policies/{policy_file(stmt.bucket)}")


def _highlight_risks(ws: Worksheet, headers: Sequence[str], last: int) -> None:
    """High-risk statements (their risk says so: a public grant) red, any other with a risk amber, so a reviewer
    sees them first."""
    if "Risk" not in headers or last < 2:
        return
    risk = get_column_letter(headers.index("Risk") + 1)
    area = f"A2:{get_column_letter(len(headers))}{last}"
    ws.conditional_formatting.add(area, FormulaRule(formula=[f'ISNUMBER(SEARCH("{HIGH_RISK}",${risk}2))'],
                                                    fill=RED, stopIfTrue=True))
    ws.conditional_formatting.add(area, FormulaRule(formula=[f'LEN(${risk}2)>0'], fill=ORANGE))


def _trend(ws: Worksheet, trend: Sequence[Sequence[Any]]) -> None:
    """One row per run, and a burn-down chart of open tasks and callers."""
    ws.append(list(TREND_HEADER))
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for row in trend:
        ws.append([text(excel_moment(v) if h == "Run" else v) for h, v in zip(TREND_HEADER, row, strict=True)])
    _wrap_column(ws, 5, 40)  # the sources read
    _typed_cells(ws)
    for col, width in zip("ABCDEFGHI", (25, 26, 16, 16, 40, 14, 24, 12, 40), strict=True):
        ws.column_dimensions[col].width = width
    chart = LineChart()
    chart.title, chart.y_axis.title, chart.x_axis.title = "Burn-down", "count", "run"
    first = TREND_HEADER.index("SigV2 callers") + 1
    chart.add_data(Reference(ws, min_col=first, max_col=first + 2, min_row=1, max_row=ws.max_row),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=ws.max_row))
    _straight(chart)
    if len(trend) < 2:  # a burn-down needs two points: say so instead of showing an empty chart
        chart.title = "Burn-down: needs a second run (plan again into the same --out)"
    ws.add_chart(chart, "K2")


def _straight(chart: LineChart) -> None:
    """Straight segments between the points: a smoothed line draws traffic that never happened."""
    chart.smooth = False
    for series in chart.series:
        series.smooth = False

"""The workbook, read back with openpyxl: sheets, tracker columns, and log strings kept as inert text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openpyxl import load_workbook

from planner.config import make_config
from planner.model import Evidence, SkippedFile
from planner.outputs.workbook import text, write_workbook
from planner.outputs.xml_text import MAX_CELL, TRUNCATION_MARK
from planner.pipeline import make_plan, scan
from tests.conftest import mixed_tree
from tests.golden_run import FIXED_CLOCK

SHEETS = ["Overview", "Tasks", "SigV2 clients", "ACL dependencies", "Policy statements", "Replay", "Object ACLs", "Buckets", "Evidence",
          "Unrecognised clients", "Trend", "Run"]


def _plan(tmp_path: Path):
    mixed_tree(tmp_path / "tree")
    config = make_config(cloudtrail=[str(tmp_path / "tree")], out=str(tmp_path / "out"))
    config = dataclasses.replace(config, generated_at=FIXED_CLOCK)
    return make_plan(config, scan(config))


def _book(tmp_path: Path):
    """The sample plan, and its workbook written and read back."""
    plan = _plan(tmp_path)
    path = tmp_path / "plan.xlsx"
    write_workbook(plan, path)
    return plan, load_workbook(path)


def _evil(plan, agent: str):
    first = plan.evidence[0]
    evil: Evidence = dataclasses.replace(first, user_agent=agent, principal=agent)
    return dataclasses.replace(plan, evidence=(evil, *plan.evidence[1:]))


def test_sheets_and_tracker_columns(tmp_path: Path) -> None:
    plan, wb = _book(tmp_path)
    assert wb.sheetnames == SHEETS
    tasks = wb["Tasks"]
    header = [c.value for c in tasks[1]]
    assert header[:10] == ["Task id", "Kind", "Title", "Owner", "Wave", "Status", "Due date", "Action", "Buckets",
                           "Notes"]
    ids = [row[0].value for row in tasks.iter_rows(min_row=2)]
    assert ids == [t.id for t in plan.tasks]
    assert tasks.freeze_panes == "A2"
    assert tasks.auto_filter.ref.startswith("A1:")
    validations = tasks.data_validations.dataValidation
    assert validations and "Won't do" in validations[0].formula1
    buckets = {r[0].value: r[5].value for r in wb["Buckets"].iter_rows(min_row=2)}
    assert buckets == {b.bucket: ("yes" if b.sigv4_ready else "no") for b in plan.buckets}


def test_formula_like_log_strings_are_stored_as_text(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    agents = ['=HYPERLINK("http://x.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)"]
    bad_xml = "Boto3/1.4.4 \uffff\ufffe"
    for n, agent in enumerate(agents):
        path = tmp_path / f"evil{n}.xlsx"
        write_workbook(_evil(plan, agent), path)
        sheet = load_workbook(path)["Evidence"]
        header = [c.value for c in sheet[1]]
        cells = [row[header.index("User agent")] for row in sheet.iter_rows(min_row=2)]
        evil = [c for c in cells if c.value == agent]
        assert evil, agent
        assert all(c.data_type == "s" for c in evil), agent
    path = tmp_path / "bad-xml.xlsx"
    write_workbook(_evil(plan, bad_xml), path)
    assert load_workbook(path)["Evidence"].max_row > 1


def test_overview_strings_are_text(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    run = dataclasses.replace(plan.run, window_seen=dataclasses.replace(plan.run.window_seen, since="=1+1"))
    path = tmp_path / "overview.xlsx"
    write_workbook(dataclasses.replace(plan, run=run), path)
    cells = [c for row in load_workbook(path)["Overview"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(c.value.startswith("=1+1") for c in cells)
    assert all(c.data_type == "s" for c in cells)


def test_control_characters_and_huge_strings_are_made_safe() -> None:
    assert text("a\x00b\x1bc") == "a\ufffdb\ufffdc"
    long = text("x" * 40_000)
    assert len(long) == MAX_CELL and long.endswith(TRUNCATION_MARK)
    assert text(None) is None and text(3) == 3 and text(["a", "b"]) == "a, b"


def test_run_sheet_lists_skipped_files(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    run = dataclasses.replace(plan.run, skipped=(SkippedFile("/logs/=bad.json.gz", "=not gzip"),))
    path = tmp_path / "run.xlsx"
    write_workbook(dataclasses.replace(plan, run=run), path)
    rows = [list(r) for r in load_workbook(path)["Run"].iter_rows()]
    match = [r for r in rows if [c.value for c in r] == ["/logs/=bad.json.gz", "=not gzip"]]
    assert match and all(c.data_type == "s" for c in match[0])


def test_rows_past_the_sheet_limit_go_on_in_a_continuation_sheet(tmp_path: Path, monkeypatch) -> None:
    from planner.outputs import workbook
    monkeypatch.setattr(workbook, "MAX_DATA_ROWS", 3)
    plan = _plan(tmp_path)
    path = tmp_path / "spill.xlsx"
    write_workbook(plan, path)
    book = load_workbook(path)
    assert "Evidence (2)" in book.sheetnames and book.sheetnames.index("Evidence (2)") == book.sheetnames.index(
        "Evidence") + 1
    first = list(book["Evidence"].iter_rows(values_only=True))
    rest = [r for name in book.sheetnames if name.startswith("Evidence (") for r in
            list(book[name].iter_rows(values_only=True))[1:]]
    assert len(first) == 4 and len(first) - 1 + len(rest) == len(plan.evidence)
    assert next(book["Evidence (2)"].iter_rows(values_only=True)) == first[0]


def test_the_replay_sheet_puts_what_breaks_first_and_disable_tasks_count_it(tmp_path: Path) -> None:
    plan, wb = _book(tmp_path)
    sheet = [[c.value for c in row] for row in wb["Replay"].iter_rows()]
    assert sheet[0][:2] == ["Bucket", "After ACLs are disabled"] and len(sheet) == len(plan.replay) + 1
    order = [row[1] for row in sheet[1:]]
    rank = {"would break": 0, "not proven": 1, "keeps working": 2}
    assert order == sorted(order, key=rank.__getitem__) and "would break" in order
    tasks = wb["Tasks"]
    header = [c.value for c in tasks[1]]
    disable = [row for row in tasks.iter_rows(min_row=2, values_only=True) if row[1] == "disable-acls"]
    assert disable
    for row in disable:
        bucket = row[header.index("Buckets")]
        counts = plan.replay_counts(bucket)
        assert row[header.index("Replay")] == (f"{counts['kept']:,} requests keep working, {counts['broken']:,} "
                                               f"would break, {counts['unknown']:,} not proven")


def test_every_sheet_prints_landscape_one_page_wide_with_its_header(tmp_path: Path) -> None:
    plan, wb = _book(tmp_path)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1, ws.title
        assert "&A" in ws.oddHeader.center.text and "Page &P of &N" in ws.oddFooter.center.text
    assert wb["Overview"].page_setup.fitToHeight == 1
    assert wb["Tasks"].page_setup.fitToHeight == 0 and wb["Tasks"].print_title_rows == "$1:$1"
    header = [c.value for c in wb["Tasks"][1]]
    notes = header.index("Notes") + 1
    assert wb["Tasks"].print_area.endswith(f"$A$1:${chr(64 + notes)}${len(plan.tasks) + 1}")


def test_long_text_wraps_and_its_row_grows(tmp_path: Path) -> None:
    _, wb = _book(tmp_path)
    ws = wb["Tasks"]
    header = [c.value for c in ws[1]]
    action = header.index("Action")
    width = ws.column_dimensions[chr(65 + action)].width
    for row in ws.iter_rows(min_row=2):
        cell = row[action]
        assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
        if cell.value and len(cell.value) > 2 * width:
            assert ws.row_dimensions[cell.row].height and ws.row_dimensions[cell.row].height >= 30
    assert row[0].alignment.vertical == "top" and not row[0].alignment.wrap_text


def test_columns_are_as_wide_as_their_content_at_most_the_layouts() -> None:
    from planner.outputs.workbook import Column, fitted

    columns = [Column("Id", 30, lambda r: r), Column("Owner", 24, lambda r: r), Column("Title", 20, lambda r: r)]
    found = fitted(columns, [["E-1", None, "a" * 50], ["E-22", None, "b"]])
    assert [c.width for c in found] == [6, 24, 20]  # content + 2; an empty column keeps its room; the cap


def test_a_number_or_date_is_never_cut_below_what_it_shows() -> None:
    import datetime

    from planner.outputs.workbook import Column, fitted

    columns = [Column("Seen", 10, lambda r: r), Column("Count", 4, lambda r: r), Column("User agents", 20, lambda r: r)]
    found = fitted(columns, [[datetime.datetime(2026, 11, 2, 10, 0), 123_456_789_012, ("a" * 40, "b" * 40)]])
    assert [c.width for c in found] == [28, 15, 20]  # "2026-11-02 10:00:00 UTC" + 5, 12 digits + 3: never ###


def test_text_that_does_not_wrap_grows_to_show_whole() -> None:
    from planner.outputs.workbook import Column, fitted

    columns = [Column("Sid", 40, lambda r: r), Column("Draft file", 30, lambda r: r), Column("Title", 20, lambda r: r)]
    found = fitted(columns, [["S" * 48, "p" * 90, "t" * 90]])
    assert [c.width for c in found] == [50, 60, 20]  # whole up to 60; Title wraps within its layout width


def test_times_are_excel_dates_in_utc_and_counts_are_numbers(tmp_path: Path) -> None:
    import datetime

    plan, wb = _book(tmp_path)
    moment = 'yyyy-mm-dd hh:mm:ss "UTC"'
    for sheet, header in (("Tasks", "First seen"), ("Tasks", "Last seen"), ("SigV2 clients", "Last seen"),
                          ("ACL dependencies", "Last seen"), ("Evidence", "First seen"), ("Evidence", "Last seen")):
        ws = wb[sheet]
        col = [c.value for c in ws[1]].index(header)
        cells = [row[col] for row in ws.iter_rows(min_row=2) if row[col].value is not None]
        assert cells, (sheet, header)
        assert all(isinstance(c.value, datetime.datetime) and c.number_format == moment for c in cells), (sheet, header)
    first = min(e.first_seen for e in plan.evidence if e.first_seen)
    evidence = wb["Evidence"]
    col = [c.value for c in evidence[1]].index("First seen")
    assert min(r[col].value for r in evidence.iter_rows(min_row=2)) == datetime.datetime.fromisoformat(first[:19])
    requests = [c.value for c in evidence[1]].index("Requests")
    assert all(type(r[requests].value) is int for r in evidence.iter_rows(min_row=2))
    run = {r[0].value: r[1] for r in wb["Run"].iter_rows() if r[0].value}
    assert run["Generated at"].value == datetime.datetime(2026, 11, 23) and run["Generated at"].number_format == moment
    assert type(run["Records scanned"].value) is int
    trend = wb["Trend"]
    assert trend["A2"].value == datetime.datetime(2026, 11, 23) and trend["A2"].number_format == moment
    assert type(trend["F2"].value) is int  # SigV2 callers
    days = [r for r in wb["Overview"].iter_rows(min_row=41, min_col=9, max_col=10) if r[0].value is not None]
    assert days and all(isinstance(d.value, datetime.datetime) and d.number_format == "yyyy-mm-dd" for d, _ in days)
    assert all(type(n.value) is int for _, n in days)


def test_a_time_that_is_not_iso_stays_as_written() -> None:
    import datetime

    from planner.outputs.workbook import excel_moment

    assert excel_moment("2026-11-02T10:00:00Z") == datetime.datetime(2026, 11, 2, 10, 0)
    assert excel_moment("2026-11-02T12:00:00+02:00") == datetime.datetime(2026, 11, 2, 10, 0)
    assert excel_moment("2026-13-02T10:00:00Z") == "2026-13-02T10:00:00Z"
    for odd in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "1899-12-29T00:00:00Z"):
        assert excel_moment(odd) == odd  # out of Excel's range, or of Python's once moved to UTC: kept as text
    read_back = excel_moment(datetime.datetime(2026, 11, 2))  # from an earlier workbook: still s3plan's UTC time
    assert type(read_back).__name__ == "UtcMoment" and read_back == datetime.datetime(2026, 11, 2)
    assert excel_moment("=HYPERLINK(1)") == "=HYPERLINK(1)" and excel_moment(None) is None and excel_moment(7) == 7


def test_work_streams_are_named_by_their_migration_and_main_bucket(tmp_path: Path) -> None:
    plan, wb = _book(tmp_path)
    ws = wb["Tasks"]
    header = [c.value for c in ws[1]]
    shown = {r[0].value: r[header.index("Work stream")].value for r in ws.iter_rows(min_row=2)}
    for task in plan.tasks:
        assert task.stream_name and shown[task.id] == f"{task.stream}: {task.stream_name}"
    kinds = {t.stream_name.split(":")[0] for t in plan.tasks if t.kind == "enforce-sigv4"}
    assert kinds == {"SigV4"}
    assert {t.stream_name.split(":")[0] for t in plan.tasks if t.kind == "disable-acls"} == {"ACLs"}


def test_high_risk_statements_are_red_and_other_risks_amber(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert any("high risk" in " ".join(s.risk) for s in plan.statements)
    path = tmp_path / "plan.xlsx"
    write_workbook(plan, path)
    ws = load_workbook(path)["Policy statements"]
    header = [c.value for c in ws[1]]
    risk = chr(65 + header.index("Risk"))
    rules = [(str(r.sqref), rule.formula[0], rule.dxf.fill.bgColor.rgb)
             for r in ws.conditional_formatting for rule in r.rules]
    assert rules == [(f"A2:{chr(64 + len(header))}{len(plan.statements) + 1}", f'ISNUMBER(SEARCH("high risk",${risk}2))',
                      "00FFC7CE"),
                     (f"A2:{chr(64 + len(header))}{len(plan.statements) + 1}", f"LEN(${risk}2)>0", "00FFEB9C")]


def test_the_run_and_trend_sheets_wrap_long_text_and_show_counts_with_separators(tmp_path: Path) -> None:
    _, wb = _book(tmp_path)
    run = {r[0].value: r for r in wb["Run"].iter_rows() if r[0].value}
    rules = run["Rules"]
    assert rules[1].alignment.wrap_text and rules[0].alignment.vertical == "top"
    assert wb["Run"].row_dimensions[rules[1].row].height >= 30  # the rule list takes several lines
    assert run["Records scanned"][1].number_format == "#,##0"
    trend = wb["Trend"]
    assert trend["A1"].font.bold and trend["E2"].alignment.wrap_text

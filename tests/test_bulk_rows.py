"""Rows streamed into the saved workbook: read back by openpyxl exactly as written, strings always text, dates
as dates, links and the sheet's own parts (header, filter, validations) kept."""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from planner.outputs.bulk_rows import BulkRows, sheet_paths
from planner.outputs.workbook import text
from tests.test_workbook import _plan


def saved(rows: list[list[object]], title: str = "Data") -> Workbook:
    book = Workbook()
    book.active.title = title
    book.active.append(["a", "b", "c"])
    bulk = BulkRows()
    bulk.add(title, rows)
    out = io.BytesIO()
    bulk.save(book, out)
    return load_workbook(io.BytesIO(out.getvalue()))


def test_values_read_back_with_their_types() -> None:
    rows: list[list[object]] = [
        ["<tag> & \"quoted\" 'x'", 42, 2.5], [True, None, "  padded  "], ["=1+1", "", datetime.date(2026, 11, 30)],
        ["line\nbreak\r\nend", -7, datetime.datetime(2026, 11, 30, 12, 30)],
    ]
    sheet = saved(rows)["Data"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("a", "b", "c")
    assert values[1] == ("<tag> & \"quoted\" 'x'", 42, 2.5)
    assert values[2] == (True, None, "  padded  ")
    assert values[3] == ("=1+1", None, datetime.datetime(2026, 11, 30))
    assert values[4] == ("line\nbreak\r\nend", -7, datetime.datetime(2026, 11, 30, 12, 30))
    assert sheet["A4"].data_type == "s"  # a formula-like string stays text
    assert sheet.max_row == 5 and sheet.dimensions == "A1:C5"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.text(max_size=30), st.integers(-10**15, 10**15),
                                   st.booleans(), st.lists(st.text(max_size=5), max_size=3),
                                   st.just("x" * 40_000)), min_size=3, max_size=3), max_size=20))
def test_any_value_reads_back_as_made_safe(rows: list[list[object]]) -> None:
    """Rows go to BulkRows raw (control characters, lists, long strings included): each cell reads back as
    cell_text made it, whoever called."""
    safe = [[text(v) for v in row] for row in rows]
    back = list(saved(rows)["Data"].iter_rows(min_row=2, values_only=True))
    expected = [tuple(None if v == "" else v for v in row) for row in safe]
    while expected and expected[-1] == (None, None, None):  # trailing empty rows have no cells to read back
        expected.pop()
    assert back[:len(expected)] == expected


def test_sheet_paths_follow_the_workbook_relationships() -> None:
    book = Workbook()
    book.active.title = "First"
    book.create_sheet("Second & <more>")
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        assert sheet_paths(archive) == {"First": "xl/worksheets/sheet1.xml",
                                        "Second & <more>": "xl/worksheets/sheet2.xml"}


def test_the_workbook_keeps_links_filters_and_validations(tmp_path: Path) -> None:
    from planner.outputs.workbook import write_workbook
    plan = _plan(tmp_path)
    path = tmp_path / "plan.xlsx"
    write_workbook(plan, path)
    book = load_workbook(path)
    statements = book["Policy statements"]
    links = {c.coordinate: c.hyperlink.target for row in statements.iter_rows(min_row=2) for c in row if c.hyperlink}
    assert links and all(t.startswith("policies/") and t.endswith(".json") for t in links.values())
    assert {statements[ref].value for ref in links} == set(links.values())
    tasks = book["Tasks"]
    assert tasks.auto_filter.ref == f"A1:{tasks.cell(1, tasks.max_column).column_letter}{len(plan.tasks) + 1}"
    assert [r.max_row for r in tasks.data_validations.dataValidation[0].sqref.ranges] == [len(plan.tasks) + 1]
    assert [c.font.bold for c in tasks[1]] == [True] * tasks.max_column


def test_only_times_s3plan_recorded_say_utc() -> None:
    from planner.outputs.bulk_rows import DATE_FORMAT, DATETIME_FORMAT, MOMENT_FORMAT, TIME_FORMAT, UtcMoment

    rows: list[list[object]] = [[UtcMoment(2026, 11, 2, 10, 0), datetime.datetime(2026, 12, 24),
                                 datetime.datetime(2026, 12, 24, 9, 30), datetime.time(9, 30)]]
    sheet = saved(rows)["Data"]
    assert [c.number_format for c in sheet[2]] == [MOMENT_FORMAT, DATE_FORMAT, DATETIME_FORMAT, TIME_FORMAT]
    assert sheet["A2"].value == datetime.datetime(2026, 11, 2, 10, 0)

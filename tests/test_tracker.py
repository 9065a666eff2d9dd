"""Re-runs keep people's work: edits carried over by task id, vanished tasks kept and marked, a trend per run."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from planner.cli import main
from planner.samples import write_sample_logs
from tests.conftest import log_path, mixed_tree, s3_record, write_log


def _plan(tree: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tree), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output


def _rows(path: Path, sheet: str = "Tasks") -> tuple[list[str], dict[str, dict[str, object]]]:
    ws = load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return header, {str(r[0]): dict(zip(header, r, strict=False)) for r in rows[1:] if r[0]}


def _edit(path: Path, edits: dict[str, dict[str, object]], extra_column: str | None = None) -> None:
    book = load_workbook(path)
    ws = book["Tasks"]
    header = [c.value for c in ws[1]]
    if extra_column:
        ws.cell(row=1, column=len(header) + 1, value=extra_column)
        header.append(extra_column)
    for row in ws.iter_rows(min_row=2):
        for column, value in edits.get(str(row[0].value), {}).items():
            ws.cell(row=row[0].row, column=header.index(column) + 1, value=value)
    book.save(path)


def test_edits_survive_and_vanished_tasks_are_marked(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    _plan(tmp_path / "tree", out)
    _, first = _rows(out / "migration-plan.xlsx")
    upgrade = next(t for t, r in first.items() if r["Kind"] == "upgrade-sdk")
    configure = next(t for t, r in first.items() if r["Kind"] == "configure-sdk")
    _edit(out / "migration-plan.xlsx", {
        upgrade: {"Owner": "team-x", "Status": "In progress", "Notes": "ticket OPS-1", "Jira": "OPS-1",
                  "Due date": datetime.date(2026, 12, 1)},
        configure: {"Status": "Blocked"}}, extra_column="Jira")
    # The second week: the boto3 caller is gone, a new unknown SigV2 client appears.
    shutil.rmtree(tmp_path / "tree")
    write_log(log_path(tmp_path / "tree", "111122223333", "us-east-1", "2026-11-09"), [
        s3_record(sigv="SigV2", request_id="N1", ua="[my-uploader/0.3]", time="2026-11-09T10:00:00Z"),
        s3_record(sigv="SigV2", request_id="N2", time="2026-11-09T10:00:00Z",
                  identity={"type": "IAMUser", "principalId": "AIDAY", "arn": "arn:aws:iam::999988887777:user/p",
                            "accountId": "999988887777", "userName": "p"})])
    _plan(tmp_path / "tree", out)
    header, second = _rows(out / "migration-plan.xlsx")
    assert header[-1] == "Jira"
    assert second[upgrade]["Owner"] == "team-x" and second[upgrade]["Status"] == "In progress"
    assert second[upgrade]["Notes"] == "ticket OPS-1" and second[upgrade]["Jira"] == "OPS-1"
    assert second[upgrade]["Due date"] == datetime.datetime(2026, 12, 1)
    assert str(second[upgrade]["Observed state"]).startswith("no longer observed since ")
    assert second[configure]["Status"] == "Blocked"
    assert any(r["Observed state"] == "new" for r in second.values())
    assert len(list(out.glob("migration-plan.*.xlsx"))) == 1
    trend = list(load_workbook(out / "migration-plan.xlsx")["Trend"].iter_rows(values_only=True))
    assert len(trend) == 3 and trend[0][0] == "Run"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.lists(st.booleans(), min_size=4, max_size=4),
       edits=st.lists(st.tuples(st.sampled_from(["Owner", "Status", "Due date", "Notes"]),
                                st.text(alphabet="abc XYZ=+-@()", min_size=1, max_size=8).map(str.strip).filter(bool)),
                      min_size=1, max_size=6))
def test_no_edit_is_lost_and_every_task_survives_or_is_marked(tmp_path_factory: pytest.TempPathFactory,
                                                              keep: list[bool], edits: list[tuple[str, str]]) -> None:
    base = tmp_path_factory.mktemp("rerun")
    records = [s3_record(sigv="SigV2", request_id=f"R{n}", ua=ua) for n, ua in enumerate(
        ["[Boto3/1.4.4 Botocore/1.5.12]", "[aws-sdk-java/1.11.100 Linux]", "[my-tool/1]", "[s3cmd/1.4.0]"])]
    write_log(log_path(base / "a", "111122223333", "us-east-1", "2026-11-02"), records)
    out = base / "out"
    _plan(base / "a", out)
    _, first = _rows(out / "migration-plan.xlsx")
    ids = sorted(first)
    wanted: dict[str, dict[str, object]] = {}
    for n, (column, value) in enumerate(edits):
        wanted.setdefault(ids[n % len(ids)], {})[column] = value
    _edit(out / "migration-plan.xlsx", wanted)
    kept = [r for r, k in zip(records, keep, strict=True) if k] or [s3_record(request_id="Q")]
    write_log(log_path(base / "b", "111122223333", "us-east-1", "2026-11-03"), kept)
    _plan(base / "b", out)
    _, second = _rows(out / "migration-plan.xlsx")
    for task_id in ids:
        assert task_id in second
    for task_id, columns in wanted.items():
        for column, value in columns.items():
            assert str(second[task_id][column]) == value, (task_id, column)


def test_graphml_is_written(tmp_path: Path) -> None:
    import networkx as nx
    mixed_tree(tmp_path / "tree")
    _plan(tmp_path / "tree", tmp_path / "out")
    graph = nx.read_graphml(tmp_path / "out" / "plan.graphml")
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert set(graph.nodes) == {t["id"] for t in plan["tasks"]}
    assert {(d, t["id"]) for t in plan["tasks"] for d in t["depends_on"]} == set(graph.edges)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed here")
def test_the_workbook_opens_in_libreoffice(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    _plan(tmp_path / "tree", tmp_path / "out")
    subprocess.run(["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path / "csv"),
                    str(tmp_path / "out" / "migration-plan.xlsx")], check=True, capture_output=True, timeout=180)
    text = (tmp_path / "csv" / "migration-plan.csv").read_text()
    assert "s3plan migration plan" in text


def test_an_inserted_column_without_a_header_shifts_nothing(tmp_path: Path) -> None:
    """Issue 14, finding 3: an inserted column with an empty header shifted every carried value (Status got the
    wave, Owner the title, Notes were lost); values are carried by header name, and the unnamed column is kept."""
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    _plan(tmp_path / "tree", out)
    _, first = _rows(out / "migration-plan.xlsx")
    task = next(t for t, r in first.items() if r["Kind"] == "upgrade-sdk")
    _edit(out / "migration-plan.xlsx", {task: {"Owner": "team-x", "Status": "Blocked", "Notes": "waits on OPS-7"}})
    book = load_workbook(out / "migration-plan.xlsx")
    ws = book["Tasks"]
    ws.insert_cols(3)  # between Kind and Title, no header
    for row in ws.iter_rows(min_row=2):
        if row[0].value == task:
            ws.cell(row=row[0].row, column=3, value="scratch note")
    book.save(out / "migration-plan.xlsx")
    _plan(tmp_path / "tree", out)
    header, rows = _rows(out / "migration-plan.xlsx")
    carried = rows[task]
    assert (carried["Owner"], carried["Status"], carried["Notes"]) == ("team-x", "Blocked", "waits on OPS-7")
    assert carried["Kind"] == "upgrade-sdk" and str(carried["Wave"]).isdigit()
    unnamed = [h for h in header if h.startswith("(unnamed column")]
    assert unnamed and carried[unnamed[0]] == "scratch note"


def test_a_narrower_rerun_does_not_fake_progress(tmp_path: Path) -> None:
    """Issue 14, finding 10: re-running with fewer regions marked the other regions' tasks "no longer observed"
    and the trend dropped. A task outside the new run's scope is "not in this run's scope", "no longer observed"
    dates from the window's last day, and trend rows of another scope say so."""
    tree = tmp_path / "tree"
    old = "[Boto3/1.4.4 Python/2.7.12 Darwin/16.5.0 Botocore/1.5.12]"
    write_log(log_path(tree, "111122223333", "us-east-1", "2026-11-02"), [
        s3_record(sigv="SigV2", request_id="E1", ua=old, region="us-east-1")])
    other = {"type": "IAMUser", "principalId": "AIDB", "arn": "arn:aws:iam::111122223333:user/bob",
             "accountId": "111122223333"}
    write_log(log_path(tree, "111122223333", "eu-west-1", "2026-11-02"), [
        s3_record(sigv="SigV2", request_id="W1", ua=old, region="eu-west-1", identity=other, bucket="bucket-eu")])
    out = tmp_path / "out"
    _plan(tree, out)
    _, first = _rows(out / "migration-plan.xlsx")
    _plan(tree, out, "--regions", "us-east-1")
    _, second = _rows(out / "migration-plan.xlsx")
    eu = [t for t, r in first.items() if "bob" in str(r["Principal"]) or "bucket-eu" in str(r["Buckets"])]
    assert eu and all(str(second[t]["Observed state"]).startswith("not in this run's scope") for t in eu)
    header, trend = _trend(out / "migration-plan.xlsx")
    assert header[:5] == ["Run", "Window", "Regions", "Accounts", "Sources"]
    assert trend[0]["Regions"] == "all" and trend[1]["Regions"] == "us-east-1"
    assert trend[0]["Open tasks"] == trend[1]["Open tasks"]  # nothing was done, and nothing looks done
    assert trend[0]["Same scope as the latest run"].startswith("no") and trend[1]["Same scope as the latest run"] == "yes"
    # the full scope again, without bob's requests: those are no longer observed, dated by the window
    shutil.rmtree(tree / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1")
    write_log(log_path(tree, "111122223333", "eu-west-1", "2026-11-03"), [
        s3_record(request_id="W2", region="eu-west-1", bucket="bucket-eu", time="2026-11-03T10:00:00Z")])
    _plan(tree, out)
    _, third = _rows(out / "migration-plan.xlsx")
    bob = [t for t in eu if "bob" in str(first[t]["Principal"])]
    assert bob and all(third[t]["Observed state"] == "no longer observed since 2026-11-03" for t in bob)


def _trend(path: Path) -> tuple[list[str], list[dict[str, object]]]:
    rows = list(load_workbook(path)["Trend"].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return header, [dict(zip(header, r, strict=False)) for r in rows[1:]]


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice (soffice) and poppler (pdftotext) are not installed here")
def test_the_workbook_prints_overview_on_one_page_and_each_sheet_one_page_wide(tmp_path: Path) -> None:
    write_sample_logs(tmp_path / "tree", records=3000, seed=7)
    _plan(tmp_path / "tree", tmp_path / "out")
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"),
                    str(tmp_path / "out" / "migration-plan.xlsx")], check=True, capture_output=True, timeout=300)
    text = subprocess.run(["pdftotext", str(tmp_path / "pdf" / "migration-plan.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = [page for page in text.split("\f") if page.strip()]
    sheets = [next((line.split(": s3plan, evidence from")[0] for line in page.splitlines()
                    if ": s3plan, evidence from" in line), None) for page in pages]
    assert None not in sheets  # every page says which sheet it is, and the window
    assert sheets.count("Overview") == 1
    assert sheets.count("Tasks") <= 3  # one page wide: the rows go down, never across
    assert len(pages) < 30  # it was 97 to 105 pages before print setup


def test_a_due_date_stays_a_date_and_the_old_stream_column_is_retired(tmp_path: Path) -> None:
    mixed_tree(tmp_path / "tree")
    out = tmp_path / "out"
    _plan(tmp_path / "tree", out)
    _, first = _rows(out / "migration-plan.xlsx")
    task = next(iter(first))
    book = load_workbook(out / "migration-plan.xlsx")
    ws = book["Tasks"]
    header = [c.value for c in ws[1]]
    ws.cell(row=1, column=header.index("Work stream") + 1, value="Stream")  # as s3plan before "Work stream" wrote it
    book.save(out / "migration-plan.xlsx")
    _edit(out / "migration-plan.xlsx", {task: {"Due date": datetime.date(2026, 12, 24),
                                               "Go-live": datetime.datetime(2027, 1, 5, 9, 30)}}, extra_column="Go-live")
    _plan(tmp_path / "tree", out)
    ws = load_workbook(out / "migration-plan.xlsx")["Tasks"]
    header = [c.value for c in ws[1]]
    assert "Stream" not in header and header.count("Work stream") == 1
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == task)
    due, live = row[header.index("Due date")], row[header.index("Go-live")]
    assert due.value == datetime.datetime(2026, 12, 24) and due.number_format == "yyyy-mm-dd"
    assert live.value == datetime.datetime(2027, 1, 5, 9, 30) and live.number_format == "yyyy-mm-dd hh:mm"  # no UTC

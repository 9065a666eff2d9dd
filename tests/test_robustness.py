"""Bad side inputs fail at once with one line, and a run's outputs change together or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import main
from tests.conftest import mixed_tree

SHEETLESS = b"PK\x05\x06" + b"\x00" * 18  # an empty zip: no workbook inside


def _run(tmp_path: Path, *extra: str, out: Path | None = None) -> Any:
    tree = tmp_path / "tree"
    if not tree.exists():
        mixed_tree(tree)
    return CliRunner().invoke(main, ["plan", "--cloudtrail", str(tree), "--out", str(out or tmp_path / "out"),
                                     *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("name", "content", "says"), [
    ("previous.csv", b"Task id,Owner\nSDK-1,me\n", "not a workbook"),
    ("previous.json", b'{"Tasks": []}', "not a workbook"),
    ("previous.xlsx", SHEETLESS, "not a workbook"),
])
def test_a_previous_that_is_not_an_s3plan_workbook_fails_before_the_scan(tmp_path: Path, name: str, content: bytes,
                                                                          says: str) -> None:
    """Issue 14: --previous pointing at a CSV or JSON crashed with InvalidFileException after the scan."""
    bad = tmp_path / name
    bad.write_bytes(content)
    result = _run(tmp_path, "--previous", str(bad))
    assert result.exit_code == 2, result.output
    assert says in result.output and str(bad) in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "plan.json").exists()  # nothing was written


def test_a_truncated_previous_workbook_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    """Issue 14: a previous workbook whose sheet XML is cut short raised ParseError after plan.json and
    plan.graphml were already replaced."""
    import zipfile

    assert _run(tmp_path).exit_code == 0
    out = tmp_path / "out"
    book = out / "migration-plan.xlsx"
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet2.xml" else data)
    damaged.replace(book)
    before = _snapshot(out)
    result = _run(tmp_path)
    assert result.exit_code == 2 and "migration-plan.xlsx" in result.output and "cannot be read" in result.output
    assert _snapshot(out) == before


def test_the_outputs_of_a_run_change_together_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: an error while writing the workbook left plan.json and plan.graphml new and the rest old; an
    unexpected error exits 3 (not 1, which means blockers) with one line saying what to report."""
    from planner import pipeline

    assert _run(tmp_path).exit_code == 0
    out = tmp_path / "out"
    before = _snapshot(out)

    def broken(*_: Any, **__: Any) -> None:
        raise ValueError("something no one expected")

    monkeypatch.setattr(pipeline, "write_workbook", broken)
    result = _run(tmp_path, "--since", "2026-11-02")
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and "something no one expected" in lines[0]
    assert "report" in lines[0] and "--debug" in lines[0]
    assert _snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_the_outputs_of_a_run_appear_with_the_previous_workbook_kept(tmp_path: Path) -> None:
    """Issue 14: outputs are staged and moved into place; the previous workbook is kept as a backup, and two runs
    in the same second keep both backups."""
    for _ in range(3):
        assert _run(tmp_path).exit_code == 0
    out = tmp_path / "out"
    backups = sorted(p.name for p in out.glob("migration-plan.*.xlsx"))
    assert len(backups) == 2 and len(set(backups)) == 2
    assert {"plan.json", "plan.graphml", "migration-plan.xlsx", "policies"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "plan.json").read_text())["tasks"]


@pytest.mark.parametrize("option", ["--owners", "--rules", "--current-policies"])
def test_a_bad_side_input_fails_in_under_a_second_before_the_scan(tmp_path: Path, option: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: an owners file, rule folder or current policy that does not validate must fail before the scan,
    not after it."""
    from planner import pipeline

    if option == "--owners":
        target = tmp_path / "owners.yaml"
        target.write_text("owners:\n  - team: x\n    match: {nope: 1}\n")
    elif option == "--rules":
        target = tmp_path / "rules"
        (target / "clients").mkdir(parents=True)
        (target / "clients" / "bad.yaml").write_text("rules:\n  - {id: BAD-001}\n")
    else:
        target = tmp_path / "current"
        target.mkdir()
        (target / "bucket-a.json").write_text("{not json")
    scanned: list[int] = []
    real = pipeline.scan

    def counting(*args: Any) -> Any:
        scanned.append(1)
        return real(*args)

    monkeypatch.setattr(pipeline, "scan", counting)
    result = _run(tmp_path, option, str(target))
    if option == "--current-policies":  # a bad current policy is that bucket's blocker, the run goes on
        assert result.exit_code == 0 and "bucket-a.json" in result.output
        return
    assert result.exit_code == 2 and not scanned, result.output  # refused before the scan, whatever the clock


def test_an_out_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    """Issue 14: --out that cannot be made or written is named (not a temp file inside it), before the scan."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = _run(tmp_path, out=blocker / "out")
    assert result.exit_code == 2, result.output
    assert f"--out {blocker / 'out'}: cannot write there" in result.output and ".s3plan" not in result.output


def test_an_event_time_with_an_escaped_control_character_is_written_as_text(tmp_path: Path) -> None:
    """Issue 14, finding 2: an eventTime holding an escaped control character (valid JSON) reached the chart
    categories of the Overview and crashed the workbook."""
    from openpyxl import load_workbook

    from tests.conftest import log_path, s3_record, write_log

    record = s3_record(sigv="SigV2", request_id="C1", time="2026-11-0\u00012T10:00:00Z")
    write_log(log_path(tmp_path / "odd", "111122223333", "us-east-1", "2026-11-02"), [record])
    out = tmp_path / "odd-out"
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "odd"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    overview = load_workbook(out / "migration-plan.xlsx")["Overview"]
    assert "2026-11-0\ufffd" in [c.value for c in overview["I"]]
    import xml.etree.ElementTree as ET
    ET.parse(out / "plan.graphml")


def test_athena_result_counts_written_as_decimals_are_read(tmp_path: Path) -> None:
    """Issue 14, finding 2: an --athena-results CSV whose counts are written 1.0 crashed with ValueError; 1.0
    requests is 1, and 1.5 is one line naming the file, the column and the row."""
    import csv

    from planner.sources.athena.console_csv import COLUMNS
    from tests.test_athena_csv import _console, _engine_rows

    mixed_tree(tmp_path / "tree")
    rows = _engine_rows(tmp_path / "tree")
    for n, cell in (("ok", lambda v: f"{v}.0"), ("bad", lambda v: f"{v}.5")):
        path = tmp_path / f"{n}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow([cell(row[c]) if c == "requests" else _console(row[c]) for c in COLUMNS])
        result = CliRunner().invoke(main, ["plan", "--athena-results", str(path), "--out", str(tmp_path / n)])
        if n == "ok":
            assert result.exit_code == 0, result.output
            plan = json.loads((tmp_path / n / "plan.json").read_text())
            assert sum(e["requests"] for e in plan["evidence"]) == sum(int(r["requests"]) for r in rows
                                                                       if r["kind"] == "evidence")
        else:
            assert result.exit_code == 2 and f"{path}" in result.output and "requests" in result.output
            assert "row 2" in result.output and "Traceback" not in result.output


def test_a_principal_with_an_escaped_control_character_keeps_plan_graphml_well_formed(tmp_path: Path) -> None:
    """Issue 14, finding 5: plan.graphml became ill-formed XML when a principal carried an escaped control
    character; it is sanitised as the workbook is, and read back here."""
    import networkx as nx

    from tests.conftest import log_path, s3_record, write_log

    odd = {"type": "IAMUser", "principalId": "AIDA", "arn": "arn:aws:iam::111122223333:user/a\u0001b",
           "accountId": "111122223333"}
    write_log(log_path(tmp_path / "odd", "111122223333", "us-east-1", "2026-11-02"),
              [s3_record(sigv="SigV2", identity=odd, request_id="O1", ua="[Boto3/1.4.4 Botocore/1.5.12]")])
    out = tmp_path / "odd-out"
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(tmp_path / "odd"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(out / "plan.graphml")
    assert any("a\ufffdb" in data["title"] for _, data in graph.nodes(data=True))


def test_plan_json_text_is_the_json_modules_even_for_a_lone_surrogate() -> None:
    """plan.json is written by orjson, which refuses a lone surrogate (a log can hold one): the json module
    writes that document instead, with the surrogate as its JSON escape, and both write the same text."""
    import json

    from planner.outputs.plan_json import dumps

    plain = {"b": [1, 2.5, None, True], "a": {"z": "é\u2028", "y": ()}}
    assert dumps(plain) == (json.dumps(plain, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    odd = dumps({"ua": "curl\udc80"})
    assert json.loads(odd) == {"ua": "curl\udc80"} and b"\\udc80" in odd

"""The fixed run behind the golden files: the mixed tree of conftest and an inventory of its two buckets, planned
with a fixed clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from planner.config import make_config
from planner.pipeline import run_plan
from tests.conftest import mixed_tree
from tests.inventory_reports import ALL_USERS, OWNER, PARTNER, WRITER, Obj, Report, write_report

GOLDEN = Path(__file__).parent / "golden"
FIXED_CLOCK = "2026-11-23T00:00:00Z"


UNMAPPED = "c" * 64


def golden_inventory(dest: Path, ids: Path) -> None:
    """bucket-a: the partner's exports (read through the ACL in the tree), a public report (read anonymously) and
    logo, and an old grant to an unknown id no one uses; bucket-b: an object account 222233334444 wrote."""
    me = ("CanonicalUser", OWNER, "FULL_CONTROL")
    write_report(dest, Report("bucket-a", [
        Obj("exports/x.csv", grants=[me, ("CanonicalUser", PARTNER, "READ")]),
        Obj("exports/y.csv", grants=[me, ("CanonicalUser", PARTNER, "READ")]),
        Obj("public/logo.png", grants=[me, ("Group", ALL_USERS, "READ")]),
        Obj("reports/2026/a.csv", grants=[me, ("Group", ALL_USERS, "READ")]),
        Obj("old/report 2019.pdf", grants=[me, ("CanonicalUser", UNMAPPED, "READ")]),
        Obj("gone", status="UNAVAILABLE")]))
    write_report(dest, Report("bucket-b", [Obj("in/w.bin", owner=WRITER, grants=[("CanonicalUser", WRITER,
                                                                                  "FULL_CONTROL"), me]),
                                           Obj("in/mine.bin")], "Parquet"))
    ids.write_text(f'"{OWNER}": "111122223333"\n"{PARTNER}": "999988887777"\n"{WRITER}": "222233334444"\n')


def golden_outputs(tmp: Path) -> dict[str, Any]:
    """plan.json and every policy draft of the fixed run, with machine-specific paths replaced by <tree> and
    <inventory>."""
    tree, out, inventory = tmp / "tree", tmp / "out", tmp / "inventory"
    mixed_tree(tree)
    golden_inventory(inventory, tmp / "ids.yaml")
    config = make_config(cloudtrail=[str(tree)], out=str(out), inventory=[str(inventory)],
                         canonical_ids=str(tmp / "ids.yaml"))
    config = type(config)(**{**config.__dict__, "generated_at": FIXED_CLOCK})
    run_plan(config)
    paths = {str(inventory): "<inventory>", str(tree): "<tree>"}
    outputs: dict[str, Any] = {"plan.json": json.loads(_anonymous((out / "plan.json").read_text(), paths))}
    for path in sorted((out / "policies").glob("*.json")):
        outputs[f"policies/{path.name}"] = json.loads(path.read_text())
    outputs["workbook.json"] = workbook_json(out / "migration-plan.xlsx", paths)
    for path in sorted((out / "policies").glob("*.md")):
        outputs[f"policies/{path.name}"] = _anonymous(path.read_text(), paths)
    return outputs


def _anonymous(text: str, paths: dict[str, str]) -> str:
    for path, name in paths.items():
        text = text.replace(path, name)
    return text


def workbook_json(path: Path, paths: dict[str, str]) -> dict[str, Any]:
    """The workbook read back with openpyxl as plain JSON: per sheet its cell values (with their types where they
    matter: a formula would show as `=...` with type f), frozen pane, filter and validations."""
    book = load_workbook(path)
    sheets: dict[str, Any] = {}
    for ws in book.worksheets:
        rows = [[_cell(c, paths) for c in row] for row in ws.iter_rows()]
        sheets[ws.title] = {"rows": rows, "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
                            "validations": sorted(str(v.sqref) for v in ws.data_validations.dataValidation),
                            "charts": len(ws._charts)}
    return sheets


def _cell(cell: Any, paths: dict[str, str]) -> Any:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, str):
        value = _anonymous(value, paths)
        return value if cell.data_type == "s" else {"formula": value}
    if isinstance(value, (int, float, bool)):
        return value
    return {"date": str(value), "format": cell.number_format} if cell.is_date else str(value)


def write_golden(tmp: Path) -> list[Path]:
    """Rewrite tests/golden/ from the fixed run (review the diff before committing)."""
    written = []
    for name, content in golden_outputs(tmp).items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written

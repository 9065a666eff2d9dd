"""The fixed run behind the golden files: the mixed tree of conftest, planned with a fixed clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from planner.config import make_config
from planner.pipeline import run_plan
from tests.conftest import mixed_tree

GOLDEN = Path(__file__).parent / "golden"
FIXED_CLOCK = "2026-11-23T00:00:00Z"


def golden_outputs(tmp: Path) -> dict[str, Any]:
    """plan.json and every policy draft of the fixed run, with machine-specific paths replaced by <tree>."""
    tree, out = tmp / "tree", tmp / "out"
    mixed_tree(tree)
    config = make_config(cloudtrail=[str(tree)], out=str(out))
    config = type(config)(**{**config.__dict__, "generated_at": FIXED_CLOCK})
    run_plan(config)
    text = (out / "plan.json").read_text().replace(str(tree), "<tree>")
    outputs: dict[str, Any] = {"plan.json": json.loads(text)}
    for path in sorted((out / "policies").glob("*.json")):
        outputs[f"policies/{path.name}"] = json.loads(path.read_text())
    outputs["workbook.json"] = workbook_json(out / "migration-plan.xlsx", str(tree))
    for path in sorted((out / "policies").glob("*.md")):
        outputs[f"policies/{path.name}"] = path.read_text().replace(str(tree), "<tree>")
    return outputs


def workbook_json(path: Path, tree: str) -> dict[str, Any]:
    """The workbook read back with openpyxl as plain JSON: per sheet its cell values (with their types where they
    matter: a formula would show as `=...` with type f), frozen pane, filter and validations."""
    book = load_workbook(path)
    sheets: dict[str, Any] = {}
    for ws in book.worksheets:
        rows = [[_cell(c, tree) for c in row] for row in ws.iter_rows()]
        sheets[ws.title] = {"rows": rows, "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref,
                            "validations": sorted(str(v.sqref) for v in ws.data_validations.dataValidation),
                            "charts": len(ws._charts)}
    return sheets


def _cell(cell: Any, tree: str) -> Any:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, str):
        value = value.replace(tree, "<tree>")
        return value if cell.data_type == "s" else {"formula": value}
    return value if isinstance(value, (int, float, bool)) else str(value)


def write_golden(tmp: Path) -> list[Path]:
    """Rewrite tests/golden/ from the fixed run (review the diff before committing)."""
    written = []
    for name, content in golden_outputs(tmp).items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written

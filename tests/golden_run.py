"""The fixed run behind the golden files: the mixed tree of conftest, planned with a fixed clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    for path in sorted((out / "policies").glob("*.md")):
        outputs[f"policies/{path.name}"] = path.read_text().replace(str(tree), "<tree>")
    return outputs


def write_golden(tmp: Path) -> list[Path]:
    """Rewrite tests/golden/ from the fixed run (review the diff before committing)."""
    written = []
    for name, content in golden_outputs(tmp).items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written

"""plan.json and the policy drafts for a fixed tree equal the golden files (regenerate: `make golden`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.golden_run import GOLDEN, golden_outputs

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "plan.schema.json").read_text())


def test_outputs_equal_golden_files(tmp_path: Path) -> None:
    outputs = golden_outputs(tmp_path)
    expected = {p.relative_to(GOLDEN).as_posix(): json.loads(p.read_text()) for p in sorted(GOLDEN.rglob("*.json"))}
    expected.update({p.relative_to(GOLDEN).as_posix(): p.read_text() for p in sorted(GOLDEN.rglob("*.md"))})
    assert sorted(outputs) == sorted(expected), "run `make golden` and review the diff"
    for name, content in outputs.items():
        assert content == expected[name], f"{name} differs from tests/golden/{name}; run `make golden` and review"


def test_plan_json_follows_its_schema(tmp_path: Path) -> None:
    plan = golden_outputs(tmp_path)["plan.json"]
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(plan)
    assert plan["tasks"] and plan["statements"] and plan["buckets"]


def test_schema_rejects_an_unknown_task_kind(tmp_path: Path) -> None:
    plan = golden_outputs(tmp_path)["plan.json"]
    plan["tasks"][0]["kind"] = "apply-policy"
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(plan))
    assert errors

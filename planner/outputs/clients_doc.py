"""docs/clients.md, generated from the client catalogue so the documentation cannot drift from the rules.

Regenerate with `make docs` (python -m planner.outputs.clients_doc docs/clients.md); a test fails when stale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from planner.classify.loader import Rule, load_rules

HEADER = """# Client catalogue

Generated from `rules/clients/*.yaml` by `make docs`; do not edit by hand. s3plan tries the rules in this
order and the first whose pattern matches the user agent (CloudTrail's `[...]` removed) names the client.
The version is the one the AWS minimum applies to: for wrappers (the S3 console, Hadoop s3a, EMRFS) it is
the wrapped AWS SDK's. A client with no minimum needs no upgrade for SigV4; if it is still seen signing SigV2
it needs the setting. AWS services and the S3 console get no task: they are listed as informational.

| Rule | Family | Client | Recognised by (regex) | Minimum for SigV4 | Setting that turns SigV4 on | Source |
|---|---|---|---|---|---|---|
"""


def render(rules: Sequence[Rule]) -> str:
    """The catalogue as a Markdown table, in rule order."""
    rows = []
    for rule in rules:
        f = rule.fields
        minimum = f.get("minimum_version") or "none"
        if f.get("end_of_life"):
            minimum += " (end of life: replace)"
        if f.get("remedy") == "none":
            minimum = "n/a (AWS-operated)"
        docs = f" ([docs]({f['docs']}))" if f.get("docs") else ""
        cells = [rule.id, f["family"], f["title"] + docs, f"`{_cell(f['match']['regex'])}`", minimum,
                 _cell(f.get("setting", "")), _cell(f["source"])]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append("| SDK-000 | unknown | Anything else | (no rule matched) | n/a | investigate the client | |")
    return HEADER + "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Sequence[str]) -> None:
    """Write docs/clients.md (or the path given)."""
    target = Path(argv[0]) if argv else Path("docs/clients.md")
    target.write_text(render(load_rules("clients")))


if __name__ == "__main__":
    main(sys.argv[1:])

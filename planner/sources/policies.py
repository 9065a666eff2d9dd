"""Current bucket policies from a folder: one `<bucket>.json` each, as a policy document or as
`aws s3api get-bucket-policy` returns it ({"Policy": "<the document as a string>"})."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import UsageError


@dataclass(frozen=True)
class CurrentPolicies:
    """The policies read, and the files that could not be used (bucket -> reason)."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # bucket -> the file its policy was read from


def load_current_policies(folder: Path | None) -> CurrentPolicies:
    """Read every `<bucket>.json` in `folder`; a bad file is an error for its bucket only."""
    if folder is None:
        return CurrentPolicies()
    if not folder.is_dir():
        raise UsageError(f"--current-policies {folder}: no such folder")
    result = CurrentPolicies()
    for path in sorted(folder.glob("*.json")):
        bucket = path.name.removesuffix(".json")
        try:
            result.policies[bucket] = parse_policy(path.read_text())
            result.origins[bucket] = str(path)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            result.errors[bucket] = f"{path}: {err}; fix or remove the file"
    return result


def parse_policy(text: str) -> dict[str, Any]:
    """A bucket policy document, unwrapping get-bucket-policy's {"Policy": "..."}; ValueError when it is not one."""
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and set(doc) == {"Policy"} and isinstance(doc["Policy"], str):
            doc = json.loads(doc["Policy"])
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err.msg} at line {err.lineno})") from None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if not isinstance(statements, (list, dict)):
        raise ValueError("not a bucket policy (no Statement list)")
    items = [statements] if isinstance(statements, dict) else statements
    if not all(isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") for s in items):
        raise ValueError("not a bucket policy (a statement without Effect Allow or Deny)")
    policy: dict[str, Any] = doc
    return policy

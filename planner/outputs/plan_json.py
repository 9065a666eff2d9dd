"""plan.json: the whole plan as a documented public interface (docs/plan-json.md, docs/plan.schema.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson

from planner.atomic import write_bytes
from planner.model import Evidence, Plan, Task, review_file

SCHEMA_VERSION = "1.0"
EVIDENCE_FIELDS = (
    "source", "bucket", "bucket_account_id", "region", "event_name", "principal", "principal_type", "account_id",
    "user_agent", "signature_version", "auth_method", "acl_required", "acl_header", "requests", "errors",
    "first_seen", "last_seen", "source_ips", "session_names", "key_prefixes", "key_prefix_count",
    "versioned_requests", "sigv2_days", "cloudtrail_requests", "access_log_requests", "first_error", "last_error",
    "error_codes", "request_headers", "key_count", "copy_sources", "partition", "prefix_depth",
    "tls_requests", "vpc_endpoint", "source_ip_count",
)


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON values, in a stable order."""
    run = asdict(plan.run)
    run["skipped"] = [asdict(s) for s in plan.run.skipped]
    run["queries"] = [asdict(q) for q in plan.run.queries]
    run["downloads"] = [asdict(d) for d in plan.run.downloads]
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "evidence": [evidence_to_dict(e) for e in plan.evidence],
        "tasks": [task_to_dict(t) for t in plan.tasks],
        "statements": [
            {"bucket": s.bucket, "sid": s.sid, "principal": s.principal, "access": s.access,
             "statement": dict(s.document), "evidence": list(s.evidence), "requests": s.requests,
             "first_seen": s.first_seen, "last_seen": s.last_seen, "risk": list(s.risk), "notes": list(s.notes)}
            for s in plan.statements
        ],
        "buckets": [
            {**_lists({k: v for k, v in asdict(b).items() if k != "blockers"}),
             "blockers": [asdict(x) for x in b.blockers], "replay": plan.replay_counts(b.bucket),
             "foreign_owned_objects": b.inventory.foreign_owned_objects if b.inventory else None}
            for b in plan.buckets
        ],
        "replay": [shallow(r) for r in plan.replay],
        "object_acls": [shallow(r) for r in plan.object_acls],
        "inventory_failures": [{"bucket": b, "manifest": m, "reason": r} for b, m, r in plan.inventory_failures],
        "clients": [shallow(c) for c in plan.clients],
        "policies": [
            {"bucket": p.bucket, "draft": p.draft, "current_from": p.current_from,
             "review": f"policies/{review_file(p.bucket)}", "merged_with_current": p.current is not None,
             "added": list(p.added), "already_granted": list(p.already_granted),
             "renamed": [list(r) for r in p.renamed], "steps": list(p.steps), "size": p.size,
             "doubts": [{"sid": sid, "reason": why} for sid, why in p.doubts]}
            for p in plan.policies
        ],
        "notes": list(plan.notes),
    }


def shallow(row: Any) -> dict[str, Any]:
    """A dataclass of plain values (tuples of them included: JSON arrays) as a dict, without asdict's deep copy:
    10x faster on the tens of thousands of rows a busy plan has."""
    return {name: getattr(row, name) for name in _names(type(row))}


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    found = _NAMES.get(kind)
    if found is None:
        found = _NAMES[kind] = tuple(f.name for f in fields(kind))
    return found


def _lists(row: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()}


def evidence_to_dict(ev: Evidence) -> dict[str, Any]:
    """One evidence row with its stable id."""
    row: dict[str, Any] = {"id": ev.id}
    for name in EVIDENCE_FIELDS:
        row[name] = getattr(ev, name)  # tuples are JSON arrays, and the workbook joins them
    row["sigv2_days"] = dict(ev.sigv2_days)
    return row


def task_to_dict(task: Task) -> dict[str, Any]:
    """One task; SDK tasks carry `client` {family, version, minimum_version, rule}."""
    row = shallow(task)
    row["client"] = None if task.client is None else {
        "family": task.client.family, "version": task.client.version,
        "minimum_version": task.client.minimum_version, "rule": task.client.rule,
    }
    row["owner"] = None if task.owner is None else shallow(task.owner)
    return row


def write_plan_json(plan: Plan, path: Path) -> None:
    """Write plan.json atomically: sorted keys, 2-space indent, UTF-8."""
    write_bytes(path, dumps(plan_to_dict(plan)))


def dumps(document: Any) -> bytes:
    """`document` as sorted, 2-space indented UTF-8 JSON with a final newline. orjson writes the json module's
    text ~10x faster (a small float may lose its exponent, never its value); a string it refuses (a lone
    surrogate from a log) falls back to the json module."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return text.encode("utf-8", "backslashreplace")  # a lone surrogate as its JSON escape, \udc80

"""The safety invariants (policy/check.py) against an oracle of their own: for random evidence every draft passes
them and grants nothing outside the evidence, and any widening of a drafted action, resource, condition or
principal that reaches outside the evidence is refused."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.classify.loader import load_rules
from planner.classify.remedies import classify_acl, needed_actions
from planner.errors import InternalError
from planner.model import Evidence, Statement
from planner.policy.check import as_list, check_statement
from planner.policy.draft import draft_statements
from tests.test_policy import ev

ACL_RULES = load_rules("acl")
OPERATIONS = {r.fields["event"]: r.fields for r in ACL_RULES if "event" in r.fields}
SCOPE = {a: op["scope"] for op in OPERATIONS.values()
         for a in [*op["actions"], *op.get("versioned", ()), *(x for v in op.get("headers", {}).values() for x in v)]}
LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}
BUCKET = "arn:aws:s3:::bucket-a"


@functools.cache
def _iam(pattern: str) -> re.Pattern[str]:
    """An IAM string pattern as a regex: * and ? are wildcards, ${*} ${?} ${$} the characters themselves."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i:i + 4] in ("${*}", "${?}", "${$}"):
            out.append(re.escape(pattern[i + 2]))
            i += 4
            continue
        out.append(".*" if pattern[i] == "*" else "." if pattern[i] == "?" else re.escape(pattern[i]))
        i += 1
    return re.compile("".join(out), re.S)


def _allows(doc: Mapping[str, Any], principal: str, action: str, key: str | None, prefix: str | None) -> bool:
    """What the statement allows, by IAM's rules for the elements s3plan writes (key None: the bucket itself)."""
    named = doc["Principal"]
    if named not in ("*", {"AWS": "*"}):
        names = as_list(next(iter(named.values())))
        account = principal.split(":")[4] if principal.startswith("arn:") else None
        if principal not in names and f"arn:aws:iam::{account}:root" not in names:
            return False
    if not any(_iam(a.lower()).fullmatch(action.lower()) for a in as_list(doc["Action"])):
        return False
    resource = BUCKET if key is None else f"{BUCKET}/{key}"
    if not any(_iam(r).fullmatch(resource) for r in as_list(doc["Resource"])):
        return False
    patterns = (doc.get("Condition") or {}).get("StringLike", {}).get("s3:prefix")
    return patterns is None or (prefix is not None and any(_iam(p).fullmatch(prefix) for p in as_list(patterns)))


def _backed(rows: Sequence[Evidence], principal: str, action: str, key: str | None, prefix: str | None) -> bool:
    """Whether some request in the evidence needed this: the principal's row (or an anonymous one: the public ACL
    it relied on granted everyone, facts §3d AllUsers) whose operation needs the action, on a key it touched (or
    under a prefix it touched; any key when it kept none), listing under that prefix."""
    return any((row.principal_type == "anonymous" or row.principal == principal)
               and action in needed_actions(OPERATIONS[row.event_name], row)
               and _shows(row, action, key, prefix) for row in rows)


def _shows(row: Evidence, action: str, key: str | None, prefix: str | None) -> bool:
    if key is not None:  # a value ending in / with fewer than prefix_depth slashes is a whole key (a folder)
        return not row.key_prefixes or key in row.key_prefixes or any(
            p.endswith("/") and p.count("/") >= row.prefix_depth and key.startswith(p) for p in row.key_prefixes)
    if action not in ("s3:ListBucket", "s3:ListBucketVersions"):
        return True
    unlimited = (row.event_name not in LISTINGS or not row.key_prefixes or "" in row.key_prefixes
                 or row.key_prefix_count > len(row.key_prefixes))
    return unlimited or (prefix is not None and any(prefix.startswith(p) for p in row.key_prefixes))


def _probes(rows: Sequence[Evidence]) -> Iterator[tuple[str, str, str | None, str | None]]:
    """Requests to try: every principal seen and strangers, every action s3plan knows, keys inside, beside and
    outside what was seen, listings with and without a prefix."""
    principals = {"anonymous", "arn:aws:iam::111111111111:role/stranger", "arn:aws:iam::222222222222:role/stranger"}
    principals |= {"anonymous" if r.principal_type == "anonymous" else r.principal for r in rows}
    seen = {p for r in rows for p in r.key_prefixes}
    keys = {"unseen/k", "ab", "a", "x*y/k", "x?y/k", "k"} | {p + "k" for p in seen} | {p + "s/k" for p in seen} | seen
    for principal in sorted(principals):
        for action, scope in sorted(SCOPE.items()):
            if scope == "object":
                for key in sorted(keys):
                    yield principal, action, key, None
            else:
                for prefix in [None, "", *sorted(keys)]:
                    yield principal, action, None, prefix


def _outside(stmt: Statement, rows: Sequence[Evidence]) -> tuple[str, str, str | None, str | None] | None:
    """A request the statement allows that no evidence needed, if any."""
    for probe in _probes(rows):
        if _allows(stmt.document, *probe) and not _backed(rows, *probe):
            return probe
    return None


EVENTS = ["GetObject", "HeadObject", "GetObjectAttributes", "PutObject", "DeleteObject", "ListObjects",
          "ListObjectVersions", "HeadBucket", "ListParts", "GetObjectTagging", "CopyObject"]
row_strategy = st.tuples(
    st.sampled_from(["arn:aws:iam::111111111111:role/r", "arn:aws:iam::222222222222:user/u", "anonymous"]),
    st.sampled_from(EVENTS),
    st.lists(st.sampled_from(["a/", "b/", "c.txt", "x*y/", "", "d/e/", "f/g/h/"]), max_size=3, unique=True),
    st.sampled_from(["none", "all", "some"]), st.booleans(), st.integers(1, 3))


def _rows(spec: list[tuple[str, str, list[str], str, bool, int]]) -> list[Evidence]:
    out = []
    for n, (principal, event, prefixes, versions, tagged, depth) in enumerate(spec):
        anonymous = principal == "anonymous"
        requests = 4
        keys = tuple(sorted(p for p in prefixes if p or event in LISTINGS))
        out.append(ev(principal=principal, principal_type="anonymous" if anonymous else "IAMUser",
                      account_id=None if anonymous else principal.split(":")[4], event_name=event,
                      key_prefixes=keys, key_prefix_count=len(keys), requests=requests,
                      versioned_requests={"none": 0, "all": requests, "some": 1}[versions],
                      request_headers=("x-amz-tagging",) if tagged and event == "PutObject" else (),
                      user_agent=f"agent/{n}", prefix_depth=depth))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(row_strategy, min_size=1, max_size=8))
def test_every_draft_passes_and_grants_nothing_outside_the_evidence(spec: list[Any]) -> None:
    """Checks that cannot agree with themselves: the invariants are computed from the raw evidence and the
    operation data, and an oracle written apart from both confirms every passing draft stays inside the evidence."""
    rows = _rows(spec)
    by_id = {r.id: r for r in rows}
    for stmt in draft_statements(classify_acl(rows, ACL_RULES))[0]:
        check_statement(stmt, by_id, OPERATIONS)
        assert _outside(stmt, rows) is None, stmt.document


def _widenings(stmt: Statement) -> Iterator[tuple[str, Statement]]:
    """Each drafted action, resource, condition value and principal made one step wider."""
    doc = dict(stmt.document)

    def changed(**fields: Any) -> Statement:
        return dataclasses.replace(stmt, document={**doc, **fields})

    actions = as_list(doc["Action"])
    for extra in ("s3:PutObject", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:Get*", "s3:*", "*"):
        if extra not in actions:
            yield f"action +{extra}", changed(Action=[*actions, extra])
    resources = as_list(doc["Resource"])
    for n, resource in enumerate(resources):
        path = resource[len(BUCKET):].lstrip("/")
        wider = {"arn:aws:s3:::*", f"{BUCKET}*", f"{BUCKET}/*", f"{resource}*", f"{resource.rstrip('*/')}*"}
        if "/" in path.rstrip("/*"):
            wider.add(f"{BUCKET}/{path.rstrip('*').rstrip('/').rsplit('/', 1)[0]}/*")
        for widened in sorted(wider - {resource}):
            yield f"resource {resource} -> {widened}", changed(Resource=[*resources[:n], widened, *resources[n + 1:]])
    condition = doc.get("Condition")
    if condition and "StringLike" in condition:
        yield "condition dropped", dataclasses.replace(stmt, document={k: v for k, v in doc.items() if k != "Condition"})
        for value in as_list(condition["StringLike"]["s3:prefix"]):
            for widened in ("*", value.rstrip("*").rstrip("/") + "*", value[:1] + "*"):
                if widened != value:
                    yield f"s3:prefix {value} -> {widened}", changed(Condition={"StringLike": {"s3:prefix": [widened]}})
    principal = doc["Principal"]
    if isinstance(principal, dict) and "AWS" in principal:
        account = as_list(principal["AWS"])[0].split(":")[4]
        for widened in ("*", {"AWS": "*"}, {"AWS": f"arn:aws:iam::{account}:root"}, {"AWS": account}):
            if widened != principal:
                yield f"principal -> {widened}", changed(Principal=widened)


@settings(max_examples=60, deadline=None)
@given(st.lists(row_strategy, min_size=1, max_size=6))
def test_widening_a_draft_past_its_evidence_is_refused(spec: list[Any]) -> None:
    """Checks that cannot agree with themselves (mutation test): every one-step widening of a drafted statement
    that the oracle finds reaching outside the evidence fails the invariants."""
    rows = _rows(spec)
    by_id = {r.id: r for r in rows}
    for stmt in draft_statements(classify_acl(rows, ACL_RULES))[0]:
        for what, wider in _widenings(stmt):
            if _outside(wider, rows) is None:
                continue  # the evidence already backs it (e.g. a row without keys backs every object)
            with pytest.raises(InternalError):
                check_statement(wider, by_id, OPERATIONS)
                pytest.fail(f"{what} passed the checks")


def test_every_widening_of_a_typical_draft_is_refused() -> None:
    """Checks that cannot agree with themselves: on a partner's reads, version reads, listings and one upload,
    every one-step widening is refused, whether or not it reaches a request the oracle can name."""
    rows = [ev(key_prefixes=("exports/",), key_prefix_count=1), ev(key_prefixes=("exports/",), user_agent="v",
                                                                   versioned_requests=3),
            ev(event_name="ListObjects", key_prefixes=("exports/",), user_agent="l"),
            ev(event_name="PutObject", key_prefixes=("in/a.csv",), user_agent="p")]
    by_id = {r.id: r for r in rows}
    statements = draft_statements(classify_acl(rows, ACL_RULES))[0]
    assert len(statements) == 3
    tried = 0
    for stmt in statements:
        check_statement(stmt, by_id, OPERATIONS)
        for what, wider in _widenings(stmt):
            with pytest.raises(InternalError):
                check_statement(wider, by_id, OPERATIONS)
                pytest.fail(f"{what} passed the checks")
            tried += 1
    assert tried > 40


def test_the_check_does_not_use_the_drafters_helpers() -> None:
    """Checks that cannot agree with themselves: check.py imports nothing from draft.py or merge.py."""
    import ast
    from pathlib import Path

    import planner.policy.check as check

    tree = ast.parse(Path(check.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"planner.policy.draft", "planner.policy.merge", "planner.classify.remedies"}

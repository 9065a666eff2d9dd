"""An IAM evaluator for one request against one bucket policy, written apart from the drafter (it imports nothing of
policy/draft.py or policy/merge.py), so the replay can check the drafts instead of agreeing with them.

AWS's order (IAM User Guide, "Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny wins,
then an Allow, else the request is implicitly denied. Every match is three-valued: True, False or None (unknown),
and a condition on a key the evidence cannot supply is None, so a verdict the evidence cannot prove is `unknown`,
never `allowed`.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Tri = bool | None  # None: the evidence cannot say
Verdict = Literal["allowed", "denied", "unknown"]
Tokens = list[tuple[str, bool]]  # pieces of a policy string: (text, whether its * and ? are wildcards)
_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):root$")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Caller:
    """Who made the request. `arn` is the role's ARN for an assumed-role session (its `session_arn` the session's);
    None for an anonymous caller."""

    arn: str | None
    account: str | None
    session_arn: str | None = None
    service: str | None = None  # an AWS service principal, e.g. logging.s3.amazonaws.com
    canonical_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.arn is None and self.service is None and self.canonical_id is None


@dataclass(frozen=True)
class Request:
    """One request as the evidence shows it. `context` holds the condition keys the evidence knows (lower-case
    names, one or more values); `absent` the keys it knows the request did not carry. Any other key is unknown."""

    caller: Caller
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()

    def values(self, key: str) -> tuple[str, ...] | None:
        """The key's values; () when the request is known not to carry it; None when the evidence cannot say."""
        key = key.lower()
        if key in self.context:
            return self.context[key]
        return () if key in self.absent else None


@dataclass(frozen=True)
class Decision:
    """The verdict, why, and the Sid of the statement that decided it (None for an implicit deny or unknown)."""

    verdict: Verdict
    why: str
    sid: str | None = None


def evaluate(policy: Mapping[str, Any], request: Request) -> Decision:
    """Deny wins, then Allow, else implicit deny; an unknown Deny or Allow makes the verdict unknown."""
    return Policy(policy).evaluate(request)


class Policy:
    """A policy read once for many requests: its statements indexed by the principals they name, so a request
    is held only against the statements that could name its caller (in the policy's order), not every one; and
    each decision kept for requests that agree on all the policy reads (caller, action, resource, its keys)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.statements = statements(document)
        self.reads = _keys_read(self.statements)
        self.by_caller = any(s.get("Principal") != "*" for s in self.statements)
        self.seen: dict[tuple[Any, ...], Decision] = {}
        self.sids = [str(s.get("Sid") or f"statement {n + 1}") for n, s in enumerate(self.statements)]
        self.everyone: list[int] = []  # statements that may apply to any caller
        self.named: dict[tuple[str, str], list[int]] = {}
        for n, statement in enumerate(self.statements):
            keys = _principal_keys(statement)
            if keys is None:
                self.everyone.append(n)
            for key in keys or ():
                self.named.setdefault(key, []).append(n)

    def reads_key(self, key: str) -> bool:
        """Whether a decision may depend on the request key (lower-case); True when that cannot be told."""
        return self.reads is None or key in self.reads

    def evaluate(self, request: Request) -> Decision:
        """Deny wins, then Allow, else implicit deny; an unknown Deny or Allow makes the verdict unknown."""
        if self.reads is None:
            return self._evaluate(request)
        key = (request.caller if self.by_caller else None, request.action, request.resource,
               tuple(request.values(k) for k in self.reads))
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = self._evaluate(request)
        return found

    def _evaluate(self, request: Request) -> Decision:
        candidates = set(self.everyone)
        for key in _caller_keys(request.caller):
            candidates.update(self.named.get(key, ()))
        return _decide([(self.sids[n], self.statements[n]) for n in sorted(candidates)], request)


def _keys_read(found: Sequence[Mapping[str, Any]]) -> tuple[str, ...] | None:
    """Every request key the statements read (condition keys and policy variables, lower-cased); None when a
    statement is shaped so that this cannot be told."""
    keys: set[str] = set()
    for statement in found:
        condition = statement.get("Condition", {})
        if not isinstance(condition, Mapping) or not all(isinstance(b, Mapping) for b in condition.values()):
            return None
        keys.update(str(k).lower() for block in condition.values() for k in block)
        keys.update(match.group(1).partition(",")[0].strip().lower()
                    for text in _texts(statement) for match in _VARIABLE.finditer(text))
    return tuple(sorted(keys))


def _texts(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _texts(k)
            yield from _texts(v)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _principal_keys(statement: Mapping[str, Any]) -> frozenset[tuple[str, str]] | None:
    """The callers a statement's Principal can name, as (kind, value) keys; None when it may name anyone (`*`,
    NotPrincipal, no Principal, a canonical id, anything unusual). A superset: the evaluator still decides."""
    if "Principal" not in statement:
        return None
    element = statement["Principal"]
    if element == "*":
        return None
    if not isinstance(element, Mapping):
        return frozenset()  # names no one (_principal is False)
    if "CanonicalUser" in element or not all(isinstance(element.get(k, []), str | list) for k in ("AWS", "Service")):
        return None
    keys: set[tuple[str, str]] = set()
    for value in _strings(element.get("AWS", [])):
        if value == "*":
            return None
        root = _ROOT.match(value)
        if root or _ACCOUNT.match(value):
            keys.add(("account", root.group(2) if root else value))
        else:
            keys.add(("arn", value))
    keys.update(("service", value) for value in _strings(element.get("Service", [])))
    return frozenset(keys)


def _caller_keys(caller: Caller) -> list[tuple[str, str]]:
    keys = [("arn", arn) for arn in (caller.arn, caller.session_arn) if arn]
    if caller.account and not caller.anonymous:
        keys.append(("account", caller.account))
    if caller.service:
        keys.append(("service", caller.service))
    return keys


def _decide(candidates: Iterable[tuple[str, Mapping[str, Any]]], request: Request) -> Decision:
    maybe_deny: list[tuple[str, str]] = []
    maybe_allow: list[tuple[str, str]] = []
    allowed_by: str | None = None
    for sid, statement in candidates:
        applies, reason = _applies(statement, request)
        if statement.get("Effect") == "Deny":
            if applies:
                return Decision("denied", f"refused by Deny {sid}", sid)
            if applies is None:
                maybe_deny.append((sid, reason))
        elif applies and allowed_by is None:
            allowed_by = sid
        elif applies is None:
            maybe_allow.append((sid, reason))
    if maybe_deny:
        sid, reason = maybe_deny[0]
        return Decision("unknown", f"Deny {sid} may apply: {reason}", sid)
    if allowed_by is not None:
        return Decision("allowed", f"allowed by {allowed_by}", allowed_by)
    if maybe_allow:
        sid, reason = maybe_allow[0]
        return Decision("unknown", f"Allow {sid} applies only if {reason}", sid)
    return Decision("denied", "no statement allows it (implicit deny)")


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A policy's statements as a list (a single statement may stand as an object)."""
    found = policy.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def _applies(statement: Mapping[str, Any], request: Request) -> tuple[Tri, str]:
    """Whether the statement covers the request: principal, action, resource and condition all match. The first
    element that does not match decides, so the rest is never looked at."""
    result: Tri = True
    reason = ""
    for value, why in _matches(statement, request):
        if value is False:
            return False, why
        if value is None and result:
            result, reason = None, why
    return result, reason


def _matches(statement: Mapping[str, Any], request: Request) -> Iterator[tuple[Tri, str]]:
    """Each element's match, in turn: principal, action, resource, then the condition."""
    caller, action = request.caller, request.action
    yield _element(statement, "Principal", lambda p: _principal(p, caller)), "its principal"
    yield _element(statement, "Action", lambda a: _any(_action(v, action) for v in _strings(a))), "action"
    yield _element(statement, "Resource", lambda r: _resources(r, request)), "resource"
    if "Condition" in statement:
        yield _conditions(statement["Condition"], request)


def _element(statement: Mapping[str, Any], name: str, match: Callable[[Any], Tri]) -> Tri:
    """`Principal`/`NotPrincipal`, `Action`/`NotAction`, `Resource`/`NotResource`; a statement without either
    form of the element (Principal in an identity policy) places no constraint."""
    if name in statement:
        return match(statement[name])
    if f"Not{name}" in statement:
        return _not(match(statement[f"Not{name}"]))
    return True


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


# ---------------------------------------------------------------- principals


def _principal(element: Any, caller: Caller) -> Tri:
    """The Principal element (IAM User Guide, "AWS JSON policy elements: Principal",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html): `*` is everyone,
    anonymous callers included; a 12-digit account or its `:root` ARN is every principal of that account; a role's
    ARN covers its sessions; a wildcard cannot match part of a principal."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    aws = _strings(element.get("AWS", []))
    if "*" in aws:
        return True
    if any(_aws_principal(v, caller) for v in aws):
        return True
    if caller.service and caller.service in _strings(element.get("Service", [])):
        return True
    return _canonical_principal(_strings(element.get("CanonicalUser", [])), caller)


def _canonical_principal(ids: list[str], caller: Caller) -> Tri:
    """A canonical user id names an account (S3 User Guide, "Finding the canonical user ID for your AWS account"):
    an IAM or assumed-role caller whose account's canonical id the evidence lacks may or may not be it."""
    if not ids:
        return False
    if caller.canonical_id:
        return caller.canonical_id in ids
    return None if caller.account else False


def _aws_principal(value: str, caller: Caller) -> bool:
    if caller.account is None or caller.anonymous:
        return False
    root = _ROOT.match(value)
    if _ACCOUNT.match(value) or root:
        return (root.group(2) if root else value) == caller.account
    return value in (caller.arn, caller.session_arn)


# ---------------------------------------------------------------- actions and resources


def _action(pattern: str, action: str) -> bool:
    """Actions match without regard to case, with `*` and `?` wildcards."""
    return _glob(pattern.lower(), action.lower())


def _resources(element: Any, request: Request) -> Tri:
    """Whether any of the ARN patterns matches: one compiled expression for a list without policy variables."""
    patterns = (element,) if isinstance(element, str) else tuple(map(str, element))
    union = _union(patterns)
    if union is None:
        return _any(_resource(v, request) for v in patterns)
    return union(request.resource)


@functools.lru_cache(maxsize=4_096)
def _union(patterns: tuple[str, ...]) -> Callable[[str], bool] | None:
    """The patterns as one expression; None when a policy variable must be resolved per request."""
    if any("${" in p for p in patterns):
        return None
    expression = re.compile("|".join(f"(?:{_regex(((p, True),))})" for p in patterns), re.S)
    return lambda value: expression.fullmatch(value) is not None


def _resource(pattern: str, request: Request) -> Tri:
    """Resource ARNs match with regard to case; policy variables are resolved from the request."""
    if "${" not in pattern:
        return _matcher(((pattern, True),), False)(request.resource)
    resolved = _resolve(pattern, request)
    return None if resolved is None else _glob_tokens(resolved, request.resource)


def _resolve(text: str, request: Request) -> Tokens | None:
    """`text` as (piece, is_wildcard_text) tokens: `${key}` and `${key, 'default'}` become the request's value,
    literal; `${*}`, `${?}`, `${$}` the literal character (IAM User Guide, "IAM policy elements: Variables and
    tags", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html). None when a
    variable's value is unknown."""
    tokens: Tokens = []
    at = 0
    for match in _VARIABLE.finditer(text):
        tokens.append((text[at:match.start()], True))
        inner = match.group(1).strip()
        if inner in ("*", "?", "$"):
            tokens.append((inner, False))
        else:
            key, _, default = inner.partition(",")
            values = request.values(key.strip())
            if values is None:
                return None
            fallback = default.strip().strip("'") if default else None
            value = values[0] if values else fallback
            if value is None:  # no value and no default: the element matches nothing
                return [("\x00no value", False)]
            tokens.append((value, False))
        at = match.end()
    tokens.append((text[at:], True))
    return tokens


def _glob(pattern: str, value: str) -> bool:
    return _glob_tokens([(pattern, True)], value)


def _glob_tokens(tokens: Sequence[tuple[str, bool]], value: str, ignore_case: bool = False) -> bool:
    return _matcher(tuple(tokens), ignore_case)(value)


@functools.lru_cache(maxsize=65_536)
def _matcher(tokens: tuple[tuple[str, bool], ...], ignore_case: bool) -> Callable[[str], bool]:
    """A test of a value against the pattern: string equality when nothing in it is a wildcard (and case
    counts), else one compiled expression. Cached: a replay asks the same patterns again and again."""
    if not ignore_case and not any(wild and ("*" in piece or "?" in piece) for piece, wild in tokens):
        return "".join(piece for piece, _ in tokens).__eq__
    expression = re.compile(_regex(tokens), re.S | (re.I if ignore_case else 0))
    return lambda value: expression.fullmatch(value) is not None


def _regex(tokens: Sequence[tuple[str, bool]]) -> str:
    """The pattern as a regular expression: `*` any run, `?` one character, in the wildcard pieces only."""
    parts = []
    for piece, wild in tokens:
        if not wild:
            parts.append(re.escape(piece))
            continue
        parts.extend(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in piece)
    return "".join(parts)


# ---------------------------------------------------------------- conditions


def _conditions(block: Mapping[str, Any], request: Request) -> tuple[Tri, str]:
    """Operators AND, keys AND, values OR (NOR for negated operators) (IAM User Guide, "Conditions with multiple
    context keys or values", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html)."""
    result: Tri = True
    reason = ""
    for operator, keys in block.items():
        for key, wanted in keys.items():
            value = _condition(operator, key, _strings(wanted), request)
            if value is False:
                return False, f"its condition {operator} on {key}"
            if value is None and result:
                result, reason = None, f"condition key {key} ({operator}) is not in the evidence"
    return result, reason


def _condition(operator: str, key: str, wanted: list[str], request: Request) -> Tri:
    """One operator on one key (IAM User Guide, "IAM JSON policy elements: Condition operators",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html): a key
    missing from the request makes a positive operator false and a negated one true, except `...IfExists` (true)
    and `Null` (which tests presence)."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = request.values(key)
    if values is None:
        return None
    if base == "Null":
        return (not values) == (wanted[0].lower() == "true")
    test = _OPERATORS.get(base)
    if test is None:
        return None  # an operator this evaluator does not know: never a guess
    negated = base in _NEGATED
    if not values:
        if qualifier == "ForAllValues":
            return True
        return True if if_exists else negated and qualifier != "ForAnyValue"
    one = [_one(test, negated, v, wanted, request) for v in values]
    return _all(one) if qualifier == "ForAllValues" or (negated and not qualifier) else _any(one)


def _one(test: Callable[[Tokens, str], Tri], negated: bool, value: str, wanted: list[str], request: Request) -> Tri:
    """One request value against the policy's values: OR (NOR for a negated operator)."""
    hits = []
    for pattern in wanted:
        tokens = _resolve(pattern, request)
        hits.append(None if tokens is None else test(tokens, value))
    found = _any(hits)
    return _not(found) if negated else found


def _text(tokens: Tokens) -> str:
    return "".join(piece for piece, _ in tokens)


def _equals(tokens: Tokens, value: str) -> Tri:
    return _text(tokens) == value


def _equals_ignore_case(tokens: Tokens, value: str) -> Tri:
    return _text(tokens).lower() == value.lower()


def _like(tokens: Tokens, value: str) -> Tri:
    return _glob_tokens(tokens, value)


def _arn_like(tokens: Tokens, value: str) -> Tri:
    """ArnEquals and ArnLike alike: each of the six colon-separated parts matched on its own, case-sensitive."""
    want, got = _text(tokens).split(":", 5), value.split(":", 5)
    return len(want) == len(got) == 6 and all(_glob(w, g) for w, g in zip(want, got, strict=True))


def _bool(tokens: Tokens, value: str) -> Tri:
    """true or false, without regard to case; anything else on either side is not a boolean: never a guess."""
    want, got = _text(tokens).lower(), value.lower()
    if {want, got} - {"true", "false"}:
        return None
    return want == got


def _ip(tokens: Tokens, value: str) -> Tri:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(_text(tokens), strict=False)
    except ValueError:
        return False


def _ordered(parse: Callable[[str], float], compare: Callable[[float, float], bool]) -> Callable[[Tokens, str], Tri]:
    """A Numeric* or Date* test: both sides parsed as numbers (or moments), then compared."""
    def test(tokens: Tokens, value: str) -> Tri:
        try:
            return compare(parse(value), parse(_text(tokens)))
        except ValueError:
            return False
    return test


def _epoch(text: str) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b, "NotEquals": lambda a, b: a == b, "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b, "GreaterThan": lambda a, b: a > b, "GreaterThanEquals": lambda a, b: a >= b,
}
_OPERATORS: dict[str, Callable[[Tokens, str], Tri]] = {
    "StringEquals": _equals, "StringNotEquals": _equals, "StringEqualsIgnoreCase": _equals_ignore_case,
    "StringNotEqualsIgnoreCase": _equals_ignore_case, "StringLike": _like, "StringNotLike": _like,
    "ArnEquals": _arn_like, "ArnLike": _arn_like, "ArnNotEquals": _arn_like, "ArnNotLike": _arn_like,
    "Bool": _bool, "IpAddress": _ip, "NotIpAddress": _ip,
    **{f"Numeric{name}": _ordered(float, compare) for name, compare in _COMPARE.items()},
    **{f"Date{name}": _ordered(_epoch, compare) for name, compare in _COMPARE.items()},
}
_NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
                      "NotIpAddress", "NumericNotEquals", "DateNotEquals"})


# ---------------------------------------------------------------- three-valued logic


def _any(values: Iterable[Tri]) -> Tri:
    seen_unknown = False
    for value in values:
        if value:
            return True
        seen_unknown = seen_unknown or value is None
    return None if seen_unknown else False


def _all(values: Iterable[Tri]) -> Tri:
    seen_unknown = False
    for value in values:
        if value is False:
            return False
        seen_unknown = seen_unknown or value is None
    return None if seen_unknown else True


def _not(value: Tri) -> Tri:
    return None if value is None else not value

"""Load rule files: YAML validated against rules/rules.schema.json; errors read `file:line: message`."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from planner.errors import InternalError, RuleError
from planner.resources import rules_dir

RULES_DIR = rules_dir()


@dataclass(frozen=True)
class Rule:
    """One validated rule: its fields, and where it came from (for error messages and provenance)."""

    id: str
    kind: str
    fields: Mapping[str, Any]
    file: str
    line: int

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader (libyaml's parser where PyYAML has it: 10x faster) that remembers the line of every mapping
    as `__line__`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__keylines__"] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k.value, str)}
        return mapping


def load_rules(kind: str, extra_dirs: Iterable[Path] = ()) -> tuple[Rule, ...]:
    """Rules of one kind: the shipped ones, then those in `extra_dirs` (a user's rule with a shipped id replaces it)."""
    files = sorted((RULES_DIR / kind).glob("*.yaml"))
    if not files:  # never a quiet "unknown" for every client
        raise InternalError(f"{RULES_DIR / kind}: no shipped {kind} rules; the installation is incomplete, "
                            "reinstall s3plan")
    for extra in extra_dirs:
        files += sorted((extra / kind).glob("*.yaml")) + sorted(extra.glob(f"{kind}*.yaml"))
    rules: dict[str, Rule] = {}
    problems = Problems()
    for path in files:
        shipped = path.is_relative_to(RULES_DIR)
        with problems.collected():
            for rule in _load_file(path, kind):
                if rule.id in rules and shipped:
                    first = rules[rule.id]
                    problems.add(f"{rule.file}:{rule.line}: duplicate rule id {rule.id} "
                                 f"(first at {first.file}:{first.line})")
                rules[rule.id] = rule
    problems.raise_any()
    return tuple(rules.values())


MAX_SHOWN = 50  # problems listed at most; the rest are counted


class RuleProblems(RuleError):
    """Several rule-file problems: all of them in `lines`, the first MAX_SHOWN in the message."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = tuple(lines)
        shown = list(self.lines[:MAX_SHOWN])
        if len(self.lines) > MAX_SHOWN:
            shown.append(f"... and {len(self.lines) - MAX_SHOWN} more problems")
        super().__init__("\n".join(shown))


@dataclass
class Problems:
    """Every rule-file problem of a load, so one run reports them all, not one per run."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    @contextmanager
    def collected(self) -> Iterator[None]:
        """Run a check; a RuleError it raises (each of its problems) is kept, and the load goes on."""
        try:
            yield
        except RuleProblems as err:
            self.lines.extend(err.lines)
        except RuleError as err:
            self.lines.extend(str(err).splitlines())

    def raise_any(self) -> None:
        if self.lines:
            raise RuleProblems(self.lines)


RULE_KINDS = ("clients", "acl")


def misplaced_rule_files(folder: Path) -> list[Path]:
    """YAML files under a --rules folder that s3plan would not read: the layout is DIR/clients/*.yaml and
    DIR/acl/*.yaml (or DIR/clients*.yaml, DIR/acl*.yaml at the top); a .yml name, another subfolder or another
    top-level name would be ignored without a word."""
    read = {p for kind in RULE_KINDS for p in (*(folder / kind).glob("*.yaml"), *folder.glob(f"{kind}*.yaml"))}
    found = [p for pattern in ("**/*.yaml", "**/*.yml") for p in folder.glob(pattern) if p.is_file()]
    return sorted(p for p in found if p not in read)


def check_rules_layout(folders: Iterable[Path]) -> None:
    """Every misplaced rule file of every --rules folder, in one error."""
    misplaced = [p for folder in folders for p in misplaced_rule_files(folder)]
    if misplaced:
        shown = ", ".join(str(p) for p in misplaced[:10]) + (f" and {len(misplaced) - 10} more"
                                                             if len(misplaced) > 10 else "")
        raise RuleError(f"{shown}: not read; rule files go in DIR/clients/*.yaml or DIR/acl/*.yaml (or "
                        "DIR/clients*.yaml, DIR/acl*.yaml); move or rename them")


@dataclass(frozen=True)
class RuleSets:
    """The rules a plan reads: the client catalogue, the ACL mapping and the owners file's entries."""

    clients: tuple[Rule, ...]
    acl: tuple[Rule, ...]
    owners: tuple[Rule, ...]


def load_rule_sets(rules_dirs: Iterable[Path], owners: Path | None) -> RuleSets:
    """Every rule file a plan reads, checked together: misplaced files, each kind's files and the owners file
    report all their problems in one error."""
    folders = tuple(rules_dirs)
    problems = Problems()
    with problems.collected():
        check_rules_layout(folders)
    loaded: dict[str, tuple[Rule, ...]] = {}
    for kind in RULE_KINDS:
        with problems.collected():
            loaded[kind] = load_rules(kind, folders)
    with problems.collected():
        loaded["owners"] = load_owners(owners) if owners else ()
    problems.raise_any()
    return RuleSets(loaded["clients"], loaded["acl"], loaded["owners"])


def operation_table(acl_rules: Iterable[Rule]) -> dict[str, Mapping[str, Any]]:
    """rules/acl/actions.yaml by event name: the actions each S3 operation's requests need (what the drafter and
    the safety checks read)."""
    return {r.fields["event"]: r.fields for r in acl_rules if "event" in r.fields}


def load_owners(path: Path) -> tuple[Rule, ...]:
    """The entries of an owners file (`owners:` list), validated like rule files; ids default to `file:line`."""
    return tuple(_load_file(path, "owners", list_key="owners"))


def _read_yaml(path: Path) -> Any:
    """A YAML file through the line-keeping safe loader; unreadable or invalid YAML is a `file:line:` RuleError."""
    try:
        return yaml.load(path.read_text(), Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as err:
        raise RuleError(f"{path}:1: cannot read: {err.strerror}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RuleError(f"{path}:{line}: not valid YAML: {getattr(err, 'problem', err)}") from err


def _load_file(path: Path, kind: str, list_key: str = "rules") -> list[Rule]:
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get(list_key), list):
        raise RuleError(f"{path}:1: the file must be a mapping with a `{list_key}:` list")
    schema = _schema()
    seen: dict[str, int] = {}
    out = []
    problems = Problems()
    list_line = doc.get("__keylines__", {}).get(list_key, 1)  # where an item that is no mapping is reported
    for item in doc[list_key]:
        line = item.get("__line__", list_line) if isinstance(item, dict) else list_line
        keylines: dict[str, int] = item.get("__keylines__", {}) if isinstance(item, dict) else {}
        clean = _strip_lines(item)
        with problems.collected():
            _validate(clean, schema, kind, path, line, keylines)
        if not isinstance(clean, dict):
            continue
        with problems.collected():  # a pattern is checked even when another key of the rule is wrong
            _check_regex(clean, path, keylines.get("match", line))
        with problems.collected():
            clean.setdefault("id", f"{path.name}:{line}")
            if clean["id"] in seen:
                raise RuleError(f"{path}:{line}: duplicate rule id {clean['id']} (first at line {seen[clean['id']]})")
            seen[clean["id"]] = line
            out.append(Rule(clean["id"], kind, clean, str(path), line))
    problems.raise_any()
    return out


def _validate(item: Any, schema: dict[str, Any], kind: str, path: Path, line: int,
              keylines: Mapping[str, int]) -> None:
    """The rule against its schema: one problem per key that is wrong (the most relevant error of each), all of
    them in one RuleError."""
    definition = "acl_decision" if kind == "acl" and isinstance(item, dict) and "decision" in item else kind
    sub = {"$defs": schema["$defs"], **schema["$defs"][definition]}
    by_key: dict[str, list[jsonschema.ValidationError]] = {}
    for error in jsonschema.Draft202012Validator(sub).iter_errors(item):
        key = str(error.absolute_path[0]) if error.absolute_path else _unexpected_key(error)
        by_key.setdefault(key, []).append(error)
    messages = []
    for key in sorted(by_key, key=lambda k: (keylines.get(k, line), k)):
        error = jsonschema.exceptions.best_match(by_key[key])
        if error is not None:
            messages.append(_schema_message(error, path, keylines.get(key, line) if key else line))
    if messages:
        raise RuleError("\n".join(messages))


def _unexpected_key(error: jsonschema.ValidationError) -> str:
    """For a rule-level error about a key the schema does not know, that key (its line is the one to show)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return ""
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return min((str(k) for k in error.instance if k not in known), default="")


def _schema_message(error: jsonschema.ValidationError, path: Path, line: int) -> str:
    """`file:line: key: what is wrong`, with the fix where there is a known one."""
    where = ".".join(str(p) for p in error.absolute_path) or "rule"
    if error.validator == "additionalProperties" and {"match", "when"} & set(error.absolute_path):
        return f"{path}:{line}: unknown operator in match: {error.message}"
    if error.validator == "type" and isinstance(error.instance, (int, float)) and not isinstance(
            error.instance, bool) and "string" in str(error.validator_value):
        # YAML reads `minimum_version: 1.0` as the number 1.0 (and 1.10 as 1.1): a version must be quoted
        written = _written(path, line, str(error.absolute_path[-1]) if error.absolute_path else "")
        return f"{path}:{line}: {where}: {written} is a YAML number ({error.instance!r}); quote it: \"{written}\""
    return f"{path}:{line}: {where}: {error.message}"


def _written(path: Path, line: int, key: str) -> str:
    """The value as the file spells it on `line` (`key: 1.10`), for a message that quotes it back."""
    try:
        text = path.read_text().splitlines()[line - 1]
    except (OSError, IndexError):
        return "the value"
    found = re.search(rf"\b{re.escape(key)}\s*:\s*([^\s,}}#]+)", text)
    return found.group(1) if found else "the value"


def _check_regex(item: Mapping[str, Any], path: Path, line: int) -> None:
    """The rule's regexes compile and its CIDR parses (values of the wrong type are the schema's to report)."""
    match = item.get("match")
    if not isinstance(match, dict):
        return
    for key in ("regex", "user_agent"):
        pattern = match.get(key)
        if not isinstance(pattern, str):
            continue
        try:
            re.compile(pattern)
        except re.error as err:
            raise RuleError(f"{path}:{line}: bad regex {pattern!r}: {err}") from err
    if isinstance(match.get("cidr"), str):
        try:
            ipaddress.ip_network(match["cidr"], strict=False)
        except ValueError as err:
            raise RuleError(f"{path}:{line}: bad CIDR {match['cidr']!r}: {err}") from err


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k not in ("__line__", "__keylines__")}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RULES_DIR / "rules.schema.json").read_text())
    return loaded


CANONICAL_ID_RE = re.compile(r"^[0-9a-f]{64}$")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


def load_canonical_ids(path: Path) -> dict[str, str]:
    """`--canonical-ids FILE`: a YAML mapping of canonical user id (64 hex digits) -> account id (12 digits, quoted:
    unquoted, YAML reads 012345678901 as a number and drops its leading 0). Errors name the file, line and key."""
    doc = _read_yaml(path)
    if not isinstance(doc, dict):
        raise RuleError(f"{path}:1: expected a mapping of canonical id -> account id (\"<64 hex>\": \"111122223333\")")
    lines = doc.get("__keylines__", {})
    out: dict[str, str] = {}
    for key, value in doc.items():
        if key in ("__line__", "__keylines__"):
            continue
        line = lines.get(key, doc.get("__line__", 1))
        if not isinstance(key, str) or not CANONICAL_ID_RE.match(key):
            raise RuleError(f"{path}:{line}: key {key!r} is not a canonical user id (64 lower-case hex digits, "
                            "quoted)")
        # an unquoted 12-digit number is read as an int; one with a leading 0 may be read as octal: only an int of
        # 12 digits is taken as written
        whole = isinstance(value, int) and not isinstance(value, bool) and 10**11 <= value < 10**12
        account = str(value) if whole else value
        if not isinstance(account, str) or not ACCOUNT_ID_RE.match(account):
            raise RuleError(f"{path}:{line}: {key}: {value!r} is not a 12-digit account id; quote it "
                            "(\"111122223333\")")
        out[key] = account
    return out

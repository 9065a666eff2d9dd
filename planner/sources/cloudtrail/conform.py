"""Records the engine refuses, made readable: when DuckDB will not read a file because a record is not the shape
the queries declare (a string where `userIdentity` belongs, a lone `\\ud800` escape, a repeated key), the file is
re-written with each odd part read as empty, so its other records still count. A file that is not JSON, or not
CloudTrail's shape at all, is still skipped with the reason."""

from __future__ import annotations

import gzip
import json
import math
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from planner.model import SkippedFile
from planner.sources.cloudtrail import engine

Shape = dict[str, "Shape"] | list["Shape"] | None  # a struct's fields, a list's element, or any value
_TYPE_TOKEN = re.compile(r'\s*(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*)|(\[\])|([(),]))')
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_BYTES = 256 << 20  # the largest decompressed file re-shaped; a larger one is skipped with the reason
TOO_LARGE = "too large to re-shape in memory"


class _TooLarge(Exception):
    """A refused file too large to re-shape in memory."""


@dataclass(frozen=True)
class Conformed:
    """A refused file re-written as one record per line: how many records it holds and how many were odd."""

    source: str
    path: str
    records: int
    odd: int
    first_problem: str


def record_shape() -> Shape:
    """The shape the engine declares for a record (engine.record_columns), as nested dicts and lists."""
    columns = engine.record_columns({name: () for name in engine.JSON_STRING_COLUMNS})
    return {name.lower(): parse_type(text) for name, text in columns.items()}


def parse_type(text: str) -> Shape:
    """`STRUCT(a VARCHAR, b STRUCT(c VARCHAR))[]` -> [{"a": None, "b": {"c": None}}]; field names lower-cased
    because the engine resolves them without regard to case."""
    tokens = [next(t for t in m.groups() if t is not None) for m in _TYPE_TOKEN.finditer(text)]
    shape, rest = _parse_tokens(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in type {text!r}")
    return shape


def _parse_tokens(tokens: list[str]) -> tuple[Shape, list[str]]:
    head, rest = tokens[0], tokens[1:]
    shape: Shape = None
    if head.upper() == "STRUCT":
        fields: dict[str, Shape] = {}
        rest = rest[1:]  # "("
        while rest[0] != ")":
            name, (field, rest) = rest[0], _parse_tokens(rest[1:])
            fields[name.lower()] = field
            rest = rest[1:] if rest[0] == "," else rest
        shape, rest = fields, rest[1:]
    while rest and rest[0] == "[]":
        shape, rest = [shape], rest[1:]
    return shape, rest


def conform_file(path: str, layout: str, out_dir: str) -> Conformed | SkippedFile:
    """Re-write one refused file as NDJSON in `out_dir`, each record fitted to the declared shape."""
    fitter = _Fitter(record_shape())
    try:
        lines = [json.dumps(fitter.record(value, n), ensure_ascii=False, allow_nan=False)
                 for n, value in enumerate(_values(_read_text(path), layout), 1)]
    except _TooLarge as err:
        return SkippedFile(path, str(err))
    except (OSError, EOFError, ValueError, RecursionError) as err:  # JSON, gzip and UTF-8 errors among them
        return SkippedFile(path, f"not readable as JSON: {err}")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=out_dir, prefix="conformed-", suffix=".json",
                                     delete=False) as out:
        out.write("".join(line + "\n" for line in lines))
    return Conformed(path, out.name, len(lines), fitter.odd, fitter.first_problem)


def _read_text(path: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:  # re-shaping holds the file as Python objects, about ten times its size
        raise _TooLarge(f"the engine refused a record and the file is over {MAX_BYTES >> 20} MiB decompressed, "
                        f"{TOO_LARGE}; split the file or fix the record")
    return raw.decode("utf-8", errors="surrogateescape")  # bytes that are not UTF-8 become lone surrogates


def _values(text: str, layout: str) -> Iterator[Any]:
    """The file's records: the `Records` list, the top-level array, or JSON values one after another."""
    if layout == "lines":
        yield from _value_stream(text)
        return
    document = _loads(text)
    records = document.get("Records") if layout == "wrapped" and isinstance(document, dict) else document
    if not isinstance(records, list):
        raise ValueError("no list of records (a CloudTrail log file is {\"Records\": [...]})")
    yield from records


def _value_stream(text: str) -> Iterator[Any]:
    decoder, at = _decoder(), 0
    while (at := _skip_space(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        yield value


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _loads(text: str) -> Any:
    return _decoder().decode(text)


def _decoder() -> json.JSONDecoder:
    """Strict about structure, lenient about what the engine reads anyway: raw control characters in strings.
    A key repeated in one object is kept once, as a marker the fitter reads as empty."""
    return json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=lambda _: None,
                            parse_float=_finite_or_none, strict=False)


_REPEATED = object()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        seen[key] = _REPEATED if key in seen else value
    return seen


def _finite_or_none(text: str) -> float | None:
    number = float(text)
    return number if math.isfinite(number) else None


class _Fitter:
    """Fits records to the declared shape, counting the records it had to change."""

    def __init__(self, shape: Shape) -> None:
        self.shape, self.odd, self.first_problem = shape, 0, ""
        self._problem: str | None = None

    def record(self, value: Any, number: int) -> Any:
        self._problem = None
        fitted = self._fit(value, self.shape, "the record")
        if fitted is None:  # the engine reads a null record as one of empty fields, but only inside a list
            fitted = {}
        if self._problem is not None:
            self.odd += 1
            self.first_problem = self.first_problem or f"record {number}: {self._problem}"
        return fitted

    def _fit(self, value: Any, shape: Shape, where: str) -> Any:
        if value is _REPEATED:
            return self._odd(f"{where} is repeated")
        if value is None:
            return None
        if isinstance(shape, dict):
            if not isinstance(value, dict):
                return self._odd(f"{where} is not an object")
            inside = "" if where == "the record" else f"{where}."
            return {self._text(k, where): self._fit(v, shape.get(k.lower()), inside + k) for k, v in value.items()}
        if isinstance(shape, list):
            if not isinstance(value, list):
                return self._odd(f"{where} is not a list")
            return [self._fit(v, shape[0], f"{where}[]") for v in value]
        return self._any(value, where)

    def _any(self, value: Any, where: str) -> Any:
        """A value the engine takes whatever its type: only its text is cleaned."""
        if isinstance(value, str):
            return self._text(value, where)
        if isinstance(value, dict):
            return {self._text(k, where): self._fit(v, None, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._fit(v, None, f"{where}[]") for v in value]
        return value

    def _text(self, text: str, where: str) -> str:
        if _LONE_SURROGATE.search(text):
            self._odd(f"{where} holds text that is not Unicode (a lone surrogate escape or bytes not UTF-8)")
            return _LONE_SURROGATE.sub("\ufffd", text)
        return text

    def _odd(self, problem: str) -> None:
        """Note the record's first problem; the odd part is read as empty."""
        self._problem = self._problem or problem

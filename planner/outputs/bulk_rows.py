"""Table rows written straight into the saved workbook's sheet XML: openpyxl builds every sheet with its header,
styles, filters and charts; the data rows (up to a million per sheet) are streamed in afterwards as inline
strings and numbers, about ten times faster than openpyxl's cell objects. Each value is made safe by
`xml_text.cell_text` as it is written (no control characters, within the cell limit); strings are always
written as text, so nothing from a log can become a formula."""

from __future__ import annotations

import datetime
import io
import math
import posixpath
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from planner.errors import InternalError
from planner.outputs.xml_text import MAX_CELL, cell_text

NS = {"main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})  # \r: XML readers make it \n
_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')
_EXCEL_EPOCH = datetime.datetime(1899, 12, 30)
ROWS_PER_WRITE = 2_000
DATE_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = 'yyyy-mm-dd hh:mm:ss "UTC"'  # a time s3plan recorded (always UTC); the cell says so
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"  # a date and time someone typed: its zone is theirs, not said
TIME_FORMAT = "hh:mm:ss"


class UtcMoment(datetime.datetime):
    """A time s3plan recorded from the logs, in UTC: shown with "UTC", unlike a time someone typed."""

    @classmethod
    def of(cls, moment: datetime.datetime) -> UtcMoment:
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                   moment.microsecond)


@dataclass(frozen=True)
class DateStyles:
    """The cell styles of a date, an s3plan time (UTC), a typed date and time, and a time of day."""

    date: int = 0
    moment: int = 0
    typed: int = 0  # a date and time someone typed
    clock: int = 0  # a time of day

    def of(self, value: datetime.date | datetime.time) -> int:
        if isinstance(value, UtcMoment):
            return self.moment
        if isinstance(value, datetime.datetime):  # a typed date comes back from Excel as a time at midnight
            return self.date if value.time() == datetime.time() else self.typed
        return self.clock if isinstance(value, datetime.time) else self.date


@dataclass
class BulkRows:
    """Data rows waiting to be streamed into sheets (by title), below each sheet's header row."""

    rows: dict[str, Sequence[Sequence[Any]]] = field(default_factory=dict)
    links: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    wrapped: dict[str, frozenset[int]] = field(default_factory=dict)  # sheet -> columns (0-based) whose text wraps
    heights: dict[str, Sequence[float | None]] = field(default_factory=dict)  # sheet -> row heights (points)
    dates: DateStyles = field(default_factory=DateStyles)
    wrap_style: int = 0
    top_style: int = 0

    def add(self, title: str, rows: Sequence[Sequence[Any]], wrapped: frozenset[int] = frozenset(),
            heights: Sequence[float | None] = ()) -> None:
        self.rows[title] = rows
        self.wrapped[title] = wrapped
        self.heights[title] = heights

    def link(self, title: str, ref: str, target: str) -> None:
        """A hyperlink on a streamed cell (e.g. "J2") to a relative file; `target` is a checked, safe path."""
        self.links.setdefault(title, []).append((ref, target))

    def save(self, workbook: Workbook, out: BinaryIO) -> None:
        """Save the workbook with openpyxl, then copy it to `out` with the waiting rows streamed in."""
        top = Alignment(vertical="top", horizontal="left", indent=1)  # apart from a number before it
        styles = {name: _registered_style(workbook, datetime.datetime(2000, 1, 1), number_format=number_format,
                                          alignment=top)
                  for name, number_format in (("date", DATE_FORMAT), ("moment", MOMENT_FORMAT),
                                              ("typed", DATETIME_FORMAT), ("clock", TIME_FORMAT))}
        self.dates = DateStyles(**styles)
        self.wrap_style = _aligned_style(workbook, wrap=True)
        self.top_style = _aligned_style(workbook, wrap=False)
        staged = io.BytesIO()
        workbook.save(staged)
        with zipfile.ZipFile(staged) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
            paths = sheet_paths(src)
            targets = {paths[title]: title for title in self.rows}
            link_rels = {_rels_path(paths[title]): links for title, links in self.links.items()}
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename in targets:
                    title = targets[info.filename]
                    with dst.open(info.filename, "w", force_zip64=True) as fh:
                        self._write_sheet(data, title, fh)
                    continue
                if info.filename in link_rels:
                    data = _with_link_rels(data, link_rels.pop(info.filename))
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
            for path, links in link_rels.items():  # sheets that had no relationships of their own
                dst.writestr(path, _with_link_rels(EMPTY_RELS, links), compress_type=zipfile.ZIP_DEFLATED)

    def _write_sheet(self, xml: bytes, title: str, fh: IO[bytes]) -> None:
        rows, links = self.rows[title], self.links.get(title, [])
        head, marker, tail = xml.partition(b"</sheetData>")
        if not marker:
            raise InternalError("workbook sheet without sheetData: cannot stream its rows")
        if links:
            tail = _with_hyperlinks(tail, links)
        width = max((len(r) for r in rows), default=0)
        if rows and width:
            head = _DIMENSION.sub(f'<dimension ref="A1:{get_column_letter(width)}{len(rows) + 1}"/>'.encode(), head,
                                  count=1)
        fh.write(head)
        wrapped = self.wrapped.get(title, frozenset())
        # a sheet with wrapped text aligns every cell to the top, so a tall row still reads across
        styles = ([f' s="{self.wrap_style if n in wrapped else self.top_style}"' for n in range(width)]
                  if wrapped else [])
        for chunk in _row_chunks(rows, self.dates, styles, self.heights.get(title, ())):
            fh.write(chunk.encode())
        fh.write(marker + tail)


def sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> the part holding its XML, from the workbook and its relationships."""
    # parts openpyxl has just written, not outside input
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", NS)}
    paths = {}
    for sheet in book.findall("main:sheets/main:sheet", NS):
        target = targets[sheet.get(f"{{{NS['r']}}}id")]
        paths[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return paths


EMPTY_RELS = f'<Relationships xmlns="{NS["rel"]}"></Relationships>'.encode()
HYPERLINK_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def _rels_path(sheet: str) -> str:
    folder, name = posixpath.split(sheet)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _with_link_rels(rels: bytes, links: Sequence[tuple[str, str]]) -> bytes:
    """The sheet's relationships with one external target per link (ids s3planLink1, 2, ...)."""
    added = "".join(f'<Relationship Id="s3planLink{n}" Type="{HYPERLINK_REL}" Target="{_attr(target)}" '
                    'TargetMode="External"/>' for n, (_, target) in enumerate(links, start=1))
    head, marker, tail = rels.rpartition(b"</Relationships>")
    if not marker:
        raise InternalError("sheet relationships without a closing tag: cannot add links")
    return head + added.encode() + marker + tail


def _with_hyperlinks(tail: bytes, links: Sequence[tuple[str, str]]) -> bytes:
    """Insert <hyperlinks> where the schema puts it: before printOptions/pageMargins and what follows."""
    element = (f'<hyperlinks xmlns:r="{NS["r"]}">'
               + "".join(f'<hyperlink ref="{ref}" r:id="s3planLink{n}"/>' for n, (ref, _) in enumerate(links, start=1))
               + "</hyperlinks>").encode()
    for follower in (b"<printOptions", b"<pageMargins", b"<pageSetup", b"<headerFooter", b"<drawing", b"</worksheet>"):
        at = tail.find(follower)
        if at >= 0:
            return tail[:at] + element + tail[at:]
    raise InternalError("sheet without a closing tag: cannot add links")


def _attr(value: str) -> str:
    return value.translate(_ESCAPES).replace('"', "&quot;")


def _row_chunks(rows: Sequence[Sequence[Any]], dates: DateStyles, styles: Sequence[str] = (),
                heights: Sequence[float | None] = ()) -> Iterator[str]:
    """The rows as <row> elements from row 2 on, a few thousand at a time; `dates` the styles of dates and times,
    `styles` each column's style attribute for text (the wrap style, or nothing), `heights` each row's height
    where one is set."""
    width = max((len(r) for r in rows), default=0)
    letters = [get_column_letter(n) for n in range(1, width + 1)]
    styles = list(styles) + [""] * (width - len(styles))
    columns = list(zip(letters, styles, strict=True))
    parts: list[str] = []
    append = parts.append
    for number, row in enumerate(rows, start=2):
        at = str(number)
        height = heights[number - 2] if number - 2 < len(heights) else None
        append(f'<row r="{at}" ht="{height:g}" customHeight="1">' if height else f'<row r="{at}">')
        for (letter, style), value in zip(columns, row, strict=False):
            if type(value) is not str or not (value.isascii() and value.isprintable() and len(value) <= MAX_CELL):
                value = cell_text(value)  # the rare value that needs making safe (lists, control chars, long)
            if type(value) is str:  # most cells: inlined, as the loop runs millions of times
                if value:  # a blank cell, as Excel keeps an empty one
                    append(f'<c r="{letter}{at}"{style} t="inlineStr"><is><t xml:space="preserve">{_escape(value)}'
                           '</t></is></c>')
            elif value is not None:
                append(_cell(letter + at, value, dates, style))
        append("</row>")
        if number % ROWS_PER_WRITE == 0:
            yield "".join(parts)
            parts = []
            append = parts.append
    yield "".join(parts)


def _escape(value: str) -> str:
    """XML text: & < > escaped, \r as a character reference. Most values have none, and `in` finds that fast."""
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _cell(ref: str, value: Any, dates: DateStyles, style: str = "") -> str:
    if isinstance(value, str):
        return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{_escape(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return f'<c r="{ref}"{style}><v>{value!r}</v></c>'
    if isinstance(value, (datetime.date, datetime.time)):
        return f'<c r="{ref}" s="{dates.of(value)}"><v>{_serial(value)!r}</v></c>'
    return _cell(ref, str(value), dates, style)


def _serial(value: datetime.date | datetime.time) -> float:
    """Excel's serial day number (1900 date system, as openpyxl writes it)."""
    if isinstance(value, datetime.time):
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400
    moment = value if isinstance(value, datetime.datetime) else datetime.datetime.combine(value, datetime.time())
    delta = moment.replace(tzinfo=None) - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6


def _aligned_style(workbook: Workbook, *, wrap: bool) -> int:
    """The index of a top-aligned (and wrapping) cell style."""
    return _registered_style(workbook, "x", alignment=Alignment(wrap_text=wrap, vertical="top"))


def _registered_style(workbook: Workbook, value: Any, **style: Any) -> int:
    """The index openpyxl gives a cell style, registered through a scratch sheet that is removed again."""
    scratch = workbook.create_sheet("s3plan-scratch")
    cell = scratch.cell(row=1, column=1, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    index = int(cell.style_id)
    workbook.remove(scratch)
    return index

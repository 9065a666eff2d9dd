"""Text XML 1.0 can carry: the workbook's cells and plan.graphml hold strings from logs, which may not be."""

from __future__ import annotations

import datetime
import re
from typing import Any

MAX_CELL = 32_767  # characters an Excel cell holds
TRUNCATION_MARK = " …[cut by s3plan]"

# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): openpyxl would raise or
# write a sheet Excel cannot open, and networkx would write a graph no parser reads.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """`value` with every character XML cannot carry replaced by U+FFFD."""
    return ILLEGAL.sub("\ufffd", value)


def cell_text(value: Any) -> Any:
    """A cell value that Excel will show as written: no formulas, no control characters, within the cell limit."""
    if type(value) is str and value.isascii() and value.isprintable() and len(value) <= MAX_CELL:
        return value  # the common case, checked without the regular expression
    if value is None or isinstance(value, (bool, int, float, datetime.date, datetime.time)):
        return value
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    value = xml_safe(str(value))
    if len(value) > MAX_CELL:
        value = value[: MAX_CELL - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return value

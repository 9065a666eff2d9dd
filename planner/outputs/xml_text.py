"""Text XML 1.0 can carry: the workbook's cells and plan.graphml hold strings from logs, which may not be."""

from __future__ import annotations

import re

# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF): openpyxl would raise or
# write a sheet Excel cannot open, and networkx would write a graph no parser reads.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """`value` with every character XML cannot carry replaced by U+FFFD."""
    return ILLEGAL.sub("\ufffd", value)

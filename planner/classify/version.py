"""Version strings as SDKs print them (`1.11.201`, `2.0.0dev3`, `2.0.0-preview-9-SNAPSHOT`, `3.3.0.0`)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_LEAD = re.compile(r"v?(\d+(?:\.\d+)*)(.*)", re.S)


@dataclass(frozen=True, order=True)
class Version:
    """Numeric release parts, then 0 for a pre-release (dev, preview, rc, SNAPSHOT) and 1 for a release."""

    release: tuple[int, ...]
    final: int

    @property
    def major(self) -> int:
        return self.release[0] if self.release else 0


@functools.lru_cache(maxsize=16_384)
def parse_version(text: str | None) -> Version | None:
    """The version at the start of `text`, or None when it has no number; never raises."""
    if not text:
        return None
    match = _LEAD.match(text.strip())
    if match is None:
        return None
    parts = tuple(int(p[:9]) for p in match.group(1).split("."))
    suffix = match.group(2).lower()
    pre = any(tag in suffix for tag in ("dev", "preview", "snapshot", "rc", "alpha", "beta", "pre"))
    return Version(parts, 0 if pre else 1)


def version_lt(a: str | None, b: str | None) -> bool:
    """True when version `a` is older than `b`; missing or unparsable versions are never 'older'."""
    va, vb = parse_version(a), parse_version(b)
    if va is None or vb is None:
        return False
    width = max(len(va.release), len(vb.release))

    def padded(v: Version) -> tuple[tuple[int, ...], int]:
        return v.release + (0,) * (width - len(v.release)), v.final

    return padded(va) < padded(vb)

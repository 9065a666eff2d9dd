"""The source interface: every evidence source turns its input into one ScanResult."""

from __future__ import annotations

from typing import Protocol

from planner.model import ScanResult


class EvidenceSource(Protocol):
    """Reads one kind of input and returns aggregated evidence (never raw records)."""

    name: str

    def scan(self) -> ScanResult:
        """Read the input and aggregate it."""
        ...

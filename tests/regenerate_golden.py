"""Regenerate the golden files: `make golden`, then review `git diff tests/golden` before committing."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.golden_run import write_golden

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_golden(Path(tmp)):
            print(f"wrote {path}")

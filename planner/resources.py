"""The data files s3plan ships, `rules/` and `templates/` of the repository, installed as the packages
`planner.rules` and `planner.templates` (setup.py): found through importlib.resources, so a checkout, an editable
and a regular install read the same files."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def rules_dir() -> Path:
    """The shipped rule files (`rules/` in the repository)."""
    return _folder("planner.rules")


def templates_dir() -> Path:
    """The shipped templates: the workbook layout and the SQL (`templates/` in the repository)."""
    return _folder("planner.templates")


def _folder(package: str) -> Path:
    found = files(package)
    if not isinstance(found, Path):  # a zipped install: s3plan reads its data as plain files
        raise RuntimeError(f"{package} is not installed as a folder ({found}); install s3plan with pip")
    return found

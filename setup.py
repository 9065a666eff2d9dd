"""Build hooks that pyproject.toml cannot say: the repository's `rules/` and `templates/` shipped inside the
package (as `planner.rules` and `planner.templates`, each folder a data package), and the optional C pre-filter."""

from pathlib import Path

from setuptools import Extension, find_packages, setup

DATA_FOLDERS = {"planner.rules": "rules", "planner.templates": "templates"}
DATA_FILES = ["*.yaml", "*.json", "*.sql"]


def data_packages(package: str, folder: str) -> list[str]:
    """`package` and one package per sub-folder of `folder` (setuptools ships data by package)."""
    subs = sorted(p for p in Path(folder).rglob("*") if p.is_dir() and p.name != "__pycache__")
    return [package, *(".".join([package, *p.relative_to(folder).parts]) for p in subs)]


DATA_PACKAGES = [name for package, folder in DATA_FOLDERS.items() for name in data_packages(package, folder)]

setup(
    packages=[*find_packages(include=["planner", "planner.*"]), *DATA_PACKAGES],
    package_dir=DATA_FOLDERS,
    package_data={"planner": ["py.typed", "**/*.pyi"], **{name: DATA_FILES for name in DATA_PACKAGES}},
    # optional=True: without a C compiler the package still installs and the scan uses the engine alone.
    ext_modules=[Extension("planner.sources.cloudtrail._prefilter", ["planner/sources/cloudtrail/_prefilter.c"],
                           optional=True, extra_compile_args=["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"])],
)

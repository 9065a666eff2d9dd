"""s3plan outside its checkout: the built wheel carries its rules, templates and C pre-filter, plans from any
folder as the checkout does, installs without a compiler (and says what that costs), and writes outputs with
the mode the umask gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.classify import loader
from planner.cli import main
from planner.errors import InternalError
from planner.sources.cloudtrail import prefilter
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
CLOUDTRAIL = FIXTURES / "otrf"
DATA_FILES = {"planner/rules/rules.schema.json", "planner/rules/acl/actions.yaml", "planner/rules/acl/decisions.yaml",
              "planner/rules/clients/sdk.yaml", "planner/rules/clients/aws-services.yaml",
              "planner/templates/workbook.yaml",
              "planner/templates/sql/evidence.sql", "planner/templates/sql/access_log_records.sql"}
NOT_SHIPPED = ("build", "dist", "demo", "out", ".venv", ".git", "*.so", "__pycache__", "*.egg-info", ".*_cache")


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def build_wheel(tmp: Path, env: dict[str, str] | None = None) -> Path:
    """A wheel built from a copy of the tree (no network: the test environment's setuptools builds it)."""
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", tmp / "dist", source, env={**os.environ, **(env or {})})
    [wheel] = (tmp / "dist").glob("s3plan-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A new venv holding only the wheel; its dependencies are this environment's, added by a .pth file, since
    the tests never use the network."""
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
        "--no-index", wheel)
    [site] = (venv / "lib").glob("python3*/site-packages")
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def comparable(plan_json: Path) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(plan_json.read_text())
    plan["run"].pop("generated_at")
    return plan


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp)
    yield wheel, install(wheel, tmp / "venv")


@pytest.mark.slow
def test_the_wheel_carries_its_data_and_the_c_prefilter(installed: tuple[Path, Path]) -> None:
    names = set(zipfile.ZipFile(installed[0]).namelist())
    assert names >= DATA_FILES
    assert any(n.startswith("planner/sources/cloudtrail/_prefilter.") and n.endswith(".so") for n in names)
    assert "planner/py.typed" in names and not any(n.startswith(("tests/", "rules/", "templates/")) for n in names)


@pytest.mark.slow
def test_the_installed_wheel_plans_from_any_folder_as_the_checkout_does(
        installed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = installed[1]
    s3plan = bin_dir / "s3plan"
    assert "scan: C pre-filter + DuckDB" in run(s3plan, "--version", cwd=tmp_path)
    assert run(bin_dir / "python", "-m", "planner", "--version", cwd=tmp_path).startswith("s3plan, version ")
    run(s3plan, "sample-logs", "logs", "--records", "3000", "--seed", "3", cwd=tmp_path)
    run(s3plan, "plan", "--cloudtrail", "logs", "--out", "wheel-out", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)  # the same relative paths, so plan.json names the same sources
    checkout = CliRunner().invoke(main, ["plan", "--cloudtrail", "logs", "--out", "checkout-out"])
    assert checkout.exit_code == 0, checkout.output
    wheel_plan, checkout_plan = (comparable(tmp_path / out / "plan.json") for out in ("wheel-out", "checkout-out"))
    assert wheel_plan == checkout_plan and wheel_plan["tasks"]
    assert "SELECT" in run(s3plan, "sql", "queries", "--since", "2026-11-01", "--until", "2026-11-02", cwd=tmp_path)
    explained = run(s3plan, "explain-ua", "aws-sdk-java/1.11.100 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.0",
                    cwd=tmp_path)
    assert "aws-sdk-java" in explained and "unknown" not in explained
    run(sys.executable, "-m", "pip", "--python", bin_dir / "python", "check")


@pytest.mark.slow
def test_without_a_compiler_the_wheel_installs_and_says_the_scan_is_slower(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, env={"CC": "/bin/false"})
    assert not any(n.endswith(".so") for n in zipfile.ZipFile(wheel).namelist())
    bin_dir = install(wheel, tmp_path / "venv")
    assert "scan: DuckDB only (the C pre-filter is not built)" in run(bin_dir / "s3plan", "--version")
    said = run(bin_dir / "s3plan", "plan", "--cloudtrail", CLOUDTRAIL, "--out", tmp_path / "out")
    assert said.count("the C pre-filter is not built") == 1 and "3 to 5 times slower" in said
    assert "not built" not in run(bin_dir / "s3plan", "plan", "--cloudtrail", CLOUDTRAIL, "--out", tmp_path / "out",
                                  "--no-prefilter")


def test_a_missing_prefilter_is_said_once_in_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "_prefilter", None)
    assert "DuckDB only" in CliRunner().invoke(main, ["--version"]).output
    result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(CLOUDTRAIL), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("the C pre-filter is not built") == 1
    assert prefilter.MISSING in json.loads((tmp_path / "plan.json").read_text())["run"]["warnings"]


@pytest.mark.parametrize(("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_get_the_mode_the_umask_gives(tmp_path: Path, mask: int, file_mode: int, folder_mode: int) -> None:
    previous = os.umask(mask)
    try:
        result = CliRunner().invoke(main, ["plan", "--cloudtrail", str(CLOUDTRAIL), "--out", str(tmp_path)])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    files = [tmp_path / n for n in ("plan.json", "plan.graphml", "migration-plan.xlsx")]
    files += list((tmp_path / "policies").iterdir())
    assert len(files) > 3 and {f.stat().st_mode & 0o777 for f in files} == {file_mode}
    assert (tmp_path / "policies").stat().st_mode & 0o777 == folder_mode


def test_missing_shipped_rules_are_an_error_not_unknown_clients(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "RULES_DIR", tmp_path)
    with pytest.raises(InternalError, match="no shipped clients rules; the installation is incomplete"):
        loader.load_rules("clients")

"""Habits that keep the code as it is meant to be: the linter, the import contracts and the type checker run with
the tests (the README's test command), so CI fails on what they find. Configuration: pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hotline.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_import_contracts_hold():
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_type_checker_passes():
    result = run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

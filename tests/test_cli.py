"""The installed ``distgmm`` console script, run as a user would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def distgmm_command() -> list[str]:
    script = Path(sys.executable).with_name("distgmm")
    if script.exists():
        return [str(script)]
    found = shutil.which("distgmm")
    assert found, "the distgmm console script is not installed (pip install .)"
    return [found]


@pytest.mark.cluster
def test_demo_fits_on_a_local_cluster(tmp_path):
    result = subprocess.run(
        [*distgmm_command(), "demo", "--rows", "20000", "--components", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "adjusted Rand index against the true labels 1.0000" in result.stdout
    assert "local cluster:" in result.stderr


def test_help_and_usage_errors():
    ok = subprocess.run([*distgmm_command(), "--help"], capture_output=True, text=True)
    assert ok.returncode == 0
    assert "demo" in ok.stdout
    bad = subprocess.run([*distgmm_command(), "bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr

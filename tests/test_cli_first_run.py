"""The paths a new user takes first: every command with no cluster option, in a clean environment.

No ``--scheduler``, no ``--workers``, no ``DASK_*`` variable and no Dask configuration file:
each command starts its own local cluster. The README's Pipelines examples run word for word,
each in a folder holding the files it names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from test_cli import distgmm_command

from distgmm import GaussianMixture, read_zarr

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.cluster


def clean_environment(home: Path) -> dict[str, str]:
    """This environment without any Dask setting, and a home with no Dask configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)
    return env


def readme_pipeline_commands() -> list[str]:
    """The commands of the README's Pipelines example block, continuation lines joined."""
    section = README.read_text().split("\n## Pipelines\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def write_zarr(path: Path, X: np.ndarray) -> None:
    store = zarr.create_array(path, shape=X.shape, chunks=(500, X.shape[1]), dtype="f8")
    store[:] = X


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, make_mixture) -> Path:
    """Every file the README's examples read, small."""
    root = tmp_path_factory.mktemp("first-run-inputs")
    X, _ = make_mixture(n=2000, d=3, k=3, seed=4)
    write_zarr(root / "data.zarr", X)
    write_zarr(root / "test.zarr", make_mixture(n=500, d=3, k=3, seed=4)[0])
    (root / "events").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(X)), 3)):
        frame = pd.DataFrame({"id": part, "x": X[part, 0], "y": X[part, 1], "z": X[part, 2]})
        frame.to_parquet(root / "events" / f"part-{i}.parquet")
    GaussianMixture(8, random_state=0).fit(read_zarr(root / "data.zarr")).save(root / "model.npz")
    return root


def test_the_readme_has_pipeline_examples_of_every_command():
    commands = {line.split()[1] for line in readme_pipeline_commands()}
    assert commands >= {"fit", "predict", "score", "select", "info", "make-data"}


@pytest.mark.parametrize("command", readme_pipeline_commands())
def test_readme_pipeline_example_runs_with_no_cluster_option(command, inputs, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(inputs, work)
    argv = [*distgmm_command(), *shlex.split(command)[1:]]
    if "--out" in argv:  # a new user's output does not exist yet (fit refuses to replace it)
        target = work / argv[argv.index("--out") + 1]
        if target.is_file():
            target.unlink()
    result = subprocess.run(
        argv,
        cwd=work,
        env=clean_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    name = argv[1]
    if "--json" in argv:
        assert isinstance(json.loads(result.stdout), dict)
    elif name in ("fit", "predict", "score", "select"):
        assert "local cluster:" in result.stderr, result.stderr


def test_demo_and_a_parquet_fit_with_no_cluster_option(inputs, tmp_path):
    env = clean_environment(tmp_path)
    demo = subprocess.run(
        [*distgmm_command(), "demo", "--rows", "20000", "--components", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    assert "adjusted Rand index" in demo.stderr
    # the issue's own command: Parquet columns, -k, --out, nothing else
    fit = subprocess.run(
        [
            *distgmm_command(),
            "fit",
            str(inputs / "events"),
            "--columns",
            "x,y,z",
            "-k",
            "3",
            "--out",
            str(tmp_path / "m.npz"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["n_samples"] == 2000

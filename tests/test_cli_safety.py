"""The command line loses nothing: outputs that would destroy inputs or other outputs are
refused, SIGTERM ends a fit like Ctrl-C, and small misuses are one-line errors (exit 2).

Run as a user would: the installed ``distgmm`` console script in a subprocess (the helpers
are ``test_cli.py``'s).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from test_cli import _start, assert_one_error_line, checkpoint_iteration, distgmm_command, run
from test_output_safety import dead_pid, tag

import distgmm
from distgmm import GaussianMixture


def run_in(cwd: Path, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    """``distgmm *args`` in the folder ``cwd``, so that relative paths are relative to it."""
    return subprocess.run(
        [*distgmm_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def npy(tmp_path, make_mixture) -> Path:
    X, _ = make_mixture(n=600, d=2, k=2, seed=4)
    np.save(tmp_path / "x.npy", X)
    return tmp_path / "x.npy"


@pytest.fixture
def model(tmp_path, npy) -> Path:
    path = tmp_path / "model.npz"
    GaussianMixture(2, random_state=0).fit(np.load(npy)).save(path)
    return path


# ---------------------------------------------------------------------------- outputs
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["fit", "x.npy", "--out", "x.npy"], id="out-is-data"),
        pytest.param(["fit", "./x.npy", "--out", "x.npy"], id="out-is-data-dot"),
        pytest.param(["fit", "x.npy", "--out", "{tmp}/sub/../x.npy"], id="out-is-data-abs"),
        pytest.param(["fit", "x.npy", "--out", "link.npy"], id="out-links-to-data"),
        pytest.param(["fit", "x.npy", "--checkpoint", "x.npy"], id="checkpoint-is-data"),
        pytest.param(["fit", "x.npy", "--out", "m.npz", "--checkpoint", "./m.npz"], id="same"),
        pytest.param(["select", "x.npy", "-k", "1..2", "--out", "x.npy"], id="select-out"),
        pytest.param(["fit", "rows.zarr", "--out", "rows.zarr"], id="zarr-store"),
        pytest.param(["fit", "rows.zarr", "--out", "rows.zarr/m.npz"], id="inside-zarr"),
        pytest.param(["fit", "parts", "--out", "parts/m.npz"], id="inside-parquet-folder"),
        pytest.param(["fit", "parts/*.parquet", "--out", "parts/0.parquet"], id="parquet-glob"),
        pytest.param(["fit", "parts/*", "--out", "parts/new.npz"], id="matched-by-glob"),
        pytest.param(
            ["predict", "model.npz", "rows.zarr", "--out", "rows.zarr", "--overwrite"],
            id="predict-over-data",
        ),
        pytest.param(["fit", "x.npy", "--out", "model.npz"], id="out-exists"),
        pytest.param(["select", "x.npy", "-k", "1", "--out", "model.npz"], id="select-out-exists"),
        pytest.param(["fit", "x.npy", "--out", "m.npz", "--checkpoint", "model.npz"], id="ckpt"),
    ],
)
def test_outputs_that_would_destroy_something_are_refused(tmp_path, npy, model, args):
    X = np.load(npy)
    zarr.create_array(tmp_path / "rows.zarr", shape=X.shape, chunks=(100, 2), dtype="f8")[:] = X
    (tmp_path / "parts").mkdir()
    pd.DataFrame(X, columns=["a", "b"]).to_parquet(tmp_path / "parts" / "0.parquet")
    (tmp_path / "link.npy").symlink_to(npy)
    (tmp_path / "sub").mkdir()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    result = run_in(tmp_path, *(arg.format(tmp=tmp_path) for arg in args))
    line = assert_one_error_line(result, 2)  # before any cluster starts: no other line
    assert any(s in line for s in ("--overwrite", "same file", "input data")), line
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_an_existing_model_is_replaced_only_with_overwrite(tmp_path, npy, model, scheduler):
    common = ["fit", npy, "-k", "3", "--max-iter", "2", "--scheduler", scheduler]
    line = assert_one_error_line(run(*common, "--out", model), 2)
    assert line.endswith(f"pass --overwrite to replace it: {model}")
    assert distgmm.load(model).n_components == 2
    done = run(*common, "--out", model, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert distgmm.load(model).n_components == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "x.npy"]


def test_an_existing_checkpoint_is_replaced_only_with_overwrite(tmp_path, npy, scheduler):
    checkpoint = tmp_path / "fit.ckpt"

    def fit(iterations: int, out: str, *flags: str) -> subprocess.CompletedProcess:
        return run(
            "fit", npy, "-k", "2", "--tol", "0", "--max-iter", iterations, "--scheduler",
            scheduler, "--checkpoint", checkpoint, "--out", tmp_path / out, *flags,
        )  # fmt: skip

    assert fit(2, "2.npz").returncode == 0
    saved = checkpoint.read_bytes()
    line = assert_one_error_line(fit(3, "3.npz"), 2)  # neither --resume nor --overwrite
    assert line.endswith(
        "The checkpoint exists; pass --resume to continue from it, or --overwrite to start "
        f"afresh and replace it: {checkpoint}"
    ), line
    assert checkpoint.read_bytes() == saved
    assert not (tmp_path / "3.npz").exists()
    resumed = fit(3, "3.npz", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint" in resumed.stderr
    assert checkpoint_iteration(checkpoint) == 3
    assert fit(1, "1.npz", "--overwrite").returncode == 0  # replaced, not continued
    assert checkpoint_iteration(checkpoint) == 1
    assert distgmm.load(tmp_path / "1.npz").n_iter_ == 1


def test_an_unwritable_output_folder_fails_before_the_fit(npy):
    # /proc takes no new files, not even from root: the fit must not run first.
    line = assert_one_error_line(run("fit", npy, "-k", "2", "--out", "/proc/distgmm.npz"), 2)
    assert "/proc" in line
    line = assert_one_error_line(
        run("fit", npy, "-k", "2", "--out", npy.with_name("m.npz"), "--checkpoint", "/proc/c"), 2
    )
    assert "checkpoint" in line


@pytest.mark.cluster
def test_predict_never_removes_an_output_that_appears_while_it_runs(tmp_path, npy, model):
    """A model saved at ``--out`` by another command while predict runs stays, and exit 2.

    The data's last chunk is a named pipe, so predict waits for it in the middle of its
    pass: meanwhile the output path is taken, then the chunk's bytes are sent.
    """
    data = tmp_path / "rows.zarr"
    X = np.load(npy)
    zarr.create_array(data, shape=X.shape, chunks=(300, 2), dtype="f8")[:] = X
    chunk = data / "c" / "1" / "0"
    content = chunk.read_bytes()
    chunk.unlink()
    os.mkfifo(chunk)
    out = tmp_path / "labels.zarr"
    proc = _start("predict", model, data, "--out", out, "--workers", "1")
    try:
        deadline = time.monotonic() + 120
        # The writer's temporary group (not the empty folder that checks the name first).
        while not list(tmp_path.glob(".labels.zarr.tmp-*/zarr.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "predict did not start writing"
            time.sleep(0.05)
        out.write_bytes(b"a model saved here meanwhile")
        _send(chunk, content, deadline)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in stderr.splitlines() if not line.startswith("local cluster:")]
    assert proc.returncode == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("distgmm: error: ")
    assert lines[0].endswith(str(out))
    assert out.read_bytes() == b"a model saved here meanwhile"
    names = ["labels.zarr", "model.npz", "rows.zarr", "x.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no temporary left


def _send(fifo: Path, content: bytes, deadline: float) -> None:
    """Write ``content`` to the named pipe ``fifo`` once a reader has opened it."""
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as err:
            if err.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(content)


def test_predict_puts_back_an_output_an_overwrite_killed_mid_swap_moved_aside(
    tmp_path, npy, model, scheduler
):
    """The state a ``predict --overwrite`` killed between its two renames leaves."""
    out = tmp_path / "labels.parquet"
    first = run("predict", model, npy, "--out", out, "--scheduler", scheduler)
    assert first.returncode == 0, first.stderr
    pid = dead_pid()
    out.rename(tmp_path / f".labels.parquet.old-{tag(pid)}")
    (tmp_path / f".labels.parquet.tmp-{tag(pid)}").mkdir()

    again = run("predict", model, npy, "--out", out, "--scheduler", scheduler)
    line = assert_one_error_line(again, 2)  # the previous output is back: it exists
    assert line.endswith(str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.parquet", "model.npz", "x.npy"]
    assert len(pd.read_parquet(out)) == 600


# ---------------------------------------------------------------------------- SIGTERM
@pytest.mark.cluster
def test_sigterm_ends_a_fit_like_ctrl_c(tmp_path, make_mixture):
    X, _ = make_mixture(n=400_000, d=3, k=3, seed=2)
    data = tmp_path / "big.zarr"
    zarr.create_array(data, shape=X.shape, chunks=(50_000, 3), dtype="f8")[:] = X
    checkpoint = tmp_path / "fit.ckpt"
    args = ["fit", data, "-k", "3", "--max-iter", "60", "--tol", "0", "--workers", "1"]
    proc = _start(*args, "--checkpoint", checkpoint, "--out", tmp_path / "m.npz", "--json")
    deadline = time.monotonic() + 240
    while checkpoint_iteration(checkpoint) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint progress"
        time.sleep(0.05)
    # To the command's process only, as Kubernetes signals a container's process 1.
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    at_term = checkpoint_iteration(checkpoint)
    assert proc.returncode == 143, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert "leaked" not in stderr
    assert stderr.splitlines()[-1:] == [
        f"distgmm: terminated; the checkpoint {checkpoint} (iteration {at_term}) is intact, "
        "rerun with --resume to continue"
    ]
    assert 2 <= at_term < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.zarr", "fit.ckpt"]


# ---------------------------------------------------------------------------- small misuses
def test_json_with_stdout_closed_is_a_usage_error(model):
    result = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', *distgmm_command(), "info", str(model), "--json"],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert_one_error_line(result, 2)
    assert "stdout" in result.stderr


@pytest.mark.parametrize("command", ["fit", "select", "predict"])
def test_a_too_long_file_name_is_bad_input(tmp_path, npy, model, command):
    name = "a" * 300
    args = {
        "fit": ["fit", npy, "--out", tmp_path / f"{name}.npz"],
        "select": ["select", npy, "-k", "1", "--out", tmp_path / f"{name}.npz"],
        "predict": ["predict", model, npy, "--out", tmp_path / f"{name}.zarr"],
    }[command]
    line = assert_one_error_line(run(*args), 2)  # before any cluster starts
    assert name in line


def test_select_refuses_a_huge_range_of_component_counts(tmp_path):
    # Parsed before the data are opened: the range is refused, not expanded in memory.
    result = run("select", tmp_path / "missing.zarr", "-k", "1..10000000")
    line = assert_one_error_line(result, 2)
    assert "more than 1000 component counts" in line


def test_columns_with_commas_and_spaces(tmp_path, make_mixture, scheduler):
    X, _ = make_mixture(n=500, d=2, k=2, seed=5)
    data = tmp_path / "odd.parquet"
    pd.DataFrame({"x, y": X[:, 0], " z": X[:, 1], "z": 0.0}).to_parquet(data)
    fit = ["fit", data, "-k", "2", "--max-iter", "3", "--scheduler", scheduler, "--out"]
    repeated = run(*fit, tmp_path / "a.npz", "--column", "x, y", "--column", " z", "--json")
    assert repeated.returncode == 0, repeated.stderr
    listed = run(*fit, tmp_path / "b.npz", "--columns", '["x, y", " z"]', "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(repeated.stdout)["n_features"] == 2
    a, b = distgmm.load(tmp_path / "a.npz"), distgmm.load(tmp_path / "b.npz")
    assert np.array_equal(a.means_, b.means_)
    reference = GaussianMixture(2, max_iter=3, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(a.means_, axis=0), np.sort(reference.means_, axis=0))


@pytest.mark.cluster
def test_worker_logs_stay_off_the_error_line(tmp_path, make_mixture):
    """A fit failing on a local cluster prints only its own error, not the workers' logs."""
    X, _ = make_mixture(n=200_000, d=3, k=2, seed=6)
    X[10, 1] = np.nan  # found in the first chunk while the others are still being read
    data = tmp_path / "nan.zarr"
    zarr.create_array(data, shape=X.shape, chunks=(5_000, 3), dtype="f8")[:] = X
    result = run("fit", data, "-k", "2", "--workers", "2", "--out", tmp_path / "m.npz")
    lines = [line for line in result.stderr.splitlines() if not line.startswith("local cluster")]
    assert result.returncode == 2, result.stderr
    assert lines == [lines[0]], result.stderr
    assert "NaN" in lines[0]


@pytest.fixture
def scheduler(cluster1) -> str:
    return cluster1.scheduler.address

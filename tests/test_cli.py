"""The installed ``distgmm`` console script, run as a user would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import dask.array as da
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import zarr

import distgmm
from distgmm import GaussianMixture
from distgmm.checkpoint import checkpoint_iteration as saved_iteration


def distgmm_command() -> list[str]:
    script = Path(sys.executable).with_name("distgmm")
    if script.exists():
        return [str(script)]
    found = shutil.which("distgmm")
    assert found, "the distgmm console script is not installed (pip install .)"
    return [found]


def run(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``distgmm *args``; ``env`` adds to the environment."""
    return subprocess.run(
        [*distgmm_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_json(*args, env: dict | None = None, code: int = 0) -> dict:
    """``distgmm *args --json``: its exit code, and stdout parsed as exactly one JSON object."""
    result = run(*args, "--json", env=env)
    assert result.returncode == code, result.stderr
    assert len(result.stdout.splitlines()) == 1, result.stdout
    record = json.loads(result.stdout)
    assert isinstance(record, dict)
    return record


def assert_one_error_line(result: subprocess.CompletedProcess, code: int) -> str:
    """The exit code is ``code`` and stderr is one ``distgmm: error:`` line, no traceback."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("distgmm: error: "), result.stderr
    return lines[0]


def checkpoint_iteration(path: Path) -> int:
    """The iteration a checkpoint was written after; -1 if there is none (yet)."""
    iteration = saved_iteration(path)
    return -1 if iteration is None else iteration


@pytest.fixture(scope="module")
def data(tmp_path_factory, make_mixture):
    """The same 3000 rows as Zarr, as Parquet (with an id and a string column) and in memory."""
    root = tmp_path_factory.mktemp("cli-data")
    X, _ = make_mixture(n=3000, d=3, k=3, seed=1)
    store = zarr.create_array(root / "rows.zarr", shape=X.shape, chunks=(500, 3), dtype="f8")
    store[:] = X
    frame = pd.DataFrame(
        {
            "id": np.arange(100_000, 100_000 + len(X)),
            "name": [f"row {i}" for i in range(len(X))],
            "a": X[:, 0],
            "b": X[:, 1],
            "c": X[:, 2],
        }
    )
    frame.to_parquet(root / "rows.parquet", row_group_size=500)
    model = root / "numpy-fitted.npz"
    GaussianMixture(3, random_state=0).fit(X).save(model)
    corrupt = root / "corrupt.npz"
    corrupt.write_bytes(model.read_bytes()[:300])
    return SimpleNamespace(
        root=root,
        X=X,
        ids=frame["id"].to_numpy(),
        zarr=root / "rows.zarr",
        parquet=root / "rows.parquet",
        model=model,
        corrupt=corrupt,
    )


@pytest.fixture
def scheduler(cluster1) -> str:
    """The address of a running cluster (one worker process), shared with the other tests."""
    return cluster1.scheduler.address


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
    assert "adjusted Rand index against the true labels 1.0000" in result.stderr
    assert result.stdout == ""  # its report goes to stderr, as every command's
    assert "local cluster:" in result.stderr


def test_help_and_usage_errors():
    ok = subprocess.run([*distgmm_command(), "--help"], capture_output=True, text=True)
    assert ok.returncode == 0
    assert "demo" in ok.stdout
    bad = subprocess.run([*distgmm_command(), "bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"distgmm {distgmm.__version__}"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["fit", "{root}/missing.zarr"], id="missing-data"),
        pytest.param(["fit", "{parquet}", "--columns", "a,nope"], id="unknown-column"),
        pytest.param(["fit", "{zarr}", "-k", "0"], id="k-0"),
        pytest.param(["fit", "{zarr}", "-k", "x"], id="k-x"),
        pytest.param(["select", "{zarr}", "-k", "0..3"], id="select-k-0"),
        pytest.param(["fit", "{zarr}", "--no-such-option"], id="unknown-option"),
        pytest.param(["info", "{corrupt}"], id="info-corrupt-model"),
        pytest.param(["score", "{corrupt}", "{zarr}"], id="score-corrupt-model"),
        pytest.param(
            ["predict", "{corrupt}", "{zarr}", "--out", "{root}/p.zarr"],
            id="predict-corrupt-model",
        ),
        pytest.param(
            ["predict", "{model}", "{zarr}", "--out", "{parquet}"], id="predict-output-exists"
        ),
        pytest.param(
            ["predict", "{model}", "{parquet}", "--out", "{root}/p.parquet"],
            id="predict-non-numeric-column",
        ),
        pytest.param(["fit", "{zarr}", "--resume"], id="resume-without-checkpoint"),
        pytest.param(["make-data", "{zarr}", "--rows", "10"], id="make-data-output-exists"),
        pytest.param(["make-data", "{root}/new.zarr", "--rows", "0"], id="make-data-rows-0"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(data, args):
    # All of these fail before any cluster starts.
    paths = {k: str(v) for k, v in vars(data).items() if isinstance(v, Path)}
    result = run(*(arg.format(**paths) for arg in args))
    assert_one_error_line(result, 2)
    assert result.stdout == ""


@pytest.fixture(scope="module")
def zarr_model(data):
    """A model fitted by ``distgmm fit`` on the Zarr data, and its JSON summary."""
    path = data.root / "zarr-model.npz"
    record = run_json(
        "fit", data.zarr, "-k", "3", "--workers", "1", "--chunk-mb", "0.02", "--out", path
    )
    return path, record


@pytest.mark.cluster
def test_fit_on_zarr(data, zarr_model):
    path, record = zarr_model
    gm = distgmm.load(path)
    assert record == {
        "command": "fit",
        "data": str(data.zarr),
        "n_samples": 3000,
        "n_features": 3,
        "n_components": 3,
        "covariance_type": "full",
        "converged": True,
        "n_iter": gm.n_iter_,
        "lower_bound": gm.lower_bound_,
        "seconds": record["seconds"],
        "model": str(path),
        "checkpoint": None,
    }
    # The same model as the library fits from the same settings (on a dask array: the
    # out-of-core initialisation, which does not depend on the chunking).
    expected = GaussianMixture(3, random_state=0).fit(da.from_array(data.X))
    np.testing.assert_allclose(gm.means_, expected.means_, rtol=1e-9)


@pytest.mark.cluster
def test_info(zarr_model):
    path, _ = zarr_model
    gm = distgmm.load(path)
    record = run_json("info", path)
    assert record["estimator"] == "GaussianMixture"
    assert record["covariance_type"] == "full"
    assert (record["n_components"], record["n_features"]) == (3, 3)
    assert record["converged"] is True
    assert record["n_iter"] == gm.n_iter_
    assert record["lower_bound"] == gm.lower_bound_
    assert record["distgmm_version"] == distgmm.__version__
    assert record["created"]
    assert np.array_equal(record["weights"], gm.weights_)
    assert np.array_equal(record["means"], gm.means_)
    human = run("info", path)
    assert human.returncode == 0
    assert human.stdout == ""
    assert ": GaussianMixture, 3 full components" in human.stderr


@pytest.mark.cluster
def test_score_matches_the_library(data, zarr_model, scheduler):
    path, _ = zarr_model
    gm = distgmm.load(path)
    record = run_json("score", path, data.zarr, "--scheduler", scheduler)
    assert record["n_samples"] == 3000
    assert record["mean_log_likelihood"] == pytest.approx(gm.score(data.X), rel=1e-12)
    assert record["bic"] == pytest.approx(gm.bic(data.X), rel=1e-12)
    assert record["aic"] == pytest.approx(gm.aic(data.X), rel=1e-12)


@pytest.mark.cluster
def test_predict_to_zarr_on_the_cluster_from_the_environment(data, zarr_model, scheduler, tmp_path):
    path, _ = zarr_model
    gm = distgmm.load(path)
    out = tmp_path / "labels.zarr"
    # The cluster from the environment, as Dask itself takes it.
    record = run_json(
        "predict",
        path,
        data.zarr,
        "--out",
        out,
        "--proba",
        "--chunk-mb",
        "0.02",
        env={"DASK_SCHEDULER_ADDRESS": scheduler},
    )
    assert record["outputs"] == ["labels", "probabilities"]
    group = zarr.open_group(out, mode="r")
    assert np.array_equal(group["labels"][:], gm.predict(data.X))
    np.testing.assert_allclose(group["probabilities"][:], gm.predict_proba(data.X), atol=1e-12)
    # An existing output is replaced only when asked.
    assert_one_error_line(run("predict", path, data.zarr, "--out", out), 2)
    again = run("predict", path, data.zarr, "--out", out, "--overwrite", "--scheduler", scheduler)
    assert again.returncode == 0, again.stderr


@pytest.mark.cluster
def test_fit_and_predict_on_parquet_columns(data, scheduler, tmp_path):
    model = tmp_path / "parquet-model.npz"
    fitted = run_json(
        "fit", data.parquet, "--columns", "a,b,c", "-k", "3", "--workers", "2", "--out", model
    )
    assert (fitted["n_samples"], fitted["n_features"]) == (3000, 3)
    gm = distgmm.load(model)
    out = tmp_path / "labels.parquet"
    result = run(
        "predict",
        model,
        data.parquet,
        "--columns",
        "a,b,c",
        "--out",
        out,
        "--keep-columns",
        "id",
        "--proba",
        "--chunk-mb",
        "0.02",
        "--scheduler",
        scheduler,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(list(out.glob("*.parquet"))) > 1  # several chunks, still row-aligned
    table = pq.read_table(out).to_pandas()
    assert list(table.columns) == ["id", "label", "proba_0", "proba_1", "proba_2"]
    assert np.array_equal(table["id"], data.ids)
    named = pd.DataFrame(data.X, columns=["a", "b", "c"])  # the model knows its columns
    assert np.array_equal(table["label"], gm.predict(named))
    proba = table[["proba_0", "proba_1", "proba_2"]].to_numpy()
    np.testing.assert_allclose(proba, gm.predict_proba(named), atol=1e-12)


@pytest.mark.cluster
def test_predict_and_score_read_the_models_columns_by_name(data, scheduler, tmp_path):
    model = tmp_path / "abc.npz"
    gm = GaussianMixture(3, random_state=0).fit(
        distgmm.read_parquet(data.parquet, columns=["a", "b", "c"])
    )
    gm.save(model)
    named = pd.DataFrame(data.X, columns=["a", "b", "c"])
    expected = gm.predict(named)
    # Another order, or no --columns at all (the file has an id and a string column too):
    # the model's columns, by name.
    for i, columns in enumerate((["--columns", "c,b,a"], [])):
        out = tmp_path / f"labels-{i}.zarr"
        result = run(
            "predict", model, data.parquet, *columns, "--out", out, "--scheduler", scheduler
        )
        assert result.returncode == 0, result.stderr
        assert np.array_equal(zarr.open_group(out, mode="r")["labels"][:], expected)
    record = run_json("score", model, data.parquet, "--columns", "b,c,a", "--scheduler", scheduler)
    assert record["mean_log_likelihood"] == pytest.approx(gm.score(named), rel=1e-12)
    other = run("predict", model, data.parquet, "--columns", "a,b,id", "--out", tmp_path / "x.zarr")
    line = assert_one_error_line(other, 2)
    assert "a,b,id" in line
    assert "a,b,c" in line


def _with_header(source: Path, target: Path, header: str) -> Path:
    with np.load(source, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    members["header"] = np.array(header)
    with target.open("wb") as fh:
        np.savez(fh, **members)
    return target


def test_malformed_model_files_exit_2(data, tmp_path):
    with np.load(data.model, allow_pickle=False) as npz:
        header = json.loads(str(npz["header"][()]))
    del header["created"]
    no_created = _with_header(data.model, tmp_path / "no-created.npz", json.dumps(header))
    deep = _with_header(data.model, tmp_path / "deep.npz", "[" * 200_000 + "]" * 200_000)
    for path in (no_created, deep):
        line = assert_one_error_line(run("info", path), 2)
        assert str(path) in line
    line = assert_one_error_line(run("predict", deep, data.zarr, "--out", tmp_path / "o.zarr"), 2)
    assert "nests" in line


def test_info_escapes_control_characters(data, tmp_path):
    names = ["a\x1b[2J", "b\nfake line", "c"]
    path = tmp_path / "named.npz"
    GaussianMixture(3, random_state=0).fit(pd.DataFrame(data.X, columns=names)).save(path)
    human = run("info", path)
    assert human.returncode == 0, human.stderr
    assert "\x1b" not in human.stderr
    assert "a\\x1b[2J, b\\nfake line, c" in human.stderr
    assert not any(line.startswith("fake line") for line in human.stderr.splitlines())
    assert run_json("info", path)["feature_names"] == names


@pytest.mark.cluster
def test_select_saves_the_best_candidate(data, tmp_path):
    best = tmp_path / "best.npz"
    record = run_json(
        "select",
        data.zarr,
        "-k",
        "1..3",
        "--covariance",
        "full,diag",
        "--workers",
        "2",
        "--out",
        best,
    )
    candidates = record["candidates"]
    assert [(c["covariance_type"], c["n_components"]) for c in candidates] == [
        (cov, k) for cov in ("full", "diag") for k in (1, 2, 3)
    ]
    assert all(c["status"] == "ok" for c in candidates)
    winner = min(candidates, key=lambda c: c["bic"])
    assert record["best"] == {
        "n_components": winner["n_components"],
        "covariance_type": winner["covariance_type"],
        "bic": winner["bic"],
    }
    gm = distgmm.load(best)
    assert (gm.n_components, gm.covariance_type) == (3, "full")
    assert winner["bic"] == pytest.approx(gm.bic(data.X), rel=1e-12)
    assert winner["aic"] == pytest.approx(gm.aic(data.X), rel=1e-12)


@pytest.mark.cluster
def test_select_reports_failed_candidates(tmp_path, scheduler):
    # One component has a constant feature: without reg_covar its variance is zero.
    rng = np.random.default_rng(0)
    flat = np.c_[rng.normal(0.0, 1.0, (1000, 2)), np.zeros(1000)]
    X = np.r_[flat, rng.normal(20.0, 1.0, (1000, 3))]
    np.save(tmp_path / "flat.npy", X)
    best = tmp_path / "best.npz"
    record = run_json(
        "select",
        tmp_path / "flat.npy",
        "-k",
        "1..3",
        "--covariance",
        "full,diag",
        "--reg-covar",
        "0",
        "--scheduler",
        scheduler,
        "--out",
        best,
    )
    failed = [c for c in record["candidates"] if c["status"] == "failed"]
    ok = [c for c in record["candidates"] if c["status"] == "ok"]
    assert len(failed) + len(ok) == 6
    assert failed
    assert ok
    assert {c["error_type"] for c in failed} <= {"SingularCovarianceError", "EmptyComponentError"}
    assert all("failed" in c["error"] for c in failed)
    assert distgmm.load(best).n_components == min(ok, key=lambda c: c["bic"])["n_components"]


@pytest.mark.cluster
@pytest.mark.parametrize(
    "args", [["fit", "-k", "1"], ["select", "-k", "1..2", "--covariance", "full"]]
)
def test_failed_fit_exits_1(tmp_path, scheduler, args):
    # Only one distinct row: the covariance is zero, and reg_covar=0 keeps it singular.
    np.save(tmp_path / "constant.npy", np.tile([[1.0, 2.0, 3.0]], (2000, 1)))
    command, *options = args
    result = run(
        command,
        tmp_path / "constant.npy",
        *options,
        "--reg-covar",
        "0",
        "--scheduler",
        scheduler,
        "--out",
        tmp_path / "m.npz",
        "--json",
    )
    line = assert_one_error_line(result, 1)
    assert "singular" in line or "candidates failed" in line
    assert result.stdout == ""
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.cluster
def test_require_converged_exits_3_and_keeps_the_model(data, tmp_path, scheduler):
    model = tmp_path / "m.npz"
    result = run(
        "fit",
        data.zarr,
        "-k",
        "3",
        "--max-iter",
        "1",
        "--require-converged",
        "--scheduler",
        scheduler,
        "--out",
        model,
        "--json",
    )
    line = assert_one_error_line(result, 3)
    assert "did not converge" in line
    record = json.loads(result.stdout)
    assert (record["converged"], record["n_iter"]) == (False, 1)
    assert distgmm.load(model).n_iter_ == 1


def _start(*args) -> subprocess.Popen:
    # Its own process group, so that a signal reaches the worker processes it starts too.
    return subprocess.Popen(
        [*distgmm_command(), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _signal_after(proc: subprocess.Popen, checkpoint: Path, iteration: int, sig) -> int:
    """Send ``sig`` to ``proc``'s process group once ``checkpoint`` is past ``iteration``."""
    deadline = time.monotonic() + 240
    while checkpoint_iteration(checkpoint) < iteration:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint progress"
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)
    return checkpoint_iteration(checkpoint)


@pytest.mark.cluster
def test_killed_fit_resumes_bit_identically(tmp_path, scheduler, make_mixture):
    # Enough rows for an iteration to take ~0.1 s, so the fit is caught mid-way.
    X, _ = make_mixture(n=400_000, d=3, k=3, seed=2)
    data = tmp_path / "big.zarr"
    zarr.create_array(data, shape=X.shape, chunks=(50_000, 3), dtype="f8")[:] = X
    checkpoint = tmp_path / "ck.npz"
    common = ["fit", data, "-k", "3", "--max-iter", "40", "--tol", "0"]
    resumable = [*common, "--workers", "1", "--checkpoint", checkpoint, "--out"]

    killed = _start(*resumable, tmp_path / "resumed.npz")
    at_kill = _signal_after(killed, checkpoint, 3, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert 3 <= at_kill < 40

    # Ctrl-C while resuming: exit 130, one line, the checkpoint intact.
    interrupted = _start(*resumable, tmp_path / "resumed.npz", "--resume")
    at_interrupt = _signal_after(interrupted, checkpoint, at_kill + 3, signal.SIGINT)
    stdout, stderr = interrupted.communicate()
    assert interrupted.returncode == 130, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if "interrupted" in line] == [
        f"distgmm: interrupted; the checkpoint {checkpoint} (iteration {at_interrupt}) is "
        "intact, rerun with --resume to continue"
    ]
    assert at_kill + 3 <= at_interrupt < 40

    resumed = run(*resumable, tmp_path / "resumed.npz", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint" in resumed.stderr
    reference = run(*common, "--scheduler", scheduler, "--out", tmp_path / "reference.npz")
    assert reference.returncode == 0, reference.stderr
    with (
        np.load(tmp_path / "resumed.npz") as got,
        np.load(tmp_path / "reference.npz") as want,
    ):
        for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
            assert np.array_equal(got[name], want[name]), name
        assert len(got["lower_bounds_"]) == 40


@pytest.mark.cluster
def test_select_warns_when_the_best_count_is_at_the_edge(data, tmp_path, scheduler):
    """The criterion may go on improving past the range: say so, on stderr (also with --json)."""
    select = ("select", data.zarr, "--covariance", "full", "--scheduler", scheduler)
    edge = run(*select, "-k", "1..2", "--out", tmp_path / "edge.npz", "--json")
    assert edge.returncode == 0, edge.stderr
    assert json.loads(edge.stdout)["best"]["n_components"] == 2
    warnings = [line for line in edge.stderr.splitlines() if line.startswith("distgmm: warning:")]
    assert warnings == [
        "distgmm: warning: the best n_components, 2, is the largest of the counts tried "
        "(1 to 2); a larger one may be better: widen -k/--components"
    ]
    inside = run(*select, "-k", "2..4", "--out", tmp_path / "inside.npz")
    assert inside.returncode == 0, inside.stderr
    assert "best by bic: full k=3 " in inside.stderr
    assert "warning" not in inside.stderr


@pytest.mark.cluster
def test_missing_or_damaged_zarr_chunks(data, tmp_path, scheduler):
    store = tmp_path / "rows.zarr"
    shutil.copytree(data.zarr, store)
    (store / "c" / "3" / "0").unlink()  # rows 1500 to 1999 would be read as zeros
    model = tmp_path / "m.npz"
    fit = ("fit", store, "-k", "2", "--max-iter", "3", "--out", model, "--scheduler", scheduler)
    result = run(*fit, "--json")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert warning[0].startswith("distgmm: warning: 1 of the 6 stored")
    assert "'c/3/0'" in warning[0]
    assert "--missing-chunks raise" in warning[0]
    model.unlink()
    line = assert_one_error_line(run(*fit, "--missing-chunks", "raise"), 2)
    assert "'c/3/0'" in line
    assert "rows 1500 to 1999" in line
    assert not model.exists()
    # a damaged chunk fails the pass that reads it, on a worker: exit 2, naming the chunk
    shutil.copy(data.zarr / "c" / "2" / "0", store / "c" / "3" / "0")
    with open(store / "c" / "3" / "0", "r+b") as f:
        f.seek(10)
        f.write(b"\xff" * 40)
    line = assert_one_error_line(run(*fit, "--json"), 2)
    assert "rows 1500 to 1999 of the Zarr array" in line
    assert "(chunk 'c/3/0')" in line
    assert not model.exists()


@pytest.mark.cluster
def test_progress_on_a_terminal_shows_each_iteration(data, tmp_path, scheduler):
    """On a terminal, fit shows a progress bar of its iterations; elsewhere none."""
    import pty

    argv = ["fit", str(data.zarr), "-k", "2", "--max-iter", "3", "--tol", "0"]
    argv += ["--out", str(tmp_path / "m.npz"), "--scheduler", scheduler]
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [*distgmm_command(), *argv],
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=300,
            # every iteration drawn: tqdm otherwise skips those less than 0.1 s apart
            env={**os.environ, "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1"},
        )
        os.close(slave)
        slave = None
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other side is closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode in (0, 3), terminal
    drawn = terminal.split("\r")
    # iterations of --max-iter, the bound and its change (none before the second iteration)
    assert any(" 1/3 " in bar and "bound " in bar for bar in drawn), terminal
    assert any(" 3/3 " in bar and ", change " in bar for bar in drawn), terminal
    # the bar is cleared for the summary
    assert terminal.rstrip().split("\r")[-1].startswith("\x1b[Kfitted 2 full"), terminal
    # In a pipeline's log: the summary lines only, no line redrawn in place.
    piped = run(*argv, "--overwrite")
    assert piped.returncode in (0, 3), piped.stderr
    assert "\r" not in piped.stderr
    assert "\x1b" not in piped.stderr
    assert "fitted 2 full components" in piped.stderr


def test_the_librarys_logged_warnings_are_warning_lines(capsys):
    # e.g. streamed chunks too large for the workers (distgmm._sizing): without a handler,
    # Python printed the bare message; the CLI says whose warning it is, as for the readers'
    import logging

    from distgmm.cli import _library_warnings

    with _library_warnings():
        logging.getLogger("distgmm._sizing").warning("Use smaller chunks (%s)", "--chunk-mb")
        logging.getLogger("distgmm.core.em").info("iteration 1")  # progress is not a warning
    assert capsys.readouterr().err == "distgmm: warning: Use smaller chunks (--chunk-mb)\n"
    logging.getLogger("distgmm._sizing").warning("after the command")
    assert "distgmm: warning:" not in capsys.readouterr().err

"""``distgmm update``: one online EM step of a saved model on a new batch, atomically."""

from __future__ import annotations

import numpy as np
import pytest
from test_cli import assert_one_error_line, run, run_json

import distgmm
from distgmm import GaussianMixture


@pytest.fixture
def scheduler(cluster1) -> str:
    """A running cluster (one worker process) shared with the other tests."""
    return cluster1.scheduler.address


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    root = tmp_path_factory.mktemp("update")
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 6.0]])
    paths = []
    for day in range(3):
        X = rng.normal(means[rng.integers(0, 3, 1500)], 1.0)
        np.save(root / f"day{day}.npy", X)
        paths.append(root / f"day{day}.npy")
    return root, paths


@pytest.mark.cluster
def test_update_in_place_equals_partial_fit(batches, scheduler):
    root, paths = batches
    first = GaussianMixture(3, random_state=0).partial_fit(np.load(paths[0]))
    model = root / "model.npz"
    first.save(model)
    record = run_json("update", model, paths[1], "--out", model, "--scheduler", scheduler)
    assert record["n_batches_seen"] == 2
    assert record["batches_before"] == 1
    expected = first.partial_fit(np.load(paths[1]))
    updated = distgmm.load(model)
    np.testing.assert_allclose(updated.means_, expected.means_, rtol=1e-12)
    np.testing.assert_allclose(updated.covariances_, expected.covariances_, rtol=1e-12)
    assert updated.n_batches_seen_ == 2
    assert record["batch_mean_log_likelihood"] == pytest.approx(expected.lower_bound_, rel=1e-12)


@pytest.mark.cluster
def test_update_after_fit_starts_the_running_statistics(batches, scheduler):
    root, paths = batches
    fitted = GaussianMixture(3, random_state=0).fit(np.load(paths[0]))
    model = root / "fitted.npz"
    fitted.save(model)
    run_json("update", model, paths[2], "--out", root / "next.npz", "--scheduler", scheduler)
    updated = distgmm.load(root / "next.npz")
    assert updated.n_batches_seen_ == 1
    assert distgmm.load(model).n_iter_ == fitted.n_iter_  # MODEL itself untouched


@pytest.mark.cluster
def test_update_refuses_another_existing_output_and_bad_data(batches, tmp_path, scheduler):
    _, paths = batches
    model = tmp_path / "m.npz"
    GaussianMixture(3, random_state=0).partial_fit(np.load(paths[0])).save(model)
    other = tmp_path / "other.npz"
    other.write_bytes(b"keep")
    line = assert_one_error_line(run("update", model, paths[1], "--out", other), 2)
    assert "--overwrite" in line
    assert other.read_bytes() == b"keep"
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((10, 3)))
    before = model.read_bytes()
    result = run("update", model, wide, "--out", model, "--scheduler", scheduler)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert model.read_bytes() == before  # the model is left as it was


def test_info_says_a_model_was_updated_online(batches, tmp_path):
    _, paths = batches
    model = tmp_path / "online.npz"
    GaussianMixture(3, random_state=0).partial_fit(np.load(paths[0])).save(model)
    assert run_json("info", model)["n_batches_seen"] == 1
    shown = run("info", model)
    lines = (shown.stdout + shown.stderr).splitlines()
    assert any(line.startswith("fit: updated online with 1 batch(es)") for line in lines), lines
    fitted = tmp_path / "fitted.npz"
    GaussianMixture(3, random_state=0).fit(np.load(paths[0])).save(fitted)
    assert "n_batches_seen" not in run_json("info", fitted)

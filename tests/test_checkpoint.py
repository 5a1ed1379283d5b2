"""Checkpoints: a fit stopped after any iteration and resumed gives the identical model."""

from __future__ import annotations

import os
import warnings

import dask.array as da
import numpy as np
import pytest

from distgmm import ConvergenceWarning, GaussianMixture, InvalidInputError

FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")


def assert_identical(a, b):
    for name in FITTED:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_


def quiet_fit(X, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        params = {"random_state": 0, **params}
        return GaussianMixture(3, n_init=2, **params).fit(X, sample_weight=sample_weight)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("stop_after", [0, 1, 4])
def test_resumed_fit_is_bit_identical(tmp_path, make_mixture, covariance_type, stop_after):
    X, _ = make_mixture(2000, seed=3)
    settings = {"covariance_type": covariance_type, "tol": 0.0}
    whole = quiet_fit(X, max_iter=8, **settings)
    path = tmp_path / "fit.ckpt"
    quiet_fit(X, max_iter=stop_after, checkpoint=path, **settings)  # "killed" here
    # the checkpoint, not the seed, decides how the resumed fit goes on
    resumed = quiet_fit(X, max_iter=8, checkpoint=path, resume=True, **settings)
    assert_identical(resumed, whole)
    assert os.listdir(tmp_path) == ["fit.ckpt"]  # no temporary file left


def test_resume_on_a_cluster_with_dask_input(tmp_path, make_mixture, cluster2):
    X, _ = make_mixture(3000, seed=4)
    data = da.from_array(X, chunks=700)
    whole = quiet_fit(data, max_iter=6, tol=0.0, client=cluster2)
    path = tmp_path / "fit.ckpt"
    quiet_fit(data, max_iter=2, tol=0.0, client=cluster2, checkpoint=path)
    resumed = quiet_fit(data, max_iter=6, tol=0.0, client=cluster2, checkpoint=path, resume=True)
    assert_identical(resumed, whole)


def test_resume_after_convergence_and_without_a_file(tmp_path, make_mixture):
    X, _ = make_mixture(1500, seed=5)
    path = tmp_path / "fit.ckpt"
    fresh = quiet_fit(X, checkpoint=path, resume=True)  # no file yet: starts afresh
    assert fresh.converged_
    assert_identical(fresh, quiet_fit(X))
    again = quiet_fit(X, checkpoint=path, resume=True)  # nothing left to do
    assert_identical(again, fresh)


def test_checkpoint_from_other_settings_or_damaged_is_refused(tmp_path, make_mixture):
    X, _ = make_mixture(1000, seed=6)
    path = tmp_path / "fit.ckpt"
    quiet_fit(X, max_iter=2, checkpoint=path)
    with pytest.raises(InvalidInputError, match="covariance_type differ"):
        quiet_fit(X, covariance_type="diag", checkpoint=path, resume=True)
    with pytest.raises(InvalidInputError, match="n_samples differ"):
        quiet_fit(X[:900], checkpoint=path, resume=True)
    other = X.copy()
    other[-1] += 1.0  # the same shape, other data (regenerated, replaced)
    with pytest.raises(InvalidInputError, match=r"\(data_edges_sha256 differ\)"):
        quiet_fit(other, checkpoint=path, resume=True)
    with pytest.raises(InvalidInputError, match=r"\(data_edges_sha256 differ\)"):
        quiet_fit(da.from_array(other, chunks=(300, -1)), checkpoint=path, resume=True)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InvalidInputError, match="not a readable distgmm checkpoint"):
        quiet_fit(X, checkpoint=path, resume=True)
    quiet_fit(X, max_iter=2, checkpoint=path)  # without resume, it is overwritten
    quiet_fit(X, max_iter=3, checkpoint=path, resume=True)


def test_checkpoint_of_other_weights_seed_or_start_is_refused(tmp_path, make_mixture):
    X, _ = make_mixture(1000, seed=7)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    path = tmp_path / "fit.ckpt"
    quiet_fit(X, max_iter=2, tol=0.0, checkpoint=path, sample_weight=w)
    resume = dict(max_iter=6, tol=0.0, checkpoint=path, resume=True)
    # a weighted start must not be continued unweighted, nor with other weights
    with pytest.raises(InvalidInputError, match=r"\(sample_weight differ\)"):
        quiet_fit(X, **resume)
    other = w.copy()
    other[500] += 1.0
    with pytest.raises(InvalidInputError, match=r"\(sample_weight differ\)"):
        quiet_fit(X, **resume, sample_weight=other)
    # the same weights, however they are chunked: the digest is keyed by row, not chunk
    lazy = da.from_array(w, chunks=300)
    resumed = quiet_fit(da.from_array(X, chunks=(300, -1)), **resume, sample_weight=lazy)
    whole = quiet_fit(X, max_iter=6, tol=0.0, sample_weight=w)
    np.testing.assert_allclose(resumed.means_, whole.means_, rtol=1e-10)
    # another seed (two fits sharing one checkpoint path), another given start
    path.unlink()
    quiet_fit(X, max_iter=2, checkpoint=path, random_state=1)
    with pytest.raises(InvalidInputError, match=r"\(random_state differ\)"):
        quiet_fit(X, checkpoint=path, resume=True)
    means = whole.means_
    path.unlink()
    quiet_fit(X, max_iter=2, checkpoint=path, means_init=means)
    with pytest.raises(InvalidInputError, match=r"\(means_init differ\)"):
        quiet_fit(X, checkpoint=path, resume=True, means_init=means + 0.5)
    with pytest.raises(InvalidInputError, match=r"\(means_init, random_state differ\)"):
        quiet_fit(X, checkpoint=path, resume=True, means_init=means - 1, random_state=3)
    quiet_fit(X, checkpoint=path, resume=True, means_init=means)


def test_equal_weights_resume_an_unweighted_checkpoint(tmp_path, make_mixture):
    # equal weights fit bit for bit as no weights, so either resumes the other
    X, _ = make_mixture(1000, seed=8)
    path = tmp_path / "fit.ckpt"
    quiet_fit(X, max_iter=2, tol=0.0, checkpoint=path)
    resumed = quiet_fit(
        X, max_iter=5, tol=0.0, checkpoint=path, resume=True, sample_weight=np.full(1000, 1e-20)
    )
    assert_identical(resumed, quiet_fit(X, max_iter=5, tol=0.0))


@pytest.mark.parametrize("url", ["s3://bucket/fit.ckpt", "gs://bucket/fit.ckpt"])
def test_a_checkpoint_url_is_refused_before_the_fit(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a save would have made the 's3:' folder
    # rewritten every iteration, a checkpoint must be a local path: refused before any pass,
    # not after the first iteration's save wrote into a local 's3:' folder
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(InvalidInputError, match="is a URL; a checkpoint is rewritten"):
        GaussianMixture(2, checkpoint=url, random_state=0).fit(X)
    assert not os.path.exists(url.split(":")[0] + ":")

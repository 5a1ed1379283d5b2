"""nan_policy (issue 16) beyond the EM arithmetic: "raise" keeps today's errors, "omit"
skips rows with NaN (counted, labelled -1), errors for rows without any observed entry and
for infinity, the policy in get_params and model files, and the console script."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import zarr
from sklearn.utils._param_validation import InvalidParameterError
from test_cli import run, run_json
from test_missing_gaussian import TYPES, assert_close, gapped, n_parameters, start

import distgmm
from distgmm import GaussianMixture, InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
LAZY = pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
INFERENCE = ("predict", "predict_proba", "score_samples", "score")


def data(X, lazy, rows=70):
    return da.from_array(X, chunks=(rows, -1)) if lazy else X


def computed(out):
    return out.compute() if isinstance(out, da.Array) else np.asarray(out)


@pytest.fixture(scope="module")
def gaps():
    """600 rows, 4 features, 10 % of entries missing; their start for a full model."""
    X, labels = gapped(600, fraction=0.1, seed=60)
    return X, start(X, labels, "full")


@pytest.fixture(scope="module")
def marginal(gaps):
    X, init = gaps
    return GaussianMixture(3, nan_policy="marginalize", max_iter=5, tol=0, **init).fit(X)


# ------------------------------------------------------------------ the parameter
def test_nan_policy_is_a_parameter_raise_by_default():
    assert GaussianMixture().get_params()["nan_policy"] == "raise"
    assert GaussianMixture(nan_policy="omit").get_params()["nan_policy"] == "omit"


@pytest.mark.parametrize("value", ["ignore", "Marginalize", None, 1])
def test_invalid_nan_policy_is_refused(gaps, value):
    X, _ = gaps
    with pytest.raises(InvalidParameterError, match="nan_policy"):
        GaussianMixture(2, nan_policy=value).fit(X)


# ------------------------------------------------------------------ "raise": today's errors
def test_raise_keeps_todays_error_on_numpy_input():
    X = np.random.default_rng(0).normal(size=(200, 3))
    X[17, 1] = np.nan
    fitted = GaussianMixture(2, random_state=0).fit(np.nan_to_num(X))
    today = r"^Input X contains NaN\.\nGaussianMixture does not accept missing values"
    with pytest.raises(InvalidInputError, match=today):
        GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match=today):
        GaussianMixture(2, random_state=0, nan_policy="raise").fit(X)
    for method in INFERENCE:
        with pytest.raises(InvalidInputError, match=today):
            getattr(fitted, method)(X)


def test_raise_keeps_todays_error_on_dask_input():
    X = np.random.default_rng(0).normal(size=(200, 3))
    X[150, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN or infinity \(1 of 200 sampled rows\)"):
        GaussianMixture(2, random_state=0).fit(da.from_array(X, chunks=(50, -1)))


# ------------------------------------------------------------------ infinity, empty rows
@LAZY
@pytest.mark.parametrize("policy", ["marginalize", "omit"])
@pytest.mark.parametrize("value", [np.inf, -np.inf], ids=["inf", "-inf"])
def test_infinity_is_still_refused(gaps, marginal, lazy, policy, value):
    X, init = gaps
    X = X.copy()
    X[123, 2] = value
    with pytest.raises(InvalidInputError, match="infinity"):
        GaussianMixture(3, nan_policy=policy, max_iter=2, **init).fit(data(X, lazy))
    with pytest.raises(InvalidInputError, match="infinity"):
        computed(marginal.score_samples(data(X, lazy)))


@LAZY
def test_a_row_without_observed_entries_is_an_error_naming_it(gaps, marginal, lazy):
    X, init = gaps
    X = X.copy()
    X[137] = np.nan  # in the second chunk of the dask array: its index in X is named
    gm = GaussianMixture(3, nan_policy="marginalize", max_iter=2, **init)
    with pytest.raises(InvalidInputError, match=r"\b137\b"):
        gm.fit(data(X, lazy))
    assert not hasattr(gm, "means_")
    for method in INFERENCE:
        with pytest.raises(InvalidInputError, match=r"\b137\b"):
            computed(getattr(marginal, method)(data(X, lazy)))


# ------------------------------------------------------------------ "omit"
@LAZY
@pytest.mark.parametrize("covariance_type", TYPES)
def test_omit_fits_the_rows_without_nan(lazy, covariance_type):
    X, labels = gapped(800, fraction=0.04, seed=70)
    keep = ~np.isnan(X).any(axis=1)
    init = start(X, labels, covariance_type)
    kw = dict(covariance_type=covariance_type, max_iter=10, tol=0.0, **init)
    omitted = GaussianMixture(3, nan_policy="omit", **kw).fit(data(X, lazy))
    complete = GaussianMixture(3, **kw).fit(X[keep])
    assert 0 < (~keep).sum() < len(X) // 2
    assert omitted.n_omitted_ == (~keep).sum()
    assert complete.n_omitted_ == 0
    assert_close(omitted, complete, 1e-10)

    labels = computed(omitted.predict(data(X, lazy)))
    assert (labels[~keep] == -1).all()
    np.testing.assert_array_equal(labels[keep], complete.predict(X[keep]))
    np.testing.assert_array_equal(computed(omitted.labels_), labels)  # fit's labels alike
    proba = computed(omitted.predict_proba(data(X, lazy)))
    assert np.isnan(proba[~keep]).all()
    np.testing.assert_allclose(proba[keep], complete.predict_proba(X[keep]), atol=1e-10)
    scores = computed(omitted.score_samples(data(X, lazy)))
    assert np.isnan(scores[~keep]).all()
    np.testing.assert_allclose(scores[keep], complete.score_samples(X[keep]), rtol=1e-10)
    assert omitted.score(data(X, lazy)) == pytest.approx(complete.score(X[keep]), rel=1e-10)
    assert omitted.bic(data(X, lazy)) == pytest.approx(complete.bic(X[keep]), rel=1e-10)
    assert omitted.aic(data(X, lazy)) == pytest.approx(complete.aic(X[keep]), rel=1e-10)
    p = n_parameters(covariance_type, 3, X.shape[1])
    n_kept = keep.sum()
    want = -2 * complete.score_samples(X[keep]).sum() + p * np.log(n_kept)
    assert omitted.bic(X) == pytest.approx(want, rel=1e-10)


def test_omit_with_sample_weights(gaps):
    X, init = gaps
    keep = ~np.isnan(X).any(axis=1)
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(X))
    kw = dict(max_iter=6, tol=0.0, **init)
    omitted = GaussianMixture(3, nan_policy="omit", **kw).fit(X, sample_weight=w)
    complete = GaussianMixture(3, **kw).fit(X[keep], sample_weight=w[keep])
    assert_close(omitted, complete, 1e-10)


def test_marginalize_omits_nothing(marginal):
    assert marginal.n_omitted_ == 0


def test_omit_warns_of_rows_without_observed_entries(gaps):
    X, init = gaps
    X = X.copy()
    X[[5, 300]] = np.nan
    gm = GaussianMixture(3, nan_policy="omit", max_iter=2, **init)
    with pytest.warns(UserWarning, match=r"\b2 rows .*every entry missing"):
        gm.fit(X)
    assert gm.n_omitted_ == np.isnan(X).any(axis=1).sum()
    assert (gm.predict(X)[[5, 300]] == -1).all()


def test_a_resumed_fit_keeps_its_count_of_omitted_rows(gaps, tmp_path):
    X, init = gaps
    X = X.copy()
    X[[5, 300]] = np.nan
    kw = dict(nan_policy="omit", max_iter=3, tol=0.0, checkpoint=tmp_path / "fit.ckpt", **init)
    with pytest.warns(UserWarning, match=r"\b2 rows .*every entry missing"):
        fitted = GaussianMixture(3, **kw).fit(X)
    # Nothing left to run: the counts come from the checkpoint, not from a pass.
    with pytest.warns(UserWarning, match=r"\b2 rows .*every entry missing"):
        resumed = GaussianMixture(3, resume=True, **kw).fit(X)
    assert resumed.n_iter_ == fitted.n_iter_ == 3
    assert resumed.n_omitted_ == fitted.n_omitted_ == np.isnan(X).any(axis=1).sum()


@LAZY
def test_omitting_every_row_is_an_error(lazy):
    X = np.random.default_rng(0).normal(size=(200, 3))
    X[:, 1] = np.nan
    with pytest.raises(InvalidInputError):
        GaussianMixture(2, nan_policy="omit", random_state=0).fit(data(X, lazy))


# ------------------------------------------------------------------ write_predictions
@pytest.mark.parametrize("policy", ["marginalize", "omit"])
def test_write_predictions_follow_the_policy(gaps, policy, tmp_path):
    X, init = gaps
    gm = GaussianMixture(3, nan_policy=policy, max_iter=4, **init).fit(X)
    out = gm.write_predictions(
        da.from_array(X, chunks=(100, -1)), tmp_path / "p.zarr", proba=True, log_likelihood=True
    )
    group = zarr.open_group(out, mode="r")
    np.testing.assert_array_equal(group["labels"][:], gm.predict(X))
    np.testing.assert_allclose(group["probabilities"][:], gm.predict_proba(X), atol=1e-12)
    np.testing.assert_allclose(group["log_likelihood"][:], gm.score_samples(X), rtol=1e-12)
    assert np.isnan(group["log_likelihood"][:]).any() == (policy == "omit")


# ------------------------------------------------------------------ model files
@pytest.mark.parametrize("policy", ["marginalize", "omit"])
def test_model_files_keep_the_policy(gaps, policy, tmp_path):
    X, init = gaps
    gm = GaussianMixture(3, nan_policy=policy, max_iter=4, **init).fit(X)
    gm.save(tmp_path / "m.npz")
    loaded = distgmm.load(tmp_path / "m.npz")
    assert loaded.nan_policy == policy
    assert loaded.get_params()["nan_policy"] == policy
    assert loaded.n_omitted_ == gm.n_omitted_
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), gm.predict(X))


# ------------------------------------------------------------------ the console script
def error_line(result) -> str:
    """Exit code 2 and one ``distgmm: error:`` line on stderr, no traceback (the line
    naming the cluster, from --scheduler, may come before it)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("cluster: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("distgmm: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def npy_with_gaps(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-missing")
    X, _ = gapped(2000, d=3, fraction=0.1, seed=80)
    np.save(root / "gaps.npy", X)
    return root, X


@pytest.mark.cluster
def test_cli_fit_and_predict_marginalize(npy_with_gaps, cluster1, tmp_path):
    root, X = npy_with_gaps
    address = cluster1.scheduler.address
    model = tmp_path / "m.npz"
    run_json("fit", root / "gaps.npy", "-k", "3", "--nan-policy", "marginalize",
             "--max-iter", "15", "--scheduler", address, "--out", model)  # fmt: skip
    gm = distgmm.load(model)
    assert gm.nan_policy == "marginalize"
    # the library's fit of the same data from the same settings (dask input: the
    # out-of-core start, which does not depend on the chunking)
    expected = GaussianMixture(3, random_state=0, nan_policy="marginalize", max_iter=15)
    expected.fit(da.from_array(X))
    np.testing.assert_allclose(gm.means_, expected.means_, rtol=1e-9)
    out = tmp_path / "p.zarr"
    record = run_json("predict", model, root / "gaps.npy", "--out", out, "--proba",
                      "--log-likelihood", "--scheduler", address)  # fmt: skip
    assert record["outputs"] == ["labels", "probabilities", "log_likelihood"]
    group = zarr.open_group(out, mode="r")
    np.testing.assert_array_equal(group["labels"][:], gm.predict(X))
    np.testing.assert_allclose(group["log_likelihood"][:], gm.score_samples(X), rtol=1e-12)
    assert np.isfinite(group["log_likelihood"][:]).all()


@pytest.mark.cluster
def test_cli_fit_omit_labels_the_omitted_rows(npy_with_gaps, cluster1, tmp_path):
    root, X = npy_with_gaps
    address = cluster1.scheduler.address
    model = tmp_path / "m.npz"
    run_json("fit", root / "gaps.npy", "-k", "3", "--nan-policy", "omit", "--max-iter", "15",
             "--scheduler", address, "--out", model)  # fmt: skip
    gm = distgmm.load(model)
    assert gm.nan_policy == "omit"
    missing = np.isnan(X).any(axis=1)
    assert gm.n_omitted_ == missing.sum()
    out = tmp_path / "p.zarr"
    run_json("predict", model, root / "gaps.npy", "--out", out, "--scheduler", address)
    labels = zarr.open_group(out, mode="r")["labels"][:]
    assert (labels[missing] == -1).all()
    assert (labels[~missing] >= 0).all()


@pytest.mark.cluster
def test_cli_nan_without_a_policy_and_empty_rows_exit_2(npy_with_gaps, cluster1, tmp_path):
    root, X = npy_with_gaps
    address = cluster1.scheduler.address
    result = run("fit", root / "gaps.npy", "-k", "3", "--scheduler", address,
                 "--out", tmp_path / "raise.npz")  # fmt: skip
    assert "NaN" in error_line(result)
    empty = X.copy()
    empty[1234] = np.nan
    np.save(tmp_path / "empty.npy", empty)
    result = run("fit", tmp_path / "empty.npy", "-k", "3", "--nan-policy", "marginalize",
                 "--scheduler", address, "--out", tmp_path / "m.npz")  # fmt: skip
    assert "1234" in error_line(result)
    assert not (tmp_path / "raise.npz").exists()
    assert not (tmp_path / "m.npz").exists()


def test_cli_help_lists_the_policies():
    result = run("fit", "--help")
    assert result.returncode == 0
    assert "--nan-policy" in result.stdout
    for policy in ("raise", "marginalize", "omit"):
        assert policy in result.stdout

"""``distgmm fit --model bayesian``, and a BayesianGaussianMixture file through every command.

The installed console script in a clean environment (no cluster option, no Dask setting):
each command that computes starts its own local cluster, as a new user's would.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import zarr
from test_cli import assert_one_error_line, checkpoint_iteration, distgmm_command
from test_cli_first_run import clean_environment

import distgmm
from distgmm import BayesianGaussianMixture, ConvergenceWarning, read_zarr

#: The prior options and the parameters they set, as fit_bayesian gives them.
PRIORS = {
    "weight_concentration_prior_type": "dirichlet_distribution",
    "weight_concentration_prior": 0.01,
    "mean_precision_prior": 0.5,
    "degrees_of_freedom_prior": 4.0,
}
PRIOR_ARGS = [
    "--weight-prior-type",
    "dirichlet_distribution",
    "--weight-prior",
    "0.01",
    "--mean-precision-prior",
    "0.5",
    "--dof-prior",
    "4",
]


def library_fit(data, **params) -> BayesianGaussianMixture:
    """The library's fit of the Zarr array ``data`` (converged or not, as the CLI's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return BayesianGaussianMixture(random_state=0, **params).fit(read_zarr(data))


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """``cli.run(*args)``: the console script in a clean environment; its data and a folder."""
    root = tmp_path_factory.mktemp("cli-bayesian")
    env = clean_environment(root)

    def run(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*distgmm_command(), *map(str, args)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def run_json(*args, code: int = 0) -> dict:
        result = run(*args, "--json")
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stdout.splitlines()) == 1, result.stdout
        return json.loads(result.stdout)

    data = root / "points.zarr"
    made = run("make-data", data, "--rows", 2000, "--features", 3, "-k", 3, "--separation", 8)
    assert made.returncode == 0, made.stderr
    return SimpleNamespace(root=root, data=data, run=run, run_json=run_json)


@pytest.fixture(scope="module")
def fitted(cli):
    """``fit --model bayesian`` with every prior option: the model file and its JSON record."""
    model = cli.root / "bayes.npz"
    record = cli.run_json(
        "fit", cli.data, "--model", "bayesian", "-k", 5, "--covariance", "diag",
        "--max-iter", 30, *PRIOR_ARGS, "--out", model,
    )  # fmt: skip
    return model, record


@pytest.mark.cluster
def test_fit_reports_the_elbo_and_the_components_used(cli, fitted):
    model, record = fitted
    gm = distgmm.load(model)
    assert type(gm) is BayesianGaussianMixture
    for name, value in PRIORS.items():
        assert getattr(gm, name if name.endswith("type") else name + "_") == value, name
        assert record[name] == value, name
    assert record["estimator"] == "BayesianGaussianMixture"
    assert record["lower_bound_kind"] == "elbo_total"
    assert record["lower_bound"] == gm.lower_bound_
    assert (record["converged"], record["n_iter"]) == (gm.converged_, gm.n_iter_)
    threshold = 0.01 / 5
    assert record["effective_weight_threshold"] == threshold
    assert record["effective_components"] == np.count_nonzero(gm.weights_ > threshold)
    np.testing.assert_array_equal(record["mean_prior"], gm.mean_prior_)
    assert not {"bic", "aic", "mean_log_likelihood"} & set(record)
    # the library's fit of the same settings (a dask array: the same out-of-core start)
    expected = library_fit(cli.data, n_components=5, covariance_type="diag", max_iter=30, **PRIORS)
    np.testing.assert_allclose(gm.means_, expected.means_, rtol=1e-9)
    np.testing.assert_allclose(gm.weights_, expected.weights_, rtol=1e-9, atol=1e-12)


@pytest.mark.cluster
def test_info_shows_the_class_and_the_priors(cli, fitted):
    model, _ = fitted
    gm = distgmm.load(model)
    record = cli.run_json("info", model)
    assert record["estimator"] == "BayesianGaussianMixture"
    assert record["lower_bound"] == gm.lower_bound_
    for name, value in PRIORS.items():
        assert record[name] == value, name
    np.testing.assert_array_equal(record["covariance_prior"], gm.covariance_prior_)
    used = int(np.count_nonzero(gm.weights_ > 0.01 / 5))
    assert record["effective_components"] == used
    text = cli.run("info", model)
    assert text.returncode == 0, text.stderr
    lines = text.stderr.splitlines()
    assert lines[0].startswith(f"{model}: BayesianGaussianMixture, 5 diag components")
    assert "evidence lower bound (ELBO), total over the rows" in lines[1]
    assert f"{used} of 5 components used (weight > 0.01/k)" in lines[1]
    assert lines[2].startswith("priors: dirichlet_distribution, weight concentration 0.01, ")
    assert "mean log-likelihood" not in text.stderr


@pytest.mark.cluster
def test_predict_and_score_a_bayesian_model(cli, fitted):
    model, _ = fitted
    gm = distgmm.load(model)
    X = zarr.open_array(cli.data, mode="r")[:]
    labels = cli.root / "labels.zarr"
    record = cli.run_json("predict", model, cli.data, "--proba", "--out", labels)
    assert record["outputs"] == ["labels", "probabilities"]
    out = zarr.open_group(labels, mode="r")
    np.testing.assert_array_equal(out["labels"][:], gm.predict(X))
    np.testing.assert_allclose(out["probabilities"][:], gm.predict_proba(X), rtol=1e-12)

    score = cli.run_json("score", model, cli.data)
    assert score["estimator"] == "BayesianGaussianMixture"
    np.testing.assert_allclose(score["mean_score"], gm.score(X), rtol=1e-12)
    assert not {"bic", "aic", "mean_log_likelihood"} & set(score)
    text = cli.run("score", model, cli.data)
    assert text.returncode == 0, text.stderr
    assert "mean score" in text.stderr
    assert "no BIC or AIC" in text.stderr
    assert "mean log-likelihood" not in text.stderr


@pytest.mark.cluster
def test_bayesian_fit_resumes_from_its_checkpoint(cli):
    checkpoint = cli.root / "fit.ckpt"
    fit = ["fit", cli.data, "--model", "bayesian", "-k", 4, "--tol", 0, "--checkpoint", checkpoint]
    # not converged: exit 0, or 3 with --require-converged; the model saved either way
    first = cli.run(
        *fit, "--max-iter", 3, "--require-converged", "--out", cli.root / "3.npz", "--json"
    )
    line = assert_one_error_line(first, 3)
    assert "did not converge in 3 iterations" in line
    assert json.loads(first.stdout)["lower_bound_kind"] == "elbo_total"
    assert distgmm.load(cli.root / "3.npz").n_iter_ == 3
    assert checkpoint_iteration(checkpoint) == 3

    resumed = cli.run_json(*fit, "--max-iter", 6, "--resume", "--out", cli.root / "6.npz")
    assert (resumed["converged"], resumed["n_iter"]) == (False, 6)
    # bit for bit the fit that ran its 6 iterations in one go
    expected = library_fit(cli.data, n_components=4, tol=0, max_iter=6)
    got = distgmm.load(cli.root / "6.npz")
    for name in ("weights_", "means_", "covariances_", "lower_bounds_", "mean_precision_"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name

    # the checkpoint of a variational fit is not one a GaussianMixture can resume
    wrong = cli.run(*fit[:2], "-k", 4, "--tol", 0, "--checkpoint", checkpoint, "--resume",
                    "--out", cli.root / "g.npz")  # fmt: skip
    assert wrong.returncode == 2, wrong.stderr
    assert "Traceback" not in wrong.stderr
    errors = [line for line in wrong.stderr.splitlines() if line.startswith("distgmm: error:")]
    assert len(errors) == 1, wrong.stderr
    assert errors[0].startswith(f"distgmm: error: The checkpoint {checkpoint} was written")
    assert "(estimator, " in errors[0]
    assert not (cli.root / "g.npz").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--weight-prior", "1"], "--weight-prior is a prior of --model bayesian",
                     id="prior-without-model"),
        pytest.param(["--model", "gaussian", "--dof-prior", "4"],
                     "--dof-prior is a prior of --model bayesian", id="prior-with-gaussian"),
        pytest.param(["--model", "bayesian", "--dof-prior", "1.5"],
                     "--dof-prior 1.5 must be > 2", id="dof-below-features"),
        pytest.param(["--model", "bayesian", "--weight-prior", "0"],
                     "argument --weight-prior: 0 is not > 0", id="weight-prior-zero"),
    ],
)  # fmt: skip
def test_fit_usage_errors_exit_2_before_any_cluster(cli, args, expected):
    result = cli.run("fit", cli.data, *args, "--out", cli.root / "never.npz")
    line = assert_one_error_line(result, 2)
    assert expected in line
    assert "local cluster" not in result.stderr
    assert not (cli.root / "never.npz").exists()


def test_select_refuses_the_bayesian_model(cli):
    result = cli.run("select", cli.data, "--model", "bayesian", "--out", cli.root / "best.npz")
    line = assert_one_error_line(result, 2)
    assert "select compares GaussianMixture fits by BIC or AIC" in line
    assert "fit --model bayesian" in line
    assert not (cli.root / "best.npz").exists()

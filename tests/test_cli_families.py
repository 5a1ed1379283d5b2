"""``distgmm fit --family ...``: the discrete and mixed-type models through every command.

The installed console script on real Parquet, CSV and .npy files: string, category and
integer columns and an id the model ignores. The commands' results are compared with the
library's on the same data (the same estimator fitted in process, its predictions).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import zarr
from test_cli import assert_one_error_line, run, run_json

import distgmm
from distgmm.cli import main

N = 1200
#: Fits of the same rows read in other chunks agree to rounding.
RTOL = 1e-6


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Two segments of customers, as a folder of three Parquet files, a CSV file and a .npy
    array of integer codes."""
    root = tmp_path_factory.mktemp("cli-families")
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, N)
    plans = np.array(["basic", "plus", "pro"])
    frame = pd.DataFrame(
        {
            "id": np.arange(50_000, 50_000 + N),
            "plan": plans[np.where(z == 0, rng.choice(3, N, p=[0.7, 0.2, 0.1]), rng.choice(3, N))],
            "country": pd.Categorical(
                np.where(rng.random(N) < np.where(z == 0, 0.8, 0.3), "fr", "de"),
                categories=["fr", "de", "it"],  # 'it' never appears
            ),
            "visits": rng.poisson(np.where(z == 0, 1.0, 5.0)),
            "income": rng.normal(np.where(z == 0, 30.0, 60.0), 8.0),
            "flag": (rng.random(N) < np.where(z == 0, 0.2, 0.8)).astype(np.int64),
            "b0": rng.poisson(np.where(z == 0, 4, 1)),
            "b1": rng.poisson(2, N),
            "b2": rng.poisson(np.where(z == 0, 1, 4)),
        }
    )
    folder = root / "customers"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(N), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    csv = root / "customers.csv"
    frame.to_csv(csv, index=False)
    codes = np.column_stack([frame["plan"].map({"basic": 0, "plus": 1, "pro": 2}), frame["flag"]])
    npy = root / "codes.npy"
    np.save(npy, codes.astype(np.int64))
    return SimpleNamespace(root=root, frame=frame, folder=folder, csv=csv, npy=npy, codes=codes)


@pytest.fixture
def scheduler(cluster1) -> str:
    """The address of a running cluster (one worker process), shared with the other tests."""
    return cluster1.scheduler.address


MIXED = ["--gaussian", "income", "--categorical", "plan,country", "--poisson", "visits"]
MIXED_COLUMNS = {"gaussian": ["income"], "categorical": ["plan", "country"], "poisson": ["visits"]}


def library_fit(cls, data, **params):
    """The estimator the command should have fitted, on the same data read as documented:
    ``dd.read_parquet`` of the model's columns (a Parquet category column's categories are
    then unknown to Dask, and found by a pass: those seen, sorted)."""
    columns = params["columns"]
    names = [c for g in columns.values() for c in g] if isinstance(columns, dict) else columns
    X = dd.read_parquet(data, columns=names) if isinstance(data, Path) else data
    return cls(2, random_state=0, **params).fit(X)


@pytest.mark.cluster
def test_mixed_fit_predict_score_info(table, scheduler, tmp_path):
    model = tmp_path / "mixed.npz"
    fit = run_json(
        "fit", table.folder, "--family", "mixed", *MIXED, "--bernoulli", "flag", "-k", "2",
        "--covariance", "diag", "--reg-covar", "1e-4", "--alpha", "0.5", "--out", model,
        "--scheduler", scheduler,
    )  # fmt: skip
    # the groups in the order the command gives them to the estimator (its families' order)
    columns = {"gaussian": ["income"], "categorical": ["plan", "country"], "bernoulli": ["flag"]}
    columns["poisson"] = ["visits"]
    assert fit["estimator"] == "MixedMixture"
    assert fit["family"] == "mixed"
    assert fit["n_samples"] == N
    assert fit["covariance_type"] == "diag"
    assert sorted(fit["columns"]) == sorted(c for g in columns.values() for c in g)
    assert fit["column_families"]["country"] == "categorical"
    assert fit["column_families"]["flag"] == "bernoulli"

    fitted = distgmm.load(model)
    ref = library_fit(
        distgmm.MixedMixture, table.folder, columns=columns, covariance_type="diag",
        reg_covar=1e-4, alpha=0.5,
    )  # fmt: skip
    for name in ("weights_", "means_", "rates_", "covariances_", "bernoulli_probabilities_"):
        np.testing.assert_allclose(getattr(fitted, name), getattr(ref, name), rtol=RTOL)
    for found, expected in zip(fitted.probabilities_, ref.probabilities_, strict=True):
        np.testing.assert_allclose(found, expected, rtol=RTOL)
    assert [list(c) for c in fitted.categories_] == [["basic", "plus", "pro"], ["de", "fr"]]

    out = tmp_path / "labels.parquet"
    predict = run_json(
        "predict", model, table.folder, "--out", out, "--proba", "--keep-columns", "id,country",
        "--scheduler", scheduler,
    )  # fmt: skip
    assert predict["n_samples"] == N
    assert predict["keep_columns"] == ["id", "country"]
    written = pd.read_parquet(out)
    assert list(written.columns) == ["id", "country", "label", "proba_0", "proba_1"]
    names = list(fitted.feature_names_in_)
    np.testing.assert_array_equal(written["label"], fitted.predict(table.frame[names]))
    np.testing.assert_array_equal(written["id"], table.frame["id"])
    assert list(written["country"].astype(str)) == list(table.frame["country"].astype(str))
    np.testing.assert_allclose(written[["proba_0", "proba_1"]].sum(axis=1), 1.0)

    score = run_json("score", model, table.folder, "--scheduler", scheduler)
    assert score["n_samples"] == N
    assert score["estimator"] == "MixedMixture"
    np.testing.assert_allclose(score["mean_log_likelihood"], fitted.score(table.frame[names]))
    np.testing.assert_allclose(score["bic"], fitted.bic(table.frame[names]))

    info = run_json("info", model)
    assert info["family"] == "mixed"
    assert info["n_components"] == 2
    assert info["categories"] == {"plan": ["basic", "plus", "pro"], "country": ["de", "fr"]}
    assert info["n_categories"] == {"plan": 3, "country": 2}
    shapes = info["parameter_shapes"]
    assert shapes["means_"] == [2, 1]
    assert shapes["rates_"] == [2, 1]
    assert shapes["probabilities_"] == [[2, 3], [2, 2]]
    assert shapes["bernoulli_probabilities_"] == [2, 1]
    assert info["params"]["columns"] == json.loads(json.dumps(columns))


def test_info_lines(table, tmp_path, capsys):
    model = tmp_path / "mixed.npz"
    distgmm.MixedMixture(2, columns=MIXED_COLUMNS, random_state=0).fit(table.frame).save(model)
    assert main(["info", str(model)]) == 0
    lines = capsys.readouterr()
    assert lines.out == ""
    assert "MixedMixture (--family mixed), 2 components, full Gaussian" in lines.err
    assert "4 model columns of 9 input columns" in lines.err
    assert "country  categorical  3: [fr, de, it]" in lines.err  # the category dtype's
    assert "parameters: weights_ (2,), means_ (2, 1)" in lines.err


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("family", "cls", "columns", "attribute"),
    [
        ("categorical", distgmm.CategoricalMixture, ["plan", "country", "flag"], "weights_"),
        ("bernoulli", distgmm.BernoulliMixture, ["flag"], "probabilities_"),
        ("poisson", distgmm.PoissonMixture, ["visits", "b1"], "rates_"),
        ("multinomial", distgmm.MultinomialMixture, ["b0", "b1", "b2"], "probabilities_"),
    ],
)
def test_one_family_fits_as_the_library(
    table, scheduler, tmp_path, family, cls, columns, attribute
):
    model = tmp_path / f"{family}.npz"
    fit = run_json(
        "fit", table.folder, "--family", family, "--columns", ",".join(columns), "-k", "2",
        "--out", model, "--scheduler", scheduler,
    )  # fmt: skip
    assert fit["estimator"] == cls.__name__
    assert fit["columns"] == columns
    assert fit["n_features"] == len(columns)  # only the named columns were read
    ref = library_fit(cls, table.folder, columns=columns)
    fitted = distgmm.load(model)
    assert type(fitted) is cls
    np.testing.assert_allclose(fitted.weights_, ref.weights_, rtol=RTOL)
    np.testing.assert_allclose(
        np.hstack(getattr(fitted, attribute)), np.hstack(getattr(ref, attribute)), rtol=1e-6
    )


@pytest.mark.cluster
def test_csv_and_integer_codes(table, scheduler, tmp_path):
    """CSV read as a table; a .npy array of integer codes, its columns by position."""
    model = tmp_path / "csv.npz"
    run_json(
        "fit", table.csv, "--family", "categorical", "--columns", "plan,flag", "-k", "2",
        "--out", model, "--scheduler", scheduler,
    )  # fmt: skip
    fitted = distgmm.load(model)
    out = tmp_path / "csv-labels.zarr"
    run_json("predict", model, table.csv, "--out", out, "--scheduler", scheduler)
    labels = zarr.open_group(out, mode="r")["labels"][:]
    np.testing.assert_array_equal(labels, fitted.predict(table.frame[["plan", "flag"]]))

    codes = tmp_path / "codes.npz"
    record = run_json(
        "fit", table.npy, "--family", "categorical", "--columns", "0,1", "-k", "2",
        "--out", codes, "--scheduler", scheduler,
    )  # fmt: skip
    assert record["columns"] == ["x0", "x1"]
    ref = library_fit(distgmm.CategoricalMixture, table.codes, columns=[0, 1])
    np.testing.assert_allclose(distgmm.load(codes).weights_, ref.weights_, rtol=RTOL)
    out = tmp_path / "codes-labels.parquet"
    run_json("predict", codes, table.npy, "--out", out, "--scheduler", scheduler)
    np.testing.assert_array_equal(pd.read_parquet(out)["label"], ref.predict(table.codes))


@pytest.mark.cluster
def test_an_unseen_category_at_predict(table, scheduler, tmp_path, capsys):
    model = tmp_path / "plans.npz"
    distgmm.CategoricalMixture(2, random_state=0).fit(table.frame[["plan"]]).save(model)
    new = table.frame.assign(plan=table.frame["plan"].where(table.frame.index != 7, "gold"))
    data = tmp_path / "new.parquet"
    new.to_parquet(data, index=False)
    out = tmp_path / "new-labels.parquet"
    line = main_error(
        capsys, "predict", model, data, "--out", out, "--scheduler", scheduler, "--json"
    )
    assert "'gold'" in line
    assert "plan" in line
    record = run_json(
        "predict", model, data, "--out", out, "--handle-unknown", "ignore", "--scheduler",
        scheduler,
    )  # fmt: skip
    assert record["n_samples"] == N
    ref = distgmm.load(model).set_params(handle_unknown="ignore")
    np.testing.assert_array_equal(pd.read_parquet(out)["label"], ref.predict(new[["plan"]]))


def test_fit_refuses_bad_family_options(table, tmp_path):
    """Each exits 2 with one line naming the option or column, before any cluster starts."""
    data, out = table.folder, tmp_path / "never.npz"
    refused = run("fit", data, "--family", "mixed", "--gaussian", "income", "--poisson", "vs")
    assert "'vs' (named by --poisson)" in assert_one_error_line(refused, 2)
    refused = run("fit", data, "--family", "gamma")
    assert "invalid choice: 'gamma'" in assert_one_error_line(refused, 2)
    assert not out.exists()


def main_error(capsys, *args) -> str:
    """``distgmm *args`` in this process (quicker than a new one each): its one error line."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:  # the parser's errors
        code = exit.code
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("distgmm: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--family", "categorical", "--columns", "plan,nope"], "'nope' (named by --columns)"),
        (
            ["--family", "mixed", "--gaussian", "x", "--poisson", "visits"],
            "'x' (named by --gaussian)",
        ),
        (["--family", "poisson", "--categorical", "plan"], "--categorical names a column group of"),
        (["--categorical", "plan"], "--categorical names a column group of --family mixed"),
        (["--family", "mixed"], "--family mixed needs its column groups"),
        (["--family", "mixed", "--gaussian", "a", "--poisson", "a"], "'a' is in --gaussian and"),
        (["--family", "mixed", "--gaussian", "income,"], "argument --gaussian"),
        (["--family", "mixed", "--gaussian", "income", "--columns", "plan"], "drop --columns"),
        (["--alpha", "0.1"], "--alpha is an option of the discrete and mixed families"),
        (["--family", "categorical", "--covariance", "diag"], "--covariance is of the Gaussian"),
        (["--family", "categorical", "--init", "kmeans"], "--init kmeans"),
        (["--family", "bernoulli", "--model", "bayesian"], "--model bayesian"),
        (["--family", "bernoulli", "--weight-prior", "0.1"], "--weight-prior is a prior of"),
        (["--family", "poisson", "--columns", "visits,visits"], "'visits' twice"),
    ],
)
def test_fit_option_errors(table, tmp_path, capsys, args, expected):
    out = tmp_path / "never.npz"
    assert expected in main_error(capsys, "fit", table.folder, *args, "--out", out)
    assert not out.exists()


def test_array_columns_are_positions(table, tmp_path, capsys):
    line = main_error(capsys, "fit", table.npy, "--family", "categorical", "--columns", "plan")
    assert "'plan'" in line
    assert "positions" in line
    line = main_error(capsys, "fit", table.npy, "--family", "categorical", "--columns", "0,2")
    assert "the column 2" in line


def test_commands_refuse_data_without_the_models_columns(table, tmp_path, capsys):
    model = tmp_path / "model.npz"
    distgmm.CategoricalMixture(2, random_state=0).fit(table.frame[["plan", "country"]]).save(model)
    lacking = tmp_path / "lacking.parquet"
    table.frame.drop(columns="country").to_parquet(lacking, index=False)
    out = tmp_path / "never.parquet"
    line = assert_one_error_line(run("score", model, lacking), 2)  # as a user runs it
    assert "no column 'country' (named by the model)" in line
    line = main_error(
        capsys, "predict", model, table.folder, "--out", out, "--keep-columns", "id,ident"
    )
    assert "'ident' (named by --keep-columns)" in line
    line = main_error(capsys, "predict", model, table.npy, "--out", out)
    assert "fitted on the named columns plan, country" in line
    gaussian = tmp_path / "gaussian.npz"
    distgmm.GaussianMixture(2, random_state=0).fit(table.frame[["income"]]).save(gaussian)
    line = main_error(capsys, "score", gaussian, table.folder, "--handle-unknown", "ignore")
    assert "--handle-unknown is of discrete and mixed models" in line
    assert not out.exists()


def test_dask_dataframe_keep_columns_in_the_library(table, tmp_path):
    """write_predictions carries a column the model ignores (the id) from a dask DataFrame."""
    frame = dd.read_parquet(table.folder)
    mixed = distgmm.MixedMixture(2, columns=MIXED_COLUMNS, random_state=0).fit(table.frame)
    out = tmp_path / "kept.parquet"
    mixed.write_predictions(frame, out, keep_columns=["id", "plan"])
    written = pd.read_parquet(out)
    np.testing.assert_array_equal(written["id"], table.frame["id"])
    np.testing.assert_array_equal(written["plan"], table.frame["plan"])
    np.testing.assert_array_equal(written["label"], mixed.predict(table.frame))


@pytest.mark.cluster
def test_update_reads_a_table(table, scheduler, tmp_path):
    """``update`` (online EM) of a mixed model on a Parquet folder, as partial_fit on it."""
    model = tmp_path / "mixed.npz"
    names = [c for g in MIXED_COLUMNS.values() for c in g]
    distgmm.MixedMixture(2, columns=MIXED_COLUMNS, random_state=0).fit(table.frame[names]).save(
        model
    )
    out = tmp_path / "updated.npz"
    record = run_json("update", model, table.folder, "--out", out, "--scheduler", scheduler)
    assert record["n_samples"] == N
    ref = distgmm.load(model).partial_fit(dd.read_parquet(table.folder, columns=names))
    updated = distgmm.load(out)
    np.testing.assert_allclose(updated.weights_, ref.weights_, rtol=RTOL)
    np.testing.assert_allclose(updated.rates_, ref.rates_, rtol=RTOL)

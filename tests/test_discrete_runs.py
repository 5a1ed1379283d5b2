"""The discrete and mixed-type mixtures' fits do not depend on where they ran: chunkings
of whole blocks, numpy or dask input, one or two worker processes, reruns, a checkpoint's
resume; model files give back the same predictions."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
from _discrete_data import blurred, draw_columns
from sklearn.base import clone

import distgmm
from distgmm import (
    BernoulliMixture,
    CategoricalMixture,
    MixedMixture,
    MultinomialMixture,
    PoissonMixture,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Unnamed columns of a mixed table: positions of each family's columns in the arrays below.
MIXED_FAMILIES = ("gaussian", "categorical", "poisson", "bernoulli", "multinomial")


def case(name: str, n: int, seed: int = 0):
    """An unfitted estimator and numpy rows of its kind (codes, counts, 0/1, reals)."""
    rng = np.random.default_rng(seed)
    truth = blurred(0.5)
    y = rng.choice(3, size=n, p=truth["weights"])
    kw = dict(n_components=3, random_state=1)
    if name != "mixed":
        estimator = {
            "categorical": CategoricalMixture,
            "bernoulli": BernoulliMixture,
            "poisson": PoissonMixture,
            "multinomial": MultinomialMixture,
        }[name]
        return estimator(**kw), draw_columns(name, truth[name], y, rng)
    parts = [draw_columns(f, truth[f], y, rng).astype(float) for f in MIXED_FAMILIES]
    spec, start = {}, 0
    for family, part in zip(MIXED_FAMILIES, parts, strict=True):
        spec[family] = list(range(start, start + part.shape[1]))
        start += part.shape[1]
    return MixedMixture(columns=spec, **kw), np.hstack(parts)


NAMES = ("categorical", "bernoulli", "poisson", "multinomial", "mixed")


def fitted_attributes(model) -> dict:
    out = {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}
    out["labels_"] = np.asarray(out["labels_"])  # computed when lazy
    return out


def assert_identical(a, b):
    mine, theirs = fitted_attributes(a), fitted_attributes(b)
    assert sorted(mine) == sorted(theirs)
    for name, value in mine.items():
        other = theirs[name]
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            assert len(value) == len(other), name
            for x, z in zip(value, other, strict=True):
                np.testing.assert_array_equal(x, z, err_msg=name, strict=True)
        else:
            np.testing.assert_array_equal(value, other, err_msg=name, strict=True)


def assert_close(a, b, rtol):
    mine, theirs = fitted_attributes(a), fitted_attributes(b)
    np.testing.assert_array_equal(mine.pop("labels_"), theirs.pop("labels_"))
    assert (mine.pop("n_iter_"), mine.pop("converged_")) == (b.n_iter_, b.converged_)
    for name, value in mine.items():
        other = theirs[name]
        pairs = zip(value, other, strict=True) if isinstance(value, list) else [(value, other)]
        for x, z in pairs:
            if np.asarray(x).dtype.kind in "biuf":
                np.testing.assert_allclose(x, z, rtol=rtol, atol=1e-14, err_msg=name)
            else:  # names
                np.testing.assert_array_equal(x, z, err_msg=name)


def fresh(name: str, **settings):
    """An unfitted estimator of the kind ``case`` gives, with ``settings``."""
    return case(name, 10)[0].set_params(**settings)


def block_rows(model, X) -> int:
    """Rows of the kernel's blocks in a fit of ``model`` on ``X`` (core/chunk.py)."""
    probe = model.set_params(max_iter=0).fit(X)
    return probe._family().kernel.block_rows(probe.n_components, X.shape[1])


@pytest.mark.parametrize("name", NAMES)
def test_chunkings_of_whole_blocks_and_numpy_give_identical_fits(name):
    """A chunk adds its blocks' statistics one after another, the reduction adds the chunks'
    (up to 8) one after another: chunk edges on block edges that keep that order (one chunk,
    or a first chunk of several blocks and then chunks of one) change no bit. Other chunkings
    add in another order: the same fit to rounding, as does a Gaussian group's always."""
    b = block_rows(*case(name, 50))
    model, X = case(name, 4 * b + 123, seed=2)
    settings = dict(tol=0.0, max_iter=12, n_init=2)
    ref = model.set_params(**settings).fit(X)
    # a Gaussian group's moments are taken about a shift in each chunk: to rounding only
    other = [(2 * b, b, b + 123), (1000, 1, 5000, 4000, 4 * b - 9878)]
    same = [-1, (b, b, b, b, 123), (3 * b, b, 123)]
    if name == "mixed":
        same, other = same[:1], other + same[1:]
    for rows in same:
        chunked = da.from_array(X, chunks=(rows, -1))
        assert_identical(fresh(name, **settings).fit(chunked), ref)
    assert_identical(fresh(name, **settings).fit(X), ref)  # a rerun
    for rows in other:
        chunked = da.from_array(X, chunks=(rows, -1))
        assert_close(fresh(name, **settings).fit(chunked), ref, rtol=1e-10)


@pytest.mark.cluster
@pytest.mark.parametrize("name", ["categorical", "mixed"])
def test_one_and_two_worker_processes_give_identical_fits(name, cluster1, cluster2):
    _, X = case(name, 3000, seed=3)
    data = da.from_array(X, chunks=(1000, -1))
    settings = dict(tol=0.0, max_iter=6, n_init=2)
    one = fresh(name, client=cluster1, **settings).fit(data)
    two = fresh(name, client=cluster2, **settings).fit(data)
    here = fresh(name, **settings).fit(data)  # threads in this process
    assert_identical(one, two)
    assert_identical(one, here)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stop_after", [0, 3])
def test_resumed_fit_is_bit_identical(tmp_path, name, stop_after):
    _, X = case(name, 600, seed=4)
    settings = dict(tol=0.0, max_iter=8, n_init=2)
    whole = fresh(name, **settings).fit(X)
    path = tmp_path / "fit.ckpt"
    killed = {**settings, "max_iter": stop_after}
    fresh(name, checkpoint=path, **killed).fit(X)
    resumed = fresh(name, checkpoint=path, resume=True, **settings).fit(X)
    assert_identical(resumed, whole)


@pytest.mark.parametrize("name", NAMES)
def test_model_files_give_identical_predictions(tmp_path, name):
    model, X = case(name, 600, seed=5)
    model.set_params(max_iter=10).fit(X)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = distgmm.load(path)
    assert type(loaded) is type(model)
    assert loaded.columns_ == model.columns_
    for method in ("predict", "predict_proba", "score_samples"):
        want = getattr(model, method)(X)
        np.testing.assert_array_equal(getattr(loaded, method)(X), want, err_msg=method)
    assert loaded.bic(X) == model.bic(X)
    np.testing.assert_array_equal(loaded.sample(20)[0], model.sample(20)[0])


def test_model_file_of_named_string_categories(tmp_path):
    """Categories that are strings, named columns and an ignored id column round-trip."""
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {
            "id": np.arange(300),
            "plan": rng.choice(["basic", "plus", "pro"], 300),
            "income": rng.normal(size=300),
            "visits": rng.poisson(3.0, 300),
        }
    )
    spec = {"categorical": ["plan"], "gaussian": ["income"], "poisson": ["visits"]}
    model = MixedMixture(2, columns=spec, random_state=0).fit(frame)
    model.save(tmp_path / "model.npz")
    loaded = distgmm.load(tmp_path / "model.npz")
    assert [list(c) for c in loaded.categories_] == [["basic", "plus", "pro"]]
    assert list(loaded.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.score_samples(frame), model.score_samples(frame))


def typed_frame(n: int, seed: int) -> pd.DataFrame:
    """A table of strings, a category dtype, bools and counts."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "plan": np.where(y, rng.choice(["basic", "plus"], n), rng.choice(["plus", "pro"], n)),
            "region": pd.Categorical(rng.choice(["n", "s", "w"], n)),
            "owns": rng.random(n) < np.where(y, 0.2, 0.7),
            "visits": rng.poisson(np.where(y, 2.0, 6.0)),
        }
    )


@pytest.mark.parametrize(
    "writer",
    [
        "pandas",
        # dask 2026.8's reader of an index column; pandas 3.1 deprecates the keyword
        pytest.param("dask", marks=pytest.mark.filterwarnings("ignore:The inplace keyword")),
    ],
)
def test_parquet_fit_equals_the_pandas_fit(tmp_path, writer):
    """A dask DataFrame read from Parquet in partitions of one block each, an id column
    not modelled, fits bit for bit as the pandas table, lazy labels and predictions. (The
    category dtype's categories are sorted: Dask does not know them from the files, the
    pass that finds them sorts them.)"""
    dd = pytest.importorskip("dask.dataframe")
    spec = {"categorical": ["plan", "region"], "bernoulli": ["owns"], "poisson": ["visits"]}
    model = MixedMixture(2, columns=spec, alpha=0.0, tol=0.0, max_iter=10, random_state=0)
    b = block_rows(clone(model), typed_frame(50, 0))
    frame = typed_frame(3 * b + 77, seed=7)
    folder = tmp_path / "t.parquet"
    if writer == "dask":
        dd.from_pandas(frame, chunksize=b).to_parquet(folder)
    else:
        folder.mkdir()
        for i, start in enumerate(range(0, len(frame), b)):  # a file, a partition, a block
            frame.iloc[start : start + b].to_parquet(folder / f"part.{i}.parquet", index=False)
    table = dd.read_parquet(folder)
    assert table.npartitions == 4
    ref = clone(model).fit(frame)
    with dask.config.set(scheduler="threads"):  # not the session's cluster, if one is up
        got = clone(model).fit(table)
        if writer == "pandas":
            assert_identical(got, ref)
        else:  # Dask fuses the partitions of the columns read (two blocks each): rounding
            assert_close(got, ref, rtol=1e-10)
        proba, labels = got.predict_proba(table).compute(), got.predict(table).compute()
    assert [list(c) for c in ref.categories_] == [["basic", "plus", "pro"], ["n", "s", "w"]]
    assert "id" not in got.columns_
    np.testing.assert_allclose(proba, ref.predict_proba(frame), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(labels, ref.labels_)
    if writer == "pandas":
        np.testing.assert_array_equal(proba, ref.predict_proba(frame))

"""``partial_fit`` (online EM): accuracy against batch EM, numpy and dask batches alike,
model files between batches, bad batches, exact recentring, continuation of a fit, tiny
batches, burn-in, and damaged online state in model files."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import zarr
from scipy.stats import multivariate_normal

import distgmm
from distgmm import (
    ConvergenceWarning,
    GaussianMixture,
    InvalidInputError,
    MixedMixture,
)
from distgmm.core.chunk import chunk_summaries
from distgmm.engine import NUMPY_CHUNK_BYTES
from distgmm.estimators._online import _HISTORY as HISTORY
from distgmm.families.gaussian.kernel import prepare_em
from distgmm.families.gaussian.mle import GaussianMLE

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
SPEC = {"gaussian": ["income", "age"], "categorical": ["plan"], "poisson": ["visits"]}
PLANS = ("basic", "gold", "plus")


def _table(n: int, seed: int, plans=PLANS) -> pd.DataFrame:
    """Rows of a two-component mixed-type mixture."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "income": rng.normal(np.array([0.0, 3.0])[y], 1.0),
            "age": rng.normal(np.array([40.0, 60.0])[y], 5.0),
            "plan": np.array(plans)[rng.integers(0, len(plans), n)],
            "visits": rng.poisson(np.array([1.0, 4.0])[y]),
        }
    )


def _assert_same(mine, theirs, path: str = "") -> None:
    """Bit-for-bit equality of fitted state: arrays, dataclasses, containers, scalars."""
    if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
        np.testing.assert_array_equal(mine, theirs, err_msg=path, strict=True)
    elif dataclasses.is_dataclass(mine) and not isinstance(mine, type):
        assert type(mine) is type(theirs), path
        for f in dataclasses.fields(mine):
            _assert_same(getattr(mine, f.name), getattr(theirs, f.name), f"{path}.{f.name}")
    elif isinstance(mine, (list, tuple)):
        assert type(mine) is type(theirs), path
        assert len(mine) == len(theirs), path
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    elif isinstance(mine, dict):
        assert mine.keys() == theirs.keys(), path
        for k in mine:
            _assert_same(mine[k], theirs[k], f"{path}[{k!r}]")
    else:
        assert mine == theirs or (mine != mine and theirs != theirs), (path, mine, theirs)


def _fitted_state(estimator) -> dict:
    """Every attribute ``fit``/``partial_fit``/``load`` set (public and private)."""
    skip = set(estimator.get_params())
    return {k: v for k, v in vars(estimator).items() if k not in skip}


def _assert_same_model(mine, theirs) -> None:
    assert mine.get_params().keys() == theirs.get_params().keys()
    state = _fitted_state(mine)
    assert state.keys() == _fitted_state(theirs).keys()
    _assert_same(state, _fitted_state(theirs))


def _gaussian_batches(n_batches: int, rows: int, d: int = 3, seed: int = 0, make=None):
    X = make(n=n_batches * rows, d=d, k=3, seed=seed)[0]
    return np.array_split(X, n_batches)


# ------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_pass_over_100_batches_is_within_a_hundredth_of_a_nat_of_batch_em(
    make_mixture, covariance_type
):
    # Train and test rows of the same mixture (the generator's means depend on the seed).
    X = make_mixture(n=30_000, d=3, k=3, seed=4)[0]
    train, test = X[:20_000], X[20_000:]
    batch_em = GaussianMixture(3, covariance_type=covariance_type, n_init=2, random_state=0)
    batch_em.fit(train)
    online = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for batch in np.array_split(train, 100):
        online.partial_fit(batch)
    assert online.n_batches_seen_ == 100
    assert abs(online.score(test) - batch_em.score(test)) <= 0.01


# ------------------------------------------------------------------- numpy and dask
def test_dask_batches_chunked_as_the_numpy_engine_give_the_bit_identical_model(
    make_mixture, cluster2, tmp_path
):
    # The numpy engine cuts a batch into chunks of NUMPY_CHUNK_BYTES; dask batches cut the
    # same way (read from Zarr) run the same arithmetic and add the chunks up in the same
    # order. (Chunks that are only multiples of the kernel's block rows are not enough: each
    # chunk's moments are finished about the shift before they are added up.)
    d = 8
    rows = NUMPY_CHUNK_BYTES // (8 * d)
    X = make_mixture(n=2 * rows + 3000, d=d, k=3, seed=2)[0]
    mine = GaussianMixture(3, random_state=0)
    theirs = GaussianMixture(3, random_state=0, client=cluster2)
    for i, batch in enumerate((X[: 2 * rows], X[2 * rows :])):  # two engine chunks, then one
        path = str(tmp_path / f"batch{i}.zarr")
        store = zarr.create_array(store=path, shape=batch.shape, chunks=(rows, d), dtype="f8")
        store[:] = batch
        mine.partial_fit(batch)
        theirs.partial_fit(da.from_zarr(path))
        _assert_same_model(mine, theirs.set_params(client=None))
        theirs.set_params(client=cluster2)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_batches_in_other_chunks_give_the_same_model(make_mixture, cluster2, covariance_type):
    # Chunks of any size: each chunk's moments about the shift are added up in another
    # order than the numpy engine's single chunk, so they agree to rounding only.
    batches = _gaussian_batches(4, 3000, make=make_mixture, seed=3)
    mine = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    theirs = GaussianMixture(3, covariance_type=covariance_type, random_state=0, client=cluster2)
    for batch in batches:
        mine.partial_fit(batch)
        theirs.partial_fit(da.from_array(batch, chunks=(700, 3)))
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_allclose(
                getattr(theirs, name), getattr(mine, name), rtol=1e-12, atol=1e-12
            )
    assert theirs.n_batches_seen_ == mine.n_batches_seen_ == 4


def test_dask_dataframe_batches_give_the_mixed_model_of_pandas_batches(cluster2):
    mine = MixedMixture(2, columns=SPEC, random_state=0)
    theirs = MixedMixture(2, columns=SPEC, random_state=0, client=cluster2)
    for seed in range(3):
        table = _table(2000, seed)
        mine.partial_fit(table)
        theirs.partial_fit(dd.from_pandas(table, npartitions=3))
        for name in ("weights_", "means_", "covariances_", "rates_"):
            np.testing.assert_allclose(
                getattr(theirs, name), getattr(mine, name), rtol=1e-12, atol=1e-12
            )
        np.testing.assert_allclose(theirs.probabilities_[0], mine.probabilities_[0], rtol=1e-12)
    assert [list(c) for c in theirs.categories_] == [list(PLANS)]
    assert theirs.n_batches_seen_ == 3


# ---------------------------------------------------------------------- model files
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_save_and_load_between_batches_gives_the_uninterrupted_model(
    make_mixture, tmp_path, covariance_type
):
    batches = _gaussian_batches(5, 400, make=make_mixture, seed=5)
    settings = dict(covariance_type=covariance_type, random_state=0, step_size_decay=0.7)
    settings |= dict(burn_in=1)  # not the defaults: the file must keep them
    whole = GaussianMixture(3, **settings)
    for batch in batches:
        whole.partial_fit(batch)
    part = GaussianMixture(3, **settings)
    path = tmp_path / "model.npz"
    for batch in batches:
        part.partial_fit(batch)
        part.save(path)
        part = distgmm.load(path)
    assert part.get_params() == whole.get_params()
    _assert_same_model(part, whole)
    np.testing.assert_array_equal(part.predict_proba(batches[0]), whole.predict_proba(batches[0]))


def test_save_and_load_between_batches_of_a_mixed_model(tmp_path):
    batches = [_table(300, seed) for seed in range(4)]
    settings = dict(columns=SPEC, covariance_type="full", random_state=0)
    whole = MixedMixture(2, **settings)
    for batch in batches:
        whole.partial_fit(batch)
    part = MixedMixture(2, **settings)
    path = tmp_path / "mixed.npz"
    for batch in batches:
        part.partial_fit(batch)
        part.save(path)
        part = distgmm.load(path)
    assert type(part) is MixedMixture
    _assert_same_model(part, whole)
    np.testing.assert_array_equal(part.score_samples(batches[0]), whole.score_samples(batches[0]))


def test_a_fitted_model_updated_online_saves_and_loads(make_mixture, tmp_path):
    # The daily job: fit once, then load, partial_fit, save, every day.
    X = make_mixture(n=3000, d=3, k=3, seed=13)[0]
    path = tmp_path / "model.npz"
    GaussianMixture(3, random_state=0).fit(X[:2000]).save(path)
    for batch in np.array_split(X[2000:], 3):
        model = distgmm.load(path).partial_fit(batch)
        model.save(path)
    loaded = distgmm.load(path)
    assert loaded.n_batches_seen_ == 3
    assert loaded.n_iter_ == len(loaded.lower_bounds_) == 3  # the online history only
    _assert_same_model(loaded, model)


def test_more_batches_than_the_history_keeps_save_and_load(make_mixture, tmp_path):
    X = make_mixture(n=2 * (HISTORY + 2), d=2, k=1, seed=14)[0]
    model = GaussianMixture(1, covariance_type="spherical", random_state=0)
    for batch in np.array_split(X, HISTORY + 2):
        model.partial_fit(batch)
    assert model.n_batches_seen_ == HISTORY + 2
    assert model.n_iter_ == len(model.lower_bounds_) == HISTORY
    model.save(tmp_path / "model.npz")
    _assert_same_model(distgmm.load(tmp_path / "model.npz"), model)


# ------------------------------------------------------------------------ bad input
def _nan_batch(batch: np.ndarray) -> np.ndarray:
    bad = batch.copy()
    bad[7, 1] = np.nan
    return bad


BAD_GAUSSIAN = {
    "another feature count": (lambda b: b[:, :2], "features"),
    "NaN": (_nan_batch, "NaN"),
    "infinity": (lambda b: np.where(np.arange(len(b))[:, None] == 3, np.inf, b), "inf"),
    "dask with NaN": (lambda b: da.from_array(_nan_batch(b), chunks=(100, 3)), "NaN|finite"),
}


@pytest.mark.parametrize("bad", sorted(BAD_GAUSSIAN))
def test_a_bad_batch_is_refused_and_leaves_the_model_unchanged(make_mixture, bad):
    batches = _gaussian_batches(4, 300, make=make_mixture, seed=6)
    change, words = BAD_GAUSSIAN[bad]
    model = GaussianMixture(3, random_state=0)
    model.partial_fit(batches[0]).partial_fit(batches[1])
    before = copy.deepcopy(model)
    with pytest.raises(InvalidInputError, match=words):
        model.partial_fit(change(batches[2]))
    _assert_same_model(model, before)
    assert model.n_batches_seen_ == 2
    # ... and the sequence goes on as if the bad batch had never come.
    model.partial_fit(batches[2])
    _assert_same_model(model, before.partial_fit(batches[2]))


def test_a_bad_first_batch_leaves_the_estimator_unfitted(make_mixture):
    X = make_mixture(n=300, d=3, k=3)[0]
    model = GaussianMixture(3, random_state=0)
    for bad in (_nan_batch(X), X[:2]):  # NaN; fewer rows than components
        with pytest.raises(InvalidInputError):
            model.partial_fit(bad)
        assert _fitted_state(model) == {}


BAD_TABLE = {
    "a category unseen in the first batch": (
        lambda t: _table(len(t), 9, plans=(*PLANS, "platinum")),
        "platinum",
    ),
    "NaN in a gaussian column": (
        lambda t: t.assign(income=t["income"].where(t.index != 4)),
        "NaN|finite|missing",
    ),
    "a column missing": (lambda t: t.drop(columns="visits"), "visits|features"),
}


@pytest.mark.parametrize("bad", sorted(BAD_TABLE))
def test_a_bad_table_is_refused_and_leaves_the_mixed_model_unchanged(bad):
    change, words = BAD_TABLE[bad]
    model = MixedMixture(2, columns=SPEC, random_state=0)
    model.partial_fit(_table(300, 0)).partial_fit(_table(300, 1))
    before = copy.deepcopy(model)
    with pytest.raises(InvalidInputError, match=words):
        model.partial_fit(change(_table(300, 2)))
    _assert_same_model(model, before)
    assert model.n_batches_seen_ == 2


# ----------------------------------------------------------------------- recentring
def _assert_close_moments(mine, theirs) -> None:
    """Equal to 1e-12 of the largest magnitude of each moment."""
    for a, b in zip(mine, theirs, strict=True):
        scale = max(np.abs(a).max(), np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * scale)


def _random_params(covariance_type: str, d: int, rng):
    means = rng.normal(0.0, 6.0, (3, d))
    model = GaussianMixture(
        3, covariance_type=covariance_type, max_iter=0, means_init=means, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(rng.normal(0.0, 6.0, (200, d)))._params()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recentred_moments_equal_the_moments_about_the_other_shift(make_mixture, covariance_type):
    rng = np.random.default_rng(7)
    X = make_mixture(n=5000, d=4, k=3, seed=7)[0] + 100.0  # far from the origin
    origin = np.full(4, 90.0)
    model = prepare_em(_random_params(covariance_type, 4, rng), origin)
    one, other = rng.normal(10.0, 3.0, (2, 3, 4))  # both shifts away from the data's means
    about_one, about_other = chunk_summaries(
        X, [dataclasses.replace(model, shift=s) for s in (one, other)], origin
    )
    family = GaussianMLE(covariance_type, 1e-6)
    for start, target in ((about_one, about_other), (about_other, about_one)):
        moved = family.recentre(start, target.shift)
        np.testing.assert_array_equal(moved.shift, target.shift)
        np.testing.assert_array_equal(moved.nk, target.nk)
        _assert_close_moments((moved.sx, moved.sxx), (target.sx, target.sxx))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recentred_moments_of_a_mixed_models_gaussian_group(covariance_type):
    table = _table(2000, 8)
    table["age"] += 1000.0  # far from the origin
    est = MixedMixture(2, columns=SPEC, covariance_type=covariance_type, random_state=0)
    est.partial_fit(table)
    X = est._check_X(table, reset=False)
    family = est._family()
    origin = est.running_origin_
    model = family.prepare(est._params(), origin)
    rng = np.random.default_rng(8)
    shifts = [
        tuple(None if s is None else s + rng.normal(0.0, 20.0, s.shape) for s in model.shift)
        for _ in range(2)
    ]
    about_one, about_other = chunk_summaries(
        X, [dataclasses.replace(model, shift=s) for s in shifts], origin
    )
    group = next(i for i, s in enumerate(model.shift) if s is not None)
    for start, target in ((about_one, about_other), (about_other, about_one)):
        moved = family.recentre(start, target.shift)
        np.testing.assert_array_equal(moved.shift[group], target.shift[group])
        _assert_close_moments(moved.moments[group], target.moments[group])
        for i, (mine, theirs) in enumerate(zip(moved.moments, target.moments, strict=True)):
            if i != group:  # the other groups' moments are not about a shift
                _assert_same(mine, theirs)


# ------------------------------------------------------------------ after fit, tiny
def _full_covariances(covariances, covariance_type: str, k: int, d: int) -> np.ndarray:
    """Every component's (D, D) covariance."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (k, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return np.stack([c * np.eye(d) for c in covariances])


def _em_step(X, weights, means, covariances, covariance_type, reg_covar):
    """One E-step and M-step, written out from the densities (an independent reference)."""
    k, d = means.shape
    full = _full_covariances(covariances, covariance_type, k, d)
    dens = np.stack(
        [w * multivariate_normal(m, c).pdf(X) for w, m, c in zip(weights, means, full, strict=True)]
    )
    resp = dens / dens.sum(axis=0)
    nk = resp.sum(axis=1)
    new_means = resp @ X / nk[:, None]
    scatter = np.stack(
        [(r[:, None] * (X - m)).T @ (X - m) for r, m in zip(resp, new_means, strict=True)]
    )
    if covariance_type == "full":
        cov = scatter / nk[:, None, None] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        cov = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        cov = np.einsum("kdd->kd", scatter) / nk[:, None] + reg_covar
    else:
        cov = np.einsum("kdd->k", scatter) / (nk * d) + reg_covar
    return nk / nk.sum(), new_means, cov


@pytest.mark.parametrize("earlier", [False, True], ids=["fresh", "after-partial-fits"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_fit_after_fit_is_one_em_step_from_the_fitted_model(
    make_mixture, covariance_type, earlier
):
    X = make_mixture(n=3600, d=3, k=3, seed=9)[0]
    fitted, batch = X[:2000], X[2000:3000]
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    if earlier:  # the fit replaces them: their running statistics must not come back
        model.partial_fit(X[3000:3300]).partial_fit(X[3300:])
    model.fit(fitted)
    expected = _em_step(
        batch, model.weights_, model.means_, model.covariances_, covariance_type, model.reg_covar
    )
    model.partial_fit(batch)
    assert model.n_batches_seen_ == 1
    for name, value in zip(("weights_", "means_", "covariances_"), expected, strict=True):
        np.testing.assert_allclose(getattr(model, name), value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_tiny_batch_after_normal_ones_keeps_a_sound_model(make_mixture, covariance_type):
    *batches, rest = _gaussian_batches(6, 400, make=make_mixture, seed=10)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0, reg_covar=0.0)
    for batch in batches:
        model.partial_fit(batch)
    smallest = np.linalg.eigvalsh(_full_covariances(model.covariances_, covariance_type, 3, 3))
    for tiny in (rest[:1], rest[1:3], rest[3:6]):  # 1, 2 and 3 rows: singular on their own
        model.partial_fit(tiny)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            assert np.isfinite(getattr(model, name)).all(), name
        covariances = _full_covariances(model.covariances_, covariance_type, 3, 3)
        # The blend keeps the earlier statistics' share of every component's scatter
        # (no reg_covar to hide a collapse): far from singular.
        assert (np.linalg.eigvalsh(covariances).min(axis=-1) > 0.01 * smallest.min()).all()
        assert np.isfinite(model.score(np.concatenate(batches)))
    assert model.n_batches_seen_ == 8


def test_burn_in_blends_statistics_without_changing_the_parameters(make_mixture):
    batches = _gaussian_batches(5, 400, make=make_mixture, seed=11)
    model = GaussianMixture(3, random_state=0, burn_in=3)
    model.partial_fit(batches[0])
    first = copy.deepcopy(model)
    for batch in batches[1:3]:
        running = model.running_stats_
        model.partial_fit(batch)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_array_equal(getattr(model, name), getattr(first, name))
        assert not np.array_equal(model.running_stats_.sx, running.sx)  # blended
    model.partial_fit(batches[3])  # the first M-step
    assert model.n_batches_seen_ == 4
    assert not np.array_equal(model.means_, first.means_)
    # Without burn-in, the first batch's M-step has already moved the parameters.
    eager = GaussianMixture(3, random_state=0).partial_fit(batches[0])
    assert not np.array_equal(eager.means_, first.means_)


# ------------------------------------------------------------------- hostile files
def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _rewrite(path: Path, out: Path, edit) -> Path:
    """``path`` with ``edit(header, members)`` applied and checksums and shapes redone, so
    only the edit can make it fail."""
    members = _members(path)
    header = json.loads(str(members["header"][()]))
    edit(header, members)
    for name in list(header["arrays"]):
        if name not in members:
            del header["arrays"][name]
            continue
        value = np.ascontiguousarray(members[name])
        header["arrays"][name]["sha256"] = hashlib.sha256(value.tobytes()).hexdigest()
        header["arrays"][name]["shape"] = list(value.shape)
    members["header"] = np.array(json.dumps(header))
    with out.open("wb") as fh:
        np.savez(fh, **members)
    return out


@pytest.fixture(scope="module")
def online_files(tmp_path_factory, make_mixture) -> dict[str, Path]:
    """Model files after two batches: a GaussianMixture and a MixedMixture."""
    tmp_path = tmp_path_factory.mktemp("online")
    X = make_mixture(n=800, d=3, k=3, seed=12)[0]
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:400]).partial_fit(X[400:])
    mm = MixedMixture(2, columns=SPEC, random_state=0)
    mm.partial_fit(_table(300, 0)).partial_fit(_table(300, 1))
    paths = {"gaussian": tmp_path / "gm.npz", "mixed": tmp_path / "mm.npz"}
    gm.save(paths["gaussian"])
    mm.save(paths["mixed"])
    return paths


def _set(key, value):
    return lambda h, m: h["fit"].__setitem__(key, value)


def _scalar(key, value):
    return lambda h, m: h["fit"]["running_scalars"].__setitem__(key, value)


def _array(change):
    def edit(header, members):
        name = next(n for n in members if n.startswith("running_") and n != "running_origin_")
        members[name] = change(members[name])

    return edit


def _drop_running(header, members):
    for name in [n for n in members if n.startswith("running_")]:
        del members[name]


HOSTILE = {
    "n_batches_seen_ zero": (_set("n_batches_seen_", 0), "n_batches_seen_"),
    "n_batches_seen_ negative": (_set("n_batches_seen_", -3), "n_batches_seen_"),
    "n_batches_seen_ a string": (_set("n_batches_seen_", "2"), "n_batches_seen_"),
    "n_batches_seen_ a boolean": (_set("n_batches_seen_", True), "n_batches_seen_"),
    "n_batches_seen_ a float": (_set("n_batches_seen_", 2.5), "n_batches_seen_"),
    "running scalars missing": (lambda h, m: h["fit"].pop("running_scalars"), "running_scalars"),
    "a running scalar missing": (
        lambda h, m: h["fit"]["running_scalars"].pop("weight"),
        "running_scalars",
    ),
    "a running weight negative": (_scalar("weight", -1.0), "weight"),
    "a running count fractional": (_scalar("n_rows", 2.5), "n_rows"),
    "negative soft counts": (
        lambda h, m: m.__setitem__("running_0_", -m["running_0_"]),  # nk, the first
        "negative",
    ),
    "a running scalar a string": (_scalar("weight", "1.0"), "running_scalars"),
    "an extra running scalar": (_scalar("answer", 42), "running_scalars"),
    "a running array NaN": (_array(lambda a: np.full_like(a, np.nan)), "NaN or infinity"),
    "a running array infinite": (_array(lambda a: np.full_like(a, np.inf)), "NaN or infinity"),
    "a running array of another shape": (_array(lambda a: np.zeros((*a.shape, 2))), "shape"),
    "the running origin NaN": (
        lambda h, m: m.__setitem__("running_origin_", np.full_like(m["running_origin_"], np.nan)),
        "NaN or infinity",
    ),
    "the running arrays missing": (_drop_running, "running"),
}


@pytest.mark.parametrize("kind", ["gaussian", "mixed"])
@pytest.mark.parametrize("edit", sorted(HOSTILE))
def test_a_damaged_online_state_is_refused_naming_the_file(online_files, tmp_path, kind, edit):
    saved = online_files[kind]
    change, words = HOSTILE[edit]
    damaged = _rewrite(saved, tmp_path / "damaged.npz", change)
    with pytest.raises(InvalidInputError, match=words) as info:
        distgmm.load(damaged)
    assert str(damaged) in str(info.value)

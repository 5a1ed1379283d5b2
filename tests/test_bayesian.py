"""BayesianGaussianMixture: scikit-learn's numbers on numpy and dask input, chunking and
worker invariance, the Dirichlet process, model files, checkpoints, batches, weights, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import dask.array as da
import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from test_hostile_files import _save
from test_modelfile import _header, _members, _refused

import distgmm
from distgmm import BayesianGaussianMixture, GaussianMixture, InvalidInputError
from distgmm.core.em import run_em
from distgmm.engine import DaskPasses, InMemoryPasses
from distgmm.families.gaussian.bayes import GaussianVB
from distgmm.families.gaussian.mle import GaussianMLE
from distgmm.init import InitSpec, initialize

TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
INITS = ("kmeans", "k-means++", "random", "random_from_data")
#: Each covariance type once, with both prior types.
PAIRS = list(zip(TYPES, PRIOR_TYPES * 2, strict=True))
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Every fitted array of the posterior and of the priors.
FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
    "weight_concentration_",
    "mean_precision_",
    "degrees_of_freedom_",
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "mean_prior_",
    "degrees_of_freedom_prior_",
    "covariance_prior_",
    "lower_bounds_",
)


@pytest.fixture(scope="module")
def X(make_mixture):
    return make_mixture(n=300, d=3, k=3, seed=0)[0]


def _arrays(model) -> dict[str, np.ndarray]:
    out = {}
    for name in FITTED:
        value = getattr(model, name)
        # the Dirichlet process's concentrations are a tuple of two arrays, as in sklearn
        out[name] = np.stack(value) if isinstance(value, tuple) else np.asarray(value)
    # scikit-learn's 'tied' lower_bounds_ entries are shape-(1,) arrays
    out["lower_bounds_"] = np.ravel(out["lower_bounds_"]).astype(np.float64)
    return out


def assert_rel(got, want, rtol, name=""):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, name
    if want.size:
        error = np.abs(got - want).max()
        assert error <= rtol * np.abs(want).max(), f"{name}: difference {error:.2e}"


def assert_same_fit(ours, theirs, rtol, X=None):
    """The same model to ``rtol`` (relative to each array's largest entry)."""
    a, b = _arrays(ours), _arrays(theirs)
    for name in FITTED:
        assert_rel(a[name], b[name], rtol, name)
    assert type(ours.weight_concentration_) is type(theirs.weight_concentration_)
    assert np.ndim(ours.degrees_of_freedom_) == np.ndim(theirs.degrees_of_freedom_)
    assert (ours.n_iter_, ours.converged_) == (theirs.n_iter_, theirs.converged_)
    if X is not None:
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        assert_rel(ours.predict_proba(X), theirs.predict_proba(X), rtol, "predict_proba")
        assert_rel(ours.score_samples(X), theirs.score_samples(X), rtol, "score_samples")


def assert_identical(a, b):
    x, y = _arrays(a), _arrays(b)
    for name in FITTED:
        np.testing.assert_array_equal(x[name], y[name], err_msg=name, strict=True)
    assert (a.n_iter_, a.converged_) == (b.n_iter_, b.converged_)


def bgm(**params) -> BayesianGaussianMixture:
    return BayesianGaussianMixture(**{"n_components": 3, "random_state": 0, **params})


def sklearn_start(X, **params) -> BayesianGaussianMixture:
    """scikit-learn's start on ``X`` (its initialisation and first variational M-step, no
    iteration: BayesianGaussianMixture takes no weights_init / means_init), set to
    continue on any input with warm_start."""
    max_iter = params.pop("max_iter", 100)
    start = bgm(max_iter=0, **params).fit(X)
    return start.set_params(warm_start=True, max_iter=max_iter)


# ---------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("init_params", INITS)
def test_same_fit_as_sklearn(X, covariance_type, prior_type, init_params):
    kw = dict(
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        init_params=init_params,
        tol=1e-4,
        max_iter=300,
    )
    theirs = SkBGM(n_components=3, random_state=0, **kw).fit(X)
    ours = bgm(**kw).fit(X)
    assert ours.converged_
    assert_same_fit(ours, theirs, 1e-8, X)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)
    for got, want in zip(ours.sample(50), theirs.sample(50), strict=True):
        assert_rel(got, want, 1e-8, "sample")


def _given_priors(covariance_type: str, d: int) -> dict:
    rng = np.random.default_rng(5)
    a = rng.normal(size=(d, d))
    covariance = {
        "full": a @ a.T + d * np.eye(d),
        "tied": a @ a.T + np.eye(d),
        "diag": rng.uniform(0.5, 2.0, d),
        "spherical": 1.7,
    }[covariance_type]
    return dict(
        weight_concentration_prior=0.2,
        mean_precision_prior=0.3,
        mean_prior=rng.normal(size=d),
        degrees_of_freedom_prior=d + 1.5,
        covariance_prior=covariance,
    )


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_given_priors_and_restarts_as_sklearn(X, covariance_type, prior_type):
    kw = dict(
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        n_init=3,
        init_params="random",  # restarts that differ
        tol=1e-6,
        max_iter=300,
        **_given_priors(covariance_type, X.shape[1]),
    )
    theirs = SkBGM(n_components=3, random_state=1, **kw).fit(X)
    ours = bgm(random_state=1, **kw).fit(X)
    assert_same_fit(ours, theirs, 1e-8, X)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_input(X, covariance_type):
    # scikit-learn fits float32 data in float32 (its precision factors keep float32's
    # 1e-7 resolution, and with tol=1e-6 it even stops at another iteration), so it is no
    # reference. distgmm projects float32 blocks in float32 but accumulates the statistics in
    # float64: its model is that of the same values in float64, to float32's resolution.
    X32 = X.astype(np.float32)
    kw = dict(covariance_type=covariance_type, tol=0.0, max_iter=15)
    exact = SkBGM(n_components=3, random_state=0, **kw).fit(X32.astype(np.float64))
    ours = bgm(**kw).fit(X32)
    assert ours.means_.dtype == np.float64
    assert_same_fit(ours, exact, 1e-6)
    lazy = sklearn_start(X32, **kw).fit(da.from_array(X32, chunks=(70, -1)))
    assert_same_fit(lazy, exact, 1e-6)


# ---------------------------------------------------------------------------- dask input
def test_max_iter_0_is_sklearns_start(X):
    for covariance_type, prior_type in PAIRS:
        kw = dict(covariance_type=covariance_type, weight_concentration_prior_type=prior_type)
        theirs = SkBGM(n_components=3, random_state=0, max_iter=0, **kw).fit(X)
        ours = bgm(max_iter=0, **kw).fit(X)
        assert ours.lower_bounds_ == []
        assert ours.n_iter_ == 0
        assert_same_fit(ours, theirs, 1e-12)


@pytest.mark.parametrize(("covariance_type", "prior_type"), PAIRS)
def test_dask_input_from_sklearns_start(X, covariance_type, prior_type):
    kw = dict(covariance_type=covariance_type, weight_concentration_prior_type=prior_type, tol=1e-4)
    theirs = SkBGM(n_components=3, random_state=0, max_iter=300, **kw).fit(X)
    uneven = da.from_array(X, chunks=((100, 1, 150, 49), (2, 1)))
    ours = sklearn_start(X, max_iter=300, **kw).fit(uneven)
    assert_same_fit(ours, theirs, 1e-8)
    assert_rel(ours.predict_proba(uneven).compute(), theirs.predict_proba(X), 1e-8)


@pytest.mark.cluster
def test_streamed_and_persisted_on_a_cluster_from_sklearns_start(X, cluster2):
    kw = dict(weight_concentration_prior_type="dirichlet_distribution", tol=1e-4)
    theirs = SkBGM(n_components=3, random_state=0, max_iter=300, **kw).fit(X)
    Xd = da.from_array(X, chunks=(150, -1))
    fits = {
        persist: sklearn_start(X, max_iter=300, client=cluster2, persist=persist, **kw).fit(Xd)
        for persist in (False, True)
    }
    assert_same_fit(fits[False], theirs, 1e-8)
    assert_identical(fits[True], fits[False])


# ---------------------------------------------------------------------------- invariance
@pytest.mark.parametrize(
    ("covariance_type", "init_params"), list(zip(TYPES, ("kmeans", "random") * 2, strict=True))
)
def test_chunking_does_not_change_the_model(make_mixture, covariance_type, init_params):
    """One chunk vs many uneven chunks: the same fit, initialisation included, to 1e-10."""
    X, _ = make_mixture(n=1001, d=4, k=3, seed=1)
    kw = dict(covariance_type=covariance_type, init_params=init_params, tol=0.0, max_iter=8)
    whole = bgm(**kw).fit(da.from_array(X, chunks=(-1, -1)))
    uneven = bgm(**kw).fit(da.from_array(X, chunks=((500, 1, 300, 200), (2, 2))))
    assert_same_fit(uneven, whole, 1e-10)


def test_numpy_and_dask_are_bit_identical_for_the_same_chunks(X):
    for covariance_type, prior_type in PAIRS:
        kw = dict(weight_concentration_prior_type=prior_type)
        sources = (InMemoryPasses(X, chunk_rows=70), DaskPasses(da.from_array(X, (70, 3))))
        results = []
        assert len(sources[0].bounds) == 5
        for passes in sources:
            inits, origin = initialize(passes, InitSpec(3, covariance_type, "random"), 7, 2)
            family = bgm(covariance_type=covariance_type, **kw)._fit_family(passes, origin)
            starts = [family.start(e, passes.n_samples) for e in inits]
            results.append(
                run_em(
                    lambda m, p=passes, o=origin: p.run(m, o),
                    family,
                    starts,
                    origin,
                    tol=0.0,
                    max_iter=5,
                )
            )
            passes.close()
        for a, b in zip(*results, strict=True):
            assert_same_params(a.params, b.params)
            assert a.lower_bounds == b.lower_bounds
    # and the estimator: one chunk of numpy rows is one chunk of dask rows
    start = sklearn_start(X, max_iter=10, tol=0.0, n_init=2)
    on_numpy = sklearn_start(X, max_iter=10, tol=0.0, n_init=2).fit(X)
    assert_identical(start.fit(da.from_array(X, chunks=(-1, -1))), on_numpy)


def test_reruns_are_bit_identical(make_mixture):
    X, _ = make_mixture(n=600, d=3, k=4, seed=3)
    Xd = da.from_array(X, chunks=(250, -1))
    kw = dict(n_components=4, n_init=2, tol=0.0, max_iter=5)
    assert_identical(bgm(**kw).fit(Xd), bgm(**kw).fit(Xd))
    assert_identical(bgm(**kw).fit(X), bgm(**kw).fit(X))


@pytest.mark.cluster
@pytest.mark.parametrize(("covariance_type", "prior_type"), [PAIRS[0], PAIRS[3]])
def test_same_model_on_one_and_two_worker_processes(
    make_mixture, cluster1, cluster2, covariance_type, prior_type
):
    X, _ = make_mixture(n=1500, d=4, k=3, seed=8)
    Xd = da.from_array(X, chunks=(400, -1))
    kw = dict(
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        n_init=2,
        tol=0.0,
        max_iter=5,
    )
    one = bgm(client=cluster1, **kw).fit(Xd)
    assert_identical(one, bgm(client=cluster2, **kw).fit(Xd))
    assert_identical(one, bgm(**kw).fit(Xd))  # threaded scheduler in this process


# ---------------------------------------------------------------------------- the process
@pytest.fixture(scope="module")
def three_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    return centres, centres[rng.integers(0, 3, 1500)] + rng.normal(size=(1500, 2))


@pytest.mark.parametrize(("n_components", "lazy"), [(8, False), (10, False), (8, True)])
def test_dirichlet_process_switches_off_unneeded_components(three_clusters, n_components, lazy):
    centres, Y = three_clusters
    data = da.from_array(Y, chunks=(750, -1)) if lazy else Y
    # k-means++ starts converge in ~30 iterations here, numpy or dask (kmeans: 60, 100)
    model = bgm(
        n_components=n_components,
        weight_concentration_prior=1e-2,
        init_params="k-means++",
        max_iter=500,
    )
    model.fit(data)
    assert model.converged_
    used = model.weights_ > 0.05
    assert used.sum() == 3
    assert model.weights_[~used].max() < 1e-2
    assert model.weights_[used].sum() > 0.99
    # the components kept are the clusters
    found = model.means_[used]
    nearest = np.abs(found[:, None, :] - centres[None]).sum(axis=2).argmin(axis=1)
    assert sorted(nearest) == [0, 1, 2]
    assert np.abs(found - centres[nearest]).max() < 0.2


# ---------------------------------------------------------------------------- model files
@pytest.mark.parametrize(("covariance_type", "prior_type"), PAIRS)
def test_model_file_round_trip_is_bitwise(X, tmp_path, covariance_type, prior_type):
    model = bgm(covariance_type=covariance_type, weight_concentration_prior_type=prior_type)
    model.fit(X)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = distgmm.load(path)
    assert type(loaded) is BayesianGaussianMixture
    assert_identical(loaded, model)
    assert loaded.get_params() == model.get_params()
    assert loaded.lower_bound_ == model.lower_bound_
    for method in ("predict", "predict_proba", "score_samples"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(model, method)(X), strict=True
        )
    assert loaded.score(X) == model.score(X)
    for got, want in zip(loaded.sample(20), model.sample(20), strict=True):
        np.testing.assert_array_equal(got, want, strict=True)


@pytest.fixture
def saved(X, tmp_path):
    path = tmp_path / "model.npz"
    bgm(covariance_type="full").fit(X).save(path)
    return path, _members(path)


def _rehash(header: dict, members: dict) -> dict:
    """Checksums redone, so that only the value checks can refuse the file."""
    for name, entry in header["arrays"].items():
        entry["sha256"] = hashlib.sha256(np.ascontiguousarray(members[name]).tobytes()).hexdigest()
    return header


def _edit(members: dict, name: str, edit) -> dict:
    array = members[name].copy()
    edit(array)
    return {**members, name: array}


@pytest.mark.parametrize(
    ("name", "edit", "words"),
    [
        ("weight_concentration_", lambda a: a.__setitem__(0, a[0] * 1.5), ("weights_ are not",)),
        ("weight_concentration_", lambda a: a.__setitem__((1, 0), -1.0), ("must be > 0",)),
        ("degrees_of_freedom_", lambda a: a.__imul__(-1.0), ("degrees_of_freedom_", "> n_")),
        ("mean_precision_", lambda a: a.__setitem__(1, np.nan), ("mean_precision_", "NaN")),
    ],
    ids=["concentration-edited", "concentration-negative", "dof-negative", "beta-nan"],
)
def test_invalid_posterior_in_a_model_file_is_refused(saved, name, edit, words):
    path, members = saved
    edited = _edit(members, name, edit)
    _save(path, edited, _rehash(_header(edited), edited))
    _refused(path, *words)


@pytest.mark.parametrize(
    ("section", "field", "value", "words"),
    [
        ("params", "weight_concentration_prior_type", "dirichlet", ("is not one of",)),
        ("params", "weight_concentration_prior_type", "dirichlet_distribution", ("shape",)),
        ("fit", "degrees_of_freedom_prior_", -3.0, ("priors are invalid",)),
        ("fit", "weight_concentration_prior_", 0.0, ("priors are invalid",)),
    ],
)
def test_invalid_settings_in_a_model_file_header_are_refused(saved, section, field, value, words):
    path, members = saved
    header = _header(members)
    header[section][field] = value
    _save(path, members, header)
    _refused(path, *words)


# ---------------------------------------------------------------------------- checkpoints
def quiet_fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", distgmm.ConvergenceWarning)
        return bgm(n_init=2, init_params="random", **params).fit(X)


@pytest.mark.parametrize(("covariance_type", "prior_type"), PAIRS)
@pytest.mark.parametrize("stop_after", [0, 3])
def test_resumed_fit_is_bit_identical(X, tmp_path, covariance_type, prior_type, stop_after):
    kw = dict(covariance_type=covariance_type, weight_concentration_prior_type=prior_type)
    whole = quiet_fit(X, max_iter=8, tol=0.0, **kw)
    path = tmp_path / "fit.ckpt"
    quiet_fit(X, max_iter=stop_after, tol=0.0, checkpoint=path, **kw)  # "killed" here
    resumed = quiet_fit(X, max_iter=8, tol=0.0, checkpoint=path, resume=True, **kw)
    assert_identical(resumed, whole)


@pytest.mark.cluster
def test_resume_on_a_cluster_with_dask_input(X, tmp_path, cluster2):
    Xd = da.from_array(X, chunks=(150, -1))
    whole = quiet_fit(Xd, max_iter=4, tol=0.0, client=cluster2)
    path = tmp_path / "fit.ckpt"
    quiet_fit(Xd, max_iter=2, tol=0.0, client=cluster2, checkpoint=path)
    resumed = quiet_fit(Xd, max_iter=4, tol=0.0, client=cluster2, checkpoint=path, resume=True)
    assert_identical(resumed, whole)


def test_checkpoint_of_another_estimator_or_prior_is_refused(X, tmp_path):
    path = tmp_path / "fit.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", distgmm.ConvergenceWarning)
        GaussianMixture(3, random_state=0, max_iter=2, checkpoint=path).fit(X)
    with pytest.raises(InvalidInputError, match=r"estimator.* differ") as info:
        quiet_fit(X, checkpoint=path, resume=True)
    assert str(path) in str(info.value)
    quiet_fit(X, max_iter=2, checkpoint=path)
    with pytest.raises(InvalidInputError, match=r"estimator.* differ"):
        GaussianMixture(3, random_state=0, checkpoint=path, resume=True).fit(X)
    with pytest.raises(InvalidInputError, match=r"\(weight_concentration_prior differ\)"):
        quiet_fit(X, checkpoint=path, resume=True, weight_concentration_prior=0.5)
    with pytest.raises(InvalidInputError, match=r"\(mean_prior differ\)"):
        quiet_fit(X, checkpoint=path, resume=True, mean_prior=np.zeros(3))
    with pytest.raises(InvalidInputError, match=r"\(weight_concentration_prior_type differ\)"):
        quiet_fit(
            X,
            checkpoint=path,
            resume=True,
            weight_concentration_prior_type="dirichlet_distribution",
        )


# ---------------------------------------------------------------------------- batches
def assert_same_params(a, b):
    assert type(a) is type(b)
    for field in dataclasses.fields(a):
        got, want = getattr(a, field.name), getattr(b, field.name)
        if isinstance(want, np.ndarray):
            np.testing.assert_array_equal(got, want, err_msg=field.name, strict=True)
        else:
            assert got == want, field.name


def test_a_model_in_a_mixed_batch_fits_as_alone(make_mixture):
    """Models of different sizes and families share each pass, and each is fitted exactly
    as alone: its row blocks (of a size set by its own kernel and K) do not depend on the
    widest model of the batch."""
    X, _ = make_mixture(n=6000, d=8, k=3, seed=11)
    passes = InMemoryPasses(X)
    # (K, covariance type, variational?): 'full' blocks are 4096 rows for K=2, 2730 for K=12
    specs = [(2, "full", False), (12, "full", True), (12, "full", False), (2, "full", True)]
    specs += [(5, "diag", True), (4, "spherical", False)]
    families, inits, origin = [], [], None
    for seed, (k, cov, variational) in enumerate(specs):
        (estimate,), o = initialize(passes, InitSpec(k, cov, "random"), seed, 1)
        origin = o if origin is None else origin
        np.testing.assert_array_equal(o, origin)
        if variational:
            prior_type = PRIOR_TYPES[seed % 2]
            estimator = bgm(n_components=k, covariance_type=cov)
            estimator.set_params(weight_concentration_prior_type=prior_type)
            family = estimator._fit_family(passes, origin)
            assert isinstance(family, GaussianVB)
            inits.append(family.start(estimate, passes.n_samples))
        else:
            family = GaussianMLE(cov, 1e-6)
            inits.append(estimate)
        families.append(family)

    def run(members):
        return run_em(
            lambda m: passes.run(m, origin),
            [families[i] for i in members],
            [inits[i] for i in members],
            origin,
            tol=0.0,
            max_iter=6,
        )

    batch = run(range(len(specs)))
    for i, together in enumerate(batch):
        (alone,) = run([i])
        assert_same_params(together.params, alone.params)
        assert together.lower_bounds == alone.lower_bounds, specs[i]
        assert together.n_iter == alone.n_iter == 6
    passes.close()


# ---------------------------------------------------------------------------- weights
def test_sample_weights_count_by_their_ratios(X):
    """VB weights are relative (rescaled to sum to the rows, the Notes say): equal weights
    fit as none, bit for bit, and a scaled weighting as the weighting."""
    equal = np.full(len(X), 2.5)
    Xd = da.from_array(X, chunks=(150, -1))
    short = dict(tol=0.0, max_iter=4)
    assert_identical(bgm(**short).fit(Xd, sample_weight=equal), bgm(**short).fit(Xd))
    data, kw = X, dict(covariance_type="full", tol=1e-6, max_iter=300)
    assert_identical(bgm(**kw).fit(data, sample_weight=equal), bgm(**kw).fit(data))
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    weighted = bgm(**kw).fit(data, sample_weight=w)
    assert weighted.converged_
    assert_identical(bgm(**kw).fit(data, sample_weight=w / 8), weighted)  # a power of two
    assert_same_fit(bgm(**kw).fit(data, sample_weight=3 * w), weighted, 1e-12)
    # the priors made from the data are the weighted ones
    mean = np.average(X, axis=0, weights=w)
    covariance = (w * (X - mean).T) @ (X - mean) / w.sum() * len(X) / (len(X) - 1)
    assert_rel(weighted.mean_prior_, mean, 1e-12)
    assert_rel(weighted.covariance_prior_, covariance, 1e-12)
    assert_rel(bgm(**kw).fit(data).covariance_prior_, np.cov(X.T), 1e-12)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("covariance_type", "prior"),
    [
        ("full", {"weight_concentration_prior": 0}),
        ("full", {"weight_concentration_prior": -1.0}),
        ("full", {"weight_concentration_prior_type": "dirichlet"}),
        ("full", {"mean_precision_prior": 0.0}),
        ("full", {"degrees_of_freedom_prior": -1.0}),
        ("full", {"degrees_of_freedom_prior": 2}),
        ("full", {"degrees_of_freedom_prior": 1.5}),
        ("full", {"mean_prior": [0.0, 0.0]}),
        ("full", {"mean_prior": [[0.0, 0.0, 0.0]]}),
        ("full", {"mean_prior": [0.0, np.nan, 1.0]}),
        ("full", {"covariance_prior": np.eye(2)}),
        ("full", {"covariance_prior": -np.eye(3)}),
        ("full", {"covariance_prior": np.array([[1.0, 2, 0], [0, 1, 0], [0, 0, 1]])}),
        ("tied", {"covariance_prior": np.diag([1.0, -1.0, 1.0])}),
        ("tied", {"covariance_prior": np.ones(3)}),
        ("diag", {"covariance_prior": np.array([1.0, 0.0, 1.0])}),
        ("diag", {"covariance_prior": np.ones(2)}),
        ("diag", {"covariance_prior": np.eye(3)}),
        ("spherical", {"covariance_prior": -1.0}),
        ("spherical", {"covariance_prior": 0.0}),
    ],
)
def test_invalid_priors_raise_sklearns_message(X, covariance_type, prior):
    kw = dict(n_components=2, covariance_type=covariance_type, max_iter=2, random_state=0, **prior)
    with pytest.raises(ValueError) as theirs:  # the messages are compared below
        SkBGM(**kw).fit(X)
    for data in (X, da.from_array(X, chunks=(100, -1))):
        with pytest.raises(ValueError) as ours:
            BayesianGaussianMixture(**kw).fit(data)
        assert str(theirs.value) in str(ours.value)
        assert isinstance(ours.value, (InvalidInputError, type(theirs.value)))


@pytest.mark.parametrize(
    ("covariance_type", "prior", "words"),
    [
        # scikit-learn raises a TypeError about dimensions for this one
        ("full", 2.0, "should have the shape of (3, 3), but got ()"),
        # scikit-learn accepts these and fits with a negative prior variance
        ("spherical", np.array(-1.0), "finite number > 0"),
        ("spherical", np.array([-1.0]), "finite number > 0"),
    ],
)
def test_priors_sklearn_misreports_are_refused_clearly(X, covariance_type, prior, words):
    with pytest.raises(InvalidInputError, match="covariance_prior") as info:
        bgm(covariance_type=covariance_type, covariance_prior=prior).fit(X)
    assert words in str(info.value)

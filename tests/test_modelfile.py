"""Model files: bitwise round trips, and every way a file can be refused (real files, no mocks)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import distgmm
from distgmm import ConvergenceWarning, GaussianMixture, InvalidInputError
from distgmm import load as load_model
from distgmm.modelfile import FORMAT_VERSION, ModelFileNotFoundError, save_model

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")


@pytest.fixture(scope="module")
def X(make_mixture):
    return make_mixture(n=300, d=3, k=3, seed=1)[0]


@pytest.fixture(scope="module")
def fitted(X):
    """One fitted model per covariance type; tests must not modify them."""
    return {
        cov: GaussianMixture(3, covariance_type=cov, random_state=0, persist=False).fit(X)
        for cov in COVARIANCE_TYPES
    }


@pytest.fixture
def saved(fitted, tmp_path):
    """A good 'full' model file, its estimator, and the file's members."""
    path = tmp_path / "model.npz"
    fitted["full"].save(path)
    return path, fitted["full"], _members(path)


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _header(members: dict[str, np.ndarray]) -> dict:
    return json.loads(str(members["header"][()]))


def _write(path: Path, members: dict, header: dict | None = None, rehash: bool = False) -> None:
    """An .npz of ``members``, with ``header`` (default: theirs), checksums redone if asked."""
    members = dict(members)
    header = _header(members) if header is None else header
    if rehash:
        for name in ARRAYS:
            digest = hashlib.sha256(np.ascontiguousarray(members[name]).tobytes()).hexdigest()
            header["arrays"][name]["sha256"] = digest
    members["header"] = np.array(json.dumps(header))
    with path.open("wb") as fh:
        np.savez(fh, **members)


def _refused(path: Path, *words: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word.lower() in message.lower(), message
    return info.value


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_is_bitwise(fitted, X, tmp_path, covariance_type):
    gm = fitted[covariance_type]
    path = tmp_path / "model.npz"
    gm.save(str(path))
    loaded = distgmm.load(path)

    assert type(loaded) is GaussianMixture
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        got, want = getattr(loaded, name), getattr(gm, name)
        assert got.dtype == want.dtype
        assert got.flags.writeable
        np.testing.assert_array_equal(got, want, strict=True)
    for name in ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_"):
        assert getattr(loaded, name) == getattr(gm, name)
    assert loaded.history_ is loaded.lower_bounds_
    assert not hasattr(loaded, "labels_")  # per-row results are not stored
    assert not hasattr(loaded, "feature_names_in_")
    assert loaded.get_params() == gm.get_params()

    for method in ("predict", "predict_proba", "score_samples"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(gm, method)(X), strict=True
        )
    for method in ("score", "bic", "aic"):
        assert getattr(loaded, method)(X) == getattr(gm, method)(X)
    for got, want in zip(loaded.sample(20), gm.sample(20), strict=True):
        np.testing.assert_array_equal(got, want, strict=True)


def test_file_of_the_version_before_estimator_classes_loads(saved, X, tmp_path):
    """Files written before the header named the estimator's class (no "estimator" field)
    are GaussianMixture files, and load as before."""
    _, gm, members = saved
    header = _header(members)
    assert header.pop("estimator") == "GaussianMixture"
    old = tmp_path / "old.npz"
    _write(old, members, header)
    loaded = load_model(old)
    assert type(loaded) is GaussianMixture
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X))


def test_unknown_estimator_class_is_refused(saved, tmp_path):
    path, _, members = saved
    header = _header(members)
    header["estimator"] = "os.system"
    _write(path, members, header)
    _refused(path, "estimator", "os.system", "GaussianMixture")


def test_round_trip_without_iterations(X, tmp_path):
    # max_iter=0 keeps the initialisation: no lower bound at all (-inf, stored as null).
    gm = GaussianMixture(2, covariance_type="diag", max_iter=0, random_state=0).fit(X)
    path = tmp_path / "init-only.npz"
    save_model(gm, path)
    assert _header(_members(path))["fit"]["lower_bound"] is None
    loaded = load_model(path)
    assert loaded.n_iter_ == 0
    assert loaded.lower_bounds_ == []
    assert loaded.lower_bound_ == -np.inf
    np.testing.assert_array_equal(loaded.score_samples(X), gm.score_samples(X), strict=True)


def test_warm_start_continues_from_loaded_model(X, tmp_path):
    # tol=0 never converges: exactly max_iter iterations each time.
    original = GaussianMixture(3, tol=0.0, max_iter=2, random_state=0, persist=False)
    with pytest.warns(ConvergenceWarning):
        original.fit(X)
    original.save(tmp_path / "model.npz")
    loaded = load_model(tmp_path / "model.npz")
    last_bound = original.lower_bound_

    for gm in (original, loaded):
        gm.set_params(warm_start=True)
        with pytest.warns(ConvergenceWarning):
            gm.fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert loaded.lower_bounds_ == original.lower_bounds_
    # Continued, not restarted: EM never decreases the likelihood.
    assert loaded.lower_bounds_[0] >= last_bound
    assert loaded.labels_.shape == (X.shape[0],)


def test_header_content(X, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    means_init = X[:2].copy()
    gm = GaussianMixture(
        2,
        covariance_type="tied",
        means_init=means_init,
        random_state=np.random.RandomState(0),
        persist=False,
    ).fit(frame)
    path = tmp_path / "model.npz"
    before = datetime.now(timezone.utc)
    gm.save(path)
    members = _members(path)
    header = _header(members)

    assert set(members) == {"header", *ARRAYS}
    assert members["header"].dtype.kind == "U"
    assert header["format"] == "distgmm-model"
    assert header["format_version"] == FORMAT_VERSION == 1
    assert header["distgmm_version"] == distgmm.__version__
    created = datetime.fromisoformat(header["created"])
    assert created.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created <= datetime.now(timezone.utc)
    assert (header["covariance_type"], header["n_components"], header["n_features"]) == (
        "tied",
        2,
        3,
    )
    # Side effects of a fit are never stored (client, checkpoint, resume, warm_start).
    assert header["dropped_params"] == [
        "checkpoint",
        "client",
        "random_state",
        "resume",
        "warm_start",
    ]
    assert "client" not in header["params"]
    assert "random_state" not in header["params"]
    assert header["params"]["means_init"] == means_init.tolist()
    assert header["params"]["covariance_type"] == "tied"
    assert header["fit"] == {
        "converged": gm.converged_,
        "n_iter": gm.n_iter_,
        "lower_bound": gm.lower_bound_,
        "n_features_in_": 3,
        "feature_names_in_": ["a", "b", "c"],
    }
    for name in ARRAYS:
        arr = members[name]
        assert arr.dtype == np.dtype("<f8")
        assert header["arrays"][name] == {
            "shape": list(arr.shape),
            "dtype": "<f8",
            "sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
        }

    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.feature_names_in_, gm.feature_names_in_, strict=True)
    np.testing.assert_array_equal(loaded.means_init, means_init, strict=True)
    assert loaded.random_state is None  # dropped: the default
    np.testing.assert_array_equal(loaded.predict_proba(frame), gm.predict_proba(frame))


# ---------------------------------------------------------------------------- refusals
def test_newer_format_version_is_refused(saved, tmp_path):
    path, _, members = saved
    header = _header(members)
    header["format_version"] = FORMAT_VERSION + 1
    _write(path, members, header)
    _refused(path, "format_version 2", "reads format_version 1", "upgrade distgmm")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("not a distgmm model file", "empty")),
        (b"not a model file\n" * 20, ("not a distgmm model file", "not an .npz")),
        (b"PK\x03\x04 but not a zip", ("not a readable .npz archive",)),
    ],
    ids=["empty", "text", "zip-magic"],
)
def test_non_npz_file_is_refused(tmp_path, content, words):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    error = _refused(path, *words)
    assert "allow_pickle" not in str(error)  # numpy's advice to load it unsafely is not ours


def test_npy_and_foreign_npz_are_refused(tmp_path):
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    _refused(npy, "single .npy array")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    _refused(foreign, "no 'header' member")
    other = tmp_path / "other.npz"
    np.savez(other, header=np.array(json.dumps({"format": "something-else"})))
    _refused(other, "'something-else'", "not a distgmm model file")


def test_truncated_file_is_refused(saved):
    path, _, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "truncated")


def test_tampered_array_is_refused(saved, tmp_path):
    path, gm, members = saved
    # A consistent archive whose array changed after saving: only the checksum tells.
    means = members["means_"].copy()
    means[0, 0] = np.nextafter(means[0, 0], np.inf)
    _write(path, {**members, "means_": means})
    _refused(path, "'means_'", "sha256 checksum")

    # One byte flipped in place inside the raw file.
    fresh = tmp_path / "fresh.npz"
    gm.save(fresh)
    data = bytearray(fresh.read_bytes())
    offset = data.find(gm.covariances_.tobytes())
    assert offset > 0
    data[offset + 5] ^= 0x01
    fresh.write_bytes(bytes(data))
    _refused(fresh, "'covariances_'")


class _Canary:
    """Unpickling this creates a directory: proof that a loader ran code from the file."""

    def __init__(self, trace: Path) -> None:
        self.trace = trace

    def __reduce__(self):
        return os.mkdir, (str(self.trace),)


@pytest.mark.parametrize("member", ["header", "means_"])
def test_object_array_is_never_unpickled(saved, tmp_path, member):
    path, _, members = saved
    trace = tmp_path / "unpickled"
    poisoned = dict(members)
    poisoned[member] = np.array([_Canary(trace)], dtype=object)
    with path.open("wb") as fh:
        np.savez(fh, **poisoned)  # numpy pickles object arrays when writing
    _refused(path, f"'{member}'", "object array", "never unpickled")
    assert not trace.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_features", 4), ("n_components", 2), ("covariance_type", "diag")],
)
def test_header_disagreeing_with_arrays_is_refused(saved, field, value):
    path, _, members = saved
    header = _header(members)
    header[field] = value
    if field == "n_features":
        header["fit"]["n_features_in_"] = value
    _write(path, members, header)
    _refused(path, "shape", f"{field}={value!r}")


def test_array_of_wrong_shape_is_refused(saved):
    # Header and checksums describe the arrays, but the arrays don't fit the model.
    path, _, members = saved
    header = _header(members)
    means = members["means_"][:, :2].copy()
    header["arrays"]["means_"]["shape"] = list(means.shape)
    _write(path, {**members, "means_": means}, header, rehash=True)
    _refused(path, "'means_' has shape (3, 2)", "imply (3, 3)")


def _edited(members, name, edit):
    arr = members[name].copy()
    edit(arr)
    return {**members, name: arr}


@pytest.mark.parametrize(
    ("name", "edit", "words"),
    [
        ("weights_", lambda a: a.__setitem__(0, a[0] + 1e-3), ("sum to 1",)),
        ("weights_", lambda a: a.__imul__(-1), ("must be >= 0",)),
        ("means_", lambda a: a.__setitem__((1, 2), np.nan), ("'means_'", "NaN")),
        ("precisions_cholesky_", lambda a: a.__setitem__((0, 2, 0), 0.5), ("triangular",)),
        ("precisions_cholesky_", lambda a: a.__setitem__((2, 1, 1), -1.0), ("diagonal",)),
    ],
    ids=["weights-sum", "weights-negative", "means-nan", "not-triangular", "diagonal"],
)
def test_invalid_values_are_refused(saved, name, edit, words):
    path, _, members = saved
    # Checksums redone, so the value checks themselves are what refuses the file.
    _write(path, _edited(members, name, edit), rehash=True)
    _refused(path, *words)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(ModelFileNotFoundError) as info:
        distgmm.load(path)
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.filename == str(path)
    assert str(path) in str(info.value)
    _refused(tmp_path, "cannot be read")  # a directory


# ---------------------------------------------------------------------------- saving
def test_save_unfitted_raises(tmp_path):
    with pytest.raises(NotFittedError):
        GaussianMixture(2).save(tmp_path / "model.npz")
    with pytest.raises(TypeError, match="GaussianMixture"):
        save_model(object(), tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(fitted, X, tmp_path):
    # The path is used as given (np.savez would add ".npz"), and an existing file is replaced.
    path = tmp_path / "model"
    fitted["diag"].save(path)
    fitted["full"].save(path)
    assert list(tmp_path.iterdir()) == [path]
    good = path.read_bytes()
    assert load_model(path).covariance_type == "full"

    # A model that would not load back is refused before anything is written.
    broken = load_model(path)
    broken.means_[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"Cannot save the model to .*'means_'.*NaN"):
        broken.save(path)
    assert path.read_bytes() == good
    changed = load_model(path).set_params(n_components=5)
    with pytest.raises(InvalidInputError, match="n_components=5 disagrees"):
        changed.save(path)
    assert path.read_bytes() == good
    assert list(tmp_path.iterdir()) == [path]

    # Writing fails after the temporary file was written: renaming onto a directory.
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(IsADirectoryError):
        fitted["full"].save(directory)
    assert sorted(tmp_path.iterdir()) == [directory, path]
    assert list(directory.iterdir()) == []

    # The directory does not exist: the error names the file being saved.
    missing = tmp_path / "no-such-dir" / "model.npz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        fitted["full"].save(missing)
    assert sorted(tmp_path.iterdir()) == [directory, path]
    np.testing.assert_array_equal(load_model(path).predict(X), fitted["full"].predict(X))

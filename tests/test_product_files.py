"""Model files and checkpoints of the product mixtures (categorical, mixed, ...) read as
untrusted: their column coding and settings rebuild the model, so each is checked."""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import distgmm
from distgmm import ConvergenceWarning, InvalidInputError


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "income": rng.normal(np.array([0.0, 3.0])[y], 1.0),
            "plan": np.array(["basic", "gold", "plus"])[(rng.random(n) < 0.8) * (1 + y)],
            "visits": rng.poisson(np.array([1.0, 4.0])[y]),
        }
    )


SPEC = {"gaussian": ["income"], "categorical": ["plan"], "poisson": ["visits"]}


@pytest.fixture(scope="module")
def table():
    return _table()


@pytest.fixture(scope="module")
def mixed(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return distgmm.MixedMixture(2, columns=SPEC, n_init=2, random_state=0).fit(table)


@pytest.fixture(scope="module")
def saved(mixed, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "mixed.npz"
    mixed.save(path)
    return path


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _rewrite(path: Path, out: Path, edit) -> Path:
    """``path`` with its header edited by ``edit(header, members)`` and checksums redone, so
    only the edit can make it fail."""
    members = _members(path)
    header = json.loads(str(members["header"][()]))
    edit(header, members)
    for name, entry in header["arrays"].items():
        if name in members:
            entry["sha256"] = hashlib.sha256(
                np.ascontiguousarray(members[name]).tobytes()
            ).hexdigest()
    members["header"] = np.array(json.dumps(header))
    with out.open("wb") as fh:
        np.savez(fh, **members)
    return out


def test_round_trip_is_bit_identical(mixed, saved, table):
    loaded = distgmm.load(saved)
    assert type(loaded) is distgmm.MixedMixture
    assert loaded.columns_ == ["income", "plan", "visits"]
    assert [list(c) for c in loaded.categories_] == [["basic", "gold", "plus"]]
    np.testing.assert_array_equal(loaded.predict_proba(table), mixed.predict_proba(table))
    np.testing.assert_array_equal(loaded.score_samples(table), mixed.score_samples(table))
    for name in ("weights_", "means_", "covariances_", "rates_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(mixed, name))
    assert loaded.get_params()["columns"] == SPEC


def _coding(header):
    return header["model"]["coding"]


EDITS = {
    "column out of range": (lambda h, m: _coding(h)["columns"].__setitem__(0, 99), "positions"),
    "repeated column": (lambda h, m: _coding(h)["columns"].__setitem__(1, 1), "positions"),
    "family and kind disagree": (
        lambda h, m: _coding(h)["families"].__setitem__(1, "poisson"),
        "family",
    ),
    "unknown family": (lambda h, m: _coding(h)["families"].__setitem__(0, "weibull"), "family"),
    "repeated categories": (
        lambda h, m: _coding(h)["categories"].__setitem__(1, ["a", "a", "b"]),
        "repeated",
    ),
    "mixed category types": (
        lambda h, m: _coding(h)["categories"].__setitem__(1, ["a", 1, "b"]),
        "categories",
    ),
    "categories of a count column": (
        lambda h, m: _coding(h)["categories"].__setitem__(2, [0, 1]),
        "categories",
    ),
    "no coding": (lambda h, m: h["model"].pop("coding"), "coding"),
    "negative alpha": (lambda h, m: h["model"]["settings"].__setitem__("alpha", -1.0), "alpha"),
    "unknown covariance type": (
        lambda h, m: h["model"]["settings"].__setitem__("covariance_type", "banana"),
        "covariance_type",
    ),
    "feature names of another length": (
        lambda h, m: _coding(h).__setitem__("feature_names", ["a"]),
        "feature_names",
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_damaged_coding_is_refused_naming_it(saved, tmp_path, edit):
    change, words = EDITS[edit]
    damaged = _rewrite(saved, tmp_path / "damaged.npz", change)
    with pytest.raises(InvalidInputError, match=words) as info:
        distgmm.load(damaged)
    assert str(damaged) in str(info.value)


def _scale_probabilities(header, members):
    name = next(n for n in members if n.endswith("_probabilities_"))
    members[name] = members[name] * 0.5


def _nan_rates(header, members):
    name = next(n for n in members if n.endswith("_rates_"))
    members[name] = np.full_like(members[name], np.nan)


@pytest.mark.parametrize(
    ("change", "words"),
    [(_scale_probabilities, "sum to 1"), (_nan_rates, "rates")],
)
def test_arrays_that_are_no_model_are_refused(saved, tmp_path, change, words):
    damaged = _rewrite(saved, tmp_path / "damaged.npz", change)
    with pytest.raises(InvalidInputError, match=words):
        distgmm.load(damaged)


def test_a_header_for_more_categories_than_the_arrays_hold_is_refused(saved, tmp_path):
    def more(header, members):
        _coding(header)["categories"][1].append("platinum")

    damaged = _rewrite(saved, tmp_path / "damaged.npz", more)
    with pytest.raises(InvalidInputError, match="shape"):
        distgmm.load(damaged)


def test_categorical_checkpoint_resumes_bit_identically(tmp_path):
    answers = pd.DataFrame(np.random.default_rng(3).integers(0, 3, (400, 4)), columns=list("abcd"))
    settings = dict(n_init=3, alpha=0.0, tol=0.0, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = distgmm.CategoricalMixture(3, max_iter=12, **settings).fit(answers)
        ck = tmp_path / "ck.npz"
        distgmm.CategoricalMixture(3, max_iter=5, checkpoint=ck, **settings).fit(answers)
        resumed = distgmm.CategoricalMixture(
            3, max_iter=12, checkpoint=ck, resume=True, **settings
        ).fit(answers)
        assert resumed.lower_bounds_ == whole.lower_bounds_
        for mine, theirs in zip(resumed.probabilities_, whole.probabilities_, strict=True):
            np.testing.assert_array_equal(mine, theirs)
        other = copy.deepcopy(settings) | {"alpha": 0.5}
        with pytest.raises(InvalidInputError, match="settings"):
            distgmm.CategoricalMixture(3, max_iter=12, checkpoint=ck, resume=True, **other).fit(
                answers
            )

"""``distgmm.ProgressBar``: a tqdm bar of every fit run inside it, written to a file we read."""

from __future__ import annotations

import io
import logging
import warnings

import pytest

from distgmm import BayesianGaussianMixture, ConvergenceWarning, GaussianMixture, ProgressBar


def _last_state(text: str) -> str:
    """The bar as it was last drawn (tqdm redraws it after a carriage return)."""
    return text.replace("\r", "\n").strip().splitlines()[-1]


def test_bar_counts_iterations_of_max_iter_and_shows_the_bound(make_mixture):
    X, _ = make_mixture(n=600, d=2, k=2, seed=0)
    out = io.StringIO()
    with ProgressBar(file=out, mininterval=0) as bar:
        gm = GaussianMixture(2, random_state=0, max_iter=50).fit(X)
        assert bar in logging.getLogger("distgmm.core.em").handlers
    assert gm.converged_
    last = _last_state(out.getvalue())
    assert f" {gm.n_iter_}/50 " in last, last
    assert f"bound {gm.lower_bound_:.6g}, change " in last, last
    assert last.endswith("converged]"), last
    # Switched off at the end: no handler left, the logger's level as it was.
    em = logging.getLogger("distgmm.core.em")
    assert bar not in em.handlers
    assert em.level == logging.NOTSET


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_bar_per_fit_and_the_restarts_still_iterating(make_mixture):
    X, _ = make_mixture(n=600, d=2, k=3, seed=1)
    out = io.StringIO()
    with ProgressBar(file=out, mininterval=0, desc="candidates"):
        GaussianMixture(3, n_init=3, random_state=0, max_iter=2, tol=0).fit(X)
        BayesianGaussianMixture(n_components=3, random_state=0, max_iter=3, tol=0).fit(X)
    bars = [line for line in out.getvalue().split("\n") if line.strip()]
    assert len(bars) == 2  # each fit's bar is left on its own line
    first, second = (_last_state(bar) for bar in bars)
    assert first.startswith("candidates: 100%"), first
    assert " 2/2 " in first, first
    assert "3 restarts: 3 iterating, largest change " in first, first
    assert " 3/3 " in second, second
    assert "bound " in second, second
    assert "converged" not in second, second


def test_no_bar_outside_and_after_the_block(make_mixture):
    X, _ = make_mixture(n=300, d=2, k=2, seed=2)
    out = io.StringIO()
    with ProgressBar(file=out):
        pass
    GaussianMixture(2, random_state=0).fit(X)
    assert out.getvalue() == ""


def test_no_iterations_no_bar(make_mixture):
    X, _ = make_mixture(n=300, d=2, k=2, seed=3)
    out = io.StringIO()
    with ProgressBar(file=out):
        GaussianMixture(2, random_state=0, max_iter=0).fit(X)
    assert out.getvalue() == ""


def test_resumed_bar_starts_at_the_checkpoint(make_mixture, tmp_path):
    """A resumed fit's bar starts where the checkpoint stands; a finished one shows none."""
    X, _ = make_mixture(n=300, d=2, k=2, seed=4)
    checkpoint = tmp_path / "fit.ckpt"
    settings = {"random_state": 0, "tol": 0, "checkpoint": str(checkpoint), "resume": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(2, max_iter=2, **settings).fit(X)
        out = io.StringIO()
        with ProgressBar(file=out, mininterval=0):
            GaussianMixture(2, max_iter=4, **settings).fit(X)
    drawn = out.getvalue().replace("\r", "\n").split("\n")
    assert [bar.split("|")[2].split()[0] for bar in drawn if "|" in bar][:2] == ["2/4", "3/4"]
    finished = GaussianMixture(2, **{**settings, "tol": 1e-3, "checkpoint": str(tmp_path / "c")})
    finished.fit(X)
    assert finished.converged_
    out = io.StringIO()
    with ProgressBar(file=out, mininterval=0):
        finished.fit(X)  # resumed from its converged last state: nothing left to do
    assert out.getvalue() == ""

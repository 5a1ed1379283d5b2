"""Rows of known discrete and mixed-type mixtures for the tests, and the estimators'
parameters in the reference EM's form (tests/_reference_em.py)."""

from __future__ import annotations

import numpy as np

#: A well separated truth of each family (K = 3), the rows drawn by :func:`draw`.
TRUTH = {
    "weights": np.array([0.5, 0.3, 0.2]),
    "categorical": [  # columns of 2, 3 and 4 categories
        np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]),
        np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]]),
        np.array([[0.1, 0.1, 0.1, 0.7], [0.4, 0.4, 0.1, 0.1], [0.05, 0.05, 0.8, 0.1]]),
    ],
    "bernoulli": np.array([[0.9, 0.1, 0.8, 0.2], [0.1, 0.9, 0.7, 0.5], [0.5, 0.5, 0.1, 0.9]]),
    "poisson": np.array([[2.0, 10.0, 25.0, 5.0], [15.0, 3.0, 6.0, 30.0], [30.0, 20.0, 1.0, 12.0]]),
    "multinomial": (
        np.array(
            [
                [0.4, 0.3, 0.1, 0.1, 0.05, 0.05],
                [0.05, 0.1, 0.4, 0.3, 0.1, 0.05],
                [0.1, 0.05, 0.05, 0.1, 0.3, 0.4],
            ]
        ),
        np.array([40.0, 60.0, 20.0]),
    ),
    "gaussian": (
        np.array([[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]]),
        np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]], [[1.5, 0.0], [0.0, 0.4]]]),
    ),
}


def blurred(t: float, truth=None) -> dict:
    """``truth`` with every component's parameters moved a fraction ``t`` towards their
    average over the components (and short multinomial rows): overlapping components, whose
    responsibilities stay soft through EM's first iterations."""
    truth = TRUTH if truth is None else truth
    mix = lambda p: (1 - t) * p + t * p.mean(axis=0)  # noqa: E731
    probabilities, totals = truth["multinomial"]
    means, covariances = truth["gaussian"]
    return {
        "weights": truth["weights"],
        "categorical": [mix(p) for p in truth["categorical"]],
        "bernoulli": mix(truth["bernoulli"]),
        "poisson": mix(truth["poisson"]),
        "multinomial": (mix(probabilities), totals / 5),
        "gaussian": (mix(means), covariances),
    }


def draw(family: str, n: int, seed: int = 0, truth=None):
    """``n`` rows of one family's mixture (codes 0 .. L - 1 for categories) and their
    components."""
    truth = TRUTH if truth is None else truth
    rng = np.random.default_rng(seed)
    y = rng.choice(len(truth["weights"]), size=n, p=truth["weights"])
    return draw_columns(family, truth[family], y, rng), y


def draw_columns(family: str, params, y, rng) -> np.ndarray:
    n = len(y)
    if family == "categorical":
        cols = [(rng.random(n)[:, None] > np.cumsum(p[y], axis=1)).sum(axis=1) for p in params]
        return np.column_stack(cols)
    if family == "bernoulli":
        return (rng.random((n, params.shape[1])) < params[y]).astype(np.int64)
    if family == "poisson":
        return rng.poisson(params[y])
    if family == "multinomial":
        probabilities, totals = params
        sizes = rng.poisson(totals[y])
        return np.array(
            [rng.multinomial(m, probabilities[k]) for m, k in zip(sizes, y, strict=True)]
        )
    means, covariances = params
    chol = np.linalg.cholesky(covariances)
    z = rng.standard_normal((n, means.shape[1]))
    return means[y] + np.einsum("nde,ne->nd", chol[y], z)


def reference_params(model, families) -> dict:
    """A fitted estimator's parameters in the reference EM's form, its groups in the order
    of ``families``."""
    mixed = type(model).__name__ == "MixedMixture"
    groups = []
    for family in families:
        if family == "categorical":
            groups.append([np.asarray(p) for p in model.probabilities_])
        elif family == "bernoulli":
            groups.append(model.bernoulli_probabilities_ if mixed else model.probabilities_)
        elif family == "poisson":
            groups.append(model.rates_)
        elif family == "multinomial":
            if mixed:
                groups.append((model.multinomial_probabilities_, model.multinomial_mean_totals_))
            else:
                groups.append((model.probabilities_, model.mean_totals_))
        else:
            groups.append((model.means_, model.covariances_))
    return {"weights": model.weights_, "groups": groups}


def flat(params) -> list[np.ndarray]:
    """Every array of reference parameters, in order (for comparisons)."""
    out = [params["weights"]]
    for group in params["groups"]:
        out.extend(np.asarray(a) for a in (group if isinstance(group, (list, tuple)) else [group]))
    return out


def assert_params_close(got, want, rtol=1e-10, atol=1e-14):
    for i, (a, b) in enumerate(zip(flat(got), flat(want), strict=True)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"array {i}")

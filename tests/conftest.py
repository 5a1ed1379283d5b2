"""Shared fixtures: synthetic mixtures and real distributed clusters (worker processes)."""

from __future__ import annotations

import os

# scikit-learn runs its array-API estimator check only in scipy's array-API mode, which
# must be chosen before scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest

from distgmm import local_client


def mixture(n=3000, d=3, k=3, seed=0, spread=6.0, offset=0.0, dtype=np.float64):
    """Rows of a random Gaussian mixture with full covariances, and their true labels."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, spread, size=(k, d)) + offset
    labels = rng.integers(0, k, size=n)
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d) + np.eye(d)
    noise = np.einsum("nd,nde->ne", rng.standard_normal((n, d)), factors[labels])
    return (means[labels] + noise).astype(dtype), labels


@pytest.fixture(scope="session")
def make_mixture():
    return mixture


def _cluster(n_workers: int):
    with local_client(
        n_workers=n_workers, threads_per_worker=1, memory_limit="2GiB", dashboard_address=":0"
    ) as client:
        yield client


@pytest.fixture(scope="session")
def cluster2():
    """A LocalCluster of two single-threaded worker processes."""
    yield from _cluster(2)


@pytest.fixture(scope="session")
def cluster1():
    """A LocalCluster of one worker process."""
    yield from _cluster(1)


# The fixtures scikit-learn's conftest gives the tests tests/test_sklearn_*suite.py adopt,
# at scikit-learn's defaults.
@pytest.fixture
def global_random_seed():
    return 42


@pytest.fixture
def global_dtype():
    return np.float64

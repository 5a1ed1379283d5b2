"""Running a scikit-learn test module against a distgmm estimator (shared by the suites).

A suite module imports scikit-learn's installed test module, adopts every test not in its
``EXCLUDED`` (name -> reason), and swaps the estimator's name in that module for ours with
an autouse fixture. The fixtures scikit-learn's own conftest gives its tests
(``global_random_seed``, ``global_dtype``) are in tests/conftest.py.
"""

from __future__ import annotations

from types import ModuleType

import pytest


def sklearn_tests(module: str) -> ModuleType:
    """scikit-learn's installed test module ``module``, or skip when it is not installed."""
    return pytest.importorskip(
        module, reason="scikit-learn's installed tests (sklearn.mixture.tests) are needed"
    )


def adopt_tests(module: ModuleType, excluded: dict[str, str], namespace: dict) -> None:
    """Put every ``test_*`` of ``module`` not in ``excluded`` into ``namespace`` for pytest."""
    for name in dir(module):
        if name.startswith("test_") and name not in excluded:
            namespace[name] = getattr(module, name)


def check_run_or_excluded(module: ModuleType, excluded: dict[str, str], at_least: int) -> None:
    """Every exclusion names a test of ``module`` and at least ``at_least`` tests run."""
    names = {name for name in dir(module) if name.startswith("test_")}
    assert set(excluded) <= names, "an excluded test no longer exists: drop it from EXCLUDED"
    assert all(excluded.values()), "every exclusion needs its reason"
    assert len(names - set(excluded)) >= at_least

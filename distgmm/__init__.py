"""distgmm: mixture models fitted by EM on data larger than memory, on Dask.

Everything but the errors is imported on first use: worker processes import this package to
run the kernels, and should not pay for scikit-learn and pyarrow (~130 MB per worker) unless
they need them, and ``distgmm --version`` or ``--help`` should not wait seconds for numpy,
scipy and dask.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import DistGMMError, EmptyComponentError, InvalidInputError, SingularCovarianceError

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from .cluster import local_client
    from .errors import ConvergenceWarning
    from .estimators._load import load_model as load
    from .estimators.bayesian import BayesianGaussianMixture
    from .estimators.discrete import (
        BernoulliMixture,
        CategoricalMixture,
        MultinomialMixture,
        PoissonMixture,
    )
    from .estimators.gaussian import GaussianMixture
    from .estimators.mixed import MixedMixture
    from .estimators.select import ModelSelection, select_mixture
    from .families.gaussian.params import GaussianParams
    from .families.gaussian.stats import Stats
    from .io import read_npy, read_parquet, read_zarr
    from .progress import ProgressBar

__version__ = "0.1.0"

#: Public name -> (module, attribute) of the names imported on first use.
_LAZY = {
    "ConvergenceWarning": (".errors", "ConvergenceWarning"),
    "BayesianGaussianMixture": (".estimators.bayesian", "BayesianGaussianMixture"),
    "BernoulliMixture": (".estimators.discrete", "BernoulliMixture"),
    "CategoricalMixture": (".estimators.discrete", "CategoricalMixture"),
    "MixedMixture": (".estimators.mixed", "MixedMixture"),
    "ModelSelection": (".estimators.select", "ModelSelection"),
    "MultinomialMixture": (".estimators.discrete", "MultinomialMixture"),
    "PoissonMixture": (".estimators.discrete", "PoissonMixture"),
    "GaussianMixture": (".estimators.gaussian", "GaussianMixture"),
    "GaussianParams": (".families.gaussian.params", "GaussianParams"),
    "ProgressBar": (".progress", "ProgressBar"),
    "Stats": (".families.gaussian.stats", "Stats"),
    "load": (".estimators._load", "load_model"),
    "local_client": (".cluster", "local_client"),
    "read_npy": (".io", "read_npy"),
    "read_parquet": (".io", "read_parquet"),
    "read_zarr": (".io", "read_zarr"),
    "select_mixture": (".estimators.select", "select_mixture"),
}

__all__ = [
    "BayesianGaussianMixture",
    "BernoulliMixture",
    "CategoricalMixture",
    "ConvergenceWarning",
    "DistGMMError",
    "EmptyComponentError",
    "GaussianMixture",
    "GaussianParams",
    "InvalidInputError",
    "MixedMixture",
    "ModelSelection",
    "MultinomialMixture",
    "PoissonMixture",
    "ProgressBar",
    "SingularCovarianceError",
    "Stats",
    "__version__",
    "load",
    "local_client",
    "read_npy",
    "read_parquet",
    "read_zarr",
    "select_mixture",
]


def __getattr__(name: str):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module, __name__), attribute)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

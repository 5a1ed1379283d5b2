"""distgmm: Gaussian mixture models fitted by EM on data larger than memory, on Dask."""

from .cluster import local_client
from .errors import (
    ConvergenceWarning,
    DistGMMError,
    EmptyComponentError,
    InvalidInputError,
    SingularCovarianceError,
)
from .estimator import GaussianMixture
from .io import read_npy, read_parquet, read_zarr
from .modelfile import load_model as load
from .params import GaussianParams
from .stats import Stats

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "DistGMMError",
    "EmptyComponentError",
    "GaussianMixture",
    "GaussianParams",
    "InvalidInputError",
    "SingularCovarianceError",
    "Stats",
    "__version__",
    "load",
    "local_client",
    "read_npy",
    "read_parquet",
    "read_zarr",
]

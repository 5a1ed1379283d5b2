"""The library's choices and defaults that the argument parser shows, copied here.

Their homes import numpy, scipy and dask (seconds), which ``distgmm --version`` and
``--help`` should not wait for; ``tests/test_cli_startup.py`` checks that the copies equal
the originals.
"""

from __future__ import annotations

#: :data:`distgmm.families.gaussian.covtypes.COVARIANCE_TYPES`
COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")

#: :data:`distgmm.families.gaussian.vb.PRIOR_TYPES`
PRIOR_TYPES: tuple[str, ...] = ("dirichlet_process", "dirichlet_distribution")

#: The keys of :data:`distgmm.estimators._terms.FAMILIES`, in the order ``--family`` lists
#: them after ``gaussian``: the column groups of ``--family mixed``.
GROUP_FAMILIES: tuple[str, ...] = ("gaussian", "categorical", "bernoulli", "poisson", "multinomial")

#: :data:`distgmm.core.missing.NAN_POLICIES`
NAN_POLICIES: tuple[str, ...] = ("raise", "marginalize", "omit")

#: :data:`distgmm.io.DEFAULT_CHUNK_BYTES`
DEFAULT_CHUNK_BYTES = 64 * 2**20

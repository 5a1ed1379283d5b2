"""``MixedMixture``: segments of a table mixing numeric, categorical, binary and count columns."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..errors import InvalidInputError
from ..families.gaussian import covtypes
from ._product import COMMON_CONSTRAINTS, ProductMixture
from ._terms import FAMILIES

__all__ = ["MixedMixture"]


class MixedMixture(ProductMixture):
    """A mixture whose components are products over column groups of different families.

    ``log p(x | k) = Σ_groups log p_g(x_g | k)``: Gaussian columns (jointly, with a
    covariance of ``covariance_type``), categorical columns (latent class), 0/1 columns
    (Bernoulli), count columns (independent Poisson) and a group of count columns forming
    one multinomial row. Columns of ``X`` the spec does not name (an id) are ignored by
    the model. Fitted by EM on Dask, one pass over the data per iteration.

    Parameters
    ----------
    n_components : int, default=1
    columns : dict
        ``{family: [column, ...]}`` with families 'gaussian', 'categorical',
        'bernoulli', 'poisson', 'multinomial'; columns by name (or position for unnamed
        input), each in one group. E.g. ``{"gaussian": ["income", "age"], "categorical":
        ["plan", "country"], "poisson": ["visits"]}``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Of the Gaussian group.
    reg_covar : float, default=1e-6
        Added to the Gaussian group's covariance diagonal.
    alpha : float, default=1e-10
        Pseudocount of the discrete groups (see :class:`CategoricalMixture`).
    handle_unknown, tol, max_iter, n_init, init_params, random_state, warm_start, verbose,
    verbose_interval, client, persist, checkpoint, resume, step_size_decay, burn_in
        As for :class:`CategoricalMixture`. The random start draws the Gaussian means
        around the data's mean with its spread, every covariance the data's.
    nan_policy : {'raise', 'marginalize', 'omit'}, default='raise'
        As for :class:`CategoricalMixture`; under 'marginalize' the Gaussian group's
        density is the marginal one of its observed columns (its statistics add the
        missing entries' conditional means and covariances), and a missing value in the
        multinomial group is an error.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Of the Gaussian group, as :class:`GaussianMixture`'s (columns in the order of
        ``columns["gaussian"]`` as they appear in ``X``).
    categories_, probabilities_ : list of ndarray
        Of the categorical group, as :class:`CategoricalMixture`'s.
    bernoulli_probabilities_ : ndarray of shape (n_components, n_bernoulli)
    rates_ : ndarray of shape (n_components, n_poisson)
    multinomial_probabilities_, multinomial_mean_totals_ : ndarray
    columns_ : list
        The model's columns in model order (as they appear in ``X``).
    converged_, n_iter_, lower_bound_, lower_bounds_, history_, labels_, n_features_in_,
    feature_names_in_, n_batches_seen_, running_stats_, running_origin_, n_omitted_
        As for :class:`CategoricalMixture`.
    """

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared convention
        **COMMON_CONSTRAINTS,
        # None (the default) reaches _column_kinds, whose error says what to give.
        "columns": [dict, None],
        "covariance_type": [StrOptions(set(covtypes.COVARIANCE_TYPES))],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
    }
    _prefixes = {"bernoulli": "bernoulli_", "multinomial": "multinomial_"}  # noqa: RUF012

    def __init__(
        self,
        n_components=1,
        *,
        columns=None,
        covariance_type="full",
        reg_covar=1e-6,
        alpha=1e-10,
        handle_unknown="error",
        tol=1e-3,
        max_iter=100,
        n_init=1,
        init_params="random",
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        client=None,
        persist="auto",
        checkpoint=None,
        resume=False,
        step_size_decay=0.6,
        burn_in=0,
        nan_policy="raise",
    ):
        self.n_components = n_components
        self.columns = columns
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.alpha = alpha
        self.handle_unknown = handle_unknown
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.client = client
        self.persist = persist
        self.checkpoint = checkpoint
        self.resume = resume
        self.step_size_decay = step_size_decay
        self.burn_in = burn_in
        self.nan_policy = nan_policy

    def _settings(self) -> dict:
        return {
            "alpha": float(self.alpha),
            "covariance_type": self.covariance_type,
            "reg_covar": float(self.reg_covar),
        }

    def _column_kinds(self) -> dict:
        spec = self.columns
        if not isinstance(spec, dict) or not spec:
            raise InvalidInputError(
                "MixedMixture needs columns={family: [column, ...]}, e.g. "
                "{'gaussian': ['income'], 'categorical': ['plan']}; got "
                f"{spec!r}."
            )
        families: dict = {}
        for family, columns in spec.items():
            if family not in FAMILIES:
                raise InvalidInputError(
                    f"columns has the family {family!r}; known: {sorted(FAMILIES)}."
                )
            if isinstance(columns, (str, int)) or not columns:
                raise InvalidInputError(
                    f"columns[{family!r}] must be a non-empty list of columns, got {columns!r}."
                )
            for column in columns:
                if column in families:
                    raise InvalidInputError(
                        f"column {column!r} is in two groups of columns: {families[column]!r} "
                        f"and {family!r}; give each column one family."
                    )
                families[column] = family
        return families

    @property
    def categories_(self) -> list:
        """The categories of each categorical column."""
        return [c for c in self._coding.categories if c is not None]

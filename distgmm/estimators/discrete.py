"""Mixtures of one discrete family over a table's columns: latent class analysis
(categorical), Bernoulli, Poisson and multinomial mixtures."""

from __future__ import annotations

from sklearn.utils._param_validation import InvalidParameterError

from ..families.multinomial import MISSING_COUNT
from ._product import COMMON_CONSTRAINTS, ProductMixture

__all__ = ["BernoulliMixture", "CategoricalMixture", "MultinomialMixture", "PoissonMixture"]

_COMMON_DOC = """
    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components (latent classes).
    alpha : float, default=1e-10
        Pseudocount added to every count of the M-step (see the class's description). The
        default keeps every probability above 0, so that a row is never impossible under
        all components; ``alpha=0`` gives the exact maximum-likelihood solution, including
        boundary solutions where a probability is exactly 0 (``0 log 0 = 0``).
    columns : list of str or int, default=None
        The columns of ``X`` the model uses (names, or positions for unnamed input); the
        others (an id, ...) are ignored by the model (and can be kept by
        ``write_predictions``). ``None``: every column.
    handle_unknown : {'error', 'ignore'}, default='error'
        A category not seen by ``fit``, met by ``predict`` and the other methods: an error
        naming the column and the value, or (``'ignore'``) a value that adds no factor to
        the row's likelihood.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the mean log-likelihood changes by less.
    max_iter : int, default=100
        Number of EM iterations (data passes) to perform at most.
    n_init : int, default=1
        Number of random starts; the best fit is kept. The restarts share every pass.
    init_params : {'random'}, default='random'
        Random parameters around the data's frequencies (one pass): each probability
        the data's frequency times an exponential draw, renormalised (poLCA's random
        start), each rate the data's mean times an exponential draw; equal weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts and :meth:`sample`; a fixed int gives bit-identical fits whatever
        the number of workers, and the same fit to rounding whatever the chunking of the
        rows (bit-identical for chunks that add the rows' blocks in the same order).
    warm_start : bool, default=False
        Start ``fit`` from the last solution (``n_init`` is then ignored).
    verbose, verbose_interval, client, persist, checkpoint, resume, step_size_decay, burn_in
        As for :class:`distgmm.GaussianMixture` (the last two: ``partial_fit``'s online EM;
        its first batch fixes the categories, unless a category dtype lists them).
    nan_policy : {'raise', 'marginalize', 'omit'}, default='raise'
        A missing value (NaN, None, pd.NA, NaT): an error; a missing entry, which adds no
        factor to its row's likelihood and nothing to its column's statistics (poLCA's
        ``na.rm=FALSE``; not for :class:`MultinomialMixture`, whose row counts are one
        draw); or its row is left out of the fit (counted in ``n_omitted_``) and gets
        label -1 and score NaN. A row with every column missing is an error under
        'marginalize'. Categories found from the data ignore missing values.
"""

_COMMON_ATTRIBUTES = """
    weights_ : ndarray of shape (n_components,)
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per row of the best fit's last iteration.
    lower_bounds_, history_ : list of float
        Mean log-likelihood of the parameters entering each iteration.
    labels_ : ndarray, dask array or dask Series of shape (n_samples,)
    columns_ : list
        The columns the model uses, in order.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.
    n_batches_seen_, running_stats_, running_origin_
        ``partial_fit``'s online state, as :class:`distgmm.GaussianMixture`'s.
    n_omitted_ : int
        Rows ``nan_policy='omit'`` left out of the fit's last pass (0 otherwise).
"""


class _OneFamily(ProductMixture):
    """A product mixture whose model columns all have one family."""

    _family_name = ""
    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared convention
        **COMMON_CONSTRAINTS,
        "columns": [list, tuple, None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        alpha=1e-10,
        columns=None,
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
        self.alpha = alpha
        self.columns = columns
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

    def _column_kinds(self):
        if self.columns is None:
            return self._family_name
        return dict.fromkeys(self.columns, self._family_name)


class CategoricalMixture(_OneFamily):
    """Latent class analysis: a mixture of independent categorical columns, by EM on Dask.

    Each component gives every column its own distribution over that column's categories
    (poLCA's latent class model); string, pandas category, Arrow dictionary, bool and
    integer columns are categorical, their categories found at fit time (from a category
    dtype, else one pass) and kept in ``categories_``. The M-step of a column is
    ``(count + alpha) / (total + L alpha)``.
    """

    _family_name = "categorical"
    _attributes_doc = """
    categories_ : list of ndarray
        Per column, its categories (sorted, or a category dtype's order).
    probabilities_ : list of ndarray of shape (n_components, n_categories)
        Per column, each component's probability of each category."""

    @property
    def categories_(self) -> list:
        """Per column, its categories."""
        return [c for c in self._coding.categories if c is not None]


class BernoulliMixture(_OneFamily):
    """A mixture of independent 0/1 (or bool) columns, by EM on Dask.

    The M-step is ``(ones + alpha) / (n + 2 alpha)``: the same model, and fit, as a
    :class:`CategoricalMixture` with two levels per column.
    """

    _family_name = "bernoulli"
    _attributes_doc = """
    probabilities_ : ndarray of shape (n_components, n_columns)
        Each component's probability of a 1 in each column."""


class PoissonMixture(_OneFamily):
    """A mixture of independent Poisson count columns, by EM on Dask.

    Counts must be non-negative integers. The M-step is ``(Σ r x + alpha) / (Σ r +
    alpha)``, the mode of a Gamma(1 + alpha, alpha) prior on each rate.
    """

    _family_name = "poisson"
    _attributes_doc = """
    rates_ : ndarray of shape (n_components, n_columns)
        Each component's mean count of each column."""


class MultinomialMixture(_OneFamily):
    """A mixture of multinomials, by EM on Dask: each row is counts over the columns (a
    basket, a document) whose total is given.

    The M-step is ``(count + alpha) / (total + D alpha)``.
    """

    _family_name = "multinomial"

    def _check_nan_policy(self) -> None:
        if self.nan_policy == "marginalize":
            raise InvalidParameterError(
                "The 'nan_policy' parameter of MultinomialMixture cannot be 'marginalize': "
                f"{MISSING_COUNT}."
            )

    _attributes_doc = """
    probabilities_ : ndarray of shape (n_components, n_columns)
        Each component's distribution over the columns.
    mean_totals_ : ndarray of shape (n_components,)
        Each component's mean row total (what :meth:`sample` draws Poisson totals around)."""


for _cls in (CategoricalMixture, BernoulliMixture, PoissonMixture, MultinomialMixture):
    _cls.__doc__ += _COMMON_DOC + "\n    Attributes\n    ----------" + _cls._attributes_doc
    _cls.__doc__ += _COMMON_ATTRIBUTES

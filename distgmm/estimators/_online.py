"""``partial_fit``: online (stepwise) EM for data that arrive in batches.

Each call makes one E-step pass over its batch with the current parameters, blends the
batch's statistics into the running ones (:mod:`distgmm.core.online`) and runs the M-step
on the blend. The running statistics are per unit of weight, with their moments about the
means of the parameters that entered the last batch, in coordinates relative to a pass
origin fixed at the first call (``running_origin_``), so every batch's moments can be
recentred onto the next batch's exactly and each pass shifts the data to the same point.
"""

from __future__ import annotations

import dataclasses
import math

import dask.array as da
import numpy as np
from sklearn.utils import check_random_state

from .._blas import single_threaded_blas
from .._frames import sample_weight_like
from .._modelread import shown
from .._weights import check_sample_weight
from ..core.em import check_stats
from ..core.online import COUNTS, blend, normalised, step_size
from ..engine import make_passes
from ..errors import EmptyComponentError, InvalidInputError
from ..families.gaussian.kernel import representable_origin
from ._validation import connected

__all__ = ["OnlineMixin"]

#: Batches whose mean log-likelihood ``lower_bounds_`` keeps after online updates.
_HISTORY = 1000

#: Attributes a partial_fit sets; a failed call restores them (the model is left unchanged).
_STATE = (
    "n_features_in_",
    "feature_names_in_",
    "_coding",
    "_families",
    "running_stats_",
    "running_origin_",
    "n_batches_seen_",
)


class OnlineMixin:
    """``partial_fit`` for a maximum-likelihood mixture (its family has ``recentre``)."""

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of rows: one pass over it, then one M-step.

        The first call on an unfitted estimator starts from its batch (``init_params``,
        the best of ``n_init`` starts by the batch's likelihood) and keeps the batch's
        statistics; each later call runs an E-step pass over its batch with the current
        parameters, blends the statistics, ``s <- (1 - g) s + g s(batch)`` with
        ``g = (t + 2) ** -step_size_decay`` for the ``t``-th blend, and runs the M-step
        (none during the first ``burn_in`` batches). After ``fit`` (or ``load``), the
        first call starts the running statistics from its batch under the fitted
        parameters, so online updates continue the fitted model.

        ``lower_bound_`` is the batch's mean log-likelihood under the parameters that
        entered it; ``lower_bounds_`` those of the last 1000 batches since the online
        updates started, ``n_iter_`` their number, ``n_batches_seen_`` all the batches.

        Parameters
        ----------
        X : array-like, dask array or DataFrame of shape (n_samples, n_features)
            One batch, as ``fit`` takes it.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the batch's rows: a batch's statistics are per unit of its weight,
            so the weights set the rows' relative importance within the batch only.

        Returns
        -------
        self : object
        """
        self._validate_params()
        saved = {k: v for k, v in vars(self).items() if k in _STATE}
        try:
            # The M-step's small factorisations (K of D x D) are slower with BLAS threads,
            # which wake and contend (50 ms against 1 ms for K=8, D=16 on 2 busy cores);
            # fit's passes keep BLAS at one thread through its M-steps alike.
            with single_threaded_blas():
                return self._partial_fit(X, sample_weight)
        except BaseException:  # the model is left as it was
            for name in _STATE:
                if name in saved:
                    setattr(self, name, saved[name])
                elif hasattr(self, name):
                    delattr(self, name)
            raise

    def _fit(self, X, sample_weight):
        fitted = super()._fit(X, sample_weight)
        # Full-batch EM replaced the parameters: running statistics of earlier batches would
        # be blended into them, so the next partial_fit starts afresh from its batch.
        for name in ("running_stats_", "running_origin_", "n_batches_seen_"):
            if hasattr(self, name):
                delattr(self, name)
        return fitted

    def _partial_fit(self, X, sample_weight):
        fitted = hasattr(self, "converged_")
        X = self._check_X(X, reset=not fitted)
        n = X.shape[0]
        if n < (1 if fitted else max(2, self.n_components)):
            raise InvalidInputError(
                f"partial_fit got a batch of {n} row(s); the first batch needs at least "
                f"n_components={self.n_components} (and 2) rows to start from, later ones 1."
            )
        lazy = isinstance(X, da.Array)
        sample_weight = sample_weight_like(sample_weight, X)
        weights = check_sample_weight(sample_weight, n, lazy, 1 if fitted else self.n_components)
        with connected(self.client) as client:
            passes = make_passes(
                X,
                weights.values,
                client=client if lazy or self.client else None,
                persist=False,  # one pass over the batch
                scratch=self._scratch_bytes(X.shape[1], X.dtype),
            )
            try:
                starts, origin = self._online_starts(X, passes, fitted, weights.values)
                family = self._fit_family(passes, origin)
                starts = [family.start(s, n) for s in starts] if not fitted else starts
                summaries = passes.run([family.prepare(p, origin) for p in starts], origin)
            finally:
                passes.close()
        for summary in summaries:
            check_stats(summary)
        best = int(np.argmax([s.loglik for s in summaries]))  # the first of the best
        params, batch = starts[best], normalised(summaries[best])
        running = getattr(self, "running_stats_", None)
        t = getattr(self, "n_batches_seen_", 0)
        if running is None:
            running, blends = batch, 0
        else:
            blends = t - 1 if t > 0 else 0
            running = blend(
                family.recentre(running, batch.shift),
                batch,
                step_size(blends, self.step_size_decay),
            )
        if t + 1 > self.burn_in:
            try:
                params = family.m_step(running, params, origin)  # nothing changed yet
            except EmptyComponentError as err:
                # The blend forgets a component that batch after batch takes no row: with
                # small batches one can merge away for good. Say so, and how to avoid it.
                err.args = (
                    f"partial_fit: component {err.component} holds almost none of the running "
                    f"statistics' weight ({err.soft_count:.3g}); the model is left as it was. "
                    f"Batches of {n} rows are too few to keep {self.n_components} components "
                    "apart: use larger batches (hundreds of rows per component), fewer "
                    "components, or refit with fit().",
                )
                raise
        self._set_params(params)
        self.running_stats_ = running
        self.running_origin_ = origin
        self.n_batches_seen_ = t + 1
        # The history of the online updates (the last _HISTORY), replacing a fit's.
        history = self.lower_bounds_[-(_HISTORY - 1) :] if t else []
        self.lower_bounds_ = [*history, batch.mean_loglik]
        self.lower_bound_ = batch.mean_loglik
        self.history_ = self.lower_bounds_
        self.n_iter_ = len(self.lower_bounds_)
        self.n_omitted_ = summaries[best].n_omitted  # of this batch
        self.converged_ = False
        return self

    def _online_starts(self, X, passes, fitted: bool, weights):
        """The parameters the batch's pass starts from, and the pass origin."""
        if fitted:
            origin = getattr(self, "running_origin_", None)
            if origin is None:
                origin = representable_origin(self._origin(), passes.dtype)
            return [self._params()], origin
        spec = self._init_spec(X.shape[1])
        random_state = check_random_state(self.random_state)
        # The chunk-invariant start, so that numpy and dask batches give the same model.
        return self._start(X, passes, spec, random_state, weights, invariant=True)


# -------------------------------------------------------------------- model files
# The running statistics are a family's summary: its arrays (nested in tuples for a
# product) in field order, and its scalars. A template summary of the model's shape, made
# by the family's own kernel over no rows, says which arrays and shapes a file must hold.


def _leaves(value) -> list:
    if isinstance(value, tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None else [value]


def _rebuild(template, leaves):
    if isinstance(template, tuple):
        return tuple(_rebuild(v, leaves) for v in template)
    return None if template is None else next(leaves)


def running_template(family, n_components: int, n_features: int):
    """A running summary of zeros with the shapes of the model's."""
    from ..core.chunk import chunk_summaries

    origin = np.zeros(n_features)
    model = family.template_model(n_components, n_features)
    return chunk_summaries(np.empty((0, n_features)), [model], origin)[0]


def _array_fields(summary) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(summary)
        if isinstance(getattr(summary, f.name), (np.ndarray, tuple))
    ]


def running_arrays(estimator) -> dict[str, np.ndarray]:
    """The running statistics' arrays (``running_<i>_``) and origin, if any."""
    running = getattr(estimator, "running_stats_", None)
    if running is None:
        return {}
    leaves = [leaf for name in _array_fields(running) for leaf in _leaves(getattr(running, name))]
    arrays = {f"running_{i}_": leaf for i, leaf in enumerate(leaves)}
    return {**arrays, "running_origin_": estimator.running_origin_}


def running_fit(estimator) -> dict:
    """The header's record of the online state: batches seen and the summary's scalars."""
    running = getattr(estimator, "running_stats_", None)
    if running is None:
        return {}
    arrays = set(_array_fields(running))
    scalars = {
        f.name: getattr(running, f.name)
        for f in dataclasses.fields(running)
        if f.name not in arrays
    }
    return {
        "n_batches_seen_": int(estimator.n_batches_seen_),
        "running_scalars": {
            k: (int(v) if isinstance(v, (int, np.integer)) else float(v))
            for k, v in scalars.items()
        },
    }


def running_shapes(header: dict, family, fail) -> dict[str, tuple]:
    """The shapes of the running arrays a header announces (none if it has no online state)."""
    fit = header["fit"]
    if "n_batches_seen_" not in fit:
        return {}
    seen, scalars = fit["n_batches_seen_"], fit.get("running_scalars")
    if not (isinstance(seen, int) and not isinstance(seen, bool) and seen >= 1):
        raise fail(f"fit.n_batches_seen_ {seen!r} is not an integer >= 1")
    # The template is allocated from the header's sizes, checked by nothing yet: bounded.
    k, width = header["n_components"], _model_width(header, family)
    if k * (width * width + width + 1) > _MAX_TEMPLATE_VALUES:
        raise fail(
            f"n_components={k} and {width} model columns make running statistics too large "
            "for a model file this reader accepts"
        )
    template = running_template(family, k, width)
    names = set(_array_fields(template))
    expected = {f.name for f in dataclasses.fields(template) if f.name not in names}
    if (
        not isinstance(scalars, dict)
        or set(scalars) - expected
        or not expected - set(scalars) <= _ADDED
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)
            for v in scalars.values()
        )
    ):
        raise fail(f"fit.running_scalars is not an object of finite numbers {sorted(expected)}")
    leaves = [leaf for name in _array_fields(template) for leaf in _leaves(getattr(template, name))]
    shapes = {f"running_{i}_": leaf.shape for i, leaf in enumerate(leaves)}
    return {**shapes, "running_origin_": (_model_width(header, family),)}


#: Summary scalars newer than the first files with online state, which lack them.
_ADDED = frozenset({"n_omitted", "n_empty", "first_empty", "unobserved"})
#: The most values a model file's running statistics may hold (a 1 GiB template).
_MAX_TEMPLATE_VALUES = 2**27


def _finite(value: float) -> bool:
    """Whether a JSON number is a finite float64 (a huge integer is not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _model_width(header: dict, family) -> int:
    width = getattr(family, "n_model_columns", None)
    return header["n_features"] if width is None else width


def _running_leaves(header: dict, arrays: dict, family):
    """The template summary of the file's model, its array fields rebuilt from the running
    arrays a file holds, and those arrays in order."""
    template = running_template(family, header["n_components"], _model_width(header, family))
    names = _array_fields(template)
    count = sum(len(_leaves(getattr(template, n))) for n in names)
    leaves = [arrays[f"running_{i}_"] for i in range(count)]
    it = iter(leaves)
    return template, {n: _rebuild(getattr(template, n), it) for n in names}, leaves


def check_running(header: dict, arrays: dict, family, fail) -> None:
    """Raise ``fail(problem)`` unless the online state a model file holds (if any) can be
    blended into: finite arrays, non-negative soft counts, a positive weight, whole counts."""
    fit = header["fit"]
    if "n_batches_seen_" not in fit:
        return
    _, values, leaves = _running_leaves(header, arrays, family)
    if (
        not all(np.isfinite(leaf).all() for leaf in leaves)
        or not np.isfinite(arrays["running_origin_"]).all()
    ):
        raise fail("the running statistics hold NaN or infinity")
    if (values["nk"] < 0).any():
        raise fail("the running statistics' soft counts (nk) are negative")
    scalars = fit["running_scalars"]
    if not scalars.get("weight", 1.0) > 0:
        raise fail(f"fit.running_scalars.weight {shown(scalars['weight'])} is not positive")
    for name in COUNTS & set(scalars):
        value = scalars[name]
        if not (isinstance(value, int) and value >= (-1 if name == "first_empty" else 0)):
            raise fail(f"fit.running_scalars.{name} {shown(value)} is not an integer >= 0")


def restore_running(estimator, header: dict, arrays: dict, family) -> None:
    """Set the online state a (checked, :func:`check_running`) model file holds."""
    fit = header["fit"]
    if "n_batches_seen_" not in fit:
        return
    template, values, _ = _running_leaves(header, arrays, family)
    estimator.running_stats_ = dataclasses.replace(template, **values, **fit["running_scalars"])
    estimator.running_origin_ = arrays["running_origin_"]
    estimator.n_batches_seen_ = fit["n_batches_seen_"]

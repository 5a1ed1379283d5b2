"""The product family: a mixture whose components are products over groups of columns.

``log p(x | k) = Σ_g log p_g(x_g | k)``: each group (a *term*) is a family of its own over
some columns of the model's array (categorical, Bernoulli, Poisson, multinomial, Gaussian of
any covariance type), and the summary is the groups' moments side by side. The categorical,
Bernoulli, Poisson and multinomial mixtures are products of one group; a mixed-type table is
a product of several.

A term is a small frozen object: on the workers ``view(block, origin, store)`` (the group's
representation of a block), ``row_const(view)`` (a per-row term the same for every
component, e.g. ``-log x!``), ``log_prob(view, mats, out, tmp, work)`` (adds its ``(K, n)``
log-densities to ``out``), ``new_acc`` / ``accumulate`` / ``finish`` (its moments, about
``shift``); on the client ``prepare(params, origin) -> (mats, const, shift)``, ``m_step``,
``n_parameters``, ``random_start``, ``sample`` and the arrays of files (``array_shapes``,
``to_arrays``, ``from_arrays``). For ``nan_policy='marginalize'`` a term also reads a block
with missing entries (``masked_view``, :mod:`.mixed_missing`); 'omit' wraps the kernel in
:class:`~distgmm.core.missing.OmitRows`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.family import PassModel, register
from ..core.summary import SHIFT, Summary, add_field
from ..errors import EmptyComponentError

__all__ = ["ProductKernel", "ProductMLE", "ProductParams", "ProductStats"]

_EMPTY = 100 * np.finfo(np.float64).eps
#: How far the weights in a file may sum from 1.
_WEIGHT_SUM_ATOL = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductStats(Summary):
    """The pass totals and each group's moments (a tuple per group, in order)."""

    moments: tuple = ()
    shift: tuple = field(default=(), metadata=SHIFT)
    """Each group's moment shift (``None`` for groups whose moments need none)."""

    def __add__(self, other: ProductStats) -> ProductStats:
        if type(other) is not type(self):
            return NotImplemented
        for mine, theirs in zip(self.shift, other.shift, strict=True):
            if mine is not theirs and not np.array_equal(mine, theirs):
                raise ValueError(
                    "cannot add summaries whose moments are about different points: "
                    "recentre one of them first"
                )
        values = {
            f.name: add_field(f, getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(Summary)
        }
        moments = tuple(
            tuple(a + b for a, b in zip(mine, theirs, strict=True))
            for mine, theirs in zip(self.moments, other.moments, strict=True)
        )
        return ProductStats(**values, moments=moments, shift=self.shift)


@dataclass(frozen=True, slots=True, eq=False)
class ProductParams:
    """Mixture weights and each group's parameters."""

    weights: np.ndarray
    terms: tuple

    @property
    def n_components(self) -> int:
        return len(self.weights)


@dataclass(frozen=True, slots=True)
class ProductKernel:
    """The worker side: every group's view of a block, summed log-densities, moments."""

    terms: tuple
    #: A row of finite values can have probability 0 under every component (a discrete
    #: value of probability 0): counted as such, not as an overflow (distgmm.core.chunk).
    zero_likelihood = True

    @property
    def view_key(self) -> tuple:
        return ("product", tuple(t.structure() for t in self.terms))

    def block_rows(self, n_components: int, n_features: int) -> int:
        widest = max(
            n_components,
            sum(t.width for t in self.terms),
            max(t.work_width(n_components) for t in self.terms),
        )
        return int(min(4096, max(256, (1 << 21) // (8 * widest))))

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        block = np.asarray(block, dtype=np.float64)
        views = tuple(t.view(block, origin, store) for t in self.terms)
        row_const = None
        for term, view in zip(self.terms, views, strict=True):
            c = term.row_const(view)
            if c is not None:
                row_const = c if row_const is None else row_const + c
        return block, views, row_const

    def nonfinite_rows(self, view) -> int:
        block = view[0]
        return len(block) - int(np.isfinite(block).all(axis=1).sum())

    def work_size(self, n_components: int, n_features: int, block_rows: int) -> int:
        extra = max(t.work_width(n_components) for t in self.terms)
        return block_rows * (n_components + extra)

    def log_prob(self, view, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        _, views, row_const = view
        k, n = out.shape
        tmp = work[: k * n].reshape(k, n)
        rest = work[k * n :]
        if row_const is None:
            out[...] = 0.0
        else:
            out[...] = row_const
        for term, v, mats in zip(self.terms, views, model.mats, strict=True):
            term.log_prob(v, mats, out, tmp, rest)

    def new_acc(self, model: PassModel, n_features: int) -> list:
        return [t.new_acc(model.n_components) for t in self.terms]

    def accumulate(self, view, resp, model: PassModel, acc, work) -> None:
        for term, v, a, shift in zip(self.terms, view[1], acc, model.shift, strict=True):
            term.accumulate(v, resp, shift, a, work)

    def finish(self, acc, model: PassModel, totals: dict) -> ProductStats:
        nk = totals["nk"]
        moments = tuple(
            t.finish(a, nk, s) for t, a, s in zip(self.terms, acc, model.shift, strict=True)
        )
        return ProductStats(**totals, moments=moments, shift=model.shift)


@dataclass(frozen=True, slots=True)
class ProductMLE:
    """The client side, fitted by EM: the bound is the mean log-likelihood of the
    parameters that entered the pass."""

    terms: tuple
    nan_policy: str = "raise"
    """How the passes read a NaN (:data:`~distgmm.core.missing.NAN_POLICIES`); under
    'marginalize' the terms are made with ``marginal=True``."""
    name = "mixed"
    #: What checkpoints call this family's models.
    KINDS = ("mixed",)

    @property
    def kernel(self):
        if self.nan_policy == "omit":
            from ..core.missing import OmitRows

            return OmitRows(ProductKernel(self.terms))
        if self.nan_policy == "marginalize":
            from .mixed_missing import MarginalProductKernel

            return MarginalProductKernel(self.terms)
        return ProductKernel(self.terms)

    def prepare(self, params: ProductParams, origin: np.ndarray) -> PassModel:
        with np.errstate(divide="ignore"):  # a weight of 0: a component that takes no row
            const = np.log(params.weights)
        mats, shifts = [], []
        for term, p in zip(self.terms, params.terms, strict=True):
            m, c, s = term.prepare(p, origin)
            mats.append(m)
            shifts.append(s)
            const = const + c
        return PassModel(self.kernel, "soft", const, tuple(mats), tuple(shifts))

    def all_model(self) -> PassModel:
        """One component holding every row: the data's moments (for a start)."""
        shifts = tuple(t.all_shift() for t in self.terms)
        mats = tuple(None for _ in self.terms)
        return PassModel(self.kernel, "all", np.zeros(1), mats, shifts)

    def m_step(self, summary: ProductStats, params: ProductParams, origin: np.ndarray):
        empty = np.flatnonzero(~(summary.nk > _EMPTY * summary.weight))
        if empty.size:
            raise EmptyComponentError(int(empty[0]), float(summary.nk[empty[0]]))
        nk = summary.nk
        terms = tuple(
            t.m_step(m, nk, p, origin)
            for t, m, p in zip(self.terms, summary.moments, params.terms, strict=True)
        )
        return ProductParams(nk / nk.sum(), terms)

    def bound(self, summary: ProductStats, params: ProductParams) -> float:
        return summary.mean_loglik

    @property
    def n_model_columns(self) -> int:
        """Width of the model's array (every group's columns)."""
        return 1 + max(max(t.columns) for t in self.terms)

    def template_model(self, n_components: int, n_features: int) -> PassModel:
        """A pass model of this family's shape (its summaries' shapes), no parameters."""
        shifts = tuple(
            None if s is None else np.zeros((n_components, s.shape[1]))
            for s in (t.all_shift() for t in self.terms)
        )
        mats = tuple(None for _ in self.terms)
        return PassModel(self.kernel, "random", np.zeros(n_components), mats, shifts)

    def recentre(self, summary: ProductStats, shift: tuple) -> ProductStats:
        """The same moments about ``shift`` (each group's; online EM blends moments about
        one point)."""
        moments = tuple(
            t.recentre(m, summary.nk, old, new) if new is not None else m
            for t, m, old, new in zip(
                self.terms, summary.moments, summary.shift, shift, strict=True
            )
        )
        return dataclasses.replace(summary, moments=moments, shift=shift)

    def start(self, estimate: ProductParams, n_samples: int) -> ProductParams:
        return estimate

    def random_start(
        self, summary: ProductStats, rng: np.random.Generator, n_components: int, origin
    ) -> ProductParams:
        """Equal weights and each group's random start around the data's moments
        (``summary``, of :meth:`all_model`)."""
        terms = tuple(
            t.random_start(rng, m, summary.nk, n_components, origin)
            for t, m in zip(self.terms, summary.moments, strict=True)
        )
        return ProductParams(np.full(n_components, 1.0 / n_components), terms)

    def n_parameters(self, params: ProductParams) -> int:
        k = params.n_components
        return k - 1 + sum(t.n_parameters(k) for t in self.terms)

    def sample(self, params: ProductParams, rng, n_samples: int, n_features: int):
        """``n_samples`` rows (model columns, codes for categorical ones) and their
        components, drawn with ``rng`` (a ``RandomState``)."""
        counts = rng.multinomial(n_samples, params.weights)
        y = np.repeat(np.arange(len(counts)), counts)
        gen = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        X = np.empty((n_samples, n_features))
        for term, p in zip(self.terms, params.terms, strict=True):
            term.sample(p, gen, y, X)
        return X, y

    # ---------------------------------------------------------------- arrays in files
    @property
    def ARRAYS(self) -> tuple[str, ...]:
        return tuple(self.array_shapes("mixed", 1, 0))

    def array_shapes(self, kind: str, n_components: int, n_features: int) -> dict:
        shapes = {"weights": (n_components,)}
        for i, term in enumerate(self.terms):
            for name, shape in term.array_shapes(n_components).items():
                shapes[f"g{i}_{name}"] = shape
        return shapes

    def to_arrays(self, params: ProductParams) -> dict[str, np.ndarray]:
        arrays = {"weights": params.weights}
        for i, (term, p) in enumerate(zip(self.terms, params.terms, strict=True)):
            for name, value in term.to_arrays(p).items():
                arrays[f"g{i}_{name}"] = value
        return arrays

    def from_arrays(
        self, kind: str, arrays: dict, fail: Callable[[str], Exception], start: bool = False
    ) -> ProductParams:
        """Parameters from arrays read from a file, after checking they form a model."""
        weights = arrays["weights"]
        total = float(weights.sum()) if np.isfinite(weights).all() else float("nan")
        if (weights < 0).any() or not abs(total - 1.0) <= _WEIGHT_SUM_ATOL:
            raise fail(f"the weights must be >= 0 and sum to 1, they sum to {total!r}")
        terms = []
        for i, term in enumerate(self.terms):
            prefix = f"g{i}_"
            mine = {n[len(prefix) :]: v for n, v in arrays.items() if n.startswith(prefix)}
            terms.append(term.from_arrays(mine, fail, prefix))
        return ProductParams(weights, tuple(terms))

    def kind(self, params: ProductParams) -> str:
        return "mixed"


register("mixed", ProductMLE)

"""``ProductMixture``: the estimators whose components are products over column groups.

The categorical, Bernoulli, Poisson, multinomial and mixed-type mixtures share everything
but which family each column belongs to: their input is a table whose columns are encoded
(:mod:`distgmm._encoding`: categories become codes, found once at fit time), their model is
a :class:`~distgmm.families.mixed.ProductMLE` over the groups, their start is random
parameters around the data's moments (one pass), and their files record the encoding.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from numbers import Integral, Real

import dask.array as da
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._encoding import ColumnCoding, encode, encode_partition, fit_coding
from .._feature_names import check_feature_names
from .._frames import frame_outputs, is_dask_frame, label_names, like_input
from .._sizing import pass_scratch_bytes
from ..core.em import check_stats
from ..core.missing import NAN_POLICIES
from ..errors import DistGMMError, InvalidInputError
from ..families.mixed import ProductMLE, ProductParams
from ..families.multinomial import MISSING_COUNT
from ..fingerprint import array_digest, data_fingerprint
from ..init import seeds
from ._base import BaseMixture
from ._criteria import InformationCriteria
from ._online import (
    OnlineMixin,
    check_running,
    restore_running,
    running_arrays,
    running_fit,
    running_shapes,
)
from ._terms import (
    arrays_of,
    attributes,
    coding_from_json,
    coding_to_json,
    column_families,
    make_terms,
    nan_policy,
)
from ._validation import connected, finite_block_log_prob

__all__ = ["ProductMixture"]

#: Parameters every product mixture takes, scikit-learn's declared constraints.
COMMON_CONSTRAINTS: dict = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "alpha": [Interval(Real, 0.0, None, closed="left")],
    "handle_unknown": [StrOptions({"error", "ignore"})],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "n_init": [Interval(Integral, 1, None, closed="left")],
    "init_params": [StrOptions({"random"})],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
    "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    "client": "no_validation",
    "persist": ["boolean", StrOptions({"auto"})],
    "checkpoint": [str, os.PathLike, None],
    "resume": ["boolean"],
    "step_size_decay": [Interval(Real, 0.5, 1.0, closed="right")],
    "burn_in": [Interval(Integral, 0, None, closed="left")],
    "nan_policy": [StrOptions(set(NAN_POLICIES))],
}


@dataclass(frozen=True, slots=True)
class _RandomStart:
    """What a product mixture's start depends on (its ``init_params``); it always draws."""

    init_params: str
    fully_given = False


class ProductMixture(OnlineMixin, InformationCriteria, BaseMixture):
    """What the discrete and mixed-type mixtures share; a subclass says which family each
    column has (:meth:`_column_kinds`) and how its parameters are shown as attributes."""

    _bound_name = "mean log-likelihood"
    _input_attributes = ("n_features_in_", "feature_names_in_", "_coding", "_families")
    #: Attribute prefix of a group's parameters by family (MixedMixture sets some).
    _prefixes: dict = {}  # noqa: RUF012 - read only

    # ------------------------------------------------------------------ subclass hooks
    def _column_kinds(self):
        """``fit_coding``'s kinds: a family name for every column, or {column: family}."""
        raise NotImplementedError

    def _settings(self) -> dict:
        """Each family's settings (``alpha``; the Gaussian group's ``covariance_type``,
        ``reg_covar``)."""
        return {"alpha": float(self.alpha)}

    def _model_settings(self) -> dict:
        """:meth:`_settings` and the missing-value policy, recorded (in model files and
        checkpoints) only when it is not the default 'raise'."""
        policy = self._nan_policy
        return {**self._settings(), **({} if policy == "raise" else {"nan_policy": policy})}

    def _check_nan_policy(self) -> None:
        """Raise if the model cannot take its ``nan_policy`` (MultinomialMixture)."""

    def _missing_columns(self) -> tuple | None:
        """The encoder's ``missing``: None for 'raise', else whether a missing value is a
        missing entry in each model column (the reason it is not, for a multinomial one)."""
        policy = self._nan_policy
        if policy == "raise":
            return None
        return tuple(
            policy == "omit" or family != "multinomial" or MISSING_COUNT
            for family in self._families
        )

    # ------------------------------------------------------------------ input
    def _check_X(self, X, reset: bool, lengths: bool = True):
        """``X`` encoded: a float64 numpy or dask array of the model's columns."""
        name = type(self).__name__
        with connected(self.client) as client:
            if reset:
                self._check_nan_policy()
                families = self._column_kinds()
                coding = fit_coding(X, _encoding_kinds(families), estimator=name, client=client)
                self._coding = coding
                self._families = column_families(coding, families)
                try:  # what a model file cannot hold is refused now, not after the fit
                    coding_to_json(coding, self._families)
                except ValueError as err:
                    raise InvalidInputError(f"{name}: {err}; convert that column first.") from err
                self.n_features_in_ = coding.n_features_in
                if coding.feature_names is not None:
                    self.feature_names_in_ = coding.feature_names
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            else:  # scikit-learn's warnings for names on one side only (encode compares both)
                names = label_names(X.columns) if hasattr(X, "columns") else None
                warn = not isinstance(X, da.Array)  # a dask array has no names to give
                check_feature_names(self, None, False, names=names, warn=warn)
            return encode(
                X,
                self._coding,
                handle_unknown=self.handle_unknown,
                estimator=name,
                lengths=lengths,
                client=client,
                missing=self._missing_columns(),
            )

    def _like_input(self, X, out: str, result=None, check_finite: bool = True):
        if is_dask_frame(X):
            model, origin = self._pass_model()
            values = functools.partial(
                encode_partition,
                coding=self._coding,
                handle_unknown=self.handle_unknown,
                missing=self._missing_columns(),
            )
            return frame_outputs(
                X, finite_block_log_prob, model, origin, out, self.n_components, values=values
            )
        return like_input(X, result, out)

    # ------------------------------------------------------------------ the model
    def _terms(self) -> tuple:
        return make_terms(self._families, self._coding, self._model_settings())

    def _family(self) -> ProductMLE:
        return ProductMLE(self._terms(), self._nan_policy)

    def _codec(self) -> ProductMLE:
        return self._family()

    def _scratch_bytes(self, n_features: int, dtype) -> int:
        kernel = self._family().kernel
        models = [(kernel, self.n_components, False)] * self.n_init
        return pass_scratch_bytes(models, n_features, dtype)

    def _init_spec(self, n_features: int) -> _RandomStart:
        return _RandomStart(self.init_params)

    def _start(self, X, passes, spec, random_state, weights, invariant: bool = True):
        """Random parameters around the data's moments (one pass), for every restart."""
        family = self._family()
        origin = np.zeros(passes.n_features)
        if any(t.kind == "gaussian" for t in family.terms):  # moments near the data
            from ..init import _first_rows_mean

            origin = _first_rows_mean(passes)
        moments = passes.run([family.all_model()], origin)[0]
        check_stats(moments)
        base_seed = int(random_state.randint(np.iinfo(np.int32).max))
        starts = [
            family.random_start(moments, np.random.default_rng(seed), self.n_components, origin)
            for seed in seeds(base_seed, self.n_init)
        ]
        return starts, origin

    def _origin(self) -> np.ndarray:
        origin = np.zeros(len(self._coding.columns))
        for term, params in zip(self._terms(), self._params().terms, strict=True):
            if term.kind == "gaussian":
                origin[list(term.columns)] = self.weights_ @ params.means
        return origin

    def _fitted_like(self, n_features: int) -> bool:
        return hasattr(self, "converged_") and len(self.weights_) == self.n_components

    def _fingerprint(self, passes, spec, seed, weights_digest) -> dict:
        if self.checkpoint is None:
            return {}
        # JSON round trip: the saved fingerprint is compared as JSON gives it back.
        structure = json.loads(json.dumps(self._family().kernel.view_key, default=str))
        warm = None
        if spec is None:
            arrays = self._codec().to_arrays(self._params()).values()
            warm = "".join(str(array_digest(a)) for a in arrays)
        return {
            **data_fingerprint(passes),
            "model": structure,
            "coding": coding_to_json(self._coding, self._families),
            "n_components": int(self.n_components),
            "settings": self._model_settings(),
            "tol": float(self.tol),
            "n_init": int(self.n_init),
            "init_params": self.init_params,
            "sample_weight": weights_digest,
            "random_state": seed,
            "warm_start": warm,
        }

    # ------------------------------------------------------------------ parameters
    def _set_params(self, params: ProductParams) -> None:
        self.weights_ = params.weights
        for term, value in zip(self._terms(), params.terms, strict=True):
            prefix = self._prefixes.get(term.kind, "")
            for name, attr in attributes(term, value).items():
                setattr(self, prefix + name, attr)

    def _params(self) -> ProductParams:
        codec = self._codec()
        arrays = {"weights": self.weights_}
        for i, term in enumerate(codec.terms):
            prefix = self._prefixes.get(term.kind, "")
            for name, value in arrays_of(term, self, prefix).items():
                arrays[f"g{i}_{name}"] = value
        return codec.from_arrays("mixed", arrays, DistGMMError)

    def _n_parameters(self) -> int:
        return self._family().n_parameters(self._params())

    def sample(self, n_samples=1):
        """Draw rows from the fitted model.

        Returns
        -------
        X : ndarray of shape (n_samples, n_model_columns)
            The model's columns (in the order of ``columns_``): categories as their values
            (an object array when some are not numbers), counts, 0/1 and real values.
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        return super().sample(n_samples)

    def _draw(self, n_samples: int, rng):
        X, y = self._family().sample(self._params(), rng, n_samples, X_width(self))
        return decode(X, self._coding), y

    @property
    def columns_(self) -> list:
        """The label of each column the model uses, in model order."""
        check_is_fitted(self)
        return self._coding.names()

    # ---------------------------------------------------------------- model files
    def _model_arrays(self) -> dict:
        arrays = {f"{n}_": v for n, v in self._codec().to_arrays(self._params()).items()}
        return {**arrays, **running_arrays(self)}

    def _model_extra_fit(self) -> dict:
        return running_fit(self)

    def _model_header(self) -> dict:
        return {
            "n_components": int(self.weights_.shape[0]),
            "n_features": int(self.n_features_in_),
            "model": {
                "coding": coding_to_json(self._coding, self._families),
                "settings": self._model_settings(),
            },
        }

    @classmethod
    def _model_codec(cls, header: dict, fail) -> tuple[ProductMLE, ColumnCoding, tuple]:
        model = header.get("model")
        if not isinstance(model, dict) or not isinstance(model.get("settings"), dict):
            raise fail("the header has no 'model' object with 'coding' and 'settings'")
        coding, families = coding_from_json(model.get("coding"), header["n_features"], fail)
        names = None if coding.feature_names is None else list(coding.feature_names)
        if names != header["fit"].get("feature_names_in_"):
            raise fail("the model's coding.feature_names are not fit.feature_names_in_")
        try:
            terms = make_terms(families, coding, model["settings"])
            policy = nan_policy(model["settings"])
        except (TypeError, ValueError, KeyError) as err:
            raise fail(f"the model's settings are invalid ({err})") from err
        params = header.get("params")
        given = params.get("nan_policy", "raise") if isinstance(params, dict) else "raise"
        if given != policy:
            raise fail(f"the model's settings have nan_policy {policy!r}, its params {given!r}")
        return ProductMLE(terms, policy), coding, families

    @classmethod
    def _model_shapes(cls, header: dict, fail) -> dict:
        codec = cls._model_codec(header, fail)[0]
        shapes = codec.array_shapes("mixed", header["n_components"], header["n_features"])
        return {**{f"{n}_": s for n, s in shapes.items()}, **running_shapes(header, codec, fail)}

    @classmethod
    def _model_check(cls, header: dict, arrays: dict, fail) -> None:
        codec = cls._model_codec(header, fail)[0]
        codec.from_arrays("mixed", {n[:-1]: arrays[n] for n in _codec_names(codec, header)}, fail)
        check_running(header, arrays, codec, fail)

    def _restore(self, header: dict, arrays: dict) -> None:
        codec, self._coding, self._families = self._model_codec(header, DistGMMError)
        named = {n[:-1]: arrays[n] for n in _codec_names(codec, header)}
        self._set_params(codec.from_arrays("mixed", named, DistGMMError))
        restore_running(self, header, arrays, codec)


def _codec_names(codec: ProductMLE, header: dict) -> list[str]:
    return [f"{n}_" for n in codec.array_shapes("mixed", header["n_components"], 0)]


def X_width(estimator) -> int:
    return len(estimator._coding.columns)


def _encoding_kinds(families):
    """The encoder's kind of each family's columns."""
    kinds = {
        "categorical": "categorical",
        "bernoulli": "binary",
        "poisson": "count",
        "multinomial": "count",
        "gaussian": "real",
    }
    if isinstance(families, str):
        return kinds[families]
    return {column: kinds[family] for column, family in families.items()}


def decode(X: np.ndarray, coding: ColumnCoding) -> np.ndarray:
    """Model rows with categorical codes replaced by their categories."""
    categorical = [i for i, c in enumerate(coding.categories) if c is not None]
    if not categorical:
        return X
    numeric = all(coding.categories[i].dtype.kind in "biuf" for i in categorical)
    out = X.copy() if numeric else X.astype(object)
    for i in categorical:
        out[:, i] = coding.categories[i][X[:, i].astype(np.intp)]
    return out

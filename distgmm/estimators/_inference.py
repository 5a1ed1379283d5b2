"""What a fitted mixture does with data: predictions, scores, writers, samples, model files.

:class:`Inference` is the half of :class:`~distgmm.estimators._base.BaseMixture` that needs
a fitted model only: the family's E-step over numpy chunks in process, or lazily over dask
chunks.
"""

from __future__ import annotations

from numbers import Integral

import dask.array as da
import numpy as np
from dask import delayed
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._feature_names import check_feature_names
from .._frames import (
    as_table,
    check_numeric_columns,
    frame_outputs,
    is_dask_frame,
    is_dataframe,
    is_xarray,
    like_input,
    sample_weight_like,
)
from .._sizing import output_rows, split_rows
from .._waits import compute
from .._weights import check_sample_weight
from ..core.predict import chunk_weighted_log_prob
from ..errors import DistGMMError, InvalidInputError
from ..io import parquet_source, write_predictions
from ._validation import check_dask_X, check_n_features, connected, finite_block_log_prob

__all__ = ["Inference"]


class Inference:
    """Predictions and scores of a fitted mixture (``_family``, ``_params``, ``_origin``
    come from the estimator)."""

    def _check_X(self, X, reset: bool, lengths: bool = True):
        """``X`` as the numpy or dask array to run on, checked; see :mod:`distgmm._frames`.

        ``lengths=False``: a dask DataFrame's partition lengths are not counted (its array
        may have unknown row chunks); enough to check its columns.
        """
        if is_dask_frame(X) or is_xarray(X):
            return self._check_table(X, reset, lengths)
        if isinstance(X, da.Array):
            checked = check_dask_X(self, X, reset)
            check_feature_names(self, X, reset)  # a Parquet-read array names its columns
            return checked
        try:
            return validate_data(
                self,
                X,
                dtype=[np.float64, np.float32],
                reset=reset,
                ensure_all_finite=_finite(self),
            )
        except ValueError as err:  # one error type for bad data, numpy or dask
            if is_dataframe(X):  # pandas, polars: name the column that is not numbers
                check_numeric_columns(X, type(self).__name__)
            raise InvalidInputError(_with_policy_hint(self, str(err))) from err

    def _check_table(self, X, reset: bool, lengths: bool):
        if is_dask_frame(X) and lengths:
            with connected(self.client) as client:  # count the rows where the data are
                table = as_table(X, client, estimator=type(self).__name__)
        else:
            table = as_table(X, lengths=False, estimator=type(self).__name__)
        if isinstance(table.values, da.Array):
            checked = check_dask_X(self, table.values, reset, known_rows=lengths)
        else:
            try:
                checked = check_array(
                    table.values,
                    dtype=[np.float64, np.float32],
                    estimator=self,
                    ensure_all_finite=_finite(self),
                )
            except ValueError as err:
                raise InvalidInputError(str(err)) from err
            check_n_features(self, checked.shape[1], reset)
        check_feature_names(self, None, reset, names=table.names, warn=True)
        return checked

    def _like_input(self, X, out: str, result=None, check_finite: bool = True):
        """The output ``out`` for a table ``X`` in ``X``'s kind: ``result`` (the array's)
        wrapped, or a dask DataFrame's computed on its partitions."""
        if is_dask_frame(X):
            model, origin = self._pass_model()
            block_fn = finite_block_log_prob if check_finite else chunk_weighted_log_prob
            return frame_outputs(X, block_fn, model, origin, out, self.n_components)
        return like_input(X, result, out)

    def _pass_model(self):
        """The fitted model's E-step, and the origin it is prepared against."""
        origin = self._origin()
        return self._family().prepare(self._params(), origin), origin

    def _estep(self, X, out: str, check_finite: bool = False):
        model, origin = self._pass_model()
        if isinstance(X, da.Array):
            X = X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
            if out in ("proba", "log_prob"):  # K float64 a row: bound each output chunk
                X = split_rows(X, output_rows(8 * self.n_components))
            shared = delayed(model, traverse=False)
            # Lazy input was not scanned for NaN/inf; each block checks itself when computed.
            block_fn = finite_block_log_prob if check_finite else chunk_weighted_log_prob
            dtype = np.int64 if out == "labels" else np.float64
            shape = (
                {"drop_axis": 1, "meta": np.empty((0,), dtype)}
                if out in ("labels", "score")
                else {
                    "chunks": (X.chunks[0], (self.n_components,)),
                    "meta": np.empty((0, 0), dtype),
                }
            )
            return X.map_blocks(block_fn, shared, origin, out, dtype=dtype, **shape)
        return chunk_weighted_log_prob(X, model, origin, out, row0=0)

    def _inference(self, X, out: str):
        check_is_fitted(self)
        if is_dask_frame(X):  # lazy on its partitions: no need to count their rows
            self._check_X(X, reset=False, lengths=False)
            return self._like_input(X, out)
        result = self._estep(self._check_X(X, reset=False), out, check_finite=True)
        return self._like_input(X, out, result)

    def predict(self, X):
        """Component of each row: the most likely under the fitted model.

        Parameters
        ----------
        X : array-like, dask array, DataFrame or DataArray of shape (n_samples, n_features)
            A pandas, polars or dask DataFrame of numeric columns, or a 2-D xarray
            DataArray whose first dimension is the rows; see ``fit``.

        Returns
        -------
        labels : ndarray, dask array, dask Series or DataArray of shape (n_samples,)
            In the input's kind: lazy for dask input; for a dask DataFrame a Series named
            ``label`` on its partitions and index; for a DataArray one along its first
            dimension, with its coordinates. numpy for numpy, pandas and polars input.
        """
        return self._inference(X, "labels")

    def predict_proba(self, X):
        """Posterior probability of each component for each row.

        Returns
        -------
        resp : ndarray, dask array, dask DataFrame or DataArray of shape (n_samples, n_components)
            In the input's kind, as for :meth:`predict`: a dask DataFrame's columns are
            ``proba_0`` ..., a DataArray's second dimension is ``component``.
        """
        return self._inference(X, "proba")

    def score_samples(self, X):
        """Log-likelihood of each row under the fitted model.

        Returns
        -------
        log_prob : ndarray, dask array, dask Series or DataArray of shape (n_samples,)
            In the input's kind, as for :meth:`predict` (a Series named ``log_likelihood``).
        """
        return self._inference(X, "score")

    def write_predictions(
        self,
        X,
        path,
        *,
        proba: bool = False,
        log_likelihood: bool = False,
        keep_columns: list[str] | None = None,
        overwrite: bool = False,
        storage_options: dict | None = None,
    ) -> str:
        """Write each row's component, and optionally more, to Zarr or Parquet.

        One read of ``X``: every chunk is read, predicted and written by one task, on the
        estimator's client if it has one. The output appears under ``path`` only once
        complete (it is written under a temporary name, then renamed; on object stores
        copied, which is not atomic: see :func:`distgmm.io.write_predictions`).

        Parameters
        ----------
        X : array-like, dask array, DataFrame or DataArray of shape (n_samples, n_features)
            E.g. from :func:`distgmm.read_zarr` or :func:`distgmm.read_parquet`.
        path : str or os.PathLike
            Local path or fsspec URL. ``*.zarr``: a group with arrays ``labels``,
            ``probabilities`` and ``log_likelihood``, chunked like ``X``. ``*.parquet``: a
            folder of part files in row order with columns ``keep_columns``, ``label``,
            ``proba_0`` ... and ``log_likelihood``.
        proba : bool, default=False
            Also write the posterior probability of each component.
        log_likelihood : bool, default=False
            Also write each row's log-likelihood (:meth:`score_samples`).
        keep_columns : list of str, optional
            Parquet output only: columns to copy into the output, row-aligned (e.g. an id).
            For a dask DataFrame ``X``, columns of ``X`` (such as one the model ignores);
            otherwise columns of the input files, ``X`` being :func:`distgmm.read_parquet`'s
            array as returned.
        overwrite : bool, default=False
            Replace an existing output.
        storage_options : dict, optional
            For fsspec URLs.

        Returns
        -------
        str
            ``path``.
        """
        check_is_fitted(self)
        source = None
        if keep_columns:
            source = X if is_dask_frame(X) else parquet_source(X)
        return self._write_predictions(
            X,
            path,
            source,
            proba=proba,
            log_likelihood=log_likelihood,
            keep_columns=keep_columns,
            overwrite=overwrite,
            storage_options=storage_options,
        )

    def _write_predictions(
        self,
        X,
        path,
        source,
        *,
        proba: bool,
        log_likelihood: bool,
        keep_columns: list[str] | None,
        overwrite: bool,
        storage_options: dict | None,
    ) -> str:
        """:meth:`write_predictions`, ``keep_columns`` read from ``source``: a
        :class:`~distgmm.io.ParquetRows`, or a dask DataFrame with ``X``'s partitions (the
        command line's, whose model columns and kept columns are two selections of one
        table)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        model, origin = self._pass_model()
        with connected(self.client) as client:
            return write_predictions(
                X,
                path,
                model,
                origin,
                proba=proba,
                log_likelihood=log_likelihood,
                keep_columns=keep_columns,
                source=source,
                overwrite=overwrite,
                storage_options=storage_options,
                client=client,
            )

    def _weighted_mean(self, X, sample_weight) -> tuple[float, float]:
        """The weighted mean log-likelihood of the rows of ``X``, and the weights' sum."""
        check_is_fitted(self)
        total, scaled, weight = self._score_sums(self._check_X(X, reset=False), sample_weight)
        if any(isinstance(v, da.Array) for v in (total, scaled, weight)):
            parts = da.stack([da.asarray(v, dtype=np.float64) for v in (total, scaled, weight)])
            with connected(self.client) as client:  # a wait that ends if no worker is left
                parts = compute(client, parts) if client is not None else parts.compute()
            total, scaled, weight = parts
        if not float(scaled) > 0:  # nan_policy='omit' left out every row
            raise InvalidInputError(
                "Every row of X holds a missing entry (NaN), and nan_policy='omit' leaves "
                "them all out: there is no row to score."
            )
        return float(total) / float(scaled), float(weight)

    def _score_sums(self, X, sample_weight):
        """The weighted sum of the log-likelihoods of the rows of the checked array ``X``
        and the sum of the (scaled) weights, lazy for dask input, and the weights' sum."""
        scores = self._estep(X, "score", check_finite=True)
        n = scores.shape[0]
        sample_weight = sample_weight_like(sample_weight, X)
        # scaled weights: sums of scores times weights near 1e308 would overflow
        weights = check_sample_weight(sample_weight, n, lazy=isinstance(scores, da.Array))
        w, weight = weights.values, weights.total
        if getattr(self, "nan_policy", "raise") == "omit":
            # The rows left out score NaN: they weigh nothing, in the criteria's n too.
            xp = da if isinstance(scores, da.Array) else np
            kept = ~xp.isnan(scores)
            w_all = n if w is None else w.sum()
            w = kept * 1.0 if w is None else w * kept
            total, scaled = (xp.where(kept, scores, 0.0) * w).sum(), w.sum()
            return total, scaled, weight * scaled / w_all
        total, scaled = (scores.sum(), n) if w is None else ((scores * w).sum(), w.sum())
        return total, scaled, weight

    def score(self, X, y=None, sample_weight=None):
        """Weighted mean log-likelihood of the rows of ``X``.

        Returns
        -------
        log_likelihood : float
        """
        return self._weighted_mean(X, sample_weight)[0]

    def sample(self, n_samples=1):
        """Draw rows from the fitted model.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise DistGMMError(
                f"Invalid value for 'n_samples': {n_samples!r}. It must be an integer >= 1: "
                "the sampling requires at least one sample."
            )
        return self._draw(n_samples, check_random_state(self.random_state))

    def _draw(self, n_samples: int, rng):
        """``n_samples`` rows of the fitted model and their components, drawn with ``rng``."""
        return self._family().sample(self._params(), rng, n_samples)

    def save(self, path, *, storage_options: dict | None = None) -> None:
        """Write the fitted model to a self-describing ``.npz`` file; ``distgmm.load`` reads it.

        See :func:`distgmm.modelfile.save_model`: atomic, never pickled, no ``labels_``.

        Parameters
        ----------
        path : str or os.PathLike
            File to write, replaced if it exists; no suffix is added. A local path or an
            fsspec URL such as ``s3://bucket/model.npz``.
        storage_options : dict, optional
            For an fsspec URL ``path`` (credentials, ``endpoint_url``, ...).
        """
        from ..modelfile import save_model

        save_model(self, path, storage_options=storage_options)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = getattr(self, "nan_policy", "raise") != "raise"
        return tags


def _finite(estimator) -> bool | str:
    """scikit-learn's ``ensure_all_finite``: NaN is a missing entry unless the policy is
    'raise' (infinity is refused either way)."""
    return getattr(estimator, "nan_policy", "raise") == "raise" or "allow-nan"


def _with_policy_hint(estimator, message: str) -> str:
    """scikit-learn's NaN error, plus what this estimator can do about NaN."""
    if "NaN" in message and "nan_policy" in getattr(estimator, "_parameter_constraints", {}):
        end = "" if message.rstrip().endswith(".") else "."
        return (
            f"{message.rstrip()}{end} Or fit with nan_policy='marginalize' (a NaN is a missing "
            "entry) or 'omit' (rows with a NaN are left out)."
        )
    return message

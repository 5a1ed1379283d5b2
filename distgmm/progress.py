"""A progress bar of EM fits: iterations done of ``max_iter``, the bound's change, restarts.

Built on the records the EM loop logs (``distgmm.core.em``, level INFO), so any fit shows
in it, whatever runs it (``fit``, ``fit_predict``, a resumed or warm-started fit, several
fits in a row), without a parameter of the estimators.
"""

from __future__ import annotations

import logging
import math
from typing import IO, Any

from .core.em import logger as _em_logger

__all__ = ["ProgressBar"]


class ProgressBar(logging.Handler):
    """Show every EM fit run inside it as a progress bar (tqdm; a widget in notebooks).

    The bar counts iterations (passes over the data) up to ``max_iter``: its remaining
    length is the most passes left, its time estimate the longest the fit can still take.
    It shows the bound and its change at the last iteration or, with ``n_init`` > 1, how
    many restarts are still iterating (they share every pass) and the largest change among
    them, which decides when the last one converges.

    Parameters
    ----------
    file : file object, optional
        Where the bar goes; default: tqdm's (stderr, or a notebook widget under Jupyter).
    desc : str, default=""
        Text before the bar, e.g. which model.
    leave : bool, default=True
        Keep each fit's finished bar on screen.
    **tqdm_kwargs
        More arguments of ``tqdm.tqdm`` (e.g. ``mininterval``, ``disable``).

    Examples
    --------
    >>> from distgmm import GaussianMixture, ProgressBar
    >>> with ProgressBar():  # doctest: +SKIP
    ...     GaussianMixture(8).fit(X)
    >>> ProgressBar().register()  # every fit from now on  # doctest: +SKIP
    """

    def __init__(
        self, file: IO[str] | None = None, desc: str = "", leave: bool = True, **tqdm_kwargs: Any
    ) -> None:
        super().__init__(logging.INFO)
        # Redrawn at the terminal's width as it changes, unless given a width.
        resize = "ncols" not in tqdm_kwargs
        self._tqdm_kwargs = {"desc": desc, "leave": leave, "dynamic_ncols": resize, **tqdm_kwargs}
        if file is not None:
            self._tqdm_kwargs["file"] = file
        self._file = file
        self._bar = None
        self._saved_level: int | None = None

    # ------------------------------------------------------------------ switching on/off
    def register(self) -> ProgressBar:
        """Show the fits from now on, until :meth:`unregister`; returns ``self``."""
        if self not in _em_logger.handlers:
            self._saved_level = _em_logger.level
            if not _em_logger.isEnabledFor(logging.INFO):
                _em_logger.setLevel(logging.INFO)
            _em_logger.addHandler(self)
        return self

    def unregister(self) -> None:
        """Stop showing fits; a bar still open is closed."""
        if self in _em_logger.handlers:
            _em_logger.removeHandler(self)
            _em_logger.setLevel(self._saved_level)
        self._close()

    def __enter__(self) -> ProgressBar:
        return self.register()

    def __exit__(self, *exc_info: object) -> None:
        self.unregister()

    # ------------------------------------------------------------------ the records
    def emit(self, record: logging.LogRecord) -> None:
        try:
            if hasattr(record, "em_start"):
                self._start(
                    record.em_start, record.em_max_iter, record.em_n_models, record.em_iterating
                )
            elif hasattr(record, "em_report"):
                self._update(record.em_report, record.em_max_iter, record.em_n_models)
        except Exception:
            self.handleError(record)

    def _start(self, done: int, max_iter: int, n_models: int, iterating: int) -> None:
        self._close()  # a fit before this one that ended without its last iteration
        if done >= max_iter or not iterating:  # nothing to do (max_iter=0, a finished resume)
            return
        self._bar = self._tqdm()(total=max_iter, initial=done, unit="iter", **self._tqdm_kwargs)
        if n_models > 1:
            self._bar.set_postfix_str(f"{n_models} restarts", refresh=True)

    def _update(self, report, max_iter: int, n_models: int) -> None:
        if self._bar is None:
            return
        iterating = len(report.models) - len(report.converged)
        # The first iteration's change is from -inf (no bound before it): not shown.
        change = max(report.changes, key=abs)
        shown = f"change {change:.2e}" if math.isfinite(change) else ""
        if n_models > 1:
            done = "all converged" if not iterating else f"{iterating} iterating"
            text = ", ".join(
                filter(None, [f"{n_models} restarts: {done}", shown and f"largest {shown}"])
            )
        else:
            text = ", ".join(filter(None, [f"bound {report.lower_bounds[0]:.6g}", shown]))
            text += ", converged" if not iterating else ""
        self._bar.set_postfix_str(text, refresh=False)
        self._bar.update(report.iteration - self._bar.n)
        if not iterating or report.iteration >= max_iter:
            self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tqdm(self):
        # tqdm.auto is a notebook widget under Jupyter, text elsewhere; text always when
        # given a file to write to (the widget would ignore it).
        if self._file is None:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        return tqdm

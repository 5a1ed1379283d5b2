"""Warnings that point at the user's line, not at the distgmm code that raised them."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_at_caller"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside the distgmm package.

    A fixed ``stacklevel`` would be right for one call path only (``fit`` and
    ``fit_predict`` reach the warning through different depths, and a refactoring
    changes them); ``skip_file_prefixes`` does this from Python 3.12 only.
    """
    frame = sys._getframe(1)
    level = 2  # warnings.warn's stacklevel of this function's caller
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _PACKAGE
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)

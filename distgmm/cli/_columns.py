"""Which Parquet columns ``predict`` and ``score`` read: the model's, by name.

A model fitted on named columns records them (``feature_names_in_``). Reading the data
by those names, rather than in whatever order ``--columns`` lists them, keeps each
column where the model expects it: without this, ``--columns c,b,a`` on a model of
``a,b,c`` would predict with two features swapped, and exit 0.
"""

from __future__ import annotations

import argparse

from ..errors import InvalidInputError
from ..io import _format

__all__ = ["select_model_columns"]


def select_model_columns(args: argparse.Namespace, gm) -> None:
    """Set ``args.columns`` to the model's feature names when the data are Parquet.

    ``--columns`` omitted: the model's columns are read. ``--columns`` naming the same
    columns in another order: they are read in the model's order. Other columns: refused.
    """
    names = getattr(gm, "feature_names_in_", None)
    if names is None or args.component is not None:
        return
    names = [str(name) for name in names]
    if args.columns is None:
        if _format(str(args.data).rstrip("/"), args.storage_options) == "parquet":
            args.columns = names
        return
    if sorted(args.columns) != sorted(names):
        raise InvalidInputError(
            f"--columns {','.join(args.columns)} are not the columns the model {args.model} "
            f"was fitted on, {','.join(names)}; give those (in any order: they are read by "
            "name), or omit --columns."
        )
    args.columns = names

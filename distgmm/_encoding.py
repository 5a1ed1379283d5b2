# TEMPORARY numpy-only stand-in until the encoder branch lands: NOT TO BE COMMITTED
from dataclasses import dataclass
import numpy as np
import pandas as pd
KINDS = ("categorical", "count", "binary", "real")

@dataclass(frozen=True)
class ColumnCoding:
    n_features_in: int
    feature_names: object
    columns: tuple
    kinds: tuple
    categories: tuple
    def names(self):
        if self.feature_names is not None:
            return [str(self.feature_names[c]) for c in self.columns]
        return [f"x{c}" for c in self.columns]

def _frame(X):
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(np.asarray(X))

def fit_coding(X, kinds, *, estimator, client=None):
    df = _frame(X)
    names = np.asarray([str(c) for c in df.columns], dtype=object) if all(isinstance(c, str) for c in df.columns) else None
    if isinstance(kinds, str):
        kinds = {c: kinds for c in df.columns}
    cols, ks, cats = [], [], []
    for i, c in enumerate(df.columns):
        key = c if c in kinds else (i if i in kinds else None)
        if key is None:
            continue
        cols.append(i); ks.append(kinds[key])
        cats.append(np.unique(df[c].to_numpy()) if kinds[key] == "categorical" else None)
    return ColumnCoding(df.shape[1], names, tuple(cols), tuple(ks), tuple(cats))

def encode_partition(part, coding, handle_unknown="error"):
    df = _frame(part)
    out = np.empty((len(df), len(coding.columns)))
    for j, (c, k, cat) in enumerate(zip(coding.columns, coding.kinds, coding.categories)):
        v = df.iloc[:, c].to_numpy()
        if k == "categorical":
            idx = pd.Index(cat).get_indexer(v)
            out[:, j] = idx
        else:
            out[:, j] = v.astype(float)
    return out

def encode(X, coding, *, handle_unknown="error", estimator, lengths=True, client=None):
    return encode_partition(X, coding, handle_unknown)

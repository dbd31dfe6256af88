"""Turn the many ways users point at posters into one list of file paths."""

import os

import numpy as np
import pandas as pd


def resolve_paths(X, *, root=None, pattern="{}.jpg", column=None):
    """Return the poster file paths named by ``X``.

    Parameters
    ----------
    X : array-like of str or path-like, pandas Series or DataFrame
        File paths, or ids when ``root`` is given. A DataFrame is read from
        ``column`` (or from its only column); a 2-D array must have one column.
    root : str or path-like, default=None
        Folder the ids are relative to. Without it, the values of ``X`` are paths.
    pattern : str, default="{}.jpg"
        File name built from each id with :meth:`str.format`; used only with ``root``.
    column : str, default=None
        Column of a DataFrame ``X`` holding the ids or paths.

    Returns
    -------
    list of str
    """
    values = _as_1d(X, column)
    if len(values) == 0:
        raise ValueError("found 0 posters; at least 1 is required.")
    paths = []
    for row, value in enumerate(values):
        if np.ndim(value) == 0 and pd.isna(value):
            raise ValueError(f"row {row} has no poster id or path (missing value).")
        if not isinstance(value, (str, os.PathLike, np.str_)):
            raise TypeError(
                f"row {row} holds {type(value).__name__} {value!r}; expected a path or an id "
                "string."
            )
        if root is None:
            paths.append(os.fspath(value))
        else:
            paths.append(os.path.join(os.fspath(root), pattern.format(os.fspath(value))))
    return paths


def _as_1d(X, column):
    if isinstance(X, pd.DataFrame):
        if column is not None:
            if column not in X.columns:
                raise KeyError(
                    f"column {column!r} not found; the frame has {list(X.columns)}."
                )
            return X[column].tolist()
        if X.shape[1] != 1:
            raise ValueError(
                f"got a DataFrame with columns {list(X.columns)}; set column= to the one "
                "holding poster paths or ids."
            )
        return X.iloc[:, 0].tolist()
    if column is not None:
        raise ValueError(f"column={column!r} needs a DataFrame input, got {type(X).__name__}.")
    if isinstance(X, pd.Series):
        return X.tolist()
    if isinstance(X, (str, os.PathLike)):
        raise TypeError("expected a 1-D sequence of paths or ids, got a single string; wrap it in a list.")
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of paths or ids, got shape {arr.shape}.")
    return arr.tolist()

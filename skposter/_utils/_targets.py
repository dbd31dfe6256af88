"""The one gate every genre estimator's target goes through.

A target is either a 0/1 genre matrix of shape ``(n_samples, n_genres)`` (a
DataFrame's columns name the genres) or a 1-D array of class labels. Everything
that reads a target (:class:`~skposter.multilabel.PerGenreClassifier`,
:class:`~skposter.multilabel.GenreThresholdClassifier`, the stacking, the Keras
classifier's target encoder) calls :func:`check_genre_target`, so they accept the
same targets, refuse the same ones with the same messages, and name genre columns
the same way.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import DataConversionWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import Bunch
from sklearn.utils.multiclass import type_of_target


def check_genre_target(y, *, names=None, classes=None, estimator=None, stacklevel=2):
    """Validate a genre matrix or class labels, and encode it as an indicator matrix.

    Parameters
    ----------
    y : array-like, Series or DataFrame
        0/1 genre matrix ``(n_samples, n_genres)``, or class labels ``(n_samples,)``.
        A column vector of anything but 0 and 1 is read as class labels, with
        scikit-learn's ``DataConversionWarning``; a 0/1 column stays a one-genre
        matrix.
    names : list, default=None
        Genre names, when ``y`` is a plain array whose columns were named elsewhere;
        a DataFrame's own columns take precedence.
    classes : array-like, default=None
        Every class label of a 1-D target, when ``y`` may lack some.
    estimator : estimator or str, default=None
        Who asks, named in the message when ``y`` is None.
    stacklevel : int, default=2
        Stack level of the column-vector warning, as seen from the caller.

    Returns
    -------
    Bunch
        ``y``: the target as given (a DataFrame stays a DataFrame), raveled when it
        was a column vector of class labels. ``Y``: the 0/1 int indicator matrix
        (for class labels, the ``LabelBinarizer`` encoding: one column for a
        binary target). ``classes``: genre names (a DataFrame's columns as an
        object array, else ``names``, else ``0 .. n_genres - 1``) or the sorted
        class labels. ``binarizer``: the fitted ``LabelBinarizer`` of class labels,
        None for a genre matrix. ``multilabel``: whether ``y`` is a genre matrix.

    Raises
    ------
    ValueError
        When ``y`` is None, has no samples, is neither 1-D nor 2-D, holds 1-D
        values that are not class labels (or labels outside ``classes``), or has
        genre columns holding values other than 0 and 1 (named, at most ten).
    """
    if y is None:
        who = estimator if isinstance(estimator, str) else (
            type(estimator).__name__ if estimator is not None else "this estimator")
        raise ValueError(f"{who} requires y to be passed, but the target y is None.")
    if isinstance(y, pd.DataFrame):
        names = list(y.columns)
    array = y.to_numpy() if isinstance(y, (pd.DataFrame, pd.Series)) else np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1 and not _zero_one(array):
        warnings.warn("A column-vector y was passed when a 1d array was expected; it is read "
                      "as class labels.", DataConversionWarning, stacklevel=stacklevel + 1)
        array = array.ravel()
        y = array
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] == 0):
        raise ValueError("y must be class labels (1-D) or a (n_samples, n_genres) 0/1 genre "
                         f"matrix, got shape {array.shape}.")
    if len(array) == 0:
        # Every genre would silently fall back to a prior of no data.
        raise ValueError(f"y has 0 samples (shape {array.shape}); at least 1 is required.")
    if array.ndim == 1:
        target_type = type_of_target(array, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {target_type}. A 1-D y must hold class "
                             "labels; genres go in a 0/1 matrix.")
        if classes is not None:
            unknown = np.setdiff1d(array, classes)
            if unknown.size:
                raise ValueError(f"y holds labels not in classes: {unknown[:10].tolist()}.")
        binarizer = LabelBinarizer().fit(array if classes is None else classes)
        return Bunch(y=y, Y=binarizer.transform(array), classes=binarizer.classes_,
                     binarizer=binarizer, multilabel=False)
    columns = list(names) if names is not None else list(range(array.shape[1]))
    bad = [name for name, column in zip(columns, array.T) if not _zero_one(column)]
    if bad:
        raise ValueError(f"genre columns {bad[:10]} hold values other than 0 and 1; a 2-D y "
                         "must be a 0/1 genre matrix.")
    genres = np.asarray(names, dtype=object) if names is not None else np.arange(array.shape[1])
    return Bunch(y=y, Y=array.astype(int), classes=genres, binarizer=None, multilabel=True)


def _zero_one(values):
    """Whether every value is 0 or 1 (NaN, None and strings are not)."""
    return not pd.isna(values).any() and bool(np.isin(values, (0, 1)).all())

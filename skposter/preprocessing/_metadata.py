"""make_metadata_preprocessor: movie metadata columns to features, from scikit-learn parts."""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from ..datasets._imdb import COMMON_CATEGORICAL as CATEGORICAL
from ..datasets._imdb import COMMON_NUMERIC as NUMERIC


def make_metadata_preprocessor(
    numeric=NUMERIC,
    categorical=CATEGORICAL,
    keywords="plot_keywords",
    *,
    log=("budget",),
):
    """Build a ``ColumnTransformer`` turning metadata columns into features.

    The defaults name the columns of the real poster collection (and of
    ``make_posters(metadata=True)``); other columns, such as ``Id`` or a poster
    path, are dropped. Every step is a plain scikit-learn estimator, so its
    parameters can be grid-searched, e.g. ``keywords__countvectorizer__min_df``.

    * numbers: ``log`` columns through ``log1p`` (heavy tails such as budgets),
      then median imputation, a missing-value indicator for each column with
      missing values in fit, and standard scaling (indicators included); a column
      without any value in fit is dropped, with scikit-learn's warning naming it;
    * categories: one-hot, a missing value being a category of its own and
      categories unseen in fit encoded as all zeros;
    * keywords: ``|``-separated lists to binary keyword columns (lower-cased,
      trimmed; a missing list has no keyword).

    Non-numeric text, infinite values and (in ``log`` columns) negative values
    raise a ``ValueError`` naming the column: they are data errors, and imputing
    them would hide them.

    Parameters
    ----------
    numeric : sequence of str, default=("duration", "budget", "title_year", "imdb_score")
        Numeric columns.
    categorical : sequence of str, default=("content_rating", "country")
        Categorical columns.
    keywords : str, sequence of str or None, default="plot_keywords"
        Columns of ``|``-separated keywords, each with its own vocabulary.
    log : sequence of str, default=("budget",)
        Numeric columns to pass through ``log1p`` first; a subset of ``numeric``.

    Returns
    -------
    ColumnTransformer
        Unfitted, with transformers ``"numeric"``, ``"log"``, ``"categorical"`` and
        one ``"keywords"`` (or ``"keywords_<column>"`` for several keyword
        columns), each present when it has columns.

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> from skposter.preprocessing import make_metadata_preprocessor
    >>> metadata = make_posters(n_samples=100, metadata=True, random_state=0).metadata
    >>> features = make_metadata_preprocessor().fit(metadata).get_feature_names_out()
    >>> [name for name in features if "budget" in name]
    ['log__budget', 'log__missingindicator_budget']
    """
    numeric, categorical, log = list(numeric), list(categorical), list(log)
    keywords = [keywords] if isinstance(keywords, str) else list(keywords or [])
    unknown_log = sorted(set(log) - set(numeric))
    if unknown_log:
        raise ValueError(f"log columns {unknown_log} are not in numeric.")
    plain = [c for c in numeric if c not in log]
    parts = [
        ("numeric", _numeric_pipeline(log=False), plain),
        ("log", _numeric_pipeline(log=True), log),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
    ]
    for column in keywords:
        name = "keywords" if len(keywords) == 1 else f"keywords_{column}"
        # A one-element list keeps the column 2-D, so the first step can name it.
        parts.append((name, _keyword_pipeline(), [column]))
    parts = [part for part in parts if part[2]]
    if not parts:
        raise ValueError("no metadata columns given.")
    return ColumnTransformer(parts)


def _numeric_pipeline(log):
    check = FunctionTransformer(_log1p_checked if log else _as_finite_float,
                                feature_names_out="one-to-one")
    return make_pipeline(check, SimpleImputer(strategy="median", add_indicator=True),
                         StandardScaler())


def _keyword_pipeline():
    return make_pipeline(
        FunctionTransformer(_keyword_lists, feature_names_out="one-to-one"),
        CountVectorizer(tokenizer=_split_keywords, token_pattern=None, binary=True),
    )


def _as_finite_float(X):
    """``X`` as floats (NaN kept), or a ValueError naming the column that is not.

    Returns a DataFrame with the columns' names: the imputer then knows them, so its
    warning about a column without any value in fit names the column, not its index.
    """
    frame = pd.DataFrame(X)
    values = np.empty(frame.shape)
    for k, column in enumerate(frame.columns):
        converted = pd.to_numeric(frame[column], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        text = np.isnan(converted) & frame[column].notna().to_numpy()
        if text.any():
            raise ValueError(
                f"numeric column {column!r} holds non-numeric values, e.g. "
                f"{frame[column][text].iloc[0]!r}."
            )
        if np.isinf(converted).any():
            raise ValueError(f"numeric column {column!r} holds infinite values.")
        values[:, k] = converted
    return pd.DataFrame(values, columns=frame.columns, index=frame.index)


def _log1p_checked(X):
    """``log1p`` of ``X``, or a ValueError naming the columns with negative values."""
    values = _as_finite_float(X)
    negative = (values < 0).any(axis=0).to_numpy()
    if negative.any():
        names = list(values.columns[negative])
        raise ValueError(f"log columns {names} hold negative values; log1p needs values >= 0.")
    return np.log1p(values)


def _keyword_lists(X):
    """The single keyword column as a 1-D array of strings, missing lists empty."""
    frame = pd.DataFrame(X)
    return frame.iloc[:, 0].fillna("").astype(str).to_numpy()


def _split_keywords(text):
    """Tokenizer for ``|``-separated keywords (a named function, so models pickle)."""
    return [word.strip() for word in text.split("|") if word.strip()]

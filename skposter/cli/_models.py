"""Model kinds for ``skposter train --model NAME``: each name builds an unfitted pipeline.

Every builder takes the keyword arguments ``metadata_columns`` (names of the metadata
columns to use, empty for posters only), ``n_jobs``, ``random_state`` and ``verbose``,
and returns an unfitted estimator that:

* reads ``X``, a DataFrame with a ``poster`` column of image paths followed by the
  metadata columns;
* fits on a DataFrame of 0/1 genre columns, so ``classes_`` holds the genre names;
* has ``predict_proba`` returning one ``(n_samples, n_genres)`` array.

To add a kind, write one builder and decorate it with ``@register(name, help)``.
"""

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..io import PosterLoader
from ..multilabel import PerGenreClassifier
from ..preprocessing import RGBStatsExtractor

#: Model name -> (builder, one-line description), in the order ``--help`` lists them.
MODELS = {}

#: Column of the model input holding poster paths.
POSTER_COLUMN = "poster"


def register(name, help):
    """Add the decorated builder to :data:`MODELS` under ``name``."""

    def add(builder):
        MODELS[name] = (builder, help)
        return builder

    return add


def build_model(name, **options):
    """Return the unfitted model ``name`` built with ``options``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}.")
    return MODELS[name][0](**options)


def posters_and_metadata(poster_features, metadata_columns):
    """Combine a poster feature pipeline with encoded metadata columns, if any.

    Parameters
    ----------
    poster_features : estimator
        Reads the ``poster`` column (a :class:`~skposter.io.PosterLoader` first)
        and returns a 2-D feature array.
    metadata_columns : sequence of str
        Metadata columns; when empty, ``poster_features`` is returned as it is.

    Returns
    -------
    estimator
    """
    if not metadata_columns:
        return poster_features
    return ColumnTransformer(
        [("poster", poster_features, [POSTER_COLUMN]),
         ("metadata", _metadata_features(), list(metadata_columns))],
        sparse_threshold=0,
    )


def _metadata_features():
    # Numbers: median plus a missing flag, since a missing budget says something.
    # Categories: one column per value seen at least 10 times; free text such as plot
    # keywords or titles falls into the "infrequent" column and is not used yet.
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                            StandardScaler())
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10,
                      sparse_output=False),
    )
    return ColumnTransformer(
        [("numbers", numbers, make_column_selector(dtype_include="number")),
         ("categories", categories, make_column_selector(dtype_exclude="number"))],
        sparse_threshold=0,
    )


@register("colour", "colour statistics + one logistic regression per genre (fast)")
def colour(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """PosterLoader -> RGBStatsExtractor -> StandardScaler -> PerGenreClassifier."""
    posters = make_pipeline(
        PosterLoader(column=POSTER_COLUMN, n_jobs=n_jobs, verbose=verbose),
        RGBStatsExtractor(),
    )
    return make_pipeline(
        posters_and_metadata(posters, metadata_columns),
        StandardScaler(),
        PerGenreClassifier(LogisticRegression(max_iter=1000, random_state=random_state)),
    )

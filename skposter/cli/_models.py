"""Model kinds for ``skposter train --model NAME``: each name builds an unfitted pipeline.

Every builder takes the keyword arguments ``metadata_columns`` (names of the metadata
columns to use, empty for posters only), ``n_jobs``, ``random_state`` and ``verbose``,
and returns an unfitted estimator that:

* reads ``X``, a DataFrame with a ``poster`` column of image paths followed by the
  metadata columns;
* fits on a DataFrame of 0/1 genre columns, so ``classes_`` holds the genre names;
* has ``predict_proba`` returning one ``(n_samples, n_genres)`` array.

To add a kind, write one builder and decorate it with ``@register(name, help)``.
:data:`DEFAULT_MODEL` names the kind ``skposter train`` and ``skposter demo --data`` use
when ``--model`` is not given.
"""

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler

from .._utils._cache import user_cache_dir
from ..datasets import IMDB_CATEGORICAL, IMDB_KEYWORDS, IMDB_LOG, IMDB_NUMERIC
from ..ensemble import GenreStackingClassifier
from ..features import CNNFeatureExtractor
from ..io import PosterLoader
from ..multilabel import GenreThresholdClassifier, PerGenreClassifier
from ..preprocessing import RGBStatsExtractor, make_metadata_preprocessor

#: Model name -> (builder, one-line description), in the order ``--help`` lists them.
MODELS = {}

#: Model kind of ``skposter train`` and ``skposter demo --data`` without ``--model``: the
#: best posters-only model measured (benchmarks/poster_heads.py).
DEFAULT_MODEL = "posters-plus"

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
        Reads the ``poster`` column (a one-column DataFrame) and returns a 2-D
        feature array.
    metadata_columns : sequence of str
        Metadata columns; when empty, the poster features alone.

    Returns
    -------
    ColumnTransformer
    """
    parts = [("poster", poster_features, [POSTER_COLUMN])]
    if metadata_columns:
        parts.append(("metadata", metadata_features(metadata_columns), list(metadata_columns)))
    return ColumnTransformer(parts, sparse_threshold=0)


def metadata_features(metadata_columns):
    """:func:`~skposter.preprocessing.make_metadata_preprocessor` on the known columns present.

    Columns of the IMDb table that are not listed here (names of people, titles) are
    not used.
    """
    present = set(metadata_columns)
    return make_metadata_preprocessor(
        numeric=[c for c in IMDB_NUMERIC if c in present],
        categorical=[c for c in IMDB_CATEGORICAL if c in present],
        keywords=[c for c in IMDB_KEYWORDS if c in present] or None,
        log=[c for c in IMDB_LOG if c in present],
    )


def with_thresholds(model, random_state, verbose=0):
    """Per-genre thresholds tuned jointly for micro-F1 on 3 inner folds; no empty poster.

    Balanced per-genre models put many genres above 0.5; tuned thresholds make the
    predicted genre sets usable, and every poster gets at least its closest genre.
    """
    return GenreThresholdClassifier(model, scoring="micro_f1", cv=3, at_least_one=True,
                                    random_state=random_state, verbose=verbose)


def _logistic(random_state, C=1.0, verbose=0):
    return PerGenreClassifier(LogisticRegression(C=C, max_iter=2000, random_state=random_state),
                              verbose=verbose)


def _lite0_features(verbose):
    # Features are cached by poster content, so train then evaluate extracts each once.
    return CNNFeatureExtractor("efficientnet_lite0", cache=user_cache_dir(), verbose=verbose)


@register("colour", "colour statistics + one logistic regression per genre (fast)")
def colour(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """Colour statistics (+ metadata) -> scaler -> per-genre logistic regression."""
    posters = make_pipeline(PosterLoader(column=POSTER_COLUMN, n_jobs=n_jobs, verbose=verbose),
                            RGBStatsExtractor())
    return with_thresholds(make_pipeline(
        posters_and_metadata(posters, metadata_columns), StandardScaler(),
        _logistic(random_state, verbose=verbose),
    ), random_state, verbose)


@register("cnn-features", "EfficientNet-Lite0 ImageNet features + one logistic regression "
                          "per genre (features cached in the user cache folder)")
def cnn_features(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """Lite0 features (+ metadata) -> scaler -> per-genre logistic regression."""
    return with_thresholds(make_pipeline(
        posters_and_metadata(_lite0_features(verbose), metadata_columns), StandardScaler(),
        _logistic(random_state, C=0.003, verbose=verbose),
    ), random_state, verbose)


#: Backbones and input sizes (about the posters' 2:3 shape, not squashed to a square) of
#: the posters-plus kind: the best poster-only combination of
#: benchmarks/poster_features.py (flip averaging doubled the extraction for nothing).
PLUS_BACKBONES = {"efficientnet_lite0": (320, 224), "efficientnet_lite1": (352, 240),
                  "efficientnet_lite2": (384, 260)}
#: Stages whose last block is pooled beside the last map.
PLUS_DEPTHS = (3, 4, 5, 6)
#: C chosen on an inner split of the training part for these 5,152 features.
PLUS_C = 0.0001


def _plus_features(verbose):
    return make_union(*[
        CNNFeatureExtractor(backbone, input_size=size, layers=list(PLUS_DEPTHS),
                            cache=user_cache_dir(), verbose=verbose)
        for backbone, size in PLUS_BACKBONES.items()
    ])


@register("posters-plus", "EfficientNet-Lite0, Lite1 and Lite2 features of posters kept "
                          "at 2:3, each with its mid-level depths, + one logistic regression "
                          "per genre (the best posters-only model; about 4-5x the extraction "
                          "time of cnn-features, cached)")
def posters_plus(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """Lite0/1/2 features at 2:3 with stages 3-6 pooled (+ metadata) -> scaler -> LR.

    On the 5,807 shared posters: macro AP 0.30 on the id split (cnn-features: 0.25),
    for about 200 s of extraction on two shared cores with OpenVINO (about twice that
    on TensorFlow).
    """
    return with_thresholds(make_pipeline(
        posters_and_metadata(_plus_features(verbose), metadata_columns), StandardScaler(),
        _logistic(random_state, C=PLUS_C, verbose=verbose),
    ), random_state, verbose)


@register("stack", "stacking of a Lite0 poster model with metadata RandomForest and "
                   "plot-keyword models (needs --metadata)")
def stack(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """GenreStackingClassifier over poster, metadata-number and keyword pipelines."""
    if not metadata_columns:
        raise ValueError("the stack model combines posters with metadata: add --metadata.")
    poster = make_pipeline(posters_and_metadata(_lite0_features(verbose), ()), StandardScaler(),
                           _logistic(random_state, C=0.003, verbose=verbose))
    numbers = [c for c in metadata_columns if c not in IMDB_KEYWORDS]
    forest = make_pipeline(metadata_features(numbers), PerGenreClassifier(
        RandomForestClassifier(n_estimators=300, min_samples_leaf=3, n_jobs=n_jobs,
                               random_state=random_state), verbose=verbose))
    bases = [("poster", poster), ("metadata", forest)]
    keywords = [c for c in metadata_columns if c in IMDB_KEYWORDS]
    if keywords:
        bases.append(("keywords", make_pipeline(metadata_features(keywords),
                                                _logistic(random_state, C=0.1,
                                                          verbose=verbose))))
    # The stack tunes its own thresholds on its meta-models' out-of-fold probabilities.
    return GenreStackingClassifier(bases, scoring="micro_f1", at_least_one=True, cv=5,
                                   random_state=random_state, verbose=verbose)


@register("keras", "EfficientNet-Lite0 frozen + a trained head (KerasPosterClassifier "
                   "'transfer'), posters only")
def keras(*, metadata_columns=(), n_jobs=None, random_state=None, verbose=0):
    """Poster paths -> KerasPosterClassifier("transfer") with balanced per-genre weights."""
    if metadata_columns:
        raise ValueError("the keras model reads posters only: drop --metadata.")
    from ..models import KerasPosterClassifier  # TensorFlow loads only when it is used

    network = KerasPosterClassifier("transfer", class_weight="balanced", epochs=10,
                                    random_state=random_state, verbose=verbose)
    # The column selection keeps metadata-free frames and path lists alike.
    columns = ColumnTransformer([("poster", "passthrough", [POSTER_COLUMN])])
    return with_thresholds(make_pipeline(columns, network), random_state, verbose)

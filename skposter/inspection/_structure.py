"""Reading a fitted model's structure: how it reads a poster, and what it ends in.

Heat maps need to know the exact path from a poster to a genre score. This module
peels threshold wrappers and pipelines down to a flat list of steps and recognises the
two shapes whose maps are exact or well defined; anything else is refused with a
message naming what is supported, never mapped approximately.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._utils._images import check_size
from ..io import PosterLoader
from ..multilabel import GenreThresholdClassifier, PerGenreClassifier
from ..preprocessing import Resizer

SUPPORTED = (
    "heat maps need a fitted model of one of these forms (optionally wrapped in "
    "GenreThresholdClassifier): a Pipeline of [PosterLoader] [Resizer] "
    "CNNFeatureExtractor(pooling='avg') (alone or as the poster part of a "
    "ColumnTransformer) -> any StandardScalers -> PerGenreClassifier of linear models "
    "(coef_) or one linear classifier with coef_ and predict_proba (exact class "
    "activation maps); or a KerasPosterClassifier, alone or after such loading steps "
    "(Grad-CAM)"
)


@dataclass
class PosterChain:
    """How a model turns its poster input into the image its network sees.

    Attributes
    ----------
    column : str or None
        DataFrame column the model reads posters from (through a ColumnTransformer).
    loader : PosterLoader or None
        Decodes files (and turns ids into paths when it has a ``root``).
    resizers : list of Resizer
        Resizes applied before the network's own.
    """

    column: object = None
    loader: PosterLoader = None
    resizers: list = field(default_factory=list)

    def resizes(self):
        """``(size, mode)`` of every Resizer, in order."""
        return [(check_size(r.size), r.mode) for r in self.resizers]


@dataclass
class LinearModel:
    """CNN features -> affine scaling -> one linear score per genre.

    Attributes
    ----------
    chain : PosterChain
    extractor : CNNFeatureExtractor
    poster_slice : slice
        Where the extractor's features sit among all the features.
    others : list of (transformer, columns, slice)
        The other parts of a ColumnTransformer (metadata), to compute the offset.
    scale, shift : ndarray of shape (n_features,)
        The scalers as one affine map ``x -> scale * x + shift``.
    coef : ndarray of shape (n_genres, n_features)
    intercept : ndarray of shape (n_genres,)
    final : estimator
        Last step, whose ``predict_proba`` gives the probabilities.
    genres : ndarray
        Genre of each row of ``coef``.
    proba_columns : slice
        Columns of ``final.predict_proba`` matching ``genres``.
    """

    chain: PosterChain
    extractor: object
    poster_slice: slice
    others: list
    scale: np.ndarray
    shift: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    final: object
    genres: np.ndarray
    proba_columns: slice


@dataclass
class KerasModel:
    """A :class:`~skposter.models.KerasPosterClassifier` and how it reads posters."""

    chain: PosterChain
    estimator: object


def read_structure(model):
    """Recognise ``model`` as a :class:`LinearModel` or a :class:`KerasModel`.

    Raises
    ------
    TypeError
        The model has another form (the message lists the supported ones).
    ValueError
        A supported form with a setting that has no exact map (``pooling="max"``).
    NotFittedError
        The model is not fitted.
    """
    from ..features import CNNFeatureExtractor
    from ..models import KerasPosterClassifier

    steps = _flatten(model)
    chain, i = PosterChain(), 0
    i = _read_loading(steps, i, chain)
    if i < len(steps) and isinstance(steps[i], ColumnTransformer):
        ct, i = steps[i], i + 1
        check_is_fitted(ct)
        poster_name, poster_part, column = _poster_transformer(ct)
        inner = [] if _is_passthrough(poster_part) else _flatten(poster_part)
        chain.column = column
        j = _read_loading(inner, 0, chain)
        if len(inner) == j + 1 and isinstance(inner[j], CNNFeatureExtractor):
            others = [(t, cols, ct.output_indices_[name])
                      for name, t, cols in ct.transformers_ if name != poster_name]
            return _linear(chain, inner[j], ct.output_indices_[poster_name], others,
                           steps[i:], model)
        if inner[j:] or len(ct.transformers_) > 1 and _has_output(ct, poster_name):
            raise TypeError(f"{SUPPORTED}; got {_describe(model)}.")
        i = _read_loading(steps, i, chain)
    if i < len(steps) and isinstance(steps[i], KerasPosterClassifier) and i == len(steps) - 1:
        check_is_fitted(steps[i])
        return KerasModel(chain, steps[i])
    if i < len(steps) and isinstance(steps[i], CNNFeatureExtractor):
        extractor = steps[i]
        check_is_fitted(extractor)
        return _linear(chain, extractor, slice(0, extractor.n_features_out_), [],
                       steps[i + 1:], model)
    raise TypeError(f"{SUPPORTED}; got {_describe(model)}.")


def _flatten(model):
    """The steps ``model`` runs, threshold wrappers peeled and pipelines flattened."""
    if isinstance(model, GenreThresholdClassifier):
        check_is_fitted(model)
        return _flatten(model.estimator_)
    if isinstance(model, Pipeline):
        return [s for _, step in model.steps if step not in (None, "passthrough")
                for s in _flatten(step)]
    return [model]


def _read_loading(steps, i, chain):
    """Add the PosterLoader and Resizers from ``steps[i]`` on to ``chain``; next index."""
    while i < len(steps) and isinstance(steps[i], (PosterLoader, Resizer)):
        if isinstance(steps[i], PosterLoader):
            if chain.loader is not None or chain.resizers:
                raise TypeError(f"{SUPPORTED}; a PosterLoader must come first, once.")
            chain.loader = steps[i]
        else:
            chain.resizers.append(steps[i])
        i += 1
    return i


def _poster_transformer(ct):
    """The part of a ColumnTransformer that reads the poster column: name, part, column."""
    from ..features import CNNFeatureExtractor

    for name, part, columns in ct.transformers_:
        if part == "drop" or name == "remainder":
            continue
        reads_posters = _is_passthrough(part) or any(
            isinstance(s, (CNNFeatureExtractor, PosterLoader)) for s in _flatten(part))
        if reads_posters and len(np.atleast_1d(columns)) == 1:
            return name, part, np.atleast_1d(columns)[0]
    raise TypeError(f"{SUPPORTED}; this ColumnTransformer has no poster column part.")


def _is_passthrough(part):
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    return isinstance(part, str) and part == "passthrough" or (
        isinstance(part, FunctionTransformer) and part.func is None)


def _has_output(ct, name):
    indices = ct.output_indices_
    return any(s.stop > s.start for key, s in indices.items() if key != name)


def _linear(chain, extractor, poster_slice, others, tail, model):
    check_is_fitted(extractor, "n_features_out_")
    if extractor.pooling != "avg":
        raise ValueError(
            f"the CNNFeatureExtractor pools with {extractor.pooling!r}; only "
            "pooling='avg' makes the features a linear function of the feature map, "
            "so only it has an exact class activation map."
        )
    if not tail:
        raise TypeError(f"{SUPPORTED}; got {_describe(model)} (no classifier after the "
                        "features).")
    *scalers, final = tail
    n_features = max([poster_slice.stop] + [s.stop for _, _, s in others])
    scale, shift = np.ones(n_features), np.zeros(n_features)
    for scaler in scalers:
        if not isinstance(scaler, StandardScaler):
            raise TypeError(f"{SUPPORTED}; {type(scaler).__name__} between the features "
                            "and the classifier is not supported.")
        mean = 0.0 if scaler.mean_ is None else scaler.mean_
        std = 1.0 if scaler.scale_ is None else scaler.scale_
        scale, shift = scale / std, (shift - mean) / std
    coef, intercept, genres, columns = _linear_scores(final, model)
    if coef.shape[1] != n_features:
        raise TypeError(f"{SUPPORTED}; the classifier has {coef.shape[1]} coefficients for "
                        f"{n_features} features.")
    return LinearModel(chain, extractor, poster_slice, others, scale, shift, coef, intercept,
                       final, genres, columns)


def _linear_scores(final, model):
    """Coefficients, intercepts, genres and probability columns of the last step."""
    check_is_fitted(final)
    if not hasattr(final, "predict_proba"):
        raise TypeError(f"{SUPPORTED}; {type(final).__name__} has no predict_proba.")
    if isinstance(final, PerGenreClassifier):
        linear = [est for est in final.estimators_ if hasattr(est, "coef_")]
        if not linear:
            kinds = sorted({type(est).__name__ for est in final.estimators_})
            raise TypeError(f"{SUPPORTED}; the PerGenreClassifier holds {kinds}, no linear "
                            "model (coef_).")
        n_features = np.size(linear[0].coef_)
        rows = [_binary_row(est, n_features) for est in final.estimators_]
        genres = np.asarray(final.classes_)[len(final.classes_) - len(rows):]
        coef = np.vstack([r[0] for r in rows])
        return coef, np.array([r[1] for r in rows]), genres, slice(len(final.classes_)
                                                                    - len(rows), None)
    if hasattr(final, "coef_") and hasattr(final, "intercept_"):
        coef = np.atleast_2d(np.asarray(final.coef_, float))
        classes = np.asarray(final.classes_)
        start = len(classes) - coef.shape[0]
        return coef, np.ravel(final.intercept_).astype(float), classes[start:], slice(start,
                                                                                    None)
    raise TypeError(f"{SUPPORTED}; got {_describe(model)} ending in {type(final).__name__}.")


def _binary_row(estimator, n_features):
    """Coefficients and intercept of one genre's binary model.

    A genre that fell back to its prior (a ``DummyClassifier``) scores every poster
    alike: zero coefficients, its prior's logit as intercept, so its map is flat.
    """
    if hasattr(estimator, "coef_") and np.shape(estimator.coef_)[0] == 1:
        return np.ravel(estimator.coef_).astype(float), float(np.ravel(estimator.intercept_)[0])
    if type(estimator).__name__ == "DummyClassifier":
        from ..multilabel._tuning import positive_proba

        p = float(np.clip(positive_proba(estimator, np.zeros((1, n_features)))[0],
                          1e-12, 1 - 1e-12))
        return np.zeros(n_features), float(np.log(p / (1 - p)))
    raise TypeError(f"{SUPPORTED}; PerGenreClassifier holds {type(estimator).__name__}, "
                    "which has no one-row coef_.")


def _describe(model):
    if isinstance(model, (Pipeline, GenreThresholdClassifier)):
        return " -> ".join(type(s).__name__ for s in _flatten(model))
    return type(model).__name__

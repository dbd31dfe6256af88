"""genre_heatmaps: where on a poster a model sees each genre."""

import numbers
from dataclasses import dataclass

import numpy as np

from ._geometry import normalise, to_poster
from ._poster import read_poster
from ._structure import KerasModel, read_structure


@dataclass(frozen=True, eq=False)
class GenreHeatmap:
    """Where on a poster a model found one genre.

    Attributes
    ----------
    genre : str
        The genre.
    probability : float
        The model's probability of the genre for this poster.
    heatmap : ndarray of shape (H, W), dtype float32
        Positive evidence for the genre at each pixel of the poster, in [0, 1]: the
        raw map brought to the poster's resolution (bilinearly, through the model's
        resizes), negative values set to 0, then divided by the maximum. All zeros
        when nothing on the poster speaks for the genre; 0 on pixels a crop hid
        from the model.
    raw : ndarray of shape (h, w), dtype float32
        The map on the network's last feature grid, unnormalised: for ``"cam"``,
        each cell's share of the genre's logit (its mean is the logit minus
        ``offset``); for ``"grad-cam"``, the gradient-weighted feature map.
    method : {"cam", "grad-cam"}
        ``"cam"``: exact class activation map of a linear model on average-pooled
        CNN features; ``"grad-cam"``: Grad-CAM of a Keras network.
    offset : float or None
        For ``"cam"``, the logit minus the mean of ``raw``: the intercept once the
        scaler is folded in, plus the metadata features' share for a model that
        also reads metadata. None for ``"grad-cam"``.
    """

    genre: str
    probability: float
    heatmap: np.ndarray
    raw: np.ndarray
    method: str
    offset: float = None


def genre_heatmaps(model, poster, *, genres=None, top=3):
    """Heat maps of a poster for a few genres: which regions raise each genre's score.

    Two kinds of models are supported, each with the map that fits it:

    * CNN features and a linear model: a pipeline (optionally in a
      :class:`~skposter.multilabel.GenreThresholdClassifier`) of an optional
      :class:`~skposter.io.PosterLoader` and :class:`~skposter.preprocessing.Resizer`,
      a :class:`~skposter.features.CNNFeatureExtractor` with ``pooling="avg"`` (alone
      or as the poster part of a ``ColumnTransformer``, as the ``cnn-features`` model
      of ``skposter train`` builds it), any ``StandardScaler`` and a
      :class:`~skposter.multilabel.PerGenreClassifier` of linear models (or one
      linear classifier with ``coef_``). The class activation map is exact: the mean
      of ``raw`` plus ``offset`` is the genre's logit. With metadata columns, the map
      explains the poster's share of the logit and the metadata's share is part of
      ``offset``, a constant over the poster.
    * A :class:`~skposter.models.KerasPosterClassifier` (alone, after loading steps,
      or in a threshold wrapper): Grad-CAM on its last convolutional feature map
      (the backbone's for ``"transfer"``), with the gradient of the genre's logit.

    Parameters
    ----------
    model : estimator
        A fitted model, as ``skposter train`` saves it or as built by hand.
    poster : str, path-like, ndarray of shape (H, W, 3) or one-row DataFrame
        The poster: a file, a uint8 image, or a row as given to the model's
        ``predict`` (needed when the model also reads metadata; a poster column of
        ids is resolved by the model's PosterLoader).
    genres : str or sequence of str, default=None
        Genres to map, in this order; None maps the ``top`` most probable.
    top : int, default=3
        How many genres to map when ``genres`` is None (all if more than there are).

    Returns
    -------
    list of GenreHeatmap
        In the order of ``genres``, else by decreasing probability.

    Raises
    ------
    TypeError
        The model has no structure a heat map can be read from (colour statistics,
        a random forest, a stacking ensemble...); the message lists what works.
    ValueError
        The model pools its features with ``"max"`` (not linear, so no exact map), a
        genre is unknown, or a metadata model got no DataFrame row.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skposter.datasets import make_posters
    >>> from skposter.features import CNNFeatureExtractor
    >>> from skposter.inspection import genre_heatmaps
    >>> from skposter.multilabel import PerGenreClassifier
    >>> data = make_posters(30, n_genres=2, size=(48, 32), random_state=0)
    >>> model = make_pipeline(
    ...     CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32),
    ...     StandardScaler(), PerGenreClassifier()).fit(data.images, data.target)
    >>> maps = genre_heatmaps(model, data.images[0], top=1)
    >>> maps[0].heatmap.shape, maps[0].raw.shape, maps[0].method
    ((48, 32), (1, 1), 'cam')
    """
    structure = read_structure(model)
    if isinstance(structure, KerasModel):
        from ._gradcam import gradcam_maps

        return gradcam_maps(structure, poster, genres=genres, top=top)
    from ._cam import linear_scores

    image, source, row = read_poster(poster, structure.chain,
                                     needs_row=_reads_more_than_posters(structure))
    maps, offsets, proba = linear_scores(structure, source, image, row)
    extractor = structure.extractor
    resizes = [*structure.chain.resizes(), (extractor.input_size_, extractor.resize_mode)]
    result = []
    for k in select_genres(structure.genres, proba, genres, top):
        raw = maps[:, :, k].astype(np.float32)
        result.append(GenreHeatmap(
            genre=str(structure.genres[k]), probability=float(proba[k]),
            heatmap=normalise(to_poster(raw, image.shape[:2], resizes)), raw=raw,
            method="cam", offset=float(offsets[k]),
        ))
    return result


def _reads_more_than_posters(structure):
    return any(where.stop > where.start for _, _, where in structure.others)


def select_genres(names, proba, genres, top):
    """Indices of the genres to map: those asked for, in order, or the ``top`` likeliest."""
    names = [str(name) for name in names]
    if genres is None:
        if not isinstance(top, numbers.Integral) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive int, got {top!r}.")
        # Stable sort: ties keep the model's genre order.
        return list(np.argsort(-np.asarray(proba), kind="stable")[:top])
    asked = [genres] if isinstance(genres, str) else list(genres)
    unknown = [g for g in asked if str(g) not in names]
    if unknown:
        raise ValueError(f"unknown genres {unknown}; the model knows {names}.")
    return [names.index(str(g)) for g in asked]

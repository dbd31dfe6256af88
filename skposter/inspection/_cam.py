"""Exact class activation maps of CNN features followed by linear genre scores.

With average pooling, feature ``k`` is the mean over the grid of the last feature map
``A_k``, and everything up to the genre's logit is affine: through the scalers
``z = scale * x + shift`` (for a StandardScaler ``scale = 1 / s``,
``shift = -mu / s``), then ``logit = w . z + b``. The map scores each cell as if the
poster were that cell alone, ``CAM(i, j) = sum_k w_k (scale_k A_k(i, j) + shift_k)``,
so its mean is exactly the logit minus ``b`` (minus the metadata features' share, for
a model that also reads metadata). Positive cells look more like the genre than the
average training poster does; the uncentred ``sum_k w_k scale_k A_k`` would add the
same large constant to every cell and hide that.
"""

import functools

import numpy as np

from ._poster import network_pixels


def linear_scores(structure, source, image, row):
    """Feature maps and every genre's scores for one poster.

    Returns
    -------
    maps : ndarray of shape (h, w, n_genres), dtype float64
        ``CAM`` of each genre.
    offsets : ndarray of shape (n_genres,)
        Logit minus the map's mean.
    proba : ndarray of shape (n_genres,)
        The model's probabilities.
    """
    extractor = structure.extractor
    pixels = network_pixels(source, image, structure.chain, extractor.input_size_,
                            mode=extractor.resize_mode, draft=extractor.draft,
                            max_pixels=extractor.max_pixels)
    feature_map = _feature_map(extractor, pixels)
    x = np.zeros(len(structure.scale))
    x[structure.poster_slice] = feature_map.mean(axis=(0, 1))
    for transformer, columns, where in structure.others:
        if where.stop > where.start:
            x[where] = _part_features(transformer, columns, row)
    z = structure.scale * x + structure.shift
    logits = structure.coef @ z + structure.intercept
    poster = structure.poster_slice
    # Each cell scored as if the poster were that cell alone: scaled, then weighed.
    maps = (feature_map @ (structure.coef * structure.scale)[:, poster].T
            + structure.coef[:, poster] @ structure.shift[poster])
    offsets = logits - maps.mean(axis=(0, 1))
    proba = structure.final.predict_proba(z[None, :])[0, structure.proba_columns]
    return maps, offsets, np.asarray(proba, float)


def _feature_map(extractor, pixels):
    """The backbone's last feature map for one network-sized poster, (h, w, channels).

    The extractor's own Keras network when it built one (the same weights, random
    ones included), cut before its global average pooling; else (a stored OpenVINO
    conversion needs none) the backbone built anew from the same fixed weights.
    """
    import tensorflow as tf

    from .._keras._backbones import get_backbone
    from ..features._extractor import _weights_id

    model = getattr(extractor._runtime(), "model", None)
    if model is not None:
        network = _before_pooling(model)
    else:
        network = _unpooled(extractor.backbone, _weights_id(extractor.weights),
                            tuple(extractor.input_size_))
    preprocess = get_backbone(extractor.backbone).preprocess_input
    batch = preprocess(tf.cast(pixels[None], tf.float32))
    return np.asarray(network(batch, training=False)[0], dtype=np.float64)


@functools.lru_cache(maxsize=4)
def _before_pooling(model):
    import keras

    pooling = model.layers[-1]
    if not isinstance(pooling, keras.layers.GlobalAveragePooling2D):
        raise ValueError(f"the feature network ends in {type(pooling).__name__}, not a "
                         "global average pooling: no exact class activation map.")
    return keras.Model(model.inputs, pooling.input)


@functools.lru_cache(maxsize=2)
def _unpooled(name, weights_id, size):
    from .._keras._backbones import get_backbone

    identity, path = weights_id
    return get_backbone(name).build((*size, 3), weights=path if path is not None else identity,
                                    pooling=None)


def _part_features(transformer, columns, row):
    """Features of one non-poster part of a ColumnTransformer for the row."""
    values = row[columns]
    if isinstance(transformer, str) and transformer == "passthrough":
        return np.asarray(values, dtype=float).ravel()
    out = transformer.transform(values)
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.asarray(out, dtype=float).ravel()

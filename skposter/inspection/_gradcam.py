"""Grad-CAM of a :class:`~skposter.models.KerasPosterClassifier`'s network.

The network is cut after its last 4-D feature map (inside the backbone, for
``"transfer"``: before its global pooling): the part before gives the map ``A``, the
part after turns it into genre scores. Grad-CAM weighs each channel by the mean
gradient of the genre's logit (the output layer's input to its sigmoid or softmax,
not the saturating probability) and sums: ``sum_k mean_ij(d logit / d A_k) A_k``.
The cut is checked on the poster itself: the two parts must give the network's own
probabilities, or the network is refused.
"""

import functools

import numpy as np

from ._geometry import normalise, to_poster
from ._poster import network_pixels, read_poster
from ._structure import SUPPORTED


def gradcam_maps(structure, poster, *, genres, top):
    """Grad-CAM heat maps of the genres asked for (see :func:`~skposter.inspection.genre_heatmaps`)."""
    import tensorflow as tf

    from ._heatmaps import GenreHeatmap, select_genres

    estimator = structure.estimator
    image, source, _ = read_poster(poster, structure.chain, needs_row=False)
    pixels = network_pixels(source, image, structure.chain, estimator.input_size_,
                            mode=estimator.resize_mode)
    features, head = _split(estimator.model_)
    batch = tf.convert_to_tensor(pixels[None])
    with tf.GradientTape(persistent=True) as tape:
        feature_map = tf.cast(features(batch), tf.float32)
        tape.watch(feature_map)
        logits, proba = head(feature_map)
    expected = np.asarray(estimator.model_(batch, training=False), dtype=np.float32)[0]
    proba = proba.numpy()[0]
    if not np.allclose(proba, expected, atol=1e-4):
        raise TypeError(f"{SUPPORTED}; this network cannot be cut at its last feature map "
                        "(its layers after it are not a simple chain).")
    resizes = [*structure.chain.resizes(), (estimator.input_size_, estimator.resize_mode)]
    result = []
    for k in select_genres(estimator.classes_, proba, genres, top):
        # The gradient of logits . e_k: the genre's logit alone.
        pick = tf.one_hot([k], depth=logits.shape[-1], dtype=logits.dtype)
        gradient = tape.gradient(logits, feature_map, output_gradients=pick)[0]
        weights = tf.reduce_mean(gradient, axis=(0, 1))
        raw = np.asarray(tf.tensordot(feature_map[0], weights, axes=1), dtype=np.float32)
        result.append(GenreHeatmap(
            genre=str(estimator.classes_[k]), probability=float(proba[k]),
            heatmap=normalise(to_poster(raw, image.shape[:2], resizes)), raw=raw,
            method="grad-cam",
        ))
    del tape
    return result


@functools.lru_cache(maxsize=4)
def _split(model):
    """``features(batch) -> A`` and ``head(A) -> (logits, probabilities)`` of ``model``."""
    import keras

    layers = _body(model)
    for i in reversed(range(len(layers))):
        layer = layers[i]
        if isinstance(layer, keras.Model):
            inner = _body(layer)
            last = _last_map(inner)
            if last is not None:
                cut = keras.Model(layer.inputs, inner[last].output)
                return _chain([*layers[:i], cut]), _scores([*inner[last + 1:], *layers[i + 1:]])
        elif len(layer.output.shape) == 4:
            return _chain(layers[:i + 1]), _scores(layers[i + 1:])
    raise TypeError(f"{SUPPORTED}; the network has no 4-D feature map to take Grad-CAM on.")


def _body(model):
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _last_map(layers):
    """Index of the last layer with a 4-D output, or None."""
    for i in reversed(range(len(layers))):
        if len(layers[i].output.shape) == 4:
            return i
    return None


def _chain(layers):
    def run(x):
        for layer in layers:
            x = layer(x, training=False)
        return x

    return run


def _scores(layers):
    """The layers after the cut, the output layer split into its logits and activation."""
    import keras
    from keras import ops

    output = layers[-1] if layers else None
    activation = getattr(output, "activation", None)
    if not isinstance(output, keras.layers.Dense) or activation not in (
            keras.activations.sigmoid, keras.activations.softmax):
        raise TypeError(f"{SUPPORTED}; Grad-CAM needs the network to end in a Dense layer "
                        "with a sigmoid or softmax activation.")
    before = _chain(layers[:-1])

    def run(feature_map):
        x = ops.cast(before(feature_map), "float32")
        logits = ops.matmul(x, ops.cast(output.kernel, "float32"))
        if output.use_bias:
            logits = logits + ops.cast(output.bias, "float32")
        return logits, activation(logits)

    return run

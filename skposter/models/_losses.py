"""Multi-label losses: genre-weighted binary cross-entropy, soft-F1 and focal loss.

All take probabilities (after a sigmoid or softmax), are written with ``keras.ops`` so
they run on any Keras backend, and are registered serializable under ``skposter``.
"""

import copy

import keras
import numpy as np
from keras import ops

__all__ = ["FocalLoss", "GenreBinaryCrossentropy", "SoftF1Loss", "balanced_genre_weights"]

# Probabilities are clipped this far from 0 and 1 so that logarithms stay finite.
_EPSILON = 1e-7


def balanced_genre_weights(Y, sample_weight=None):
    """Per-genre weights of positives and negatives, "balanced" within each genre.

    Each genre is its own binary problem: its positives get ``n / (2 n_pos)`` and its
    negatives ``n / (2 n_neg)``, scikit-learn's ``class_weight="balanced"`` applied
    column by column (one weight for the whole matrix would favour Drama everywhere).
    A genre without positives (or negatives) gives that side weight 0.

    Parameters
    ----------
    Y : array-like of shape (n_samples, n_genres)
        0/1 genre matrix.
    sample_weight : array-like of shape (n_samples,), default=None
        Rows counted by weight, so a weight of 2 counts like a repeated row.

    Returns
    -------
    positive_weights, negative_weights : ndarray of shape (n_genres,)
    """
    Y = np.asarray(Y, dtype=float)
    weights = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, float)
    positives = weights @ Y
    negatives = weights.sum() - positives
    half = weights.sum() / 2
    positive = np.divide(half, positives, out=np.zeros_like(positives), where=positives > 0)
    negative = np.divide(half, negatives, out=np.zeros_like(negatives), where=negatives > 0)
    return positive, negative


def _as_weights(values):
    return None if values is None else [float(v) for v in np.ravel(values)]


def _clipped(y_true, y_pred):
    y_pred = ops.clip(ops.cast(y_pred, "float32"), _EPSILON, 1.0 - _EPSILON)
    return ops.cast(y_true, "float32"), y_pred


class _GenreWeighted(keras.losses.Loss):
    """Base of the element-wise losses: optional per-genre positive/negative weights."""

    def __init__(self, positive_weights=None, negative_weights=None, name=None,
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if (positive_weights is None) != (negative_weights is None):
            raise ValueError("give both positive_weights and negative_weights, or neither.")
        self.positive_weights = _as_weights(positive_weights)
        self.negative_weights = _as_weights(negative_weights)

    def call(self, y_true, y_pred):
        y_true, y_pred = _clipped(y_true, y_pred)
        positive, negative = self._elementwise(y_true, y_pred)
        if self.positive_weights is not None:
            positive = positive * ops.convert_to_tensor(self.positive_weights, "float32")
            negative = negative * ops.convert_to_tensor(self.negative_weights, "float32")
        # Mean over genres: one loss per poster, so sample weights apply per poster.
        return ops.mean(positive + negative, axis=-1)

    def _elementwise(self, y_true, y_pred):
        """Loss terms of the positive and of the negative labels, per element."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights,
                "negative_weights": self.negative_weights}


@keras.saving.register_keras_serializable(package="skposter")
class GenreBinaryCrossentropy(_GenreWeighted):
    """Binary cross-entropy per genre, optionally weighted per genre.

    Without weights it equals ``keras.losses.BinaryCrossentropy``. With the weights of
    :func:`balanced_genre_weights`, each genre's positives count as much as its
    negatives, which Keras' ``class_weight`` cannot express for multi-label targets.

    Parameters
    ----------
    positive_weights, negative_weights : array-like of shape (n_genres,), default=None
        Weight of the loss on positive and on negative labels of each genre.
    name : str, default="genre_binary_crossentropy"
    reduction, dtype
        As for ``keras.losses.Loss``.
    """

    def __init__(self, positive_weights=None, negative_weights=None,
                 name="genre_binary_crossentropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(positive_weights, negative_weights, name=name, reduction=reduction,
                         dtype=dtype)

    def _elementwise(self, y_true, y_pred):
        return -y_true * ops.log(y_pred), -(1.0 - y_true) * ops.log(1.0 - y_pred)


@keras.saving.register_keras_serializable(package="skposter")
class FocalLoss(_GenreWeighted):
    """Binary focal loss (Lin et al., 2017): cross-entropy scaled by ``(1 - p_t)**gamma``.

    Well-classified labels (the many easy negatives of rare genres) contribute little,
    so training concentrates on the hard ones.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing strength; 0 gives binary cross-entropy.
    alpha : float, default=None
        Weight of positives (``1 - alpha`` for negatives), as in the paper; None
        weighs both sides equally.
    positive_weights, negative_weights : array-like of shape (n_genres,), default=None
        Per-genre weights, as for :class:`GenreBinaryCrossentropy`.
    name : str, default="focal_loss"
    reduction, dtype
        As for ``keras.losses.Loss``.
    """

    def __init__(self, gamma=2.0, alpha=None, positive_weights=None, negative_weights=None,
                 name="focal_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(positive_weights, negative_weights, name=name, reduction=reduction,
                         dtype=dtype)
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {gamma}.")
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha}.")
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def _elementwise(self, y_true, y_pred):
        positive = -y_true * ops.power(1.0 - y_pred, self.gamma) * ops.log(y_pred)
        negative = -(1.0 - y_true) * ops.power(y_pred, self.gamma) * ops.log(1.0 - y_pred)
        if self.alpha is not None:
            positive, negative = self.alpha * positive, (1.0 - self.alpha) * negative
        return positive, negative

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="skposter")
class SoftF1Loss(keras.losses.Loss):
    """``1 -`` macro soft-F1 over the batch: F1 with probabilities as fractional counts.

    True positives, false positives and false negatives are sums of probabilities over
    the batch, so the loss is differentiable and optimises the macro-F1 a report reads
    rather than a per-label likelihood. Every genre counts equally, whatever its
    frequency, so it needs no class weights. Sample weights weigh each poster's
    fractional counts.

    The loss is a batch statistic: small batches give noisy estimates, especially for
    rare genres (use batches of 32 or more).

    Parameters
    ----------
    name : str, default="soft_f1"
    reduction, dtype
        As for ``keras.losses.Loss``; the reduction is not used (the loss is a batch
        statistic already).
    """

    def __init__(self, name="soft_f1", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Weights enter the fractional counts, not a per-poster loss (there is none).
        return ops.cast(_soft_f1_loss(y_true, y_pred, sample_weight), self.dtype)

    def call(self, y_true, y_pred):
        return _soft_f1_loss(y_true, y_pred, None)


def _soft_f1_loss(y_true, y_pred, sample_weight):
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    weight = 1.0 if sample_weight is None else ops.reshape(
        ops.cast(sample_weight, "float32"), (-1, 1))
    true_positives = ops.sum(weight * y_true * y_pred, axis=0)
    false_positives = ops.sum(weight * (1.0 - y_true) * y_pred, axis=0)
    false_negatives = ops.sum(weight * y_true * (1.0 - y_pred), axis=0)
    f1 = 2.0 * true_positives / (
        2.0 * true_positives + false_positives + false_negatives + _EPSILON)
    return 1.0 - ops.mean(f1)


def make_loss(loss, encoder, class_weight):
    """The loss a network compiles with, from the estimator's ``loss`` and ``class_weight``.

    Parameters
    ----------
    loss : {"auto", "binary_crossentropy", "categorical_crossentropy", "focal", \
"soft_f1"} or keras.losses.Loss
        ``"auto"`` is binary cross-entropy for a genre matrix, categorical
        cross-entropy for class labels; an instance is copied.
    encoder : TargetEncoder
        Fitted: whether the target is a genre matrix, and its balanced weights.
    class_weight : {"balanced"}, dict or None
        ``"balanced"`` with a genre matrix puts per-genre weights in the loss, which
        only the cross-entropy and focal losses take.

    Returns
    -------
    keras.losses.Loss
    """
    balanced = class_weight == "balanced" and encoder.multilabel_
    weights = ((encoder.positive_weights_, encoder.negative_weights_) if balanced
               else (None, None))
    if loss == "auto":
        loss = "binary_crossentropy" if encoder.multilabel_ else "categorical_crossentropy"
    if loss == "binary_crossentropy":
        return GenreBinaryCrossentropy(*weights)
    if loss == "focal":
        return FocalLoss(positive_weights=weights[0], negative_weights=weights[1])
    if balanced:
        why = " (soft-F1 weighs genres equally already)" if loss == "soft_f1" else ""
        raise ValueError(f"class_weight='balanced' puts per-genre weights in the loss, "
                         f"which loss={loss!r} does not take: use class_weight=None{why}.")
    if loss == "soft_f1":
        return SoftF1Loss()
    if loss == "categorical_crossentropy":
        if encoder.multilabel_:
            raise ValueError("categorical cross-entropy needs exclusive classes (a 1-D y); "
                             "genre matrices take 'binary_crossentropy', 'focal' or "
                             "'soft_f1'.")
        return keras.losses.CategoricalCrossentropy()
    return copy.deepcopy(loss)

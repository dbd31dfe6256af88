"""Posters and labels as ``tf.data`` pipelines for Keras, through :class:`PosterStream`.

One loader for everything: every image reaches the network through
:class:`skposter.io.PosterStream`, the loader :class:`~skposter.features.CNNFeatureExtractor`
uses, so paths are decoded and resized in parallel with training and never all held
in memory, and arrays are resized by the same rule.
"""

import math

import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, TransformerMixin

from .._utils._targets import check_genre_target
from ..io._stream import PosterStream
from ._losses import balanced_genre_weights


def sized_in_memory(posters, size, *, mode, batch_size):
    """Resize in-memory images to ``size`` once, so epochs do not resize them again.

    Parameters
    ----------
    posters : Posters
        From :func:`skposter.io._sources.poster_sources`.

    Returns
    -------
    ndarray
        Paths as they are: they are streamed (decoded) at every epoch, which keeps
        memory flat whatever their number. Images as one 4-D array of ``size``.
    """
    sources = posters.sources
    if posters.paths is not None:
        return sources
    if isinstance(sources, np.ndarray) and sources.ndim == 4 and sources.shape[1:3] == size:
        return sources
    stream = PosterStream(sources, size, batch_size=batch_size, mode=mode)
    return np.concatenate([batch.numpy() for batch in stream.dataset()])


def training_dataset(stream, indices, targets, sample_weight, *, epochs, initial_epoch, seed):
    """Batches of ``(images, targets[, weights])`` for ``epochs`` epochs, in one dataset.

    Each epoch visits ``indices`` in its own order, drawn from ``seed`` and the epoch
    number, so a run is repeatable and a warm start continues the sequence. An epoch
    is topped up to whole batches with a few of its posters seen twice (as PyTorch's
    ``DistributedSampler`` does), so no batch straddles two epochs and none is tiny.

    Parameters
    ----------
    stream : PosterStream
        Its ``batch_size`` is the batch size; at most ``len(indices)``.

    Returns
    -------
    dataset : tf.data.Dataset
    steps_per_epoch : int
    """
    steps = math.ceil(len(indices) / stream.batch_size)
    orders = []
    for epoch in range(initial_epoch, initial_epoch + epochs):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(indices)
        top_up = rng.choice(order, steps * stream.batch_size - len(order), replace=False)
        orders.append(np.concatenate([order, top_up]))
    # One dataset for all epochs: Keras then keeps a single iterator (steps_per_epoch).
    return _labelled(stream, np.concatenate(orders), targets, sample_weight), steps


def evaluation_dataset(stream, indices, targets, sample_weight):
    """Batches of ``(images, targets[, weights])`` over ``indices`` in order."""
    return _labelled(stream, np.asarray(indices), targets, sample_weight)


def _labelled(stream, order, targets, sample_weight):
    # Labels are gathered batch by batch: held once, not once per epoch.
    columns = [tf.constant(targets)]
    if sample_weight is not None:
        columns.append(tf.constant(sample_weight, dtype=tf.float32))
    rows = tf.data.Dataset.from_tensor_slices(order).batch(stream.batch_size)
    labels = rows.map(lambda batch: tuple(tf.gather(column, batch) for column in columns))
    # Same order, same batch size: each image batch meets its own labels.
    return tf.data.Dataset.zip(stream.dataset(order), labels).map(
        lambda images, label_batch: (images, *label_batch))


class TargetEncoder(TransformerMixin, BaseEstimator):
    """Genre matrix or class labels <-> the float targets and outputs of the network.

    A 2-D 0/1 matrix is multi-label (one sigmoid per genre), a 1-D array holds
    exclusive class labels (one softmax over the classes, targets one-hot).

    Parameters
    ----------
    genre_names : list, default=None
        Names of the genre columns (a DataFrame target's columns).
    classes : array-like, default=None
        All class labels of a 1-D target, when ``y`` may lack some.

    Attributes
    ----------
    multilabel_ : bool
    classes_ : ndarray
        ``genre_names``, else ``0 .. n_genres - 1``; for class labels, the sorted labels.
    positive_weights_, negative_weights_ : ndarray of shape (n_genres,) or None
        "Balanced" per-genre weights of a genre matrix (see
        :func:`~skposter.models.balanced_genre_weights`).
    """

    def __init__(self, genre_names=None, classes=None):
        self.genre_names = genre_names
        self.classes = classes

    def fit(self, y):
        target = check_genre_target(y, names=self.genre_names, classes=self.classes)
        self.multilabel_ = target.multilabel
        self.classes_ = target.classes
        if not target.multilabel:
            if len(self.classes_) < 2:
                raise ValueError(f"y holds one class only ({self.classes_}); a classifier "
                                 "needs two or more (one genre is a 0/1 column matrix).")
            self.positive_weights_ = self.negative_weights_ = None
            return self
        self.positive_weights_, self.negative_weights_ = balanced_genre_weights(target.Y)
        return self

    def transform(self, y):
        """Float32 targets: the genre matrix, or one-hot class labels."""
        y = as_target_array(y)
        if self.multilabel_:
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(f"y must have {len(self.classes_)} genre columns as in fit, "
                                 f"got shape {y.shape}.")
            return y.astype(np.float32)
        if y.ndim != 1:
            raise ValueError(f"y was 1-D class labels in fit, got shape {y.shape}.")
        index = np.searchsorted(self.classes_, y)
        index = np.minimum(index, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if unseen.any():
            raise ValueError(f"y holds labels not seen in fit: {np.unique(y[unseen])[:10]}.")
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def inverse_transform(self, y, return_proba=False):
        """Network outputs -> probabilities (``return_proba``) or predictions.

        Predictions are genres with probability at least 0.5 (a 0/1 int matrix), or
        the most probable class label.
        """
        proba = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if return_proba:
            return proba
        if self.multilabel_:
            return (proba >= 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]


def as_target_array(y):
    """A target as a numpy array: class labels (1-D) or a 0/1 genre matrix (2-D).

    Validated by the one target gate, :func:`skposter._utils._targets.check_genre_target`,
    which every genre estimator uses: the same targets are refused with the same
    messages, and a column vector of class labels is raveled with the same warning.
    """
    # The column-vector warning points where it did before the gate: the fit plumbing.
    return np.asarray(check_genre_target(y, stacklevel=4).y)

"""Posters and labels as ``tf.data`` pipelines for Keras, through :class:`PosterStream`.

One loader for everything: every image reaches the network through
:class:`skposter.io.PosterStream`, the loader :class:`~skposter.features.CNNFeatureExtractor`
uses, so paths and arrays are decoded and resized by the same rule. A fit decodes
paths once (:func:`training_sources`: into memory, or into a memmap in a folder that
later fits reuse) and trains its epochs from the uint8 posters, so on a CPU with few
cores the cores train instead of decoding; past a memory budget, or when asked, paths
are streamed and decoded again at every epoch, and memory stays flat.
"""

import contextlib
import hashlib
import json
import math
import os
import tempfile
import warnings

import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, TransformerMixin

from .._utils._cache import atomic_write, content_key, resolve_cache_dir
from .._utils._targets import check_genre_target
from ..exceptions import FeatureCacheWarning
from ..io._stream import PosterStream
from ._losses import balanced_genre_weights


#: Paths are decoded once into memory (``image_cache="auto"``) when the decoded posters
#: take at most this many bytes: 2 GiB holds 14,000 posters at 224x224, 9,700 at 320x224.
MEMORY_BUDGET = 2 * 1024**3

#: Layout version of a folder's decoded posters; part of their key.
_IMAGE_CACHE_FORMAT = 1


def training_sources(posters, size, *, mode, batch_size, image_cache):
    """What a fit's epochs read: images of ``size`` decoded once, or paths to stream.

    Parameters
    ----------
    posters : Posters
        From :func:`skposter.io._sources.poster_sources`.
    size : tuple of int
    mode : {"stretch", "crop", "pad"}
    batch_size : int
        Posters decoded per thread call.
    image_cache : {"auto", "memory"}, path-like or None
        For paths: ``"memory"`` decodes them into one array, a folder into a memmap
        kept there (see :func:`cached_decode`), None streams (decodes) them at every
        epoch, ``"auto"`` is ``"memory"`` up to :data:`MEMORY_BUDGET` bytes, else None.
        Images are resized once into memory whatever ``image_cache``.

    Returns
    -------
    sources : ndarray
        A 4-D uint8 array of ``size`` (possibly a read-only memmap), or the paths.
    failures : dict of int -> str
        Unreadable files met while decoding (blank in ``sources``), by position.
    """
    sources = posters.sources
    if posters.paths is None:
        if isinstance(sources, np.ndarray) and sources.ndim == 4 and sources.shape[1:3] == size:
            return sources, {}
        return decode_posters(sources, size, mode=mode, batch_size=batch_size)
    if image_cache == "auto":
        fits = len(sources) * size[0] * size[1] * 3 <= MEMORY_BUDGET
        image_cache = "memory" if fits else None
    if image_cache is None:
        return sources, {}
    if image_cache == "memory":
        return decode_posters(sources, size, mode=mode, batch_size=batch_size)
    return cached_decode(sources, size, image_cache, mode=mode, batch_size=batch_size)


def decode_posters(sources, size, *, mode, batch_size, out=None):
    """Decode and resize ``sources`` once, in threads, into one uint8 array.

    Parameters
    ----------
    sources : sequence of str or ndarray
    size : tuple of int
    mode : {"stretch", "crop", "pad"}
    batch_size : int
    out : ndarray of shape (len(sources), *size, 3), default=None
        Where to write (e.g. a memmap); None allocates it.

    Returns
    -------
    images : ndarray
    failures : dict of int -> str
        Unreadable files (blank in ``images``), by position.
    """
    stream = PosterStream(sources, size, mode=mode, batch_size=batch_size)
    images = np.empty((len(sources), *size, 3), np.uint8) if out is None else out
    start = 0
    for batch in stream.batches():
        images[start:start + len(batch)] = batch
        start += len(batch)
    return images, dict(stream.failures)


def cached_decode(paths, size, folder, *, mode, batch_size):
    """Decoded posters from a memmap in ``folder``, decoding and storing them if absent.

    The file, ``<folder>/decoded-posters/<key>.npy``, is keyed on the files' contents
    in order, ``size`` and ``mode``, so the same posters decode once for every later
    fit, run or process; another subset (a cross-validation fold) is another file.
    It is written under a temporary name and renamed when complete, beside a
    ``<key>.json`` listing the unreadable files, so a killed run leaves no partial
    entry. A folder that cannot be written is warned about and the posters are
    decoded into memory.

    Returns
    -------
    images : numpy.memmap or ndarray
        Read-only when read from the folder.
    failures : dict of int -> str
    """
    shape = (len(paths), *size, 3)
    key = _decoded_key(paths, size, mode)
    directory = resolve_cache_dir(folder) / "decoded-posters"
    entry, notes = directory / f"{key}.npy", directory / f"{key}.json"
    stored = _read_decoded(entry, notes, shape)
    if stored is not None:
        return stored
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npy")
        os.close(fd)
    except OSError as error:
        warnings.warn(f"decoded poster cache {directory} cannot be written ({error}); "
                      "posters are decoded into memory.", FeatureCacheWarning, stacklevel=4)
        return decode_posters(paths, size, mode=mode, batch_size=batch_size)
    try:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _, failures = decode_posters(paths, size, mode=mode, batch_size=batch_size,
                                     out=images)
        images.flush()
        del images
        atomic_write(notes, json.dumps({"failures": failures}).encode())
        with open(tmp, "rb+") as file:
            os.fsync(file.fileno())
        # The .npy is renamed last: its presence says the entry is complete.
        os.replace(tmp, entry)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return _read_decoded(entry, notes, shape)


def _decoded_key(paths, size, mode):
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps({"format": _IMAGE_CACHE_FORMAT, "size": list(size),
                              "mode": mode, "draft": True}).encode())
    for path in paths:
        digest.update(content_key(path).encode())
    return digest.hexdigest()


def _read_decoded(entry, notes, shape):
    """The stored posters and failures, or None when absent or not of ``shape``."""
    try:
        images = np.load(entry, mmap_mode="r")
        failures = json.loads(notes.read_text())["failures"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if images.shape != shape or images.dtype != np.uint8:
        return None
    return images, {int(index): reason for index, reason in failures.items()}


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
    steps = steps_per_epoch(len(indices), stream.batch_size)
    orders = []
    for epoch in range(initial_epoch, initial_epoch + epochs):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(indices)
        top_up = rng.choice(order, steps * stream.batch_size - len(order), replace=False)
        orders.append(np.concatenate([order, top_up]))
    # One dataset for all epochs: Keras then keeps a single iterator (steps_per_epoch).
    return _labelled(stream, np.concatenate(orders), targets, sample_weight), steps


def steps_per_epoch(n_rows, batch_size):
    """Batches in one training epoch of ``n_rows`` (the last one topped up)."""
    return math.ceil(n_rows / batch_size)


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

"""Streaming posters to a model: decode and resize batches in threads, ahead of the model.

Files go through the same rule as :func:`decode_poster` and arrays through the same
resizing as :class:`~skposter.preprocessing.Resizer`, so a poster gives the same pixels
whether it arrives as a path or as an array (up to JPEG draft decoding, see
:func:`prepare_poster`). Only ``batch_size`` images per prefetched batch are ever held,
so memory stays flat however many posters stream through.
"""

import collections
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._utils._images import to_rgb_array
from .._utils._resize import resize_image, resize_pil
from ._decode import DEFAULT_MAX_PIXELS, decode_opened_image, open_poster
from ._sources import BLANK_VALUE
from ._threads import describe_error


def prepare_poster(source, size, *, mode="stretch", max_pixels=DEFAULT_MAX_PIXELS, draft=True):
    """Decode (if a path) and resize one poster to ``size``.

    Parameters
    ----------
    source : str, path-like or ndarray
        A poster file or an image array.
    size : tuple of int
        ``(height, width)`` of the result.
    mode : {"stretch", "crop", "pad"}, default="stretch"
        Aspect-ratio handling, as in :class:`~skposter.preprocessing.Resizer`.
    max_pixels : int, default=40_000_000
        Decompression bomb guard for files.
    draft : bool, default=True
        Let the JPEG decoder downscale by 1/2, 1/4 or 1/8 while decoding when the
        file is at least twice ``size``: several times faster on large posters, and
        the image is resized anyway. Pixels then differ slightly from a full decode
        followed by the same resize.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
    """
    if isinstance(source, np.ndarray):
        image = to_rgb_array(source)
        return image if image.shape[:2] == tuple(size) else resize_image(image, size, mode=mode)
    with open_poster(source, max_pixels=max_pixels) as img:
        if draft and img.format == "JPEG":
            # A square of the longer side survives any EXIF rotation applied later.
            side = max(size)
            img.draft(img.mode, (side, side))
        # Resized from Pillow's buffer: a poster's array is made once, at its final size.
        image = decode_opened_image(img)
        if image.size == tuple(size)[::-1]:
            return np.asarray(image)
        return resize_pil(image, size, mode=mode)


class PosterStream:
    """Posters as uint8 batches, decoded by threads ahead of the consumer.

    Each batch is decoded by one call in a thread pool (Pillow releases the GIL while
    decoding and resizing), a few batches ahead of the one being consumed, so decoding
    overlaps the model's forward pass while at most ``prefetch`` decoded batches are
    ever held. Unreadable files never stop the stream: they become blank images and
    are listed in :attr:`failures` once iteration has passed them, so the caller
    decides whether to raise (after keeping what was computed) or to warn.

    Parameters
    ----------
    sources : sequence of str or ndarray
        Paths or image arrays, one per poster.
    size : tuple of int
        ``(height, width)`` every image is resized to.
    batch_size : int
        Images per batch.
    mode, max_pixels, draft
        As for :func:`prepare_poster`.
    n_threads : int, default=None
        Decoding threads; None is the number of CPUs.
    prefetch : int, default=None
        Batches decoded ahead of the consumer; None is ``n_threads + 1``, which keeps
        every thread busy while the consumer holds one batch.

    Attributes
    ----------
    failures : dict of int -> str
        Position in ``sources`` of each unreadable file and the reason.
    """

    def __init__(self, sources, size, *, batch_size, mode="stretch",
                 max_pixels=DEFAULT_MAX_PIXELS, draft=True, n_threads=None, prefetch=None):
        self.sources = sources
        self.size = tuple(size)
        self.batch_size = batch_size
        self.mode = mode
        self.max_pixels = max_pixels
        self.draft = draft
        self.n_threads = n_threads or os.cpu_count() or 1
        self.prefetch = prefetch or self.n_threads + 1
        self.failures = {}

    def _load(self, index):
        try:
            return prepare_poster(self.sources[index], self.size, mode=self.mode,
                                  max_pixels=self.max_pixels, draft=self.draft)
        except (OSError, ValueError, SyntaxError) as exc:
            # Pillow raises these for unreadable or refused files; one bad file must
            # not cost the rest of its batch.
            self.failures[index] = describe_error(exc)
            return np.full((*self.size, 3), BLANK_VALUE, dtype=np.uint8)

    def _load_batch(self, indices):
        batch = np.empty((len(indices), *self.size, 3), dtype=np.uint8)
        for row, index in enumerate(indices):
            batch[row] = self._load(int(index))
        return batch

    def batches(self, indices=None):
        """Yield the batches over ``indices`` (default: all), in order.

        Yields
        ------
        ndarray of shape (batch, height, width, 3), dtype uint8
        """
        if indices is None:
            indices = np.arange(len(self.sources))
        chunks = (indices[start:start + self.batch_size]
                  for start in range(0, len(indices), self.batch_size))
        pending = collections.deque()
        with ThreadPoolExecutor(self.n_threads, thread_name_prefix="skposter-decode") as pool:
            try:
                for chunk in itertools.islice(chunks, self.prefetch):
                    pending.append(pool.submit(self._load_batch, chunk))
                while pending:
                    batch = pending.popleft().result()
                    for chunk in itertools.islice(chunks, 1):
                        pending.append(pool.submit(self._load_batch, chunk))
                    yield batch
            finally:
                # A consumer stopping early must not wait for batches it will not read.
                for future in pending:
                    future.cancel()

    def dataset(self, indices=None):
        """Return :meth:`batches` over ``indices`` as a ``tf.data.Dataset``, in order.

        Returns
        -------
        tf.data.Dataset
            Batches of shape (batch, height, width, 3), dtype uint8.
        """
        import tensorflow as tf

        indices = np.arange(len(self.sources)) if indices is None else np.asarray(indices)
        spec = tf.TensorSpec((None, *self.size, 3), tf.uint8)
        batches = tf.data.Dataset.from_generator(lambda: self.batches(indices),
                                                 output_signature=spec)
        # A generator's length is unknown to Keras, which then warns 'Your input ran
        # out of data' at the end of every predict and validation pass.
        n_batches = -(-len(indices) // self.batch_size)
        return batches.apply(tf.data.experimental.assert_cardinality(n_batches))

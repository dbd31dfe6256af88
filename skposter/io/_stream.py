"""Streaming posters to a model: decode and resize in parallel, batch, prefetch (tf.data).

Files go through the same rule as :func:`decode_poster` and arrays through the same
resizing as :class:`~skposter.preprocessing.Resizer`, so a poster gives the same pixels
whether it arrives as a path or as an array (up to JPEG draft decoding, see
:func:`prepare_poster`). Only ``batch_size`` images per prefetched batch are ever held,
so memory stays flat however many posters stream through.
"""

import numpy as np

from .._utils._images import to_rgb_array
from .._utils._resize import resize_image
from ._decode import DEFAULT_MAX_PIXELS, decode_opened, open_poster
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
    else:
        with open_poster(source, max_pixels=max_pixels) as img:
            if draft and img.format == "JPEG":
                # A square of the longer side survives any EXIF rotation applied later.
                side = max(size)
                img.draft(img.mode, (side, side))
            image = decode_opened(img)
    if image.shape[:2] == tuple(size):
        return image
    return resize_image(image, size, mode=mode)


class PosterStream:
    """Posters as a ``tf.data.Dataset`` of uint8 batches, decoded in parallel.

    Unreadable files never stop the stream: they become blank images and are listed
    in :attr:`failures` once iteration has passed them, so the caller decides whether
    to raise (after keeping what was computed) or to warn.

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

    Attributes
    ----------
    failures : dict of int -> str
        Position in ``sources`` of each unreadable file and the reason.
    """

    def __init__(self, sources, size, *, batch_size, mode="stretch",
                 max_pixels=DEFAULT_MAX_PIXELS, draft=True):
        self.sources = sources
        self.size = tuple(size)
        self.batch_size = batch_size
        self.mode = mode
        self.max_pixels = max_pixels
        self.draft = draft
        self.failures = {}

    def _load(self, index):
        index = int(index)
        try:
            return prepare_poster(self.sources[index], self.size, mode=self.mode,
                                  max_pixels=self.max_pixels, draft=self.draft)
        except (OSError, ValueError, SyntaxError) as exc:
            # Pillow raises these for unreadable or refused files; the worker thread
            # must not raise, or tf.data would replace the reason with its own error.
            self.failures[index] = describe_error(exc)
            return np.full((*self.size, 3), BLANK_VALUE, dtype=np.uint8)

    def dataset(self, indices=None):
        """Return the batched dataset over ``indices`` (default: all), in order.

        Returns
        -------
        tf.data.Dataset
            Batches of shape (batch, height, width, 3), dtype uint8.
        """
        import tensorflow as tf

        if indices is None:
            indices = np.arange(len(self.sources))
        height, width = self.size

        def load(index):
            image = tf.numpy_function(self._load, [index], tf.uint8, stateful=False)
            return tf.ensure_shape(image, (height, width, 3))

        return (
            tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(self.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )

"""Resizer: images of any size -> one 4-D uint8 array."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils._images import check_images, check_size
from .._utils._resize import RESAMPLE, resize_image
from ..base import ImageTransformerMixin


class Resizer(ImageTransformerMixin, BaseEstimator):
    """Bring images of any size to one size, as a 4-D uint8 array.

    The resizer learns nothing: ``fit`` only validates parameters.

    Parameters
    ----------
    size : int or tuple of int, default=(128, 85)
        Output ``(height, width)``; one int gives a square. The default is the
        poster-shaped 85 x 128 input of the reference from-scratch CNNs.
    mode : {"crop", "pad", "stretch"}, default="crop"
        Aspect-ratio handling. ``"crop"`` scales to cover the output and keeps the
        centre (nothing is distorted, edges are lost); ``"pad"`` scales to fit and
        fills the border with ``pad_value`` (nothing is lost); ``"stretch"`` scales
        each axis on its own (nothing is lost, shapes are distorted).
    interpolation : {"bilinear", "bicubic", "lanczos", "box", "hamming", "nearest"}, \
            default="bilinear"
        Pillow resampling filter. All but ``"nearest"`` are antialiased when shrinking.
    pad_value : int, default=0
        Grey level (0-255) of the border in ``"pad"`` mode.

    Examples
    --------
    >>> import numpy as np
    >>> from skposter.preprocessing import Resizer
    >>> images = [np.zeros((300, 200, 3), np.uint8), np.zeros((90, 60, 3), np.uint8)]
    >>> Resizer(size=(64, 48)).fit_transform(images).shape
    (2, 64, 48, 3)
    """

    _parameter_constraints = {
        "size": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "mode": [StrOptions({"crop", "pad", "stretch"})],
        "interpolation": [StrOptions(set(RESAMPLE))],
        "pad_value": [Interval(numbers.Integral, 0, 255, closed="both")],
    }

    def __init__(self, size=(128, 85), mode="crop", interpolation="bilinear", pad_value=0):
        self.size = size
        self.mode = mode
        self.interpolation = interpolation
        self.pad_value = pad_value

    def fit(self, X=None, y=None):
        """Validate parameters; the resizer learns nothing.

        Returns
        -------
        self : object
        """
        self._validate_params()
        check_size(self.size)
        return self

    def transform(self, X):
        """Resize every image.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) or list of ndarray
            uint8 images, as produced by :class:`~skposter.io.PosterLoader`.

        Returns
        -------
        ndarray of shape (n, height, width, 3), dtype uint8
        """
        self._validate_params()
        size = check_size(self.size)
        images = check_images(X)
        out = np.empty((len(images), *size, 3), dtype=np.uint8)
        for i, image in enumerate(images):
            if image.shape[:2] == size:
                out[i] = image
            else:
                out[i] = resize_image(
                    image, size, mode=self.mode, interpolation=self.interpolation,
                    pad_value=self.pad_value,
                )
        return out

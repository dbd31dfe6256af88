"""Resizer: images of any size -> one 4-D uint8 array."""

import numbers

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils._images import check_images, check_size
from ..base import ImageTransformerMixin

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def resize_image(image, size, *, mode="crop", interpolation="bilinear", pad_value=0):
    """Resize one RGB uint8 image to ``size`` with the given aspect-ratio handling.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), dtype uint8
    size : tuple of int
        ``(height, width)`` of the result.
    mode : {"crop", "pad", "stretch"}, default="crop"
        ``"crop"`` scales the image to cover ``size`` and cuts the centre out;
        ``"pad"`` scales it to fit inside ``size`` and centres it on a ``pad_value``
        border; ``"stretch"`` scales width and height independently.
    interpolation : str, default="bilinear"
        Pillow resampling filter; Pillow widens the filter when shrinking, so
        downscaling is antialiased.
    pad_value : int, default=0
        Grey level of the border in ``"pad"`` mode.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
    """
    out_h, out_w = size
    in_h, in_w = image.shape[:2]
    resample = _RESAMPLE[interpolation]
    pil = Image.fromarray(image)
    if mode == "stretch":
        return np.asarray(pil.resize((out_w, out_h), resample))
    if mode == "crop":
        # Crop box in source coordinates: one resampling step, no intermediate image.
        return np.asarray(pil.resize((out_w, out_h), resample,
                                     box=_centre_box(in_h, in_w, out_h, out_w)))
    scale = min(out_h / in_h, out_w / in_w)
    new_w = min(out_w, max(1, round(in_w * scale)))
    new_h = min(out_h, max(1, round(in_h * scale)))
    canvas = np.full((out_h, out_w, 3), pad_value, dtype=np.uint8)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = pil.resize((new_w, new_h), resample)
    return canvas


def _centre_box(in_h, in_w, out_h, out_w):
    """The largest centred box of the output's aspect ratio, in source coordinates.

    Clamped to the image: ``in_w / (out_w / in_w)`` can come out a hair above
    ``in_w`` (300x443 to 85x128 does), and Pillow refuses a box reaching outside.
    """
    scale = max(out_h / in_h, out_w / in_w)
    box_w, box_h = min(in_w, out_w / scale), min(in_h, out_h / scale)
    left, top = max(0.0, (in_w - box_w) / 2), max(0.0, (in_h - box_h) / 2)
    return (left, top, min(in_w, left + box_w), min(in_h, top + box_h))


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
        "interpolation": [StrOptions(set(_RESAMPLE))],
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

"""Validation of image batches and the one RGB conversion rule for arrays.

The rule, shared by file decoding (:func:`skposter.io.decode_poster`) and by
array input, so that features from paths equal features from arrays:

* grey images (``H x W`` or ``H x W x 1``) are repeated to three channels;
* images with an alpha channel (``H x W x 2`` grey+alpha, ``H x W x 4`` RGBA) are
  composited over a **white** background, the page colour posters are shown on;
* only ``uint8`` pixels are accepted from arrays: other dtypes have no agreed
  scale, so they are refused rather than guessed.
"""

import numbers

import numpy as np
import pandas as pd

#: Background that transparent pixels are composited over.
ALPHA_BACKGROUND = 255


def composite_over_background(pixels):
    """Composite grey+alpha or RGBA ``uint8`` pixels over :data:`ALPHA_BACKGROUND`.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 2) or (H, W, 4), dtype uint8

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8
    """
    colour = pixels[..., :-1].astype(np.uint32)
    alpha = pixels[..., -1:].astype(np.uint32)
    # Integer arithmetic with rounding keeps the result exact and repeatable.
    out = (colour * alpha + ALPHA_BACKGROUND * (255 - alpha) + 127) // 255
    out = out.astype(np.uint8)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return out


def to_rgb_array(image, *, name="image"):
    """Return one image as an ``(H, W, 3)`` uint8 array, following the module rule.

    Parameters
    ----------
    image : array-like
        ``H x W``, or ``H x W x C`` with ``C`` in 1, 2, 3, 4.
    name : str
        How to call the image in error messages.

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"{name} has dtype {arr.dtype}; images must be uint8 (0-255). Load files with "
            "skposter.io.PosterLoader or convert explicitly, e.g. (x * 255).astype('uint8')."
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (H, W) or (H, W, C) with C in 1, 2, 3, 4."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    channels = arr.shape[-1]
    if channels == 3:
        return arr
    if channels == 1:
        return np.repeat(arr, 3, axis=-1)
    return composite_over_background(arr)


def check_images(X):
    """Validate a batch of images.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, C) or sequence of image arrays
        A 4-D uint8 array, or a list (or 1-D object array) of images of any size.

    Returns
    -------
    images : ndarray of shape (n, H, W, 3) or list of ndarray
        A 4-D uint8 array when the input was 4-D, else a list of ``(H, W, 3)`` uint8
        arrays.
    """
    if isinstance(X, (pd.DataFrame, pd.Series, str)) or _looks_like_paths(X):
        raise TypeError(
            "expected images (a 4-D uint8 array or a list of arrays) but got paths or a "
            "table; put skposter.io.PosterLoader before this step."
        )
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 4:
            raise ValueError(
                f"expected a 4-D (n_images, H, W, C) array, got shape {X.shape}; "
                "for a single image use X[None]."
            )
        if len(X) == 0:
            raise ValueError("found 0 images; at least 1 is required.")
        if X.shape[-1] == 3 and X.dtype == np.uint8:
            return X
        return np.stack([to_rgb_array(img, name=f"image {i}") for i, img in enumerate(X)])
    if not hasattr(X, "__len__") or isinstance(X, dict):
        raise TypeError(f"expected a sequence of images, got {type(X).__name__}.")
    if len(X) == 0:
        raise ValueError("found 0 images; at least 1 is required.")
    return [to_rgb_array(img, name=f"image {i}") for i, img in enumerate(X)]


def holds_images(X):
    """Whether ``X`` holds images rather than paths or ids.

    Images are a non-string array of two or more dimensions, or a sequence (list,
    tuple, 1-D object array) whose first item is an image array. Anything else
    (strings, path-likes, a Series or DataFrame, an empty sequence) names files.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        return X.ndim != 1 and X.dtype.kind not in "USO"
    if isinstance(X, (list, tuple, np.ndarray)) and len(X):
        return isinstance(X[0], np.ndarray) and X[0].ndim >= 2
    return False


def _looks_like_paths(X):
    # Narrower than ``not holds_images``: only what surely names files is refused
    # here, so other malformed input gets the per-image error that describes it.
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "US" or (X.dtype == object and X.size and isinstance(X.flat[0], str))
    if isinstance(X, (list, tuple)) and X:
        return isinstance(X[0], (str, bytes)) or hasattr(X[0], "__fspath__")
    return False


def check_size(size, *, name="size"):
    """Validate an output size given as ``(height, width)`` or one int for a square.

    Returns
    -------
    tuple of int
        ``(height, width)``.
    """
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {size!r}.") from None
    for value in (height, width):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must hold positive ints (height, width), got {size!r}.")
    return int(height), int(width)

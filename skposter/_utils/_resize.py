"""Resizing one RGB image with an aspect-ratio rule: the function both
:class:`~skposter.preprocessing.Resizer` and :class:`~skposter.io.PosterStream` apply.

Below :mod:`skposter.io` and :mod:`skposter.preprocessing`, so streaming does not reach
into preprocessing; ``skposter.preprocessing.resize_image`` re-exports it.
"""

import numpy as np
from PIL import Image

RESAMPLE = {
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
    return resize_pil(Image.fromarray(image), size, mode=mode, interpolation=interpolation,
                      pad_value=pad_value)


def resize_pil(pil, size, *, mode="crop", interpolation="bilinear", pad_value=0):
    """:func:`resize_image` of an RGB Pillow image, without an array of it first.

    A decoded poster is resized straight from Pillow's own buffer: the same pixels
    as ``resize_image(np.asarray(pil), ...)``, two copies of the image fewer.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
    """
    out_h, out_w = size
    in_w, in_h = pil.size
    resample = RESAMPLE[interpolation]
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

"""The one poster decoder: any file Pillow reads -> RGB uint8 array.

Decoding rule (the same rule :mod:`skposter._utils._images` applies to arrays):

* the format is read from the file's content, not from its name: a PNG or WebP
  named ``.jpg`` decodes as what it is, and a text file named ``.jpg`` is refused;
* the first frame of animated files is used;
* the EXIF orientation tag is applied, so a rotated phone photo comes out upright;
* 16-bit and 32-bit integer grey (``I;16*``, ``I``) is scaled from 0-65535 to 0-255;
  32-bit float grey (``F``) is read on the 0-255 scale and clipped, as Pillow does;
* anything carrying transparency (``RGBA``, ``LA``, ``PA``, palette or grey images,
  16-bit ones included, with a transparent colour) is composited over white;
* every other mode (``1``, ``L``, ``P``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``...)
  goes through Pillow's own conversion to ``RGB``;
* an image whose header declares more than ``max_pixels`` pixels is refused before
  its pixels are decoded, so a decompression bomb fails fast instead of exhausting
  memory. Pillow's own guard still refuses anything above
  ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (about 179 megapixels by default) and warns
  above ``PIL.Image.MAX_IMAGE_PIXELS``; it is a process-wide setting, so skposter
  leaves it to the user.
"""

import numpy as np
from PIL import Image, ImageOps

from .._utils._images import composite_over_background, to_rgb_array
from ..exceptions import ImageTooLargeError

#: Default pixel limit: 40 megapixels, eight times a 1,800 x 2,700 print poster.
DEFAULT_MAX_PIXELS = 40_000_000

_WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def decode_poster(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode one poster file to an RGB uint8 array.

    Parameters
    ----------
    source : str, path-like or file-like
        The image file.
    max_pixels : int, default=40_000_000
        Largest ``width * height`` accepted (decompression bomb guard).

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    PIL.UnidentifiedImageError
        The file is not an image Pillow can identify (empty, text, ...).
    ImageTooLargeError
        The header declares more than ``max_pixels`` pixels.
    OSError
        The pixel data is broken, e.g. a truncated JPEG.
    """
    with open_poster(source, max_pixels=max_pixels) as img:
        return decode_opened(img)


def open_poster(source, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Open a poster and check its header against ``max_pixels``; pixels stay undecoded.

    Returns
    -------
    PIL.Image.Image
        The lazily opened image; close it (or use it as a context manager).
    """
    try:
        img = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"refused as a decompression bomb by Pillow: {exc} Pillow's own limit, "
            "2 x PIL.Image.MAX_IMAGE_PIXELS, applies whatever max_pixels says; raise "
            "PIL.Image.MAX_IMAGE_PIXELS to read such a file."
        ) from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise ImageTooLargeError(
            f"header declares {width}x{height} = {width * height:,} pixels, above "
            f"max_pixels={max_pixels:,} (decompression bomb guard)."
        )
    return img


def decode_opened(img):
    """Decode the pixels of an image from :func:`open_poster` by the module rule."""
    return pil_to_rgb(_upright(img))


def decode_opened_image(img):
    """:func:`decode_opened` as an RGB Pillow image (no array copy for plain RGB files)."""
    img = _upright(img)
    if img.mode == "RGB" and not img.has_transparency_data:
        return img
    return Image.fromarray(pil_to_rgb(img))


def _upright(img):
    img.load()
    # In place: otherwise every upright poster (nearly all) is copied once more.
    ImageOps.exif_transpose(img, in_place=True)
    return img


def pil_to_rgb(img):
    """Convert a loaded Pillow image to an RGB uint8 array by the module rule."""
    if img.mode in _WIDE_GREY_MODES:
        raw = np.asarray(img).astype(np.int64)
        grey = ((np.clip(raw, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        transparent = img.info.get("transparency")
        if isinstance(transparent, int):
            alpha = np.where(raw == transparent, 0, 255).astype(np.uint8)
            return composite_over_background(np.dstack([grey, alpha]))
        return to_rgb_array(grey)
    if img.mode == "F":
        grey = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255)
        return to_rgb_array(grey.astype(np.uint8))
    if img.has_transparency_data:
        return composite_over_background(np.asarray(img.convert("RGBA")))
    return np.asarray(img.convert("RGB"))

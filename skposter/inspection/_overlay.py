"""overlay_heatmap: a heat map drawn over its poster, as an RGB array (no matplotlib)."""

import numbers

import numpy as np
from PIL import Image

from .._utils._images import to_rgb_array

# A blue -> cyan -> green -> yellow -> red ramp ("jet"-like): cold to hot at a glance.
_RAMP_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_RAMP_COLOURS = np.array([
    [0, 0, 160], [0, 170, 255], [40, 200, 60], [255, 220, 0], [230, 20, 20],
], dtype=float)


def colourise(heatmap):
    """Map values in [0, 1] to RGB uint8 along the colour ramp.

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8
    """
    values = np.clip(np.asarray(heatmap, dtype=float), 0.0, 1.0)
    channels = [np.interp(values, _RAMP_STOPS, _RAMP_COLOURS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def overlay_heatmap(image, heatmap, *, alpha=0.5):
    """Blend a heat map's colours over a poster.

    Each pixel gets the colour of its heat (blue to red) with an opacity of
    ``alpha`` times its heat, so regions without evidence keep the poster as it is
    and the hottest ones are tinted the most.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3) or (H, W), dtype uint8
        The poster.
    heatmap : ndarray of shape (h, w)
        Values in [0, 1] (others are clipped), e.g. ``GenreHeatmap.heatmap``;
        resized bilinearly when its shape differs from the poster's.
    alpha : float, default=0.5
        Opacity of the hottest colour, in [0, 1].

    Returns
    -------
    ndarray of shape (H, W, 3), dtype uint8

    Examples
    --------
    >>> import numpy as np
    >>> from skposter.inspection import overlay_heatmap
    >>> image = np.zeros((4, 6, 3), np.uint8)
    >>> heat = np.linspace(0, 1, 24).reshape(4, 6)
    >>> overlay_heatmap(image, heat, alpha=0.5).shape
    (4, 6, 3)
    """
    image = to_rgb_array(image, name="image")
    if not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}.")
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {heat.shape}.")
    if not np.isfinite(heat).all():
        raise ValueError("heatmap holds NaN or infinite values.")
    if heat.shape != image.shape[:2]:
        height, width = image.shape[:2]
        heat = np.asarray(Image.fromarray(heat, mode="F").resize((width, height),
                                                                  Image.Resampling.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    opacity = (alpha * heat)[..., None]
    blended = (1 - opacity) * image + opacity * colourise(heat)
    return np.rint(blended).astype(np.uint8)

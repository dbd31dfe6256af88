"""Where each pixel of a poster lands on a model's feature grid, through its resizing steps.

A model sees a poster resized (stretched, centre-cropped or padded, by
:func:`~skposter.preprocessing.resize_image`, possibly twice: a
:class:`~skposter.preprocessing.Resizer` then the network's own ``input_size``). A map
over the last feature grid is brought back to the poster's own pixels by following
every pixel centre through those steps and sampling the grid bilinearly there. Each
resize acts on rows and columns separately, so the mapping is done per axis. Pixels a
crop cut away get 0: the model never saw them.
"""

import numpy as np
from scipy.ndimage import map_coordinates

from .._utils._resize import _centre_box


def to_poster(grid_map, poster_shape, resizes):
    """Sample ``grid_map`` at every pixel of the poster.

    Parameters
    ----------
    grid_map : ndarray of shape (h, w)
        A map over the network's last feature grid, which covers the network input.
    poster_shape : tuple of int
        ``(height, width)`` of the poster.
    resizes : sequence of ((height, width), mode)
        The resizes applied between the poster and the network input, in order.

    Returns
    -------
    ndarray of shape (height, width), dtype float32
    """
    rows = np.arange(poster_shape[0]) + 0.5
    cols = np.arange(poster_shape[1]) + 0.5
    seen_rows = np.ones(len(rows), bool)
    seen_cols = np.ones(len(cols), bool)
    shape = tuple(poster_shape)
    for size, mode in resizes:
        size = tuple(int(s) for s in size)
        rows, cols, inside_rows, inside_cols = _follow(rows, cols, shape, size, mode)
        seen_rows &= inside_rows
        seen_cols &= inside_cols
        shape = size
    grid_h, grid_w = grid_map.shape
    # Pixel coordinates of the network input -> indices of the grid's cell centres.
    grid_rows = rows * grid_h / shape[0] - 0.5
    grid_cols = cols * grid_w / shape[1] - 0.5
    coordinates = np.meshgrid(grid_rows, grid_cols, indexing="ij")
    values = map_coordinates(np.asarray(grid_map, np.float64), coordinates, order=1,
                             mode="nearest")
    values[~(seen_rows[:, None] & seen_cols[None, :])] = 0.0
    return values.astype(np.float32)


def _follow(rows, cols, in_size, out_size, mode):
    """Coordinates of ``rows``/``cols`` after one resize, and whether they survive it."""
    (in_h, in_w), (out_h, out_w) = in_size, out_size
    if mode == "stretch":
        return rows * out_h / in_h, cols * out_w / in_w, _all(rows), _all(cols)
    if mode == "crop":
        left, top, right, bottom = _centre_box(in_h, in_w, out_h, out_w)
        rows = (rows - top) * out_h / (bottom - top)
        cols = (cols - left) * out_w / (right - left)
        return rows, cols, (rows >= 0) & (rows <= out_h), (cols >= 0) & (cols <= out_w)
    if mode == "pad":
        # The same rounding as resize_image: the image fills a centred box.
        scale = min(out_h / in_h, out_w / in_w)
        new_w = min(out_w, max(1, round(in_w * scale)))
        new_h = min(out_h, max(1, round(in_h * scale)))
        top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
        return top + rows * new_h / in_h, left + cols * new_w / in_w, _all(rows), _all(cols)
    raise ValueError(f"unknown resize mode {mode!r}.")


def _all(coordinates):
    return np.ones(len(coordinates), bool)


def normalise(values):
    """Positive evidence scaled to [0, 1]: ReLU, then divided by the maximum.

    A map without positive evidence is all zeros (not NaN).
    """
    positive = np.maximum(np.asarray(values, np.float32), 0.0)
    peak = float(positive.max()) if positive.size else 0.0
    if peak <= 0.0 or not np.isfinite(peak):
        return np.zeros_like(positive)
    return positive / peak

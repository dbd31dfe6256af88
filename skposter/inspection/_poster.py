"""The poster to explain: its full-size image, and the pixels a model's network sees."""

import os

import numpy as np
import pandas as pd

from .._utils._images import to_rgb_array
from ..io import DEFAULT_MAX_PIXELS, decode_poster, prepare_poster


def read_poster(poster, chain, *, needs_row):
    """Resolve ``poster`` to its image, its source as the model reads it, and its row.

    Parameters
    ----------
    poster : str, path-like, ndarray of shape (H, W, 3) or one-row DataFrame
        A DataFrame row is read like the model reads its input: the poster from the
        model's poster column (an id resolved by the model's PosterLoader, if any).
    chain : PosterChain
    needs_row : bool
        The model also reads metadata columns, so only a DataFrame row will do.

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8
    source : str or ndarray
        The path, or ``image``.
    row : DataFrame or None
    """
    row = None
    if isinstance(poster, pd.DataFrame):
        row, poster = poster, _poster_cell(poster, chain)
    elif needs_row:
        raise ValueError(
            "this model also reads metadata columns: pass the poster as a one-row "
            "DataFrame holding its poster column and its metadata, as given to predict."
        )
    if isinstance(poster, np.ndarray):
        image = to_rgb_array(poster, name="poster")
        return image, image, row
    if isinstance(poster, (str, os.PathLike)):
        path = os.fspath(poster)
        max_pixels = chain.loader.max_pixels if chain.loader is not None else DEFAULT_MAX_PIXELS
        return decode_poster(path, max_pixels=max_pixels), path, row
    raise TypeError(f"poster must be a file path, an (H, W, 3) uint8 image or a one-row "
                    f"DataFrame, got {type(poster).__name__}.")


def _poster_cell(frame, chain):
    if len(frame) != 1:
        raise ValueError(f"poster as a DataFrame must have exactly one row, got {len(frame)}.")
    column = chain.column
    if column is None:
        if frame.shape[1] != 1:
            raise ValueError("this model reads posters alone: pass a path, an image or a "
                             f"one-column DataFrame, not columns {list(frame.columns)}.")
        column = frame.columns[0]
    if column not in frame.columns:
        raise ValueError(f"the model reads posters from column {column!r}, which the "
                         f"DataFrame lacks (it has {list(frame.columns)}).")
    value = frame[column].iloc[0]
    if chain.loader is not None and not isinstance(value, np.ndarray):
        # The loader turns ids into paths when it has a root, as in the model.
        return chain.loader.paths_for(frame[[column]])[0]
    return value


def network_pixels(source, image, chain, size, *, mode, draft=True,
                   max_pixels=DEFAULT_MAX_PIXELS):
    """The uint8 image of ``size`` the model's network gets for this poster.

    A path the network reads itself is decoded as it does (JPEG draft decoding
    included), so the pixels are the same; a poster first decoded by a PosterLoader
    or given as an image goes through the model's Resizers, then the network's resize.
    """
    if isinstance(source, str) and chain.loader is None and not chain.resizers:
        return prepare_poster(source, size, mode=mode, max_pixels=max_pixels, draft=draft)
    pixels = image
    for resizer in chain.resizers:
        pixels = resizer.transform([pixels])[0]
    return prepare_poster(pixels, size, mode=mode)

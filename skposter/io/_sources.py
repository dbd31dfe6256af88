"""What a model reads posters from, and what it says about the ones it cannot read.

The one place that tells poster paths from images (:func:`poster_sources`) and reports
unreadable posters (:func:`report_unreadable`), for :class:`PosterLoader`,
:class:`~skposter.features.CNNFeatureExtractor` and
:class:`~skposter.models.KerasPosterClassifier` alike.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from .._utils._images import check_images, holds_images
from ..exceptions import PosterReadError, PosterReadWarning
from ._paths import resolve_paths

#: Grey level of the placeholder that replaces an unreadable poster.
BLANK_VALUE = 128


@dataclass(frozen=True)
class Posters:
    """Posters as one indexable sequence, plus their paths.

    Attributes
    ----------
    sources : ndarray
        A 4-D uint8 array of images (the caller's own, no copy), or a 1-D object array
        of images or of paths. Boolean masks and index arrays select from it like from
        the input.
    paths : list of str or None
        The paths, None for images.
    """

    sources: np.ndarray
    paths: list = None

    def __len__(self):
        return len(self.sources)

    def take(self, rows):
        """The posters at ``rows`` (a boolean mask or an index array)."""
        rows = np.asarray(rows)
        if self.paths is None:
            return Posters(self.sources[rows])
        index = np.flatnonzero(rows) if rows.dtype == bool else rows
        return Posters(self.sources[rows], [self.paths[i] for i in index])


def poster_sources(X):
    """Tell poster paths from images, once, and keep both the sources and the paths.

    Parameters
    ----------
    X : ndarray of shape (n, H, W, C), list of image arrays, or paths
        uint8 images, or poster paths (a list, array, Series or one-column DataFrame).

    Returns
    -------
    Posters
        ``sources`` to stream from and ``paths`` to name unreadable files by.
    """
    if holds_images(X):
        images = check_images(X)
        if isinstance(images, np.ndarray):
            return Posters(images)
        return Posters(_object_array(images))
    paths = resolve_paths(X)
    return Posters(_object_array(paths), paths)


def _object_array(items):
    # Filled one by one: np.asarray would stack same-sized images into one 4-D array.
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def report_unreadable(failures, on_error, *, outcome, paths=None, stacklevel=2):
    """Raise :class:`PosterReadError` or warn, naming every unreadable poster.

    Parameters
    ----------
    failures : dict of int -> str or dict of str -> str
        The reason each poster could not be read, by position (named by ``paths``, or
        ``"image i"`` without them, listed in order) or already by path (listed as
        given). Empty: nothing happens.
    on_error : {"raise", "blank"}
        Raise one error listing them all, or warn.
    outcome : str
        What became of them, for the warning (e.g. ``"replaced by blank images"``).
    paths : list of str, default=None
        Paths of the posters, when ``failures`` is keyed by position.
    stacklevel : int, default=2
        As for :func:`warnings.warn`, counted from the caller.
    """
    if not failures:
        return
    items = failures.items()
    if not isinstance(next(iter(failures)), str):
        items = sorted(items)  # positions arrive in the order threads finished
    named = {_name(key, paths): reason for key, reason in items}
    if on_error == "raise":
        raise PosterReadError(named)
    warnings.warn(
        f"{len(named)} unreadable poster(s) {outcome}: "
        + "; ".join(f"{path} ({reason})" for path, reason in named.items()),
        PosterReadWarning, stacklevel=stacklevel + 1,
    )


def _name(key, paths):
    if isinstance(key, str):
        return key
    return paths[key] if paths else f"image {key}"

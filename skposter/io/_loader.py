"""PosterLoader: paths or ids in, RGB images out."""

import numbers
import os
import struct

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import ImageTransformerMixin
from ._decode import DEFAULT_MAX_PIXELS, decode_poster
from ._paths import resolve_paths
from ._sources import BLANK_VALUE, report_unreadable
from ._threads import describe_error, map_in_threads

#: What decoding a broken file raises: Pillow's plugins report damage as OSError
#: (truncated, unidentified), ValueError, SyntaxError (broken PNG chunks), EOFError,
#: IndexError or struct.error (short headers). Anything else, such as MemoryError or
#: KeyboardInterrupt, is not about the file and propagates.
UNREADABLE_FILE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError,
                          struct.error, Image.DecompressionBombError)


def decode_all(paths, *, max_pixels, n_jobs=None, verbose=0, desc="decoding posters"):
    """Decode many posters in parallel threads, never raising for a single file.

    Returns
    -------
    images : list of ndarray or None
        ``None`` where a file failed.
    failures : dict of str -> str
        Each failed path and the reason, in input order.
    """
    outcomes = map_in_threads(_try_decode, paths, max_pixels, n_jobs=n_jobs,
                              verbose=verbose, desc=desc)
    images = [image for image, _ in outcomes]
    failures = {path: reason for path, (_, reason) in zip(paths, outcomes) if reason is not None}
    return images, failures


def _try_decode(path, max_pixels):
    try:
        return decode_poster(path, max_pixels=max_pixels), None
    except UNREADABLE_FILE_ERRORS as exc:
        return None, describe_error(exc)


class PosterLoader(ImageTransformerMixin, BaseEstimator):
    """Read poster files into RGB uint8 images.

    Every file goes through :func:`skposter.io.decode_poster`, whose rule covers
    grey, palette, 16-bit, CMYK, transparent and EXIF-rotated images (transparent
    pixels are composited over white). Images keep their own size: the output is a
    list of ``(H, W, 3)`` arrays; put :class:`skposter.preprocessing.Resizer` after the
    loader to get one 4-D array.

    The loader learns nothing: ``fit`` only validates parameters.

    Parameters
    ----------
    root : str or path-like, default=None
        Folder holding the posters. When set, the input values are ids and each file
        is ``root / pattern.format(id)``; otherwise the input values are paths.
    pattern : str, default="{}.jpg"
        File name for an id, used with ``root``.
    column : str, default=None
        Column of a DataFrame input holding the ids or paths. A DataFrame with one
        column needs no name; ``ColumnTransformer`` can also route the column here.
    on_error : {"raise", "blank"}, default="raise"
        What to do with files that cannot be read. ``"raise"`` decodes everything,
        then raises one :class:`~skposter.exceptions.PosterReadError` listing every
        bad file and why. ``"blank"`` replaces each bad file by a 1x1 mid-grey image
        (value :data:`BLANK_VALUE`) and emits one
        :class:`~skposter.exceptions.PosterReadWarning` naming the files. A
        transformer cannot drop rows: to drop bad posters from ``X`` and ``y``
        together, use :func:`skposter.io.scan_posters` first.
    max_pixels : int, default=40_000_000
        Largest ``width * height`` a header may declare (decompression bomb guard).
    n_jobs : int, default=None
        Threads decoding in parallel; ``None`` means 1, ``-1`` all cores.
    verbose : int, default=0
        Show a progress bar when positive.

    See Also
    --------
    scan_posters : Report unreadable files before fitting.

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> from skposter.io import PosterLoader
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> data = make_posters(n_samples=3, directory=folder, random_state=0)
    >>> images = PosterLoader(root=folder + "/images").fit_transform(data.frame["Id"])
    >>> len(images), images[0].dtype
    (3, dtype('uint8'))
    """

    _parameter_constraints = {
        "root": [str, os.PathLike, None],
        "pattern": [str],
        "column": [str, None],
        "on_error": [StrOptions({"raise", "blank"})],
        "max_pixels": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        root=None,
        pattern="{}.jpg",
        column=None,
        on_error="raise",
        max_pixels=DEFAULT_MAX_PIXELS,
        n_jobs=None,
        verbose=0,
    ):
        self.root = root
        self.pattern = pattern
        self.column = column
        self.on_error = on_error
        self.max_pixels = max_pixels
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Validate parameters; the loader learns nothing.

        Returns
        -------
        self : object
        """
        self._validate_params()
        return self

    def transform(self, X):
        """Read the posters named by ``X``.

        Parameters
        ----------
        X : array-like of str, pandas Series or DataFrame of shape (n_posters,)
            Paths, or ids when ``root`` is set.

        Returns
        -------
        list of ndarray of shape (H, W, 3), dtype uint8
        """
        self._validate_params()
        paths = self.paths_for(X)
        images, failures = decode_all(
            paths, max_pixels=self.max_pixels, n_jobs=self.n_jobs, verbose=self.verbose
        )
        if failures:
            report_unreadable(failures, self.on_error, outcome="replaced by blank images")
            blank = np.full((1, 1, 3), BLANK_VALUE, dtype=np.uint8)
            images = [blank.copy() if image is None else image for image in images]
        return images

    def paths_for(self, X):
        """Return the file path each row of ``X`` points to.

        Parameters
        ----------
        X : array-like of str, pandas Series or DataFrame
            As for :meth:`transform`.

        Returns
        -------
        list of str
        """
        return resolve_paths(X, root=self.root, pattern=self.pattern, column=self.column)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

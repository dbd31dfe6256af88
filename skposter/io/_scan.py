"""scan_posters: find unreadable posters before they reach a pipeline."""

import numbers

import pandas as pd

from ._decode import DEFAULT_MAX_PIXELS, decode_opened, open_poster
from ._loader import UNREADABLE_FILE_ERRORS
from ._paths import resolve_paths
from ._threads import describe_error, map_in_threads

_COLUMNS = ["path", "readable", "error", "format", "mode", "width", "height"]


def scan_posters(
    X,
    *,
    root=None,
    pattern="{}.jpg",
    column=None,
    decode=True,
    max_pixels=DEFAULT_MAX_PIXELS,
    n_jobs=None,
    verbose=0,
):
    """Check every poster file and report which ones can be read.

    A transformer cannot drop rows, so run this first and keep the readable rows of
    ``X`` and ``y`` together::

        report = scan_posters(df["Id"], root="posters/images")
        df, Y = df[report["readable"].to_numpy()], Y[report["readable"].to_numpy()]

    Parameters
    ----------
    X, root, pattern, column
        As for :class:`~skposter.io.PosterLoader`.
    decode : bool, default=True
        Decode the pixels too. Only a full decode finds truncated or corrupt pixel
        data; ``False`` reads headers only, which is much faster.
    max_pixels : int, default=40_000_000
        Largest ``width * height`` accepted (decompression bomb guard).
    n_jobs : int, default=None
        Threads to use; ``None`` means 1.
    verbose : int, default=0
        Show a progress bar when positive.

    Returns
    -------
    report : pandas.DataFrame
        One row per input row, in order, with columns ``path``, ``readable`` (bool),
        ``error`` (reason, empty when readable), ``format``, ``mode``, ``width`` and
        ``height`` (as stored, before EXIF rotation; missing when unknown).
    """
    if not isinstance(max_pixels, numbers.Integral) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}.")
    paths = resolve_paths(X, root=root, pattern=pattern, column=column)
    rows = map_in_threads(_inspect, paths, max_pixels, decode, n_jobs=n_jobs,
                          verbose=verbose, desc="scanning posters")
    report = pd.DataFrame(rows, columns=_COLUMNS)
    return report.astype({"width": "Int64", "height": "Int64"})


def _inspect(path, max_pixels, decode):
    row = dict.fromkeys(_COLUMNS)
    row.update(path=path, readable=False, error="")
    try:
        with open_poster(path, max_pixels=max_pixels) as img:
            row.update(format=img.format, mode=img.mode, width=img.size[0], height=img.size[1])
            if decode:
                decode_opened(img)
    except UNREADABLE_FILE_ERRORS as exc:
        row["error"] = describe_error(exc)
    else:
        row["readable"] = True
    return row

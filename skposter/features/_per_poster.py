"""One result per poster, computed in threads and kept in a per-poster cache.

What :class:`~skposter.features.FaceFeatureExtractor` and
:class:`~skposter.features.PosterTextExtractor` share: hash the posters, take what the
cache holds, compute the rest as they come (storing each at once, so a killed run
keeps every poster already done), and collect the unreadable files for
:func:`~skposter.io._sources.report_unreadable`.
"""

from joblib import Parallel, delayed

from .._utils._progress import progress_bar
from ..io._threads import map_in_threads
from ._extractor import _try_content_key


def cached_per_poster(describe, posters, cache, *, n_jobs, verbose, desc):
    """``describe`` of every poster, read from ``cache`` where stored.

    Parameters
    ----------
    describe : callable
        ``source -> (result, None)``, or ``(None, reason)`` for an unreadable file.
    posters : Posters
        From :func:`skposter.io._sources.poster_sources`.
    cache : object with ``get``, ``put`` and ``warn_problems``, or None
    n_jobs, verbose, desc
        Threads, progress bar and its label.

    Returns
    -------
    results : list
        One per poster; None for an unreadable file.
    failures : dict of int -> str
        Unreadable files and the reason, by position.
    """
    sources = posters.sources
    keys, results = [None] * len(sources), [None] * len(sources)
    if cache is not None:
        # Hashing repeats at every transform: its bar must not pile up on screen.
        keys = map_in_threads(_try_content_key, sources, n_jobs=-1, verbose=verbose,
                              desc="hashing posters", leave=False)
        results = [None if key is None else cache.get(key) for key in keys]
    todo = [i for i, result in enumerate(results) if result is None]
    outcomes = stream_in_threads(describe, [sources[i] for i in todo], n_jobs=n_jobs,
                                 verbose=verbose, desc=desc)
    failures = {}
    for i, (result, reason) in zip(todo, outcomes):
        if reason is not None:
            failures[i] = reason
            continue
        results[i] = result
        if cache is not None and keys[i] is not None:
            cache.put(keys[i], result)
    if cache is not None:
        cache.warn_problems(stacklevel=3)  # at the user's call of transform
    return results, failures


def stream_in_threads(func, items, *, n_jobs, verbose, desc):
    """Yield ``func(item)`` for each of ``items`` in order, computed in threads.

    Results arrive as they are done (unlike :func:`~skposter.io._threads.map_in_threads`),
    so each can be cached at once; the threads wait on Tesseract or OpenCV, which
    release the GIL.
    """
    tasks = (delayed(func)(item) for item in items)
    with progress_bar(verbose, total=len(items), desc=desc, unit="poster") as bar:
        for result in Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(tasks):
            bar.update()
            yield result

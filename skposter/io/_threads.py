"""Running one function over many poster files in threads, with a progress bar."""

from joblib import Parallel, delayed
from tqdm.auto import tqdm


def map_in_threads(func, items, *args, n_jobs=None, verbose=0, desc=None, leave=True):
    """Return ``[func(item, *args) for item in items]``, computed in threads, in order.

    Pillow releases the GIL while decoding, so threads scale without copying images
    between processes. ``leave=False`` clears the bar when done, for a step repeated
    within one command (e.g. once per fold).
    """
    tasks = (delayed(func)(item, *args) for item in items)
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(tasks)
    with tqdm(results, total=len(items), desc=desc, disable=not verbose,
              leave=leave) as progress:
        return list(progress)


def describe_error(exc):
    """One-line reason a file failed, naming the exception type."""
    return f"{type(exc).__name__}: {exc}"

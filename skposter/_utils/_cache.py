"""Where skposter keeps files it derives once and reuses, such as converted weights."""

import os
from pathlib import Path

import platformdirs


def user_cache_dir():
    """Return skposter's cache directory, creating it if needed.

    Returns
    -------
    pathlib.Path
        ``$SKPOSTER_CACHE_DIR`` when set and non-empty, else the platform's user cache
        directory for ``skposter`` (``~/.cache/skposter`` on Linux).
    """
    path = Path(os.environ.get("SKPOSTER_CACHE_DIR") or platformdirs.user_cache_dir("skposter"))
    path.mkdir(parents=True, exist_ok=True)
    return path

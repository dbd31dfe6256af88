"""Where skposter keeps files it derives once and reuses, and how they are keyed and written.

Below :mod:`skposter.features` and :mod:`skposter.models`, whose caches (features,
poster text, decoded posters) share the content key and the crash-safe write.
"""

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import platformdirs

_CHUNK = 1 << 20


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


def content_key(source):
    """Hash of a poster's content: the file's bytes, or an array's shape and pixels.

    Parameters
    ----------
    source : str, path-like or ndarray

    Returns
    -------
    str
        32 hex digits.
    """
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(source, np.ndarray):
        digest.update(f"array:{source.shape}:{source.dtype}".encode())
        digest.update(np.ascontiguousarray(source).data)
        return digest.hexdigest()
    digest.update(b"file:")
    with open(source, "rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def resolve_cache_dir(cache):
    """Folder named by ``cache``: a path, a ``joblib.Memory`` (its location) or None."""
    if cache is None:
        return None
    location = getattr(cache, "location", cache)
    return None if location is None else Path(location).expanduser()


def atomic_write(path, data):
    """Write through a synced temporary file renamed into place, then sync the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            # On disk before it has its name: else a power cut can leave an empty entry.
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(path):
    """Make a rename in ``path`` durable where the platform allows syncing a folder."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # nor can some file systems sync one
        pass
    finally:
        os.close(fd)

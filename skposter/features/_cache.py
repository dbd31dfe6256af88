"""Per-poster feature cache on disk, keyed by content and by extraction settings.

Layout: ``<root>/cnn-features/<settings hash>/<key[:2]>/<key>.npy`` with a
``settings.json`` beside the shards for people browsing the folder. One small file per
poster means any subset of posters (a cross-validation fold, a resumed run) finds its
features without reading anyone else's, and a write is atomic (temporary file, then
rename), so a run killed mid-write never leaves a corrupt entry.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


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


class FeatureCache:
    """Features of single posters stored under one set of extraction settings.

    Parameters
    ----------
    root : path-like
        Cache folder.
    settings : dict
        Everything the features depend on besides the poster (backbone, weights,
        input size, pooling...); JSON-serialisable.
    """

    def __init__(self, root, settings):
        text = json.dumps(settings, sort_keys=True)
        name = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        self.directory = Path(root) / "cnn-features" / name
        self.directory.mkdir(parents=True, exist_ok=True)
        manifest = self.directory / "settings.json"
        if not manifest.exists():
            _atomic_write(manifest, lambda file: file.write(text.encode()))

    def _path(self, key):
        return self.directory / key[:2] / f"{key}.npy"

    def get(self, key):
        """Stored features for ``key``, or None (also for an unreadable entry)."""
        path = self._path(key)
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put(self, key, features):
        """Store one poster's features atomically."""
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        _atomic_write(path, lambda file: np.save(file, features, allow_pickle=False))


def _atomic_write(path, write):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

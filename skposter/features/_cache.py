"""Per-poster feature cache on disk, keyed by content and by extraction settings.

Layout: ``<root>/cnn-features/<settings hash>/<key[:2]>/<key>.feat`` with a
``settings.json`` beside the shards for people browsing the folder. One small file per
poster means any subset of posters (a cross-validation fold, a resumed run) finds its
features without reading anyone else's.

Nothing read back is trusted: an entry holds a header (format, length, checksum of
the key and the values) before its float32 values, and one that fails any check is
reported as damaged, so the caller recomputes and overwrites it. A write goes to a
temporary file that is synced before it is renamed into place, so neither a killed
run nor a power cut leaves a half-written entry under a real name. The cache is
never worth losing computed features for: a folder that cannot be written is
reported, not raised.
"""

import hashlib
import json
import struct
import warnings
from pathlib import Path

import numpy as np

from .._utils._cache import atomic_write
from ..exceptions import FeatureCacheWarning

#: Entry layout version; part of the settings hash, so entries of older layouts (plain
#: ``.npy`` files, trusted as read) are never read and get recomputed.
FORMAT_VERSION = 2

_MAGIC = b"SKPF"
#: Entry header: magic, format version, number of float32 values, then a blake2b
#: digest of the key, those three fields and the values.
_PREFIX = struct.Struct("<4sHI")
_DIGEST_SIZE = 16
_VALUES = np.dtype("<f4")


class PosterCache:
    """Entries of single posters under one set of settings, with the problems met.

    Layout ``<root>/<kind>/<settings hash>/<key[:2]>/<key><suffix>``, a
    ``settings.json`` beside the shards. Writes go through
    :func:`~skposter._utils._cache.atomic_write`; a failed one is tallied, not raised,
    and :meth:`warn_problems` reports the tallies once. Subclasses say how an entry is
    encoded and how its problems read.
    """

    #: Folder under the root, file suffix of an entry, and the name used in warnings.
    kind = suffix = label = ""

    def __init__(self, root, settings_text):
        name = hashlib.blake2b(settings_text.encode(), digest_size=8).hexdigest()
        self.directory = Path(root) / self.kind / name
        self.unstored = 0
        self.write_error = None
        manifest = self.directory / "settings.json"
        if not manifest.exists():
            self._write(manifest, settings_text.encode())

    def _path(self, key):
        return self.directory / key[:2] / f"{key}{self.suffix}"

    def warn_problems(self, stacklevel=2):
        """Issue one :class:`FeatureCacheWarning` for everything tallied, if anything."""
        problems = [problem for problem in (self._damaged_problem(), self._unstored_problem())
                    if problem is not None]
        if problems:
            warnings.warn(f"{self.label} {self.directory}: " + "; ".join(problems) + ".",
                          FeatureCacheWarning, stacklevel=stacklevel + 1)

    def _write(self, path, data):
        """Write ``data`` to ``path``; False (and the first error kept) when impossible."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except OSError as error:
            self.write_error = self.write_error or error
            return False
        return True


class FeatureCache(PosterCache):
    """Features of single posters stored under one set of extraction settings.

    An instance also tallies the problems it meets (damaged entries, features it
    could not store) for :meth:`warn_problems`; make one per transform.

    Parameters
    ----------
    root : path-like
        Cache folder.
    settings : dict
        Everything the features depend on besides the poster (backbone, weights,
        input size, pooling...); JSON-serialisable.
    n_features : int
        Length of every stored feature vector.
    """

    kind, suffix, label = "cnn-features", ".feat", "feature cache"

    def __init__(self, root, settings, n_features):
        self.n_features = n_features
        self.damaged = set()
        super().__init__(root, json.dumps({**settings, "cache_format": FORMAT_VERSION},
                                          sort_keys=True))

    def get(self, key):
        """Stored features for ``key``, or None when absent or damaged (then tallied)."""
        try:
            with open(self._path(key), "rb") as file:
                # One byte more than an entry tells a longer file without reading it all.
                blob = file.read(_entry_size(self.n_features) + 1)
            return _decode(blob, key, self.n_features)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, _DamagedEntry):
            self.damaged.add(key)
            return None

    def put(self, key, features):
        """Store one poster's features; a failed write is tallied, not raised."""
        features = np.asarray(features, dtype=_VALUES)
        if not np.isfinite(features).all():
            # Never stored: a read would reject it and recompute it every time anyway.
            return
        if not self._write(self._path(key), _encode(key, features)):
            self.unstored += 1

    def _damaged_problem(self):
        n = len(self.damaged)
        if n:
            return (f"{n} damaged {'entry was' if n == 1 else 'entries were'} "
                    "recomputed (wrong size, checksum or values)")
        return None

    def _unstored_problem(self):
        if self.unstored:
            return (f"the features of {self.unstored} poster(s) could not be stored "
                    f"({self.write_error}); they are computed again next time")
        return None


class _DamagedEntry(Exception):
    """A cache entry failed a check."""


def _entry_size(n_features):
    return _PREFIX.size + _DIGEST_SIZE + n_features * _VALUES.itemsize


def _digest(key, prefix, values):
    digest = hashlib.blake2b(digest_size=_DIGEST_SIZE)
    # The key is included: an entry copied under another poster's name fails too.
    for part in (key.encode(), prefix, values):
        digest.update(part)
    return digest.digest()


def _encode(key, features):
    """Bytes of an entry: header, then the values as little-endian float32."""
    values = np.ascontiguousarray(features, dtype=_VALUES).tobytes()
    prefix = _PREFIX.pack(_MAGIC, FORMAT_VERSION, len(features))
    return prefix + _digest(key, prefix, values) + values


def _decode(blob, key, n_features):
    """Features of an entry's bytes; raises _DamagedEntry unless every check passes."""
    if len(blob) != _entry_size(n_features):
        raise _DamagedEntry
    prefix, digest = blob[:_PREFIX.size], blob[_PREFIX.size:_PREFIX.size + _DIGEST_SIZE]
    values = blob[_PREFIX.size + _DIGEST_SIZE:]
    if _PREFIX.unpack(prefix) != (_MAGIC, FORMAT_VERSION, n_features) \
            or digest != _digest(key, prefix, values):
        raise _DamagedEntry
    features = np.frombuffer(values, dtype=_VALUES).astype(np.float32)
    if not np.isfinite(features).all():
        raise _DamagedEntry
    return features

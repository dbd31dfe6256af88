"""save and load: one file holding a fitted estimator and the versions that made it.

A model file is a header line naming its format, a JSON line with the version stamp,
then the estimator: a joblib pickle, or a skops file (``skops.io``) in the safe format.
The header lets :func:`load` refuse a file that skposter did not write *before* reading
anything else, and the stamp can be compared without rebuilding the estimator.
"""

import json
import os
import pickle
import platform
import tempfile
import warnings
import zipfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib

from .exceptions import VersionMismatchWarning

__all__ = ["load", "save"]

# One header per format, of one length, so the first bytes tell the format.
_HEADERS = {"pickle": b"skposter-model 1\n", "skops": b"skposter-skops 1\n"}
_FORMAT_OF = {header: format for format, header in _HEADERS.items()}
_HEADER_LENGTH = len(_HEADERS["pickle"])
# Packages whose version is recorded; "skposter" and "python" are added separately.
_PACKAGES = ("scikit-learn", "keras", "tensorflow", "numpy")
# A stamp line is a few hundred bytes; the bound stops a wrong file being read whole.
_MAX_STAMP_BYTES = 64 * 1024
# Types outside skposter that fitted skposter models hold (cache folders, the dtypes of
# imputers, random forest trees, stacking's named estimators) and skops does not trust
# by default. Each is rebuilt from data only; no other foreign type is trusted.
_TRUSTED_TYPES = ("numpy.dtype", "pathlib.PosixPath", "pathlib.WindowsPath",
                  "sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch")
# What rebuilding raises for a damaged file or classes that changed since it was saved.
_REBUILD_ERRORS = (AttributeError, ImportError, EOFError, KeyError, TypeError, ValueError,
                   pickle.UnpicklingError, zipfile.BadZipFile)


def version_stamp():
    """Versions of skposter, its main dependencies and Python, and the current time.

    Returns
    -------
    dict of str -> str or None
        ``None`` for a package that is not installed.
    """
    from . import __version__

    stamp = {"skposter": __version__}
    stamp.update({name: _installed_version(name) for name in _PACKAGES})
    stamp["python"] = platform.python_version()
    stamp["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return stamp


def _installed_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def save(estimator, path, *, format="pickle"):
    """Save an estimator (usually fitted) to one file, with the versions that made it.

    The file holds the estimator after a version stamp: skposter, scikit-learn, keras,
    tensorflow, numpy and Python versions, and the creation time. Estimators holding a
    Keras model store their weights and are rebuilt from them when loaded. The file is
    replaced atomically, so an interrupted save never leaves a truncated model behind.

    Parameters
    ----------
    estimator : object
        Typically a fitted pipeline.
    path : str or path-like
        File to write; its folder must exist.
    format : {"pickle", "skops"}, default="pickle"
        ``"skops"`` writes the safe format: :func:`load` builds nothing but skposter
        types, the types skops trusts and a few plain data types, so a file from
        elsewhere cannot name code for it to run.
        It holds functions by name, so lambdas and local functions are refused.
        ``"pickle"`` holds any picklable object, but loading it runs whatever code
        it names: only load pickle files you trust.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If ``format`` is unknown, or the estimator holds lambdas or local functions
        and ``format="skops"``.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile, skposter
    >>> from skposter.multilabel import PerGenreClassifier
    >>> folder = tempfile.mkdtemp()
    >>> path = skposter.save(PerGenreClassifier(), folder + "/model.skposter", format="skops")
    >>> skposter.load(path)
    PerGenreClassifier()
    """
    if format not in _HEADERS:
        raise ValueError(f"format must be one of {sorted(_HEADERS)}, got {format!r}.")
    # Serialised before the file is opened: an estimator skops cannot hold leaves no file.
    body = _skops_bytes(estimator) if format == "skops" else None
    path = Path(path)
    stamp = json.dumps(version_stamp()).encode("utf-8") + b"\n"
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(_HEADERS[format] + stamp)
            if body is None:
                joblib.dump(estimator, file)
            else:
                file.write(body)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return path


def _skops_bytes(estimator):
    # skops.io imports much of scikit-learn (half a second): only this format needs it.
    import skops.io

    body = skops.io.dumps(estimator)
    unnamed = [name for name in skops.io.get_untrusted_types(data=body) if "<" in name]
    if unnamed:
        raise ValueError(
            f"the skops format stores functions by name, and {', '.join(unnamed)} cannot "
            "be found by name when loading (lambdas or local functions): define them at "
            "module level."
        )
    return body


def load(path, *, trusted=()):
    """Load an estimator written by :func:`save`, in either format.

    The format is read from the file's first line, not its name. Files skposter did
    not write are refused before anything else is read. When the installed versions
    of skposter, scikit-learn, keras, tensorflow, numpy or Python (major.minor) differ
    from the saved ones, a :class:`~skposter.exceptions.VersionMismatchWarning` names
    each of them: the estimator may then predict differently, or fail.

    A file in the safe format (``save(..., format="skops")``) is rebuilt by
    ``skops.io`` with skposter's own types, the types skops trusts and a few plain
    data types (paths, dtypes, tree arrays) trusted. Any other type is refused, listing
    every one of them, before anything is built.

    .. warning::
       A file in the pickle format is unpickled, and unpickling can run arbitrary
       code: only load pickle files you trust, as with any pickle or joblib file.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.
    trusted : sequence of str, default=()
        More types to trust in a skops file, by the names the refusal lists (such
        as ``"mymodule.my_function"``): only after reviewing them.

    Returns
    -------
    object
        The saved estimator.

    Raises
    ------
    ValueError
        If the file was not written by :func:`save`, holds types that are not
        trusted, or the estimator cannot be rebuilt from it (truncated file, or
        classes that no longer exist).
    """
    path = Path(path)
    with open(path, "rb") as file:
        format = _FORMAT_OF.get(file.read(_HEADER_LENGTH))
        if format is None:
            raise ValueError(f"{path} is not a skposter model file (written by skposter.save).")
        saved = _read_stamp(file, path)
        _warn_on_mismatch(saved, version_stamp(), path)
        if format == "skops":
            return _load_skops(file.read(), trusted, saved, path)
        return _rebuild(lambda: joblib.load(file), saved, path)


def _load_skops(body, trusted, saved, path):
    import skops.io

    types = _rebuild(lambda: skops.io.get_untrusted_types(data=body), saved, path)
    trusted = {*_TRUSTED_TYPES, *trusted}
    refused = [name for name in types if not (name.startswith("skposter.") or name in trusted)]
    if refused:
        raise ValueError(
            f"{path} holds types skposter does not trust, so nothing in it was built: "
            f"{', '.join(refused)}. Pass them as load(..., trusted=[...]) only if you "
            "trust where the file comes from."
        )
    return _rebuild(lambda: skops.io.loads(body, trusted=types), saved, path)


def _rebuild(read, saved, path):
    try:
        return read()
    except _REBUILD_ERRORS as exc:
        raise ValueError(
            f"cannot rebuild the estimator in {path} (saved with skposter "
            f"{saved.get('skposter')}, scikit-learn {saved.get('scikit-learn')}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _read_stamp(file, path):
    line = file.readline(_MAX_STAMP_BYTES)
    try:
        stamp = json.loads(line)
    except ValueError:
        stamp = None
    if not isinstance(stamp, dict):
        raise ValueError(f"{path} has a damaged version stamp; it is not a usable model file.")
    return stamp


def _warn_on_mismatch(saved, current, path):
    differing = [
        f"{name} {saved.get(name)} (installed: {current[name]})"
        for name in ("skposter", *_PACKAGES, "python")
        if _comparable(name, saved.get(name)) != _comparable(name, current[name])
    ]
    if differing:
        warnings.warn(
            f"{path} was saved with other versions than installed: {', '.join(differing)}. "
            "It may predict differently or fail; re-train it, or install those versions.",
            VersionMismatchWarning,
            stacklevel=3,
        )


def _comparable(name, value):
    # Pickles move freely between Python patch releases; only a new minor version matters.
    if name == "python" and value:
        return ".".join(value.split(".")[:2])
    return value

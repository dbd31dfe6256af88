"""save and load: one file holding a fitted estimator and the versions that made it.

A model file is a header line, a JSON line with the version stamp, then the joblib
pickle of the estimator. The header lets :func:`load` refuse a file that skposter did
not write *before* unpickling anything, and the stamp can be compared without
unpickling.
"""

import json
import os
import pickle
import platform
import tempfile
import warnings
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib

from .exceptions import VersionMismatchWarning

__all__ = ["load", "save"]

_HEADER = b"skposter-model 1\n"
# Packages whose version is recorded; "skposter" and "python" are added separately.
_PACKAGES = ("scikit-learn", "keras", "tensorflow", "numpy")
# A stamp line is a few hundred bytes; the bound stops a wrong file being read whole.
_MAX_STAMP_BYTES = 64 * 1024


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


def save(estimator, path):
    """Save an estimator (usually fitted) to one file, with the versions that made it.

    The file holds the estimator's pickle (through joblib) after a version stamp:
    skposter, scikit-learn, keras, tensorflow, numpy and Python versions, and the
    creation time. Estimators holding a Keras model pickle their weights and are
    rebuilt from them when loaded. The file is replaced atomically, so an interrupted
    save never leaves a truncated model behind.

    Parameters
    ----------
    estimator : object
        Any picklable object, typically a fitted pipeline.
    path : str or path-like
        File to write; its folder must exist.

    Returns
    -------
    pathlib.Path
        The written file.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile, skposter
    >>> from skposter.multilabel import PerGenreClassifier
    >>> path = skposter.save(PerGenreClassifier(), tempfile.mkdtemp() + "/model.skposter")
    >>> skposter.load(path)
    PerGenreClassifier()
    """
    path = Path(path)
    stamp = json.dumps(version_stamp()).encode("utf-8") + b"\n"
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(_HEADER + stamp)
            joblib.dump(estimator, file)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return path


def load(path):
    """Load an estimator written by :func:`save`.

    .. warning::
       Loading unpickles the file, and unpickling can run arbitrary code: only load
       files you trust, as with any pickle or joblib file.

    Files skposter did not write are refused before anything is unpickled. When the
    installed versions of skposter, scikit-learn, keras, tensorflow, numpy or Python
    (major.minor) differ from the saved ones, a
    :class:`~skposter.exceptions.VersionMismatchWarning` names each of them: the
    estimator may then predict differently, or fail.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.

    Returns
    -------
    object
        The saved estimator.

    Raises
    ------
    ValueError
        If the file was not written by :func:`save`, or the estimator cannot be
        rebuilt from it (truncated file, or classes that no longer exist).
    """
    path = Path(path)
    with open(path, "rb") as file:
        if file.read(len(_HEADER)) != _HEADER:
            raise ValueError(f"{path} is not a skposter model file (written by skposter.save).")
        saved = _read_stamp(file, path)
        _warn_on_mismatch(saved, version_stamp(), path)
        try:
            return joblib.load(file)
        except (AttributeError, ImportError, EOFError, pickle.UnpicklingError) as exc:
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

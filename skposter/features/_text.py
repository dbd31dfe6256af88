"""PosterTextExtractor: posters -> the words Tesseract OCR reads on them."""

import csv
import io
import json
import numbers
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._utils._cache import resolve_cache_dir
from ..base import DocLinkMixin
from ..io._decode import DEFAULT_MAX_PIXELS, decode_poster
from ..io._loader import UNREADABLE_FILE_ERRORS
from ..io._sources import poster_sources, report_unreadable
from ..io._threads import describe_error
from ._cache import PosterCache
from ._per_poster import cached_per_poster

#: Bumped whenever a change alters what is read for unchanged settings.
TEXT_VERSION = 1

_INSTALL = ("PosterTextExtractor needs the Tesseract OCR program: apt-get install "
            "tesseract-ocr (Debian, Ubuntu), brew install tesseract (macOS), or set "
            "tesseract_cmd to its path")


class PosterTextExtractor(DocLinkMixin, TransformerMixin, BaseEstimator):
    """The text printed on each poster, read by Tesseract OCR: one string per poster.

    The output is a 1-D array of strings, so the step composes with
    :class:`~sklearn.feature_extraction.text.TfidfVectorizer` or
    :class:`~sklearn.feature_extraction.text.CountVectorizer` in a pipeline. Only the
    words Tesseract is at least ``min_confidence`` sure of are kept, in reading order:
    a poster's photograph otherwise reads as strings of junk letters.

    Tesseract is run as a program (one process per poster, limited to one thread:
    its OpenMP threads tripled the CPU time on small images and ran no faster), so
    ``n_jobs`` posters are read at once.

    Parameters
    ----------
    lang : str, default="eng"
        Tesseract language(s), e.g. ``"eng+fra"``; each needs its language data
        (``apt-get install tesseract-ocr-fra``).
    psm : int, default=11
        Tesseract page segmentation mode: 11 finds sparse text in no particular order
        (titles, taglines, credits scattered over artwork); 3 expects a page of text.
    min_height : int, default=800
        Posters shorter than this are enlarged (Lanczos, keeping their shape) before
        OCR: Tesseract reads letters about 20 pixels high or more, and the credits of
        a 268-pixel poster are far smaller.
    min_confidence : float, default=50
        Words Tesseract is less sure of (0-100) are dropped. Changing it reuses the
        cache: entries keep every word with its confidence.
    n_jobs : int, default=None
        Posters read at once (threads, each waiting on its Tesseract process); None
        means 1, -1 all CPUs.
    cache : str, path-like, joblib.Memory or None, default=None
        Folder where the words read on each poster are stored, keyed by the poster's
        content and by every setting above except ``min_confidence`` (and the
        Tesseract version), so OCR runs once per poster. Damaged entries are read
        again; a folder that cannot be written warns. See
        :class:`~skposter.features.CNNFeatureExtractor` for the same rules.
    tesseract_cmd : str, default="tesseract"
        The Tesseract program, by name on the ``PATH`` or by path.
    on_error : {"raise", "blank"}, default="raise"
        Unreadable files: raise one :class:`~skposter.exceptions.PosterReadError`
        listing them all, or give them an empty text with a warning.
    max_pixels : int, default=40_000_000
        Decompression bomb guard.
    verbose : int, default=0
        Progress bar when positive.

    Attributes
    ----------
    n_features_in_ : int
        1: each sample is one poster.
    tesseract_version_ : str
        Version of the Tesseract program found at fit.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.pipeline import make_pipeline
    >>> from skposter.features import PosterTextExtractor
    >>> words = make_pipeline(PosterTextExtractor(n_jobs=2), TfidfVectorizer())  # doctest: +SKIP
    """

    _parameter_constraints = {
        "lang": [str],
        "psm": [Interval(numbers.Integral, 0, 13, closed="both")],
        "min_height": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_confidence": [Interval(numbers.Real, 0, 100, closed="both")],
        "n_jobs": [numbers.Integral, None],
        "cache": [str, os.PathLike, HasMethods(["cache"]), None],
        "tesseract_cmd": [str, os.PathLike],
        "on_error": [StrOptions({"raise", "blank"})],
        "max_pixels": [Interval(numbers.Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, lang="eng", psm=11, min_height=800, min_confidence=50, n_jobs=None,
                 cache=None, tesseract_cmd="tesseract", on_error="raise",
                 max_pixels=DEFAULT_MAX_PIXELS, verbose=0):
        self.lang = lang
        self.psm = psm
        self.min_height = min_height
        self.min_confidence = min_confidence
        self.n_jobs = n_jobs
        self.cache = cache
        self.tesseract_cmd = tesseract_cmd
        self.on_error = on_error
        self.max_pixels = max_pixels
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Find Tesseract and check it has the languages; nothing is learned from ``X``.

        Returns
        -------
        self : object

        Raises
        ------
        ImportError
            Tesseract is not installed, or lacks a language of ``lang``.
        """
        self._validate_params()
        self.tesseract_version_ = _tesseract_version(self.tesseract_cmd)
        missing = set(self.lang.split("+")) - _tesseract_languages(self.tesseract_cmd)
        if missing:
            packages = " ".join(f"tesseract-ocr-{name}" for name in sorted(missing))
            raise ImportError(f"Tesseract has no language data for {sorted(missing)} "
                              f"(lang={self.lang!r}): apt-get install {packages}")
        self.n_features_in_ = 1
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """Read (or take from the cache) the text of each poster.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), list of image arrays, or paths
            Images, or poster file paths (a list, array, Series or one-column frame).

        Returns
        -------
        ndarray of shape (n_posters,), dtype object
            One string per poster, words separated by spaces ("" when none is read).
        """
        check_is_fitted(self, "tesseract_version_")
        posters = poster_sources(X)
        words, failures = cached_per_poster(self._read, posters, self._text_cache(),
                                            n_jobs=self.n_jobs, verbose=self.verbose,
                                            desc="reading poster text")
        report_unreadable(failures, self.on_error, paths=posters.paths,
                          outcome="got an empty text")
        texts = np.empty(len(posters), dtype=object)
        texts[:] = [self._join(read or []) for read in words]
        return texts

    def get_feature_names_out(self, input_features=None):
        """Name the single output column.

        Returns
        -------
        ndarray of str
            ``["poster_text"]``.
        """
        return np.asarray(["poster_text"], dtype=object)

    def _join(self, words):
        return " ".join(word for word, confidence in words if confidence >= self.min_confidence)

    def _read(self, source):
        """Words and confidences Tesseract reads on one poster, or the reason it failed."""
        try:
            image = source if isinstance(source, np.ndarray) else decode_poster(
                source, max_pixels=self.max_pixels)
        except UNREADABLE_FILE_ERRORS as exc:
            return None, describe_error(exc)
        return _ocr(_enlarged(image, self.min_height), self.tesseract_cmd, self.lang,
                    self.psm), None

    def _text_cache(self):
        root = resolve_cache_dir(self.cache)
        if root is None:
            return None
        settings = {"lang": self.lang, "psm": self.psm, "min_height": self.min_height,
                    "tesseract": self.tesseract_version_, "version": TEXT_VERSION}
        return TextCache(root, settings)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _enlarged(image, min_height):
    """PIL image of ``image``, enlarged to ``min_height`` rows when it is shorter."""
    pil = Image.fromarray(image)
    if pil.height < min_height:
        width = max(1, round(pil.width * min_height / pil.height))
        pil = pil.resize((width, min_height), Image.Resampling.LANCZOS)
    return pil


def _ocr(image, tesseract_cmd, lang, psm):
    """``[(word, confidence), ...]`` read by Tesseract on a PIL image, in reading order."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    # One thread per process: n_jobs processes run side by side instead.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    command = [str(tesseract_cmd), "stdin", "stdout", "-l", lang, "--psm", str(psm), "tsv"]
    done = subprocess.run(command, input=buffer.getvalue(), capture_output=True, env=env,
                          check=False)
    if done.returncode:
        raise RuntimeError(f"Tesseract failed ({' '.join(command)}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    rows = csv.DictReader(io.StringIO(done.stdout.decode("utf-8", errors="replace")),
                          delimiter="\t", quoting=csv.QUOTE_NONE)
    # Level 5 rows are words; a confidence of -1 marks layout rows without text.
    return [(row["text"], float(row["conf"])) for row in rows
            if row["level"] == "5" and row["text"] and row["text"].strip()
            and float(row["conf"]) >= 0]


def _run(tesseract_cmd, *args):
    program = shutil.which(str(tesseract_cmd))
    if program is None:
        raise ImportError(f"{_INSTALL}; {str(tesseract_cmd)!r} was not found.")
    done = subprocess.run([program, *args], capture_output=True, check=False)
    return done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")


def _tesseract_version(tesseract_cmd):
    first = _run(tesseract_cmd, "--version").strip().splitlines()
    if not first or not first[0].lower().startswith("tesseract"):
        raise ImportError(f"{_INSTALL}; {str(tesseract_cmd)!r} is not Tesseract.")
    return first[0].split()[-1]


def _tesseract_languages(tesseract_cmd):
    # The first line is a header naming the data folder.
    return set(_run(tesseract_cmd, "--list-langs").strip().splitlines()[1:])


class TextCache(PosterCache):
    """Words read on single posters, stored under one set of OCR settings.

    Layout: ``<root>/poster-text/<settings hash>/<key[:2]>/<key>.json``, each entry
    holding its key (an entry copied under another poster's name is refused) and
    the words with their confidences. The float-vector
    :class:`~skposter.features._cache.FeatureCache` does not fit: texts have no fixed
    length; the folder layout, writes and warnings are :class:`PosterCache`'s.

    Parameters
    ----------
    root : path-like
    settings : dict
        JSON-serialisable OCR settings.
    """

    kind, suffix, label = "poster-text", ".json", "text cache"

    def __init__(self, root, settings):
        self.damaged = 0
        super().__init__(root, json.dumps(settings, sort_keys=True))

    def get(self, key):
        """Stored ``[(word, confidence), ...]`` for ``key``, or None (absent or damaged)."""
        try:
            entry = json.loads(self._path(key).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            self.damaged += 1
            return None
        try:
            if entry["key"] != key:
                raise ValueError
            return [(str(word), float(confidence)) for word, confidence in entry["words"]]
        except (KeyError, TypeError, ValueError):
            self.damaged += 1
            return None

    def put(self, key, words):
        """Store the words of one poster; a failed write is tallied, not raised."""
        entry = json.dumps({"key": key, "words": [list(pair) for pair in words]})
        if not self._write(self._path(key), entry.encode()):
            self.unstored += 1

    def _damaged_problem(self):
        if self.damaged:
            return f"{self.damaged} damaged entries were read again"
        return None

    def _unstored_problem(self):
        if self.unstored:
            return (f"the text of {self.unstored} poster(s) could not be stored "
                    f"({self.write_error}); it is read again next time")
        return None

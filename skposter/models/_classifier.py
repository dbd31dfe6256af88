"""KerasPosterClassifier: a CNN trained end to end on posters, as a scikit-learn classifier."""

import numbers
import os

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags
from sklearn.utils.validation import check_consistent_length

from .._keras._backbones import BACKBONES, get_backbone
from .._keras._device import plan_devices
from .._utils._images import check_size
from ..io._sources import poster_sources, report_unreadable
from ..io._stream import PosterStream
from ._base import KerasPosterBase
from ._specs import ARCHITECTURES, DEFAULTS, NetworkSpec

# Keras and TensorFlow load on first use (fit, predict, unpickling), inside the methods
# below, so that importing the classifier, or ``from skposter import *``, stays light.
_LOSSES = {"auto", "binary_crossentropy", "categorical_crossentropy", "focal", "soft_f1"}


class KerasPosterClassifier(ClassifierMixin, KerasPosterBase):
    """A convolutional network trained on posters, with the scikit-learn classifier API.

    A scikit-learn classifier (multi-label, with the tags that say so), so it works in
    ``Pipeline``, ``GridSearchCV``, ``cross_val_score``, ``StackingClassifier``,
    ``VotingClassifier(voting="soft")`` and ``CalibratedClassifierCV``. Posters reach
    the network through ``tf.data`` (:class:`~skposter.io.PosterStream`); paths are
    decoded and resized once per fit and the epochs train from the uint8 posters
    (``image_cache``), or, past a memory budget, streamed and decoded again at every
    epoch, so the collection never has to fit in memory.

    Targets are a 0/1 genre matrix (one sigmoid per genre) or 1-D class labels (one
    softmax). Training holds back ``validation_split`` of the *training* data to stop
    early and lower the learning rate on plateaus, keeping the best epoch's weights.

    Parameters
    ----------
    architecture : {"seed_cnn", "small_cnn", "transfer"} or callable, default="seed_cnn"
        ``"seed_cnn"``: four conv/batch-norm/max-pool blocks (32@7x7, 32@5x5, 64@3x3,
        64@3x3), dropout, dense 128 and 64. ``"small_cnn"``: one or two 3x3 conv blocks
        (as many as ``filters``), global average pooling, dense 64. ``"transfer"``: the
        pretrained ``backbone``, frozen, global pooling, dense 256, output.
        A callable ``builder(input_shape, n_outputs, activation)`` returns a
        ``keras.Model`` from float images in [0, 1] to ``n_outputs`` probabilities.
    input_size : int or (height, width), default=None
        Size posters are resized to. None: 128x85 (posters' 3:2 shape) for the CNNs and
        user builders, the backbone's training size for ``"transfer"``.
    resize_mode : {"stretch", "crop", "pad"}, default="stretch"
        Aspect-ratio handling, as in :class:`~skposter.preprocessing.Resizer`.
    filters : tuple of int, default=None
        Convolution widths, one per conv block; None is the architecture's default.
    kernel_sizes : tuple of int, default=None
        Kernel side per conv block; None is 7, 5, 3, 3 (seed_cnn) or 3 (small_cnn).
    dense_units : tuple of int, default=None
        Widths of the hidden dense layers; None is the architecture's default.
    dropout : float, default=0.25
        Dropout after the conv blocks and after each hidden dense layer. Networks
        trained from scratch on a few thousand posters underfit in a few epochs with
        more (0.5 kept ``seed_cnn`` at the label prior on the real posters).
    backbone : str, default="efficientnet_lite0"
        Pretrained network of ``"transfer"``, one of ``skposter.features.BACKBONES``.
    backbone_weights : {"imagenet", None} or path, default="imagenet"
        Its weights: ImageNet, random, or a Keras weights file.
    pooling : {"avg", "max"}, default="avg"
        Global pooling of the backbone's last feature map.
    fine_tune_layers : int or str, default=0
        After the head has converged, unfreeze the backbone's top layers: this many,
        from the layer with this name (or name prefix, e.g. ``"block7a"`` or
        ``"top_conv"`` in EfficientNet-Lite) up, or ``"all"`` of them (the whole
        backbone; all but the stem is ``"block1a"`` in EfficientNet and Lite). Batch
        norms stay frozen, in inference mode, on their ImageNet statistics, which a
        few thousand posters in small batches would only blur. Training then goes on
        at ``fine_tune_learning_rate``. ``"transfer"`` only; 0 does not fine-tune.
    fine_tune_epochs : int, default=10
        Most epochs of the fine-tuning phase (early stopping applies).
    fine_tune_learning_rate : float, default=1e-5
        Learning rate of the fine-tuning phase (its peak, with a schedule).
    fine_tune_schedule : {"constant", "cosine"}, default="constant"
        Learning rate over the fine-tuning phase's ``fine_tune_epochs``: constant
        (halved on validation plateaus), or decaying from ``fine_tune_learning_rate``
        to 0 along a half cosine, step by step (Keras' ``CosineDecay``; no halving).
    fine_tune_warmup : float, default=0.0
        Share of the fine-tuning phase's steps over which the rate first rises
        linearly from 0 to ``fine_tune_learning_rate``, so the freshly opened layers
        do not take large steps from the head's early gradients. With a warm-up,
        the rate follows the schedule alone (no halving on plateaus).
    flip : bool, default=True
        Random horizontal flips in training.
    shift : float, default=0.1
        Largest random shift in training, as a fraction of height and width; 0 turns
        it off.
    zoom : float, default=0.1
        Largest random zoom in or out in training; 0 turns it off.
    loss : {"auto", "binary_crossentropy", "categorical_crossentropy", "focal", \
"soft_f1"} or keras.losses.Loss, default="auto"
        ``"auto"`` is binary cross-entropy for a genre matrix, categorical
        cross-entropy for class labels. See :class:`GenreBinaryCrossentropy`,
        :class:`FocalLoss`, :class:`SoftF1Loss`.
    class_weight : {"balanced"}, dict or None, default=None
        ``"balanced"``: for a genre matrix, each genre's positives and negatives weigh
        inversely to their frequency in that genre's training column (in the loss; not
        with ``"soft_f1"``, which weighs genres equally already); for class labels,
        sample weights as in scikit-learn. A dict maps class labels to weights (class
        labels only).
    optimizer : str, default="adam"
        A Keras optimizer name.
    learning_rate : float, default=1e-3
    batch_size : int, default=32
        Posters per training and prediction batch (over all devices).
    epochs : int, default=30
        Most epochs (of the head, for ``"transfer"``); early stopping usually ends
        sooner.
    validation_split : float, default=0.1
        Share of the training data held back (at random, from ``random_state``) to
        monitor: early stopping after ``patience`` epochs without a better validation
        loss, learning rate halved after ``patience // 2``. 0 trains on all of it for
        ``epochs`` epochs.
    patience : int, default=5
    callbacks : list of keras.callbacks.Callback, default=None
        Extra callbacks; copies are used in each fit.
    device : {"auto", "cpu", "gpu"} or "gpu:N", default="auto"
        ``"auto"`` uses every GPU when there is one (mirrored), else the CPU.
    precision : {"auto", "float32", "mixed_float16", "mixed_bfloat16"}, default="auto"
        ``"auto"``: mixed float16 on GPUs, float32 on the CPU.
    image_cache : {"auto", "memory"}, path-like or None, default="auto"
        Where a fit on paths keeps the posters, decoded and resized to
        ``input_size`` once: ``"memory"`` in one uint8 array; a folder in a memmap
        there, keyed on the files' contents, ``input_size`` and ``resize_mode``, which
        a second fit (or a resumed run, or another process) on the same files reads
        without decoding anything; None nowhere, decoding every poster again at every
        epoch with memory flat. ``"auto"`` is ``"memory"`` when the decoded posters
        take at most 2 GiB (``height * width * 3`` bytes each: 14,000 posters at
        224x224), else None. Augmentation still draws anew at each epoch. Images
        given as arrays are resized once into memory whatever this says.
    on_error : {"raise", "blank"}, default="raise"
        Unreadable poster files: raise :class:`~skposter.exceptions.PosterReadError`
        (before training when the posters are decoded once, else at the first one
        met), or use a blank poster with a warning.
    warm_start : bool, default=False
        Continue training the fitted network in the next ``fit`` instead of building a
        new one.
    random_state : int, RandomState instance or None, default=None
        Seeds initial weights, dropout, augmentation, the validation split and the
        order of each epoch: with an int, two fits on the CPU predict the same.
    verbose : int, default=0
        Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.

    Attributes
    ----------
    classes_ : ndarray
        Genre names from a DataFrame target's columns, else ``0 .. n_genres - 1``; the
        sorted class labels of a 1-D target.
    model_ : keras.Model
        The trained network: uint8 posters of ``input_size_`` in, probabilities out.
    history_ : dict of str -> list of float
        Per-epoch ``loss`` and ``learning_rate`` (and ``val_loss``), fine-tuning epochs
        after the head's.
    fine_tune_start_ : int or None
        Index in ``history_`` of the first fine-tuning epoch.
    input_size_ : tuple of int
        ``(height, width)`` posters are resized to.
    device_plan_ : DevicePlan
        Devices and precision the network runs with.
    n_features_in_ : int
        1: each sample is one poster.

    Notes
    -----
    On a CPU with few cores, decoding posters at every epoch competes with training
    for the cores: by default a fit decodes them once (``image_cache``). Streaming
    (``image_cache=None``) keeps memory flat however many posters there are. Arrays
    of another size than ``input_size`` are resized once per fit, into a copy.

    Fine-tuning a whole backbone on a few thousand posters follows the usual recipe:
    the head first on the frozen backbone, then ``fine_tune_layers="all"`` at a
    learning rate 10 to 100 times lower, ``fine_tune_warmup`` and
    ``fine_tune_schedule="cosine"``, with augmentation, batch norms frozen.

    Pickles (and :func:`skposter.save` files) hold the network's weights, not a Keras
    object: unpickling rebuilds the network from the parameters and sets the weights,
    on this machine's devices. The optimizer state is not kept, so a warm start after
    unpickling starts a fresh optimizer.

    The scikit-learn plumbing (fit, partial fit, prediction, state, pickling) is
    skposter's own thin base, :class:`~skposter.models._base.KerasPosterBase`, the way
    skorch's ``NeuralNet`` owns it, rather than scikeras' ``KerasClassifier``: scikeras
    validates ``X`` as a numeric table, feeds arrays to one ``Model.fit`` per call and
    routes ``fit__``/``optimizer__`` parameters, where posters are paths or images of
    any size streamed through ``tf.data``, trained in phases, with every setting a
    constructor parameter; every scikeras hook was overridden or bypassed. Where to
    look: :mod:`~skposter.models._training` runs the epochs (seeds, split, weights),
    :mod:`~skposter.models._data` turns posters and targets into ``tf.data`` batches,
    :mod:`~skposter.models._callbacks` builds the Keras callbacks (early stopping,
    learning-rate reduction, failing on an unreadable poster),
    :mod:`~skposter.models._fine_tuning` the phases and which backbone layers train.

    Early stopping and learning-rate reduction are Keras callbacks. Fine-tuning is a
    second phase (a second ``Model.fit``), not a callback inside one fit: the head's
    early stopping must restore its best epoch before the backbone opens, the new
    trainable flags only take effect on a recompiled network, and each phase has
    its own stopping and learning-rate state.

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> from skposter.models import KerasPosterClassifier
    >>> data = make_posters(40, n_genres=3, size=(32, 24), random_state=0)
    >>> model = KerasPosterClassifier("small_cnn", input_size=(32, 24), epochs=2,
    ...                               random_state=0).fit(data.images, data.target)
    >>> model.predict_proba(data.images).shape
    (40, 3)
    """

    _estimator_type = "classifier"

    _parameter_constraints = {
        "architecture": [StrOptions(set(ARCHITECTURES)), callable],
        "input_size": [Interval(numbers.Integral, 1, None, closed="left"), tuple, list, None],
        "resize_mode": [StrOptions({"stretch", "crop", "pad"})],
        "filters": [tuple, list, None],
        "kernel_sizes": [tuple, list, None],
        "dense_units": [tuple, list, None],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "backbone": [StrOptions(set(BACKBONES))],
        "backbone_weights": [StrOptions({"imagenet"}), str, os.PathLike, None],
        "pooling": [StrOptions({"avg", "max"})],
        "fine_tune_layers": [Interval(numbers.Integral, 0, None, closed="left"), str],
        "fine_tune_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "fine_tune_schedule": [StrOptions({"constant", "cosine"})],
        "fine_tune_warmup": [Interval(numbers.Real, 0, 1, closed="left")],
        "flip": ["boolean"],
        "shift": [Interval(numbers.Real, 0, 1, closed="left")],
        "zoom": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss": [StrOptions(_LOSSES), callable],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "optimizer": [str],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_split": [Interval(numbers.Real, 0, 1, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "device": [str],
        "precision": [StrOptions({"auto", "float32", "mixed_float16", "mixed_bfloat16"})],
        "image_cache": [StrOptions({"auto", "memory"}), str, os.PathLike, None],
        "on_error": [StrOptions({"raise", "blank"})],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        architecture="seed_cnn",
        *,
        input_size=None,
        resize_mode="stretch",
        filters=None,
        kernel_sizes=None,
        dense_units=None,
        dropout=0.25,
        backbone="efficientnet_lite0",
        backbone_weights="imagenet",
        pooling="avg",
        fine_tune_layers=0,
        fine_tune_epochs=10,
        fine_tune_learning_rate=1e-5,
        fine_tune_schedule="constant",
        fine_tune_warmup=0.0,
        flip=True,
        shift=0.1,
        zoom=0.1,
        loss="auto",
        class_weight=None,
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=32,
        epochs=30,
        validation_split=0.1,
        patience=5,
        callbacks=None,
        device="auto",
        precision="auto",
        image_cache="auto",
        on_error="raise",
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        # scikeras' __init__ is not called: it would turn every attribute it sets
        # (model, build_fn, metrics...) into a parameter this class does not have.
        self.architecture = architecture
        self.input_size = input_size
        self.resize_mode = resize_mode
        self.filters = filters
        self.kernel_sizes = kernel_sizes
        self.dense_units = dense_units
        self.dropout = dropout
        self.backbone = backbone
        self.backbone_weights = backbone_weights
        self.pooling = pooling
        self.fine_tune_layers = fine_tune_layers
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.fine_tune_schedule = fine_tune_schedule
        self.fine_tune_warmup = fine_tune_warmup
        self.flip = flip
        self.shift = shift
        self.zoom = zoom
        self.loss = loss
        self.class_weight = class_weight
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.patience = patience
        self.callbacks = callbacks
        self.device = device
        self.precision = precision
        self.image_cache = image_cache
        self.on_error = on_error
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Train the network on posters and their genres (or class labels).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C), list of image arrays, or paths
            uint8 images (any sizes; resized to ``input_size``), or poster paths (a
            list, array, Series or one-column DataFrame), streamed from disk.
        y : array-like or DataFrame of shape (n_samples, n_genres), or (n_samples,)
            0/1 genre matrix (a DataFrame's columns name the genres), or class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each poster in the loss; zero-weight posters are left out.

        Returns
        -------
        self : object
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more epoch on ``(X, y)``, building the network on the first call.

        No validation split, early stopping or fine-tuning phase: the caller decides
        when to stop.

        Parameters
        ----------
        X, y, sample_weight
            As for :meth:`fit`.
        classes : array-like, default=None
            All class labels of a 1-D target, needed in the first call when ``y``
            lacks some of them.

        Returns
        -------
        self : object
        """
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Probability of each genre (or class).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C), list of image arrays, or paths

        Returns
        -------
        ndarray of shape (n_samples, n_genres)
            One 2-D array; for class labels, one column per class summing to one
            (two columns for a binary target).
        """
        raw = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(raw, return_proba=True)

    def predict(self, X):
        """Predict genres (probability at least 0.5) or the most probable class.

        Returns
        -------
        ndarray of shape (n_samples, n_genres) of 0/1 int, or (n_samples,) of labels
        """
        raw = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(raw)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags = ClassifierTags(multi_label=True)
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    # --- the base's hooks --------------------------------------------------------

    def _initialize(self, X, y=None, classes=None):
        from ._data import TargetEncoder
        from ._training import draw_seed

        self._seed = draw_seed(self.random_state)
        names = list(y.columns) if isinstance(y, pd.DataFrame) else None
        X, y = self._validate_data(X, y, reset=True)
        self.target_encoder_ = TargetEncoder(genre_names=names, classes=classes).fit(y)
        self.classes_ = self.target_encoder_.classes_
        self.input_size_ = self._resolve_input_size()
        self.device_plan_ = plan_devices(self.device, self.precision)
        self.model_ = self._build_keras_model()
        self.history_ = {}
        self.fine_tune_start_ = None
        return X, y

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        # Images are not a feature table: no check_array on X, only what streaming needs.
        if X is not None:
            names = X.columns if isinstance(X, pd.DataFrame) else None
            X = poster_sources(X)
            if reset:
                self.n_features_in_ = 1
                if names is not None:
                    self.feature_names_in_ = np.asarray(names, dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
        if y is not None:
            from ._data import as_target_array

            y = as_target_array(y)
        if X is not None and y is not None:
            check_consistent_length(X.sources, y)
        return X, y

    def _build_keras_model(self, pretrained=True):
        import tensorflow as tf

        from ._architectures import build_network
        from ._training import python_seed

        plan = self.device_plan_
        # One device needs no distribution strategy, whose per-epoch set-up is slow.
        strategy = plan.strategy() if len(plan.devices) > 1 else tf.distribute.get_strategy()
        with python_seed(self._seed), plan.placement(), plan.building(strategy):
            model = build_network(self._network_spec(), pretrained=pretrained)
            self._compile(model, self.learning_rate)
        return model

    def _check_model_compatibility(self, y):
        outputs = self.model_.output_shape[-1]
        if outputs != len(self.classes_):
            raise ValueError(f"the network has {outputs} outputs but y has "
                             f"{len(self.classes_)} genres or classes.")

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch,
                         incremental=False):
        from ._data import training_sources
        from ._fine_tuning import training_phases
        from ._training import FitData, class_sample_weight, split_rows

        sources, failures = training_sources(X, self.input_size_, mode=self.resize_mode,
                                             batch_size=self.batch_size,
                                             image_cache=self.image_cache)
        report_unreadable(failures, self.on_error, paths=X.paths,
                          outcome="were replaced by blank posters", stacklevel=2)
        sample_weight = class_sample_weight(self.class_weight, self.target_encoder_, y,
                                            sample_weight)
        train, validation = ((np.arange(len(y)), None) if incremental
                             else split_rows(len(y), self.validation_split, self._seed))
        stream = PosterStream(sources, self.input_size_, mode=self.resize_mode,
                              batch_size=min(self.batch_size, len(train)))
        data = FitData(stream, X.paths, y, sample_weight, train, validation)
        if not (warm_start and initial_epoch):
            self.history_, self.fine_tune_start_ = {}, None
        with self.device_plan_.placement():
            for phase in training_phases(self, epochs, incremental=incremental):
                initial_epoch = self._run_phase(phase, data, initial_epoch)
        report_unreadable(stream.failures, self.on_error, paths=X.paths,
                          outcome="were replaced by blank posters", stacklevel=2)

    # --- training ----------------------------------------------------------------

    def _run_phase(self, phase, data, initial_epoch):
        """Train one phase from ``initial_epoch``; return the epoch reached."""
        from ._callbacks import fit_callbacks
        from ._data import steps_per_epoch
        from ._fine_tuning import open_backbone_top
        from ._training import train_epochs

        if phase.backbone_top is not None:
            changed = open_backbone_top(self.model_, phase.backbone_top)
            if changed or phase.fresh_optimizer:
                # Trainable flags only take effect when compiling; the optimizer is new.
                rate = phase.learning_rate_at(steps_per_epoch(len(data.train),
                                                              data.stream.batch_size))
                with self.model_.distribute_strategy.scope():
                    self._compile(self.model_, rate)
        if phase.fine_tune:
            self.fine_tune_start_ = self.current_epoch
        callbacks = fit_callbacks(self.callbacks, stream=data.stream, paths=data.paths,
                                  on_error=self.on_error, patience=self.patience,
                                  validating=data.validation is not None,
                                  scheduled=phase.scheduled)
        history = train_epochs(self.model_, data, phase.epochs, initial_epoch, seed=self._seed,
                               callbacks=callbacks, verbose=self.verbose)
        for key, values in history.items():
            self.history_.setdefault(key, []).extend(values)
        return initial_epoch + len(history.get("loss", []))

    def _compile(self, model, learning_rate):
        from ._losses import make_loss
        from ._training import make_optimizer

        model.compile(optimizer=make_optimizer(self.optimizer, learning_rate),
                      loss=make_loss(self.loss, self.target_encoder_, self.class_weight))

    # --- network ---------------------------------------------------------------

    def _resolve_input_size(self):
        if self.input_size is not None:
            size = check_size(self.input_size, name="input_size")
        elif self.architecture == "transfer":
            side = get_backbone(self.backbone).default_size
            size = (side, side)
        else:
            size = DEFAULTS.get(self.architecture, DEFAULTS["seed_cnn"])["input_size"]
        if self.architecture == "transfer" and min(size) < get_backbone(self.backbone).min_size:
            raise ValueError(f"input_size {size} is below {self.backbone}'s minimum of "
                             f"{get_backbone(self.backbone).min_size} pixels.")
        return tuple(size)

    def _network_spec(self):
        defaults = DEFAULTS.get(self.architecture, {})
        filters, kernels, dense = (
            _sizes(getattr(self, name), defaults.get(name), name)
            for name in ("filters", "kernel_sizes", "dense_units")
        )
        if self.architecture in ("seed_cnn", "small_cnn"):
            if not filters:
                raise ValueError(f"{self.architecture} needs at least one conv block in filters.")
            if kernels is not None and len(kernels) != len(filters):
                raise ValueError(f"kernel_sizes {kernels} and filters {filters} must have "
                                 "one entry per conv block each.")
        multilabel = self.target_encoder_.multilabel_
        return NetworkSpec(
            architecture=self.architecture, input_size=self.input_size_,
            n_outputs=len(self.classes_), activation="sigmoid" if multilabel else "softmax",
            filters=filters, kernel_sizes=kernels, dense_units=dense or (),
            dropout=self.dropout, backbone=self.backbone,
            backbone_weights=self.backbone_weights, pooling=self.pooling,
            flip=self.flip, shift=self.shift, zoom=self.zoom,
        )


def _sizes(value, default, name):
    if value is None:
        return None if default is None else tuple(default)
    sizes = tuple(value)
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
               for v in sizes):
        raise ValueError(f"{name} must hold positive ints, got {value!r}.")
    return sizes

"""The scikit-learn side of an estimator around a Keras network on posters (private).

:class:`KerasPosterBase` holds what every such estimator does the same way, as
skorch's ``NeuralNet`` does for PyTorch modules: ``fit``, ``partial_fit`` and
``initialize`` (build, validate, weigh, encode, then train), prediction through a
poster stream, fitted state, and pickles that hold weights rather than Keras objects.
A subclass says what its network is and how it trains, in six hooks:

``_initialize(X, y, classes=None)``
    Validate ``X`` and ``y`` with ``reset=True``, set ``target_encoder_``,
    ``input_size_``, ``device_plan_`` and ``model_`` (compiled); return ``X, y``.
``_validate_data(X=None, y=None, reset=False)``
    Posters (:class:`~skposter.io._sources.Posters`) and a target array.
``_check_model_compatibility(y)``
    Refuse an encoded ``y`` the network cannot train on.
``_fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, incremental)``
    Train; set ``history_``.
``_build_keras_model(pretrained)``
    The compiled network, from the parameters and fitted encoders alone.

It is not scikeras' ``BaseWrapper``: scikeras validates ``X`` as a numeric table,
passes arrays to ``Model.fit`` once per call and routes ``fit__``/``compile__``
parameters, while posters are paths or images of any size streamed through
``tf.data``, trained in phases with their own callbacks, and every parameter is a
constructor parameter.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import _check_sample_weight

from .._keras._device import plan_for_this_machine
from ..base import DocLinkMixin
from ..io._sources import report_unreadable
from ..io._stream import PosterStream


class WeightsPickleMixin:
    """Pickles hold a fitted network's weights, not its Keras object.

    Unpickling rebuilds the network with ``_rebuilt_keras_model()`` (the compiled
    network from the parameters and fitted encoders alone) and sets the weights.
    """

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            state["_model_weights"] = model.get_weights()
        return state

    def __setstate__(self, state):
        weights = state.pop("_model_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.model_ = self._rebuilt_keras_model()
            self.model_.set_weights(weights)


class KerasPosterBase(WeightsPickleMixin, DocLinkMixin, BaseEstimator):
    """Fit, predict and pickle plumbing of a Keras network on posters (see the module).

    Subclasses define the parameters ``epochs``, ``warm_start``, ``batch_size``,
    ``input_size`` handling (``input_size_``), ``resize_mode``, ``on_error``,
    ``device`` and ``precision``, and the hooks listed in the module docstring.
    """

    def fit(self, X, y, sample_weight=None):
        """Train the network; see the subclass for the parameters."""
        self._validate_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None.")
        continuing = self.warm_start and self.initialized_
        initial_epoch = self.current_epoch if continuing else 0
        self._fit(X, y, sample_weight, warm_start=self.warm_start, epochs=self.epochs,
                  initial_epoch=initial_epoch)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more epoch; see the subclass for the parameters."""
        if not self.initialized_:
            self._validate_params()
            self._initialize(X, y, classes=classes)
        self._fit(X, y, sample_weight, warm_start=True, epochs=1,
                  initial_epoch=self.current_epoch, incremental=True)
        return self

    def initialize(self, X, y):
        """Build the network for ``(X, y)`` without training it.

        Parameters
        ----------
        X, y
            As for :meth:`fit`.

        Returns
        -------
        self : object
        """
        self._initialize(X, y)
        return self

    def _fit(self, X, y, sample_weight, *, warm_start, epochs, initial_epoch,
             incremental=False):
        if warm_start and self.initialized_:
            X, y = self._validate_data(X, y)
        else:
            X, y = self._initialize(X, y)
        if sample_weight is not None:
            X, y, sample_weight = _drop_unweighted(X, y, sample_weight)
        y = self.target_encoder_.transform(y)
        self._check_model_compatibility(y)
        self._fit_keras_model(X, y, sample_weight=sample_weight, warm_start=warm_start,
                              epochs=epochs, initial_epoch=initial_epoch,
                              incremental=incremental)

    def _predict_raw(self, X):
        """The network's outputs for the posters ``X``, streamed in batches."""
        if not self.initialized_:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. "
                                 "Call 'fit' with appropriate arguments first.")
        posters, _ = self._validate_data(X)
        stream = PosterStream(posters.sources, self.input_size_, batch_size=self.batch_size,
                              mode=self.resize_mode)
        with self.device_plan_.placement():
            proba = self.model_.predict(stream.dataset(), verbose=0)
        report_unreadable(stream.failures, self.on_error, paths=posters.paths,
                          outcome="were replaced by blank posters", stacklevel=2)
        return proba

    @property
    def initialized_(self):
        """Whether the network is built (by ``fit``, ``partial_fit`` or ``initialize``)."""
        return hasattr(self, "model_")

    @property
    def current_epoch(self):
        """Epochs trained so far (every phase), where a warm start continues."""
        return len(getattr(self, "history_", {}).get("loss", []))

    def __sklearn_is_fitted__(self):
        return self.initialized_

    # --- pickling: weights, not Keras objects ---------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        # Devices are this machine's: planned again when unpickled.
        state.pop("device_plan_", None)
        return state

    def _rebuilt_keras_model(self):
        # Pickles made before devices were left out hold a plan: replaced as well.
        self.device_plan_ = plan_for_this_machine(self.device, self.precision)
        return self._build_keras_model(pretrained=False)


def _drop_unweighted(posters, y, sample_weight):
    """Leave out zero-weight posters, as scikit-learn's estimators do."""
    sample_weight = _check_sample_weight(sample_weight, posters, dtype=np.float32)
    if np.all(sample_weight == 0):
        raise ValueError(
            "No training samples had any weight; only zeros were passed in sample_weight."
            " That means there's nothing to train on by definition, so training can not be"
            " completed.")
    kept = sample_weight != 0
    return posters.take(kept), y[kept, ...], sample_weight[kept, ...]

"""The Keras callbacks a fit runs with: the user's, failing early, stopping and slowing.

Everything that watches an epoch or a batch and acts on the training run is a Keras
callback built here, so :mod:`._training` only runs epochs.
"""

import copy

import keras

from ..io._sources import report_unreadable


class FailureCheck(keras.callbacks.Callback):
    """Stop training at the first unreadable poster the stream meets (``on_error="raise"``).

    Failing at once, rather than after training on placeholders, saves the run.

    Parameters
    ----------
    stream : PosterStream
        The stream training reads from; its ``failures`` are checked after each batch.
    paths : list of str or None
        Paths of the stream's posters, to name the unreadable one.
    """

    def __init__(self, stream, paths):
        super().__init__()
        self.stream = stream
        self.paths = paths

    def on_train_batch_end(self, batch, logs=None):
        report_unreadable(self.stream.failures, "raise", paths=self.paths,
                          outcome="were replaced by blank posters")


class LearningRateLog(keras.callbacks.Callback):
    """Log the optimizer's learning rate at each epoch's end, as ``learning_rate``.

    In every phase, so the history has one rate per epoch whether the rate was
    halved on plateaus, followed a schedule or stayed put.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))


def fit_callbacks(user_callbacks, *, stream, paths, on_error, patience, validating,
                  scheduled=False):
    """Callbacks of one training phase, in the order they run.

    Parameters
    ----------
    user_callbacks : list of keras.callbacks.Callback or None
        The estimator's ``callbacks``; deep copies are used, so one estimator's
        callbacks never carry the state (or model) of another fit.
    stream, paths
        As for :class:`FailureCheck`, added when ``on_error="raise"``.
    on_error : {"raise", "blank"}
    patience : int
        Epochs without a better validation loss before stopping (restoring the best
        epoch's weights); the learning rate halves after ``patience // 2`` of them.
    validating : bool
        Whether the phase has validation data: stopping and slowing need it.
    scheduled : bool, default=False
        Whether the learning rate follows a schedule: then it is not halved on
        plateaus (a schedule's rate cannot be set).

    Returns
    -------
    list of keras.callbacks.Callback
    """
    callbacks = [copy.deepcopy(callback) for callback in user_callbacks or []]
    if on_error == "raise":
        callbacks.append(FailureCheck(stream, paths))
    if validating:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    if validating and not scheduled:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, patience // 2)))
    # Last: it logs the rate the epoch ended with, after any change.
    return [*callbacks, LearningRateLog()]

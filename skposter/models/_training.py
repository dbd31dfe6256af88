"""Running a fit: seeds, devices, the validation split, per-row weights and the epochs.

What one ``Model.fit`` of a training phase needs, for
:class:`~skposter.models.KerasPosterClassifier`: the rows it trains and validates on
(:func:`split_rows`), the weight of each row (:func:`class_sample_weight`), and the
epochs themselves (:func:`train_epochs`), on the planned device (:func:`on_device`),
repeatable from one seed (:func:`draw_seed`, :func:`python_seed`).
"""

import contextlib
import math
import numbers
import random
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight

from ..io._stream import PosterStream
from ._data import evaluation_dataset, training_dataset

# Largest seed drawn from a RandomState: numpy and Keras both take 32-bit seeds.
_MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class FitData:
    """What one fit trains on: the stream, the encoded targets and the row split."""

    stream: PosterStream
    paths: list
    y: np.ndarray
    sample_weight: np.ndarray
    train: np.ndarray
    validation: np.ndarray


def train_epochs(model, data, epochs, initial_epoch, *, seed, callbacks, verbose):
    """Run ``epochs`` epochs of ``model`` on ``data`` from ``initial_epoch``.

    Parameters
    ----------
    model : keras.Model
        Compiled.
    data : FitData
    epochs : int
        Most epochs (callbacks may stop sooner).
    initial_epoch : int
        Epoch number to start from: it also picks each epoch's order of rows.
    seed : int
    callbacks : list of keras.callbacks.Callback
    verbose : int

    Returns
    -------
    dict of str -> list of float
        Per-epoch history (``loss``, ``val_loss``, ``learning_rate`` ...).
    """
    dataset, steps = training_dataset(
        data.stream, data.train, data.y, data.sample_weight, epochs=epochs,
        initial_epoch=initial_epoch, seed=seed)
    validation = validation_steps = None
    if data.validation is not None:
        validation = evaluation_dataset(data.stream, data.validation, data.y,
                                        data.sample_weight)
        # A tf.data pipeline's length is unknown to Keras: without the step count it
        # warns "Your input ran out of data" at the end of every validation pass.
        validation_steps = math.ceil(len(data.validation) / data.stream.batch_size)
    history = model.fit(
        dataset, epochs=initial_epoch + epochs, initial_epoch=initial_epoch,
        steps_per_epoch=steps, validation_data=validation,
        validation_steps=validation_steps, shuffle=False, verbose=verbose,
        callbacks=callbacks,
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def split_rows(n_samples, validation_split, seed):
    """Training and validation rows, drawn from ``seed``; no validation if too few.

    Returns
    -------
    train : ndarray of int
    validation : ndarray of int or None
    """
    n_validation = int(round(validation_split * n_samples))
    if n_validation < 1 or n_validation >= n_samples:
        return np.arange(n_samples), None
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])


def class_sample_weight(class_weight, encoder, y, sample_weight):
    """Per-row weights: class weights of class labels times ``sample_weight``.

    Genre matrices are balanced in the loss instead (see
    :func:`~skposter.models._losses.make_loss`), so their weights are left as given.

    Parameters
    ----------
    class_weight : {"balanced"}, dict or None
    encoder : TargetEncoder
        Fitted; tells a genre matrix from class labels and holds ``classes_``.
    y : ndarray of shape (n_samples, n_outputs)
        Encoded targets (one-hot for class labels).
    sample_weight : ndarray of shape (n_samples,) or None
    """
    multilabel = encoder.multilabel_
    if class_weight is None or (multilabel and class_weight == "balanced"):
        return sample_weight
    if multilabel:
        raise ValueError("a dict class_weight maps class labels to weights; a genre matrix "
                         "takes class_weight='balanced' or None.")
    labels = encoder.classes_[np.argmax(y, axis=1)]
    weights = compute_sample_weight(class_weight, labels).astype(np.float32)
    return weights if sample_weight is None else weights * sample_weight


def make_optimizer(name, learning_rate):
    """A new Keras optimizer by name, at ``learning_rate``."""
    try:
        return keras.optimizers.get(
            {"class_name": name, "config": {"learning_rate": learning_rate}})
    except ValueError:
        raise ValueError(f"optimizer={name!r} is not a Keras optimizer name "
                         "(e.g. 'adam', 'adamw', 'sgd', 'rmsprop').") from None


def draw_seed(random_state):
    """One int seed for everything random in a fit (weights, dropout, order, split)."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    # None draws a fresh seed: the run is random, but every part of it uses one seed.
    return int(check_random_state(random_state).randint(_MAX_SEED))


@contextlib.contextmanager
def python_seed(seed):
    """Seed Python's generator, which Keras draws initial weights and layer seeds from.

    The caller's generator state is restored afterwards.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)

"""Small posters and tiny networks: a fit here takes about half a second."""

import numpy as np
import pytest

from skposter.datasets import make_posters
from skposter.models import KerasPosterClassifier


@pytest.fixture(scope="session")
def tiny():
    """Parameters of a tiny network at the posters' own size.

    Plain SGD and no validation split keep Keras' graph tracing, most of a fit this
    small, to about half a second.
    """
    return dict(architecture="small_cnn", input_size=(32, 24), filters=(8,),
                dense_units=(8,), epochs=2, validation_split=0.0, optimizer="sgd",
                learning_rate=0.05, random_state=0)


@pytest.fixture(scope="session")
def posters():
    return make_posters(48, n_genres=3, size=(32, 24), random_state=0)


@pytest.fixture(scope="session")
def fitted(posters, tiny):
    """A tiny network fitted on the genre matrix (shared: do not modify it)."""
    return KerasPosterClassifier(**tiny).fit(posters.images, posters.target)


@pytest.fixture
def assert_proba():
    """Check one 2-D float64 array of probabilities of the expected shape."""

    def check(proba, n_samples, n_columns):
        assert isinstance(proba, np.ndarray) and proba.dtype == np.float64
        assert proba.shape == (n_samples, n_columns)
        assert np.all((proba >= 0) & (proba <= 1))

    return check

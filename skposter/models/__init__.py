"""Networks trained on posters: :class:`KerasPosterClassifier`, :class:`JointPosterClassifier`,
their architectures and losses.

The losses subclass Keras classes, so they load (with TensorFlow) on first access;
importing the classifiers alone loads neither.
"""

import importlib

from ._classifier import KerasPosterClassifier
from ._joint import JointPosterClassifier
from ._specs import ARCHITECTURES

_LAZY = {name: "._losses" for name in
         ("FocalLoss", "GenreBinaryCrossentropy", "SoftF1Loss", "balanced_genre_weights")}

__all__ = ["ARCHITECTURES", "FocalLoss", "GenreBinaryCrossentropy", "JointPosterClassifier",
           "KerasPosterClassifier", "SoftF1Loss", "balanced_genre_weights"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

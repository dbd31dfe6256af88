"""Networks trained on posters: :class:`KerasPosterClassifier`, its architectures and losses."""

from ._architectures import ARCHITECTURES
from ._classifier import KerasPosterClassifier
from ._losses import FocalLoss, GenreBinaryCrossentropy, SoftF1Loss, balanced_genre_weights

__all__ = [
    "ARCHITECTURES",
    "FocalLoss",
    "GenreBinaryCrossentropy",
    "KerasPosterClassifier",
    "SoftF1Loss",
    "balanced_genre_weights",
]

"""Multi-label genre models: :class:`PerGenreClassifier`, :class:`GenreThresholdClassifier`."""

from ._per_genre import PerGenreClassifier
from ._thresholds import GenreThresholdClassifier

__all__ = ["GenreThresholdClassifier", "PerGenreClassifier"]

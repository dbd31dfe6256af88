"""Multi-label genre models: :class:`PerGenreClassifier`."""

from ._per_genre import PerGenreClassifier

__all__ = ["PerGenreClassifier"]

"""Combining genre models: :class:`GenreStackingClassifier`."""

from ._stacking import GenreStackingClassifier

__all__ = ["GenreStackingClassifier"]

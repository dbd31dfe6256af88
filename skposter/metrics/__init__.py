"""Scoring multi-label genre predictions: :func:`genre_report`."""

from ._report import GenreReport, genre_report

__all__ = ["GenreReport", "genre_report"]

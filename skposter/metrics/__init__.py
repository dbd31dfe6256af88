"""Scoring multi-label genre predictions: :func:`genre_report`."""

from ._plots import (
    plot_genre_scores, plot_history, plot_precision_recall, plot_threshold_curves,
)
from ._report import GenreReport, genre_report
from ._write import write_report

__all__ = [
    "GenreReport", "genre_report", "plot_genre_scores", "plot_history",
    "plot_precision_recall", "plot_threshold_curves", "write_report",
]

"""Scoring multi-label genre predictions: :func:`genre_report`, calibration, plots and
scorers for model selection (:data:`GENRE_SCORERS`, :func:`genre_summary_scorer`)."""

from ._calibration import calibration_table, plot_calibration
from ._plots import (
    plot_genre_scores, plot_history, plot_precision_recall, plot_threshold_curves,
)
from ._report import GenreReport, genre_report
from ._scorers import GENRE_SCORERS, GenreScorer, genre_summary_scorer
from ._write import write_report

__all__ = [
    "GENRE_SCORERS", "GenreReport", "GenreScorer", "calibration_table", "genre_report",
    "genre_summary_scorer", "plot_calibration", "plot_genre_scores", "plot_history",
    "plot_precision_recall", "plot_threshold_curves", "write_report",
]

"""write_report: a GenreReport as CSV tables, a markdown page and PNG plots."""

from pathlib import Path

import numpy as np

from ._calibration import calibration_table, plot_calibration
from ._plots import _pyplot, plot_genre_scores, plot_precision_recall, plot_threshold_curves

# Columns of the calibration table that report.md shows; the bin counts are in the figure.
_CALIBRATION_COLUMNS = ["prevalence", "mean_predicted", "brier", "ece", "max_error"]


def write_report(report, directory, *, y_true=None, y_score=None, thresholds=None,
                 cv_thresholds=None, title="Genre report", plots=True):
    """Write a genre report into a folder: CSV tables, a markdown page, PNG plots.

    Files written: ``per_genre.csv``, ``summary.csv``, ``report.md`` (both tables,
    linking the plots) and, with ``plots``, ``genre_scores.png``; given ``y_true`` and
    ``y_score`` also ``precision_recall.png`` and ``threshold_curves.png`` (one panel
    per genre, thresholds marked). When those scores are probabilities (all in
    [0, 1]), ``report.md`` gains a calibration table (Brier score and expected
    calibration error per genre, see :func:`~skposter.metrics.calibration_table`)
    and, with ``plots``, ``calibration.png`` (see
    :func:`~skposter.metrics.plot_calibration`). Existing files of those names are
    replaced.

    Parameters
    ----------
    report : GenreReport
        From :func:`~skposter.metrics.genre_report`; its genre names label the plots.
    directory : str or path-like
        Folder to write into; created if needed.
    y_true : array-like of shape (n_samples, n_genres), default=None
        True genres the report was computed on, for the curve plots.
    y_score : array-like of shape (n_samples, n_genres), default=None
        Predicted probabilities the report was computed on, for the curve plots.
    thresholds : float or array-like of shape (n_genres,), default=None
        Decision thresholds to mark on the precision-recall and F1-threshold curves.
    cv_thresholds : array-like of shape (n_folds, n_genres), default=None
        The thresholds tuned on each inner fold, drawn as a spread around each mark.
    title : str, default="Genre report"
        Heading of ``report.md``.
    plots : bool, default=True
        Draw the PNG plots (needs matplotlib: ``pip install "skposter[plots]"``).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ImportError
        If ``plots`` is True and matplotlib is missing; nothing is written then.
    """
    if (y_true is None) != (y_score is None):
        raise ValueError("pass y_true and y_score together, or neither.")
    plt = _pyplot() if plots else None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "per_genre.csv", directory / "summary.csv"]
    report.per_genre.to_csv(written[0])
    report.summary.to_csv(written[1])
    names = list(report.per_genre.index)
    calibration = None
    if y_true is not None and _are_probabilities(y_score):
        calibration = calibration_table(y_true, y_score, names)
    images = []
    if plots:
        drawings = [("genre_scores.png", "Per-genre scores", lambda: plot_genre_scores(report))]
        if y_true is not None:
            drawings += [
                ("precision_recall.png", "Precision-recall curves",
                 lambda: plot_precision_recall(y_true, y_score, names, thresholds=thresholds,
                                               cv_thresholds=cv_thresholds)),
                ("threshold_curves.png", "F1 by threshold",
                 lambda: plot_threshold_curves(y_true, y_score, names, thresholds,
                                               cv_thresholds=cv_thresholds)),
            ]
        if calibration is not None:
            drawings.append(("calibration.png", "Reliability per genre",
                             lambda: plot_calibration(y_true, y_score, names)))
        for file_name, caption, draw in drawings:
            _save_figure(plt, _figure_of(draw()), directory / file_name)
            images.append((file_name, caption))
    markdown = directory / "report.md"
    markdown.write_text(_markdown(report, title, images, calibration), encoding="utf-8")
    return written + [markdown] + [directory / name for name, _ in images]


def _are_probabilities(y_score):
    y_score = np.asarray(y_score, dtype=float)
    return bool(np.all((y_score >= 0) & (y_score <= 1)))


def _figure_of(drawn):
    """The figure of an Axes, or of the array of panels a per-genre plot returns."""
    return (drawn if not isinstance(drawn, np.ndarray) else drawn.flat[0]).figure


def _save_figure(plt, figure, path):
    try:
        figure.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        # pyplot keeps every figure alive until closed; a loop of reports would leak.
        plt.close(figure)


def _markdown(report, title, images, calibration):
    parts = [
        f"# {title}",
        "## Summary",
        "Rows `prior` (label frequencies as scores; every poster gets the most frequent "
        "genres) and `stratified` (random genres at those frequencies) are baselines: a "
        "useful model beats both on `macro_ap` and `macro_f1`. `genres_per_poster` "
        f"is the mean of predicted genres; the truth has {report.true_genres_per_poster:.2f}.",
        _markdown_table(report.summary),
        "## Per genre",
        _markdown_table(report.per_genre),
    ]
    if calibration is not None:
        parts += [
            "## Calibration",
            "Among the posters given a genre with probability p, a share p should have "
            "it. `ece` (expected calibration error) is the gap between mean probability "
            "and observed frequency over 10 probability bins, weighted by the posters in "
            "each; `brier` is the mean squared error of the probabilities. Where they are "
            "high, wrap the binary model in scikit-learn's `CalibratedClassifierCV`, inside "
            "`PerGenreClassifier(..., class_weight=None)` so that the calibrator sees the "
            "true frequencies (see `examples/calibration.py`).",
            _markdown_table(calibration[_CALIBRATION_COLUMNS]),
        ]
    parts += [f"![{caption}]({name})" for name, caption in images]
    return "\n\n".join(parts) + "\n"


def _markdown_table(frame):
    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    # itertuples keeps each column's dtype, so counts stay integers.
    for label, *values in frame.itertuples(name=None):
        cells = [str(label), *map(_cell, values)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, (int, np.integer)):
        return str(value)
    return "n/a" if np.isnan(value) else f"{value:.3f}"

"""Calibration of per-genre probabilities: a table of Brier score and expected
calibration error per genre, and reliability diagrams as one small panel per genre."""

import numpy as np
import pandas as pd

from ._plots import (
    _check_scores, _figure_legend, _genre_colors, _panel_grid, _prevalence_order,
)

_TABLE_COLUMNS = ["support", "prevalence", "mean_predicted", "brier", "ece", "max_error"]


def calibration_table(y_true, y_proba, target_names=None, *, n_bins=10):
    """Per-genre calibration: Brier score, expected calibration error and bin counts.

    A genre's probabilities are calibrated when, among the posters given about
    probability ``p``, a share ``p`` has the genre. Balanced class weights, as
    :class:`~skposter.multilabel.PerGenreClassifier` uses by default, push a rare
    genre's probabilities up: its ranking (average precision) is unaffected, but
    the probabilities overstate it. Wrapping the binary model in
    :class:`sklearn.calibration.CalibratedClassifierCV` repairs that.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_proba : array-like of shape (n_samples, n_genres)
        Predicted probability of each genre, in [0, 1].
    target_names : list of str, default=None
        Genre names; ``genre_0``, ``genre_1``... by default.
    n_bins : int, default=10
        Number of equal-width probability bins on [0, 1]; a probability ``p`` falls
        in bin ``floor(p * n_bins)``, and 1 in the last.

    Returns
    -------
    pandas.DataFrame
        One row per genre: ``support``, ``prevalence``, ``mean_predicted`` (mean
        probability: calibrated probabilities average to the prevalence), ``brier``
        (mean squared error of the probabilities), ``ece`` (expected calibration
        error: the gap between mean probability and observed frequency in each
        bin, averaged with the bins' shares of samples as weights), ``max_error``
        (the largest gap of a non-empty bin), then the sample count of each bin in
        columns ``n 0-0.1``, ``n 0.1-0.2``...
    """
    y_true, y_proba, names = _check_probabilities(y_true, y_proba, target_names, n_bins)
    counts, mean_predicted, observed = _bins(y_true, y_proba, n_bins)
    gaps = np.abs(mean_predicted - observed)
    weights = counts / y_true.shape[0]
    table = pd.DataFrame(
        {
            "support": y_true.sum(axis=0),
            "prevalence": y_true.mean(axis=0),
            "mean_predicted": y_proba.mean(axis=0),
            "brier": np.mean((y_proba - y_true) ** 2, axis=0),
            "ece": np.nansum(weights * gaps, axis=1),
            "max_error": np.nanmax(gaps, axis=1),
        },
        index=pd.Index(names, name="genre"),
    )
    edges = np.linspace(0, 1, n_bins + 1)
    bin_columns = [f"n {lower:g}-{upper:g}" for lower, upper in zip(edges[:-1], edges[1:])]
    return pd.concat([table, pd.DataFrame(counts, index=table.index, columns=bin_columns)],
                     axis=1)


def _check_probabilities(y_true, y_proba, target_names, n_bins):
    y_true, y_proba, names = _check_scores(y_true, y_proba, target_names)
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")
    outside = (y_proba < 0) | (y_proba > 1)
    if outside.any():
        genre = names[int(np.flatnonzero(outside.any(axis=0))[0])]
        raise ValueError(f"calibration needs probabilities in [0, 1]; genre {genre!r} has "
                         f"{int(outside.sum(axis=0).max())} scores outside.")
    return y_true, y_proba, names


def _bins(y_true, y_proba, n_bins):
    """Count, mean probability and observed frequency per genre and bin.

    Returns three arrays of shape (n_genres, n_bins); the means are NaN in empty bins.
    """
    # floor(p * n_bins), not np.digitize on linspace edges, whose rounding (0.3 ->
    # 0.30000000000000004) would move a probability on an edge into the bin below.
    bin_of = np.minimum((y_proba * n_bins).astype(int), n_bins - 1)
    n_genres = y_true.shape[1]
    counts = np.zeros((n_genres, n_bins), dtype=int)
    sum_proba = np.zeros((n_genres, n_bins))
    positives = np.zeros((n_genres, n_bins))
    for k in range(n_genres):
        counts[k] = np.bincount(bin_of[:, k], minlength=n_bins)
        sum_proba[k] = np.bincount(bin_of[:, k], weights=y_proba[:, k], minlength=n_bins)
        positives[k] = np.bincount(bin_of[:, k], weights=y_true[:, k], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts, sum_proba / counts, positives / counts


def plot_calibration(y_true, y_proba, target_names=None, *, n_bins=10, ncols=5):
    """Reliability diagram of each genre, one small panel per genre.

    Each panel plots the observed frequency of the genre against the mean predicted
    probability in each of ``n_bins`` equal-width bins, beside the diagonal of
    perfect calibration; shaded steps along the bottom show how many posters fall
    in each bin (log scale, so that the few posters given high probabilities of a
    rare genre stay visible). Panels are sorted by prevalence, the most common genre
    first, and titled with the genre's expected calibration error (see
    :func:`calibration_table`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_proba : array-like of shape (n_samples, n_genres), or dict of str -> array-like
        Predicted probabilities of each genre, in [0, 1]. A dict compares several
        models (e.g. before and after :class:`~sklearn.calibration.CalibratedClassifierCV`):
        each key is a model's name, drawn in its own colour in every panel.
    target_names : list of str, default=None
        Genre names; ``genre_0``, ``genre_1``... by default.
    n_bins : int, default=10
        Number of equal-width probability bins.
    ncols : int, default=5
        Panels per row.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        One Axes per genre, in panel order; the figure is ``axes[0].figure``.
    """
    models = y_proba if isinstance(y_proba, dict) else {None: y_proba}
    if not models:
        raise ValueError("y_proba is an empty dict; give at least one model's probabilities.")
    checked = {label: _check_probabilities(y_true, proba, target_names, n_bins)
               for label, proba in models.items()}
    y_true, _, names = next(iter(checked.values()))
    order = _prevalence_order(y_true)
    if len(models) == 1:
        colors = {k: [color] for k, color in enumerate(_genre_colors(len(names), order))}
    else:
        model_colors = [f"C{m}" for m in range(len(models))]
        colors = dict.fromkeys(range(len(names)), model_colors)
    fig, axes = _panel_grid(len(names), ncols, "mean predicted probability",
                            "observed frequency", "Reliability per genre (most common first)")
    tables = {label: (_bins(y_true, proba, n_bins), calibration_table(
        y_true, proba, names, n_bins=n_bins)["ece"].to_numpy())
        for label, (_, proba, _) in checked.items()}
    edges = np.linspace(0, 1, n_bins + 1)
    for ax, k in zip(axes, order):
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8,
                label="perfectly calibrated")
        for m, (label, ((counts, predicted, observed), ece)) in enumerate(tables.items()):
            color = colors[k][m]
            _reliability_curve(ax, predicted[k], observed[k], counts[k], edges, color,
                               filled=len(models) == 1, label=label, count_label=m == 0)
            if len(models) > 1:
                ax.text(0.03, 0.95 - 0.11 * m, f"ECE {ece[k]:.2f}", color=color,
                        transform=ax.transAxes, fontsize="x-small", va="top")
        single_ece = next(iter(tables.values()))[1][k]
        ax.set_title(names[k] if len(models) > 1 else f"{names[k]} (ECE {single_ece:.2f})",
                     fontsize="small")
    axes[0].set_xlim(0, 1)
    axes[0].set_ylim(0, 1.02)
    _figure_legend(fig, axes[0])
    return axes


def _reliability_curve(ax, predicted, observed, counts, edges, color, filled, label,
                       count_label):
    seen = counts > 0
    ax.plot(predicted[seen], observed[seen], marker="o", markersize=3, linewidth=1.2,
            color=color, label=label if label is not None else "observed frequency")
    # Bin counts on a log scale, squeezed into the bottom fifth of the panel.
    heights = 0.2 * np.log1p(counts) / np.log1p(max(counts.max(), 1))
    ax.stairs(heights, edges, fill=filled, color=color, alpha=0.3 if filled else 0.6,
              label="posters per bin (log scale)" if count_label else None)

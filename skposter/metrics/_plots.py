"""Plots of genre scores, precision-recall and F1-threshold curves, and training history.

matplotlib is an optional dependency (the ``plots`` extra), imported on first use.
Every function draws on ``ax`` (a new figure when None) and returns that Axes; the
figure is ``ax.figure``. Nothing calls ``plt.show``, so the functions work under any
backend, including Agg on a server.
"""

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.utils.validation import check_array

# Thresholds at which plot_threshold_curves computes F1.
_THRESHOLD_GRID = np.linspace(0, 1, 101)
# Keras logs the learning rate beside the metrics when a scheduler runs; its scale
# would flatten the metric curves.
_NOT_METRICS = ("loss", "learning_rate", "lr")


def _pyplot():
    """Return ``matplotlib.pyplot``, or raise an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'skposter plots need matplotlib: pip install "skposter[plots]"'
        ) from exc
    return plt


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def plot_genre_scores(report, ax=None):
    """Bar chart of each genre's F1 and average precision beside its base rate.

    The base rate (the genre's prevalence in ``y_true``) is the average precision
    of a random ranking, so an average-precision bar near it means the model ranks
    that genre no better than chance. Genres are sorted by prevalence, the most
    common at the top.

    Parameters
    ----------
    report : GenreReport
        From :func:`~skposter.metrics.genre_report`.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = report.per_genre.sort_values("prevalence")
    rows = np.arange(len(table))
    ax = _new_axes(ax, figsize=(7, 1.5 + 0.3 * len(table)))
    height = 0.4
    ax.barh(rows + height / 2, table["f1"], height, label="F1")
    # Genres without positives have no average precision: their bar stays empty.
    ax.barh(rows - height / 2, table["average_precision"].fillna(0), height,
            label="average precision")
    ax.scatter(table["prevalence"], rows, marker="|", s=300, color="black", zorder=3,
               label="base rate (prevalence)")
    ax.set_yticks(rows, table.index)
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    ax.set_title("Per-genre scores")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_precision_recall(y_true, y_score, target_names=None, ax=None):
    """Precision-recall curve of each genre, and the micro-average over all genres.

    Genres without a positive in ``y_true`` have no curve and are left out.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_score : array-like of shape (n_samples, n_genres)
        Predicted probability of each genre.
    target_names : list of str, default=None
        Genre names for the legend; ``genre_0``, ``genre_1``... by default.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    y_true, y_score, names = _check_scores(y_true, y_score, target_names)
    ax = _new_axes(ax, figsize=(8, 6))
    for k, name in enumerate(names):
        if y_true[:, k].any():
            _pr_curve(ax, y_true[:, k], y_score[:, k], name, linewidth=1)
    _pr_curve(ax, y_true.ravel(), y_score.ravel(), "micro-average", linewidth=3,
              color="black")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall per genre")
    _legend_outside(ax)
    return ax


def _pr_curve(ax, truth, score, name, **style):
    precision, recall, _ = precision_recall_curve(truth, score)
    ap = average_precision_score(truth, score)
    ax.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.2f})", **style)


def plot_threshold_curves(y_true, y_score, target_names=None, thresholds=None, ax=None, *,
                          cv_thresholds=None):
    """F1 of each genre as a function of its decision threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_score : array-like of shape (n_samples, n_genres)
        Predicted probability of each genre.
    target_names : list of str, default=None
        Genre names for the legend; ``genre_0``, ``genre_1``... by default.
    thresholds : float or array-like of shape (n_genres,), default=None
        Thresholds in use, marked on the curves: one vertical line for a single
        threshold, a dot on each genre's curve for per-genre thresholds.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    cv_thresholds : array-like of shape (n_folds, n_genres), default=None
        Per-genre thresholds tuned on each inner fold (a fitted ``cv_thresholds_``):
        a horizontal bar of one standard deviation either side of each dot shows
        which thresholds are noise.

    Returns
    -------
    matplotlib.axes.Axes
    """
    y_true, y_score, names = _check_scores(y_true, y_score, target_names)
    spread = None if cv_thresholds is None else np.std(np.asarray(cv_thresholds, float), axis=0)
    if thresholds is not None:
        thresholds = np.asarray(thresholds, dtype=float)
        if thresholds.ndim != 0 and thresholds.shape != (len(names),):
            raise ValueError(f"got {thresholds.size} thresholds for {len(names)} genres.")
    ax = _new_axes(ax, figsize=(8, 6))
    curves = [ax.plot(_THRESHOLD_GRID, _f1_by_threshold(y_true[:, k], y_score[:, k]),
                      label=name)[0]
              for k, name in enumerate(names)]
    if thresholds is not None and thresholds.ndim == 0:
        ax.axvline(thresholds, color="black", linestyle="--",
                   label=f"threshold {thresholds:.2f}")
    elif thresholds is not None:
        for k, (curve, threshold) in enumerate(zip(curves, thresholds, strict=True)):
            f1 = _f1_by_threshold(y_true[:, k], y_score[:, k], np.array([threshold]))[0]
            ax.errorbar(threshold, f1, xerr=None if spread is None else spread[k], fmt="o",
                        color=curve.get_color(), capsize=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("threshold")
    ax.set_ylabel("F1")
    ax.set_title("F1 by decision threshold")
    _legend_outside(ax)
    return ax


def _f1_by_threshold(truth, score, grid=_THRESHOLD_GRID):
    """F1 of ``score >= t`` against the 0/1 ``truth`` for each ``t`` in ``grid``."""
    predicted = score[:, None] >= grid[None, :]
    positive = truth.astype(bool)[:, None]
    tp = (predicted & positive).sum(axis=0)
    wrong = (predicted != positive).sum(axis=0)
    denominator = 2 * tp + wrong
    return np.divide(2 * tp, denominator, out=np.zeros(len(grid)), where=denominator > 0)


def plot_history(history, ax=None):
    """Loss and metrics per epoch of a Keras-style training history.

    Losses go on the left axis; the other metrics, whose scale differs, on a twin
    right axis. Validation curves are dashed, in the colour of their training curve.

    Parameters
    ----------
    history : dict of str -> list of float, or keras.callbacks.History
        Values per epoch keyed ``loss``, ``val_loss``, ``<metric>``, ``val_<metric>``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw the losses on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The loss axes; the metrics axes is its twin in ``ax.figure.axes``.
    """
    logs = dict(getattr(history, "history", history))
    if "loss" not in logs and not _metric_names(logs):
        raise ValueError(f"history has no loss or metric to plot; keys are {list(logs)}.")
    ax = _new_axes(ax, figsize=(8, 5))
    if "loss" in logs:
        _train_and_validation(ax, logs, "loss", color="black")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training history")
    lines, labels = ax.get_legend_handles_labels()
    metrics = _metric_names(logs)
    if metrics:
        twin = ax.twinx()
        for k, name in enumerate(metrics):
            _train_and_validation(twin, logs, name, color=f"C{k}")
        twin.set_ylabel("metric")
        metric_lines, metric_labels = twin.get_legend_handles_labels()
        lines, labels = lines + metric_lines, labels + metric_labels
    ax.legend(lines, labels, fontsize="small", loc="best")
    return ax


def _metric_names(logs):
    return [name for name in logs
            if not name.startswith("val_") and name not in _NOT_METRICS]


def _train_and_validation(ax, logs, name, color):
    for key, style in ((name, "-"), (f"val_{name}", "--")):
        if key in logs:
            values = np.asarray(logs[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, style, color=color, label=key)


def _check_scores(y_true, y_score, target_names):
    y_true = check_array(y_true, dtype=int)
    y_score = check_array(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_score {y_score.shape}.")
    names = (list(target_names) if target_names is not None
             else [f"genre_{k}" for k in range(y_true.shape[1])])
    if len(names) != y_true.shape[1]:
        raise ValueError(f"got {len(names)} target_names for {y_true.shape[1]} genres.")
    return y_true, y_score, names


def _legend_outside(ax):
    # Up to 25 genres: a legend inside would hide the curves.
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small",
              ncol=2 if len(ax.get_lines()) > 16 else 1)

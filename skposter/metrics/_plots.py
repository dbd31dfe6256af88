"""Plots of genre scores, precision-recall and F1-threshold curves, and training history.

matplotlib is an optional dependency (the ``plots`` extra), imported on first use.
Nothing calls ``plt.show``, so the functions work under any backend, including Agg on
a server. Single-axes plots draw on ``ax`` (a new figure when None) and return that
Axes; the per-genre plots draw one small panel per genre, sorted by prevalence, and
return the array of panels, so that 25 genres stay readable. Within the plots of one
``y_true`` a genre keeps its colour (given by its prevalence rank), and no two genres
share one.
"""

import math

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.utils.validation import check_array

# Thresholds at which plot_threshold_curves computes F1.
_THRESHOLD_GRID = np.linspace(0, 1, 101)
# Keras logs the learning rate beside the metrics when a scheduler runs; its scale
# would flatten the metric curves.
_NOT_METRICS = ("loss", "learning_rate", "lr")
# tab10 without its grey (grey marks the genres left out of the top k), then colours
# of matplotlib's qualitative maps (tab20, tab20b, tab20c, Set1-3, Dark2, Paired,
# Accent), each picked as far as possible in CIELAB from those before it, leaving out
# greys and pale colours: any two of the 25 differ by at least 20 in CIELAB.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#bcbd22", "#17becf", "#637939", "#f0027f", "#a6761d", "#ff9896", "#1b9e77",
    "#393b79", "#e6ab02", "#fdae6b", "#9c9ede", "#7fc97f", "#bf5b17", "#7b4173",
    "#b5cf6b", "#ad494a", "#de9ed6", "#e7ba52",
)
_OTHER_GENRES = "#b4b4b4"
_LAYOUTS = (None, "grid", "overlay")


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


def _genre_colors(n_genres, order=None):
    """One colour per genre, none repeated: the i-th genre of ``order`` gets the i-th.

    Returns a list indexed by genre.
    """
    palette = list(_PALETTE)
    if n_genres > len(palette):
        palette = _extend_palette(palette, n_genres)
    order = range(n_genres) if order is None else order
    colors = [None] * n_genres
    for rank, k in enumerate(order):
        colors[k] = palette[rank]
    return colors


def _extend_palette(palette, n_colors):
    """``palette`` and then HSV colours, each the farthest (RGB) from those before it."""
    from matplotlib.colors import hsv_to_rgb, to_hex, to_rgb

    hue, saturation, value = np.meshgrid(np.linspace(0, 1, 36, endpoint=False), [0.55, 0.9],
                                         [0.45, 0.7, 0.95], indexing="ij")
    candidates = hsv_to_rgb(np.stack([hue.ravel(), saturation.ravel(), value.ravel()], -1))
    chosen = np.array([to_rgb(color) for color in palette])
    while len(chosen) < n_colors:
        distance = np.linalg.norm(candidates[:, None] - chosen[None], axis=-1).min(axis=1)
        chosen = np.vstack([chosen, candidates[np.argmax(distance)]])
    return palette + [to_hex(rgb) for rgb in chosen[len(palette):]]


def _prevalence_order(y_true):
    """Genre indices, the most common genre first (ties keep the column order)."""
    return np.argsort(-y_true.mean(axis=0), kind="stable")


def _panel_grid(n_panels, ncols, xlabel, ylabel, title):
    """A figure of ``n_panels`` small panels with shared axes, ``ncols`` per row."""
    if not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}.")
    ncols = min(ncols, n_panels)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = _pyplot().subplots(nrows, ncols, figsize=(0.6 + 2.3 * ncols, 1.2 + 2.0 * nrows),
                                   sharex=True, sharey=True, squeeze=False,
                                   layout="constrained")
    axes = axes.ravel()
    for empty in axes[n_panels:]:
        empty.remove()
    # The last ncols panels end their columns: sharex hid the tick labels of those
    # above the empty cells of the last row. x labels go on each of them, not in a
    # supxlabel, which would collide with the legend below the panels.
    for ax in axes[max(n_panels - ncols, 0):n_panels]:
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_xlabel(xlabel)
    fig.supylabel(ylabel)
    fig.suptitle(title)
    return fig, axes[:n_panels]


def _figure_legend(fig, ax):
    """One legend for all panels, below them, built from the first panel's artists."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles),
               fontsize="small", frameon=False)


def _check_layout(layout, ax):
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}; got {layout!r}.")
    if layout == "grid" and ax is not None:
        raise ValueError("layout='grid' draws its own figure of panels; pass ax=None, or "
                         "layout='overlay' to draw on ax.")
    return layout or ("grid" if ax is None else "overlay")
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


def plot_precision_recall(y_true, y_score, target_names=None, ax=None, *, layout=None,
                          top_k=10, thresholds=None, cv_thresholds=None, ncols=5):
    """Precision-recall curve of each genre, beside the micro-average over all genres.

    Two layouts. ``"grid"`` (the default without ``ax``) draws one small panel per
    genre, most common first, with shared axes: the genre's curve titled with its
    average precision, the micro-average in grey and the chance level (the genre's
    prevalence) dotted; given ``thresholds``, a dot marks the precision and recall at
    the genre's threshold, and a thick band along the curve covers one standard
    deviation of ``cv_thresholds`` either side. ``"overlay"`` draws all curves on one
    Axes: the ``top_k`` most common genres in colour, the others grey.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_score : array-like of shape (n_samples, n_genres)
        Predicted probability of each genre.
    target_names : list of str, default=None
        Genre names for titles and legend; ``genre_0``, ``genre_1``... by default.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw the overlay on; a new figure when None.
    layout : {"grid", "overlay"}, default=None
        ``"grid"`` when ``ax`` is None, else ``"overlay"``.
    top_k : int or None, default=10
        Overlay only: genres drawn in colour, the most common first; None colours all.
    thresholds : float or array-like of shape (n_genres,), default=None
        Decision thresholds in use, marked on the curves.
    cv_thresholds : array-like of shape (n_folds, n_genres), default=None
        Grid only: per-genre thresholds tuned on each inner fold (a fitted
        ``cv_thresholds_``), whose spread is drawn along each curve.
    ncols : int, default=5
        Grid only: panels per row.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of matplotlib.axes.Axes
        The overlay's Axes, or one Axes per genre in panel order (genres without
        a positive in ``y_true`` get an empty panel); the figure is ``.figure`` of
        either.
    """
    y_true, y_score, names = _check_scores(y_true, y_score, target_names)
    thresholds, spread = _check_thresholds(thresholds, cv_thresholds, len(names))
    if _check_layout(layout, ax) == "grid":
        return _precision_recall_grid(y_true, y_score, names, thresholds, spread, ncols)
    ax = _new_axes(ax, figsize=(9, 6))
    order = _prevalence_order(y_true)
    colors = _genre_colors(len(names), order)
    shown = [k for k in order if y_true[:, k].any()]
    for k, style in _overlay_styles(shown, top_k, colors):
        _pr_curve(ax, y_true[:, k], y_score[:, k], names[k], **style)
        if thresholds is not None:
            recall, precision = _recall_precision_at(y_true[:, k], y_score[:, k],
                                                     thresholds[k:k + 1])
            ax.plot(recall, precision, "o", color=style["color"], markersize=4)
    _pr_curve(ax, y_true.ravel(), y_score.ravel(), "micro-average", linewidth=3,
              color="black")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall per genre")
    _legend_outside(ax)
    return ax


def _overlay_styles(shown, top_k, colors):
    """(genre, line style) pairs: the others in grey first, beneath the top k."""
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 0):
        raise ValueError(f"top_k must be a non-negative integer or None; got {top_k!r}.")
    top = shown if top_k is None else shown[:top_k]
    others = shown[len(top):]
    styles = [(k, {"color": _OTHER_GENRES, "linewidth": 0.8, "label": "_nolegend_"})
              for k in others]
    if others:
        # One legend entry for all grey curves: the first one carries it.
        styles[0][1]["label"] = f"{len(others)} other genres"
    return styles + [(k, {"color": colors[k], "linewidth": 1.5}) for k in top]


def _pr_curve(ax, truth, score, name, label=None, **style):
    precision, recall, _ = precision_recall_curve(truth, score)
    ap = average_precision_score(truth, score)
    ax.plot(recall, precision, drawstyle="steps-post",
            label=f"{name} (AP {ap:.2f})" if label is None else label, **style)


def _precision_recall_grid(y_true, y_score, names, thresholds, spread, ncols):
    order = _prevalence_order(y_true)
    colors = _genre_colors(len(names), order)
    fig, axes = _panel_grid(len(names), ncols, "recall", "precision",
                            "Precision-recall per genre (most common first)")
    micro_precision, micro_recall, _ = precision_recall_curve(y_true.ravel(), y_score.ravel())
    for ax, k in zip(axes, order):
        truth, score = y_true[:, k], y_score[:, k]
        ax.plot(micro_recall, micro_precision, drawstyle="steps-post", color=_OTHER_GENRES,
                linewidth=0.8, label="micro-average")
        if not truth.any():
            ax.set_title(f"{names[k]} (no positives)", fontsize="small")
            continue
        precision, recall, _ = precision_recall_curve(truth, score)
        ax.plot(recall, precision, drawstyle="steps-post", color=colors[k], linewidth=1.5,
                label="genre")
        ax.axhline(truth.mean(), color="black", linestyle=":", linewidth=0.8,
                   label="chance (prevalence)")
        if thresholds is not None:
            _mark_operating_point(ax, truth, score, thresholds[k],
                                  None if spread is None else spread[k], colors[k])
        ax.set_title(f"{names[k]} (AP {average_precision_score(truth, score):.2f})",
                     fontsize="small")
    axes[0].set_xlim(0, 1)
    axes[0].set_ylim(0, 1.02)
    # The first panel, of the most common genre, has every kind of line if any has.
    _figure_legend(fig, axes[0])
    return axes


def _mark_operating_point(ax, truth, score, threshold, spread, color):
    if spread is not None and spread > 0:
        band = np.linspace(max(threshold - spread, 0), min(threshold + spread, 1), 25)
        ax.plot(*_recall_precision_at(truth, score, band), color=color, linewidth=6,
                alpha=0.35, solid_capstyle="butt", label="threshold ± sd")
    recall, precision = _recall_precision_at(truth, score, np.array([threshold]))
    ax.plot(recall, precision, "o", color="black", markersize=4, label="threshold")


def _recall_precision_at(truth, score, grid):
    """Recall and precision of ``score >= t`` for each ``t`` in ``grid``.

    Precision is 1 where nothing is predicted, as at the end of scikit-learn's curve.
    """
    predicted = score[:, None] >= grid[None, :]
    positive = truth.astype(bool)[:, None]
    tp = (predicted & positive).sum(axis=0)
    n_predicted = predicted.sum(axis=0)
    precision = np.divide(tp, n_predicted, out=np.ones(len(grid)), where=n_predicted > 0)
    return tp / max(positive.sum(), 1), precision


def plot_threshold_curves(y_true, y_score, target_names=None, thresholds=None, ax=None, *,
                          cv_thresholds=None, layout=None, top_k=10, ncols=5):
    """F1 of each genre as a function of its decision threshold.

    Two layouts. ``"grid"`` (the default without ``ax``) draws one small panel per
    genre, most common first, with shared axes; given ``thresholds``, a dashed line
    marks the genre's threshold, a shaded band one standard deviation of
    ``cv_thresholds`` either side, and the panel's title gives both. ``"overlay"``
    draws all curves on one Axes: the ``top_k`` most common genres in colour, the
    others grey, per-genre thresholds as dots with the spread as a horizontal bar.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genres)
        True 0/1 genre matrix.
    y_score : array-like of shape (n_samples, n_genres)
        Predicted probability of each genre.
    target_names : list of str, default=None
        Genre names for titles and legend; ``genre_0``, ``genre_1``... by default.
    thresholds : float or array-like of shape (n_genres,), default=None
        Thresholds in use: one for all genres or one per genre.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw the overlay on; a new figure when None.
    cv_thresholds : array-like of shape (n_folds, n_genres), default=None
        Per-genre thresholds tuned on each inner fold (a fitted ``cv_thresholds_``):
        their spread shows which thresholds are noise.
    layout : {"grid", "overlay"}, default=None
        ``"grid"`` when ``ax`` is None, else ``"overlay"``.
    top_k : int or None, default=10
        Overlay only: genres drawn in colour, the most common first; None colours all.
    ncols : int, default=5
        Grid only: panels per row.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of matplotlib.axes.Axes
        The overlay's Axes, or one Axes per genre in panel order; the figure is
        ``.figure`` of either.
    """
    y_true, y_score, names = _check_scores(y_true, y_score, target_names)
    scalar = thresholds is not None and np.ndim(thresholds) == 0
    thresholds, spread = _check_thresholds(thresholds, cv_thresholds, len(names))
    if _check_layout(layout, ax) == "grid":
        return _threshold_grid(y_true, y_score, names, thresholds, spread, ncols)
    ax = _new_axes(ax, figsize=(9, 6))
    colors = _genre_colors(len(names), _prevalence_order(y_true))
    order = list(_prevalence_order(y_true))
    for k, style in _overlay_styles(order, top_k, colors):
        style.setdefault("label", names[k])
        ax.plot(_THRESHOLD_GRID, _f1_by_threshold(y_true[:, k], y_score[:, k]), **style)
        if thresholds is not None and not scalar:
            f1 = _f1_by_threshold(y_true[:, k], y_score[:, k], thresholds[k:k + 1])[0]
            ax.errorbar(thresholds[k], f1, xerr=None if spread is None else spread[k],
                        fmt="o", color=style["color"], capsize=3)
    if scalar:
        ax.axvline(thresholds[0], color="black", linestyle="--",
                   label=f"threshold {thresholds[0]:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("threshold")
    ax.set_ylabel("F1")
    ax.set_title("F1 by decision threshold")
    _legend_outside(ax)
    return ax


def _threshold_grid(y_true, y_score, names, thresholds, spread, ncols):
    order = _prevalence_order(y_true)
    colors = _genre_colors(len(names), order)
    fig, axes = _panel_grid(len(names), ncols, "threshold", "F1",
                            "F1 by decision threshold per genre (most common first)")
    for ax, k in zip(axes, order):
        f1 = _f1_by_threshold(y_true[:, k], y_score[:, k])
        ax.plot(_THRESHOLD_GRID, f1, color=colors[k], linewidth=1.5, label="F1")
        title = f"{names[k]} (best F1 {f1.max():.2f})"
        if thresholds is not None:
            threshold = thresholds[k]
            ax.axvline(threshold, color="black", linestyle="--", linewidth=0.8,
                       label="threshold")
            title = f"{names[k]} (t {threshold:.2f}"
            if spread is not None:
                ax.axvspan(max(threshold - spread[k], 0), min(threshold + spread[k], 1),
                           color=colors[k], alpha=0.25, linewidth=0, label="± sd across folds")
                title += f" ± {spread[k]:.2f}"
            title += ")"
        ax.set_title(title, fontsize="small")
    axes[0].set_xlim(0, 1)
    axes[0].set_ylim(0, 1.02)
    _figure_legend(fig, axes[0])
    return axes


def _check_thresholds(thresholds, cv_thresholds, n_genres):
    """Per-genre thresholds (a single one repeated) and their spread across folds."""
    spread = None
    if cv_thresholds is not None:
        spread = np.std(check_array(cv_thresholds, input_name="cv_thresholds"), axis=0)
        if spread.shape != (n_genres,):
            raise ValueError(f"cv_thresholds has {spread.size} genres, not {n_genres}.")
    if thresholds is None:
        return None, spread
    thresholds = np.asarray(thresholds, dtype=float)
    if thresholds.ndim != 0 and thresholds.shape != (n_genres,):
        raise ValueError(f"got {thresholds.size} thresholds for {n_genres} genres.")
    return np.broadcast_to(thresholds, (n_genres,)), spread


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
    y_true = check_array(y_true, dtype=int, input_name="y_true")
    y_score = check_array(y_score, dtype=np.float64, input_name="y_score")
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_score {y_score.shape}.")
    names = (list(target_names) if target_names is not None
             else [f"genre_{k}" for k in range(y_true.shape[1])])
    if len(names) != y_true.shape[1]:
        raise ValueError(f"got {len(names)} target_names for {y_true.shape[1]} genres.")
    return y_true, y_score, names


def _legend_outside(ax):
    # A legend inside would hide the curves; past 16 entries, two columns.
    n_entries = len(ax.get_legend_handles_labels()[0])
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small",
              ncol=2 if n_entries > 16 else 1)

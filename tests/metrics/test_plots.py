import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score

from skposter.metrics import (
    calibration_table, genre_report, plot_genre_scores, plot_history, plot_precision_recall,
    plot_threshold_curves, write_report,
)
from skposter.metrics._plots import _genre_colors

NAMES = ["Drama", "Comedy", "Action", "Western"]


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def scores():
    """Genres at falling prevalence; Western never occurs."""
    rng = np.random.RandomState(0)
    y_true = (rng.random_sample((300, 4)) < [0.5, 0.3, 0.15, 0]).astype(int)
    y_score = np.clip(0.35 * y_true + 0.65 * rng.random_sample(y_true.shape), 0, 1)
    return y_true, y_score


@pytest.fixture
def report(scores):
    return genre_report(*scores, target_names=NAMES)


def test_genre_scores_draws_f1_and_ap_bars_against_the_base_rate(plt, report):
    ax = plot_genre_scores(report)
    f1_bars, ap_bars = ax.containers
    assert len(f1_bars) == len(ap_bars) == len(NAMES)
    # Most common genre at the top, i.e. the last tick.
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES[::-1]
    table = report.per_genre.loc[NAMES[::-1]]
    np.testing.assert_allclose([b.get_width() for b in f1_bars], table["f1"])
    np.testing.assert_allclose([b.get_width() for b in ap_bars[1:]],
                               table["average_precision"][1:])
    assert ap_bars[0].get_width() == 0  # Western: no positive, no average precision
    base_rate = ax.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(base_rate, table["prevalence"])
    assert ax.get_xlabel() == "score"


def test_plots_draw_on_a_given_axes(plt, report, scores):
    fig, axes = plt.subplots(1, 3)
    assert plot_genre_scores(report, ax=axes[0]) is axes[0]
    assert plot_precision_recall(*scores, ax=axes[1]) is axes[1]
    assert plot_threshold_curves(*scores, ax=axes[2]) is axes[2]
    assert axes[1].figure is fig and plt.get_fignums() == [fig.number]
    with pytest.raises(ValueError, match="layout='grid' draws its own figure"):
        plot_precision_recall(*scores, ax=axes[1], layout="grid")
    with pytest.raises(ValueError, match="layout must be one of"):
        plot_threshold_curves(*scores, layout="panels")


def test_genre_colours_never_repeat_for_25_genres(plt):
    from matplotlib.colors import to_rgb

    for n_genres in (25, 60):  # beyond the palette of 25, generated colours
        rgb = np.array([to_rgb(c) for c in _genre_colors(n_genres)])
        distance = np.linalg.norm(rgb[:, None] - rgb[None, :], axis=-1)
        np.fill_diagonal(distance, np.inf)
        assert distance.min() > 0.1, n_genres
    greys = [c for c in _genre_colors(25) if np.ptp(to_rgb(c)) < 0.05]
    assert not greys  # grey marks the genres left out of an overlay's top k
    # By prevalence rank: the most common genre gets the first colour.
    assert _genre_colors(3, order=[2, 0, 1]) == [_genre_colors(3)[i] for i in (1, 2, 0)]


def _many_genres(n_genres=25, n_samples=400):
    rng = np.random.RandomState(1)
    prevalence = np.geomspace(0.45, 0.02, n_genres)
    y_true = (rng.random_sample((n_samples, n_genres)) < prevalence).astype(int)
    y_score = np.clip(0.3 * y_true + 0.7 * rng.random_sample(y_true.shape), 0, 1)
    # Shuffled columns, so that panel order (by prevalence) differs from column order.
    columns = rng.permutation(n_genres)
    return y_true[:, columns], y_score[:, columns], [f"g{k}" for k in columns]


def _panel_colour(ax):
    return ax.get_lines()[1].get_color()  # after the grey micro-average / before marks


def test_precision_recall_grid_has_a_panel_per_genre_by_prevalence(plt):
    y_true, y_score, names = _many_genres()
    axes = plot_precision_recall(y_true, y_score, names)
    assert len(axes) == 25 and len(plt.get_fignums()) == 1
    fig = axes[0].figure
    assert len(fig.axes) == 25  # the five by five grid has no empty cell
    by_prevalence = np.argsort(-y_true.mean(axis=0), kind="stable")
    for ax, k in zip(axes, by_prevalence):
        ap = average_precision_score(y_true[:, k], y_score[:, k])
        assert ax.get_title() == f"{names[k]} (AP {ap:.2f})"
        assert ax.get_lines()[2].get_ydata()[0] == pytest.approx(y_true[:, k].mean())
    colours = [_panel_colour(ax) for ax in axes]
    assert len(set(colours)) == 25
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[-1])
    assert len(fig.legends) == 1 and fig.legends[0].get_frame_on() is False


def test_threshold_grid_marks_each_genres_threshold_and_spread(plt, scores):
    y_true, y_score = scores
    thresholds = np.array([0.3, 0.4, 0.5, 0.6])
    cv_thresholds = thresholds + np.array([[-0.05], [0.05]])  # sd 0.05 in every genre
    axes = plot_threshold_curves(y_true, y_score, NAMES, thresholds,
                                 cv_thresholds=cv_thresholds, ncols=3)
    assert len(axes) == 4 and len(axes[0].figure.axes) == 4  # 2 x 3 cells, two removed
    for ax, name, threshold in zip(axes, NAMES, thresholds):
        curve, mark = ax.get_lines()
        assert mark.get_xdata()[0] == threshold and mark.get_linestyle() == "--"
        band = ax.patches[0].get_extents().transformed(ax.transData.inverted())
        assert (band.x0, band.x1) == pytest.approx((threshold - 0.05, threshold + 0.05))
        assert ax.get_title() == f"{name} (t {threshold:.2f} ± 0.05)"
    x, f1 = axes[1].get_lines()[0].get_data()
    at = int(np.flatnonzero(np.isclose(x, 0.4))[0])
    assert f1[at] == pytest.approx(f1_score(y_true[:, 1], y_score[:, 1] >= x[at]))
    # The panel under an empty cell keeps its tick labels.
    assert axes[1].xaxis.get_tick_params()["labelbottom"] and axes[1].get_xlabel() == "threshold"


def test_precision_recall_grid_marks_the_operating_point(plt, scores):
    y_true, y_score = scores
    axes = plot_precision_recall(y_true, y_score, NAMES, thresholds=0.5)
    point = next(line for line in axes[0].get_lines() if line.get_label() == "threshold")
    predicted = y_score[:, 0] >= 0.5
    expected_precision = y_true[predicted, 0].mean()
    expected_recall = predicted[y_true[:, 0] == 1].mean()
    assert point.get_xydata()[0] == pytest.approx([expected_recall, expected_precision])
    assert axes[3].get_title() == "Western (no positives)"


def test_overlay_colours_the_top_k_and_greys_the_rest(plt):
    y_true, y_score, names = _many_genres()
    fig, ax = plt.subplots()
    plot_precision_recall(y_true, y_score, names, ax=ax, top_k=5)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0] == "20 other genres" and labels[-1].startswith("micro-average")
    top = [names[k] for k in np.argsort(-y_true.mean(axis=0), kind="stable")[:5]]
    assert [label.split(" (AP")[0] for label in labels[1:6]] == top
    colours = [line.get_color() for line in ax.get_lines()]
    assert colours.count("#b4b4b4") == 20 and len(set(colours[20:25])) == 5
    assert len(labels) == 7  # a short legend, not 26 entries


def test_precision_recall_has_a_curve_per_genre_with_positives_and_micro(plt, scores):
    y_true, y_score = scores
    ax = plot_precision_recall(y_true, y_score, NAMES, layout="overlay")
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 4  # three genres with positives + micro-average
    assert labels[0] == f"Drama (AP {average_precision_score(y_true[:, 0], y_score[:, 0]):.2f})"
    assert labels[-1].startswith("micro-average (AP")
    assert not any(label.startswith("Western") for label in labels)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_threshold_curves_are_f1_at_each_threshold(plt, scores):
    y_true, y_score = scores
    ax = plot_threshold_curves(y_true, y_score, layout="overlay")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [f"genre_{k}" for k in range(4)]
    x, y = lines[1].get_data()
    at = int(np.flatnonzero(np.isclose(x, 0.4))[0])
    assert y[at] == pytest.approx(f1_score(y_true[:, 1], y_score[:, 1] >= x[at]))
    assert np.all(lines[3].get_ydata() == 0)  # a genre that never occurs
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("threshold", "F1")


def test_threshold_curves_mark_the_thresholds(plt, scores):
    ax = plot_threshold_curves(*scores, NAMES, thresholds=0.5, layout="overlay")
    assert ax.get_lines()[-1].get_xdata()[0] == 0.5 and len(ax.get_lines()) == 5
    ax = plot_threshold_curves(*scores, NAMES, thresholds=[0.3, 0.4, 0.5, 0.6],
                               layout="overlay")
    curves, dots = ax.get_lines()[::2], ax.get_lines()[1::2]
    assert [dot.get_xdata()[0] for dot in dots] == [0.3, 0.4, 0.5, 0.6]
    assert [dot.get_color() for dot in dots] == [c.get_color() for c in curves]
    with pytest.raises(ValueError, match="3 thresholds for 4 genres"):
        plot_threshold_curves(*scores, thresholds=[0.3, 0.4, 0.5])


class _History:
    history = {"loss": [0.9, 0.7, 0.6], "val_loss": [1.0, 0.8, 0.75],
               "auc": [0.6, 0.7, 0.8], "val_auc": [0.55, 0.65, 0.7],
               "learning_rate": [1e-3, 1e-3, 1e-4]}


@pytest.mark.parametrize("history", [_History(), _History.history], ids=["History", "dict"])
def test_history_puts_losses_left_and_metrics_on_a_twin_axis(plt, history):
    ax = plot_history(history)
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    twin = next(other for other in ax.figure.axes if other is not ax)
    assert [line.get_label() for line in twin.get_lines()] == ["auc", "val_auc"]
    assert (ax.get_xlabel(), ax.get_ylabel(), twin.get_ylabel()) == ("epoch", "loss", "metric")
    assert len(ax.get_legend().get_texts()) == 4


def test_history_without_values_is_an_error(plt):
    with pytest.raises(ValueError, match="no loss or metric"):
        plot_history({"learning_rate": [0.1]})


def test_scores_and_names_must_match(plt, scores):
    y_true, y_score = scores
    with pytest.raises(ValueError, match="shape"):
        plot_precision_recall(y_true, y_score[:, :3])
    with pytest.raises(ValueError, match="2 target_names for 4 genres"):
        plot_threshold_curves(y_true, y_score, ["a", "b"])


def test_write_report_writes_tables_markdown_and_plots(plt, report, scores, tmp_path):
    files = write_report(report, tmp_path / "out", y_true=scores[0], y_score=scores[1],
                         title="Test run")
    assert sorted(f.name for f in files) == sorted([
        "per_genre.csv", "summary.csv", "report.md", "genre_scores.png",
        "precision_recall.png", "threshold_curves.png", "calibration.png",
    ])
    for png in (f for f in files if f.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    per_genre = pd.read_csv(tmp_path / "out" / "per_genre.csv", index_col="genre")
    pd.testing.assert_frame_equal(per_genre, report.per_genre, check_dtype=False)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert markdown.startswith("# Test run")
    drama = report.per_genre.loc["Drama"]
    assert f"| Drama | {int(drama['support'])} | {drama['prevalence']:.3f} |" in markdown
    assert "| Western |" in markdown and "n/a" in markdown
    assert "![F1 by threshold](threshold_curves.png)" in markdown
    assert "![Reliability per genre](calibration.png)" in markdown
    comedy = calibration_table(*scores, NAMES).loc["Comedy"]
    row = " | ".join(f"{comedy[c]:.3f}" for c in ("prevalence", "mean_predicted", "brier", "ece"))
    assert f"| Comedy | {row} |" in markdown.split("## Calibration")[1]
    assert not plt.get_fignums()  # figures closed after saving


def test_write_report_marks_thresholds_and_skips_calibration_of_scores(plt, report, scores,
                                                                      tmp_path):
    y_true, y_score = scores
    files = write_report(report, tmp_path, y_true=y_true, y_score=2 * y_score - 1,
                         thresholds=[0.3, 0.4, 0.5, 0.6])
    assert "calibration.png" not in {f.name for f in files}
    assert "## Calibration" not in (tmp_path / "report.md").read_text()
    assert not plt.get_fignums()


def test_write_report_without_scores_or_plots(plt, report, tmp_path):
    files = write_report(report, tmp_path, plots=False)
    assert [f.name for f in files] == ["per_genre.csv", "summary.csv", "report.md"]
    assert "![" not in (tmp_path / "report.md").read_text()
    files = write_report(report, tmp_path)
    assert [f.name for f in files][-1] == "genre_scores.png"
    with pytest.raises(ValueError, match="together"):
        write_report(report, tmp_path, y_true=np.zeros((2, 4)))


def test_missing_matplotlib_says_how_to_install_it(report, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "skposter\[plots\]"'):
        plot_genre_scores(report)
    with pytest.raises(ImportError, match="skposter\\[plots\\]"):
        write_report(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score

from skposter.metrics import (
    genre_report, plot_genre_scores, plot_history, plot_precision_recall,
    plot_threshold_curves, write_report,
)

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
    fig, axes = plt.subplots(1, 2)
    assert plot_genre_scores(report, ax=axes[0]) is axes[0]
    assert plot_precision_recall(*scores, ax=axes[1]) is axes[1]
    assert axes[1].figure is fig


def test_precision_recall_has_a_curve_per_genre_with_positives_and_micro(plt, scores):
    y_true, y_score = scores
    ax = plot_precision_recall(y_true, y_score, NAMES)
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 4  # three genres with positives + micro-average
    assert labels[0] == f"Drama (AP {average_precision_score(y_true[:, 0], y_score[:, 0]):.2f})"
    assert labels[-1].startswith("micro-average (AP")
    assert not any(label.startswith("Western") for label in labels)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels


def test_threshold_curves_are_f1_at_each_threshold(plt, scores):
    y_true, y_score = scores
    ax = plot_threshold_curves(y_true, y_score)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [f"genre_{k}" for k in range(4)]
    x, y = lines[1].get_data()
    at = int(np.flatnonzero(np.isclose(x, 0.4))[0])
    assert y[at] == pytest.approx(f1_score(y_true[:, 1], y_score[:, 1] >= x[at]))
    assert np.all(lines[3].get_ydata() == 0)  # a genre that never occurs
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("threshold", "F1")


def test_threshold_curves_mark_the_thresholds(plt, scores):
    ax = plot_threshold_curves(*scores, NAMES, thresholds=0.5)
    assert ax.get_lines()[-1].get_xdata()[0] == 0.5 and len(ax.get_lines()) == 5
    ax = plot_threshold_curves(*scores, NAMES, thresholds=[0.3, 0.4, 0.5, 0.6])
    dots = ax.get_lines()[4:]
    assert [dot.get_xdata()[0] for dot in dots] == [0.3, 0.4, 0.5, 0.6]
    assert [dot.get_color() for dot in dots] == [c.get_color() for c in ax.get_lines()[:4]]
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
        "precision_recall.png", "threshold_curves.png",
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
    assert not plt.get_fignums()  # figures closed after saving


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

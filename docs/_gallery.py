"""The figures of docs/gallery.md, drawn from a model trained while the docs build.

Synthetic posters only (:func:`skposter.datasets.make_posters`): a Lite0
:class:`~skposter.features.CNNFeatureExtractor` at a small input size, a scaler and a
per-genre logistic regression with thresholds tuned on inner folds, scored on held-out
posters. The docs hook (docs/_hooks.py) adds the files this writes to the site;
nothing drawn here is committed. Run ``python docs/_gallery.py OUT`` to draw them into
a folder.
"""

import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, also on machines without a display

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skposter.datasets import make_posters  # noqa: E402
from skposter.features import CNNFeatureExtractor  # noqa: E402
from skposter.inspection import plot_genre_heatmaps  # noqa: E402
from skposter.metrics import (  # noqa: E402
    genre_report, plot_calibration, plot_genre_scores, plot_precision_recall,
    plot_threshold_curves,
)
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier  # noqa: E402

N_POSTERS = 400
N_GENRES = 6
POSTER_SIZE = (144, 96)
INPUT_SIZE = (192, 128)  # Lite0's last feature map is 6 x 4 here: heat maps stay readable
N_HEATMAPS = 3


def build_model(cache):
    """The gallery's model: Lite0 features -> scaler -> tuned per-genre logistic regression."""
    features = CNNFeatureExtractor("efficientnet_lite0", input_size=INPUT_SIZE,
                                   runtime="tensorflow", cache=cache)
    return GenreThresholdClassifier(
        make_pipeline(features, StandardScaler(),
                      PerGenreClassifier(LogisticRegression(C=0.01, max_iter=1000))),
        cv=3, at_least_one=True, random_state=0)


def draw_gallery(out_dir):
    """Train the gallery's model and save its figures as PNG files into ``out_dir``.

    Returns
    -------
    dict
        ``figures``: section (``"plots"``, ``"heatmaps"``) -> PNG file name -> caption,
        in page order; ``report``: the
        :class:`~skposter.metrics.GenreReport` on the held-out posters; ``seconds``:
        training time.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = make_posters(N_POSTERS, N_GENRES, POSTER_SIZE, random_state=0)
    genres = data.frame[data.target_names]  # a DataFrame target: the model knows genre names
    train, test = train_test_split(range(N_POSTERS), test_size=0.3, random_state=0)
    with tempfile.TemporaryDirectory() as cache:  # features computed once, not per fold
        start = time.perf_counter()
        model = build_model(cache).fit(data.images[train], genres.iloc[train])
        seconds = time.perf_counter() - start
        y_true, y_proba = data.target[test], model.predict_proba(data.images[test])
        report = genre_report(y_true, y_proba, y_pred=model.predict(data.images[test]),
                              target_names=data.target_names, y_prior=data.target[train])
        names, thresholds = data.target_names, model.thresholds_
        plots = {
            "genre_scores.png": ("Per-genre F1 and average precision beside the base rate",
                                 lambda: plot_genre_scores(report)),
            "precision_recall.png": (
                "Precision-recall curve per genre, the tuned threshold marked",
                lambda: plot_precision_recall(y_true, y_proba, names, thresholds=thresholds,
                                              cv_thresholds=model.cv_thresholds_, ncols=3)),
            "threshold_curves.png": (
                "F1 of each genre against its threshold, with the spread over inner folds",
                lambda: plot_threshold_curves(y_true, y_proba, names, thresholds,
                                              cv_thresholds=model.cv_thresholds_, ncols=3)),
            "calibration.png": ("Reliability diagram per genre",
                                lambda: plot_calibration(y_true, y_proba, names, ncols=3)),
        }
        heatmaps = {}
        for index in range(N_HEATMAPS):
            poster = data.images[test[index]]
            true = ", ".join(n for n, on in zip(names, y_true[index]) if on)
            heatmaps[f"heatmaps_{index}.png"] = (
                f"Held-out poster {index + 1} (true genres: {true}) and the heat maps of "
                "its three most probable genres",
                lambda poster=poster: plot_genre_heatmaps(model, poster, top=3))
        figures = {}
        for section, drawings in {"plots": plots, "heatmaps": heatmaps}.items():
            figures[section] = {}
            for name, (caption, draw) in drawings.items():
                _save(draw(), out_dir / name)
                figures[section][name] = caption
    return {"figures": figures, "report": report, "seconds": seconds}


def summary_table(report):
    """The report's summary (the model beside its baselines) as a Markdown table."""
    summary = report.summary
    header = ["", *summary.columns]
    rows = [[f"**{row}**" if row == "model" else row, *(f"{v:.3f}" for v in values)]
            for row, values in zip(summary.index, summary.to_numpy())]
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def _save(drawn, path):
    figure = drawn if isinstance(drawn, matplotlib.figure.Figure) else _first(drawn).figure
    try:
        figure.savefig(path, dpi=90, bbox_inches="tight")
    finally:
        plt.close(figure)  # pyplot keeps every figure alive until closed


def _first(drawn):
    # Per-genre plots return an array of Axes, the others one Axes.
    return drawn.flat[0] if hasattr(drawn, "flat") else drawn


if __name__ == "__main__":
    result = draw_gallery(sys.argv[1])
    written = [name for section in result["figures"].values() for name in section]
    print(f"fitted in {result['seconds']:.1f} s; wrote {', '.join(written)}")
    print(result["report"].summary)

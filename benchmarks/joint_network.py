"""The joint poster + metadata network, and joint heads over frozen Lite0 features.

Usage: python benchmarks/joint_network.py [--data ../shared/posters] [--n-jobs 2]

Same fixed id split, rows and scored genres as benchmarks/genre_models.py (whose models
and helpers are imported, not copied). On the metadata subset: the joint network
(:class:`~skposter.models.JointPosterClassifier`: Lite0 features, numbers, embedded
categories and plot keywords in one network), the single-source bases re-scored in
this run, MLP heads and ClassifierChain on Lite0 features, and stacking without and
with the joint network as one more base. On every poster: per-genre logistic
regression against MLP heads and ClassifierChain on the same Lite0 features.

Lite0 features come from the user cache (extracted once by genre_models.py); the
"extraction" column is the time to get every poster's features from it.

Writes benchmarks/results/joint_network.json and .md.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import ClassifierChain
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from genre_models import (  # noqa: E402
    COLUMNS, evaluate, keywords_lr, lite0, metadata_rf, metadata_svc, poster_lr, stacking,
    subset, table,
)

from skposter import load_posters  # noqa: E402
from skposter._utils._cache import user_cache_dir  # noqa: E402
from skposter.datasets import IMDB_CATEGORICAL, IMDB_KEYWORDS, IMDB_LOG, IMDB_NUMERIC  # noqa: E402
from skposter.features import CNNFeatureExtractor  # noqa: E402
from skposter.models import JointPosterClassifier  # noqa: E402


def joint(n_jobs=None, **params):
    """The joint network on the cached Lite0 features and every IMDb metadata column."""
    return JointPosterClassifier(
        CNNFeatureExtractor(cache=user_cache_dir()), numeric=list(IMDB_NUMERIC),
        categorical=list(IMDB_CATEGORICAL), keywords=list(IMDB_KEYWORDS), log=list(IMDB_LOG),
        random_state=0, **params)


def mlp_head(early_stopping):
    """One multi-label MLP over Lite0 features: hidden units shared by every genre.

    scikit-learn's early stopping watches the validation *accuracy*, for a genre matrix
    the share of posters with every genre right, which stays near 0: it stops after
    ``n_iter_no_change`` epochs whatever the loss. Hence also a fixed number of epochs
    with a strong penalty (the best of alpha 1, 3, 10 on the metadata subset).
    """
    if early_stopping:
        head = MLPClassifier(hidden_layer_sizes=(256,), alpha=1.0, early_stopping=True,
                             n_iter_no_change=10, max_iter=300, random_state=0)
    else:
        head = MLPClassifier(hidden_layer_sizes=(256,), alpha=10.0, max_iter=50,
                             random_state=0)
    return make_pipeline(lite0(None), StandardScaler(), head)


def keras_head():
    """The joint network's poster branch alone: a Keras MLP stopping on the loss."""
    return JointPosterClassifier(CNNFeatureExtractor(cache=user_cache_dir()), random_state=0)


def chain(n_jobs=None):
    """Per-genre logistic regressions, each also seeing the genres before it."""
    return make_pipeline(lite0(n_jobs), StandardScaler(), ClassifierChain(
        LogisticRegression(C=0.003, max_iter=2000, class_weight="balanced"),
        order="random", random_state=0))


def stacking_with_joint(n_jobs):
    model = stacking(n_jobs)
    model.estimators = [*model.estimators, ("joint", joint())]
    return model


def extraction_seconds(X):
    """Seconds to read every poster's features from the cache (TensorFlow loaded first)."""
    extractor = lite0(None).fit(X[["poster"]].head(1))
    start = time.perf_counter()
    extractor.transform(X[["poster"]])
    return round(time.perf_counter() - start, 1)


def run_rows(models, X, Y, train, test, names, extraction):
    result = {}
    for name, (model, uses_lite0) in models.items():
        result[name], _ = evaluate(name, model, X, Y, train, test, names)
        result[name]["extraction_seconds"] = extraction if uses_lite0 else None
    return result


def run(data_dir, n_jobs, only=None):
    data = load_posters(data_dir)
    result = {}

    with_metadata = np.flatnonzero(np.isin(data.ids, data.metadata["Id"]))
    X = table(data, with_metadata)
    Y, train, test, names = subset(data, with_metadata)
    result["metadata_split"] = {"n_train": len(train), "n_test": len(test),
                                "n_genres": len(names)}
    extraction = extraction_seconds(X)
    models = {
        "joint network (Lite0 + numbers + categories + keywords)": (joint(), True),
        "joint network, balanced genre weights": (joint(class_weight="balanced"), True),
        "Lite0 + LogisticRegression (poster only)": (poster_lr(n_jobs), True),
        "Lite0 + MLPClassifier head, early stopping (poster only)": (mlp_head(True), True),
        "Lite0 + MLPClassifier head, alpha=10, 50 epochs (poster only)": (mlp_head(False),
                                                                         True),
        "Lite0 + Keras MLP head (JointPosterClassifier, poster only)": (keras_head(), True),
        "Lite0 + ClassifierChain(LogisticRegression) (poster only)": (chain(), True),
        "metadata RandomForest": (metadata_rf(n_jobs), False),
        "metadata SVC": (metadata_svc(n_jobs), False),
        "plot keywords bag of words + LogisticRegression": (keywords_lr(n_jobs), False),
        "stacking (poster + RandomForest + keywords + SVC)": (stacking(n_jobs), True),
        "stacking + joint network": (stacking_with_joint(n_jobs), True),
    }
    if only:
        models = {k: v for k, v in models.items() if only in k}
    result["metadata_subset"] = run_rows(models, X, Y, train, test, names,
                                         extraction)

    every = np.arange(len(data.ids))
    X = table(data, every)
    Y, train, test, names = subset(data, every)
    result["posters_split"] = {"n_train": len(train), "n_test": len(test),
                               "n_genres": len(names)}
    extraction = extraction_seconds(X)
    models = {
        "Lite0 + LogisticRegression (per genre, balanced)": (poster_lr(n_jobs), True),
        "Lite0 + LogisticRegression (per genre, unweighted)": (poster_lr(n_jobs, None), True),
        "Lite0 + MLPClassifier head, early stopping": (mlp_head(True), True),
        "Lite0 + MLPClassifier head, alpha=10, 50 epochs": (mlp_head(False), True),
        "Lite0 + Keras MLP head (JointPosterClassifier, poster only)": (keras_head(), True),
        "Lite0 + ClassifierChain(LogisticRegression)": (chain(), True),
    }
    if only:
        models = {k: v for k, v in models.items() if only in k}
    result["posters"] = run_rows(models, X, Y, train, test, names, extraction)
    return result


def to_markdown(result):
    header = ["| model | macro AP | micro-F1 | macro-F1 | samples-F1 | genres per poster "
              "| fit (s) | Lite0 extraction, cached (s) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines = []
    for part, split in (("metadata_subset", "metadata_split"), ("posters", "posters_split")):
        info = result[split]
        lines += ["", f"**{part.replace('_', ' ')}**: {info['n_train']} train / "
                      f"{info['n_test']} test posters, {info['n_genres']} genres scored", ""
                  ] + header
        for name, row in result[part].items():
            cells = [f"{row[c]:.3f}" for c in COLUMNS] + [
                str(row["fit_seconds"]), str(row["extraction_seconds"] or "")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip() + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", help="run the models whose name holds this text only "
                                       "(results are then not written)")
    args = parser.parse_args()
    result = run(args.data, args.n_jobs, args.only)
    if not args.only:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / "joint_network.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / "joint_network.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

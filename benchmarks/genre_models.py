"""Genre models side by side on the fixed 80/20 split of the real posters.

Usage: python benchmarks/genre_models.py [--data ../shared/posters] [--n-jobs 2]

Poster rows use every poster (split by id); metadata rows use the posters with a
metadata row, split the same way. Scores are over genres with at least 10 training
posters in the rows' own training part. EfficientNet-Lite0 features are cached in the
user cache directory, so a rerun does not extract them again.

Writes benchmarks/results/genre_models.json and .md.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skposter import (
    PerGenreClassifier, PosterLoader, RGBStatsExtractor, genre_report, load_posters, split_by_id,
)
from skposter._utils._cache import user_cache_dir
from skposter.datasets import IMDB_CATEGORICAL, IMDB_LOG, IMDB_NUMERIC
from skposter.ensemble import GenreStackingClassifier
from skposter.features import CNNFeatureExtractor
from skposter.multilabel import GenreThresholdClassifier
from skposter.preprocessing import make_metadata_preprocessor

HERE = Path(__file__).resolve().parent
MIN_TRAIN_POSITIVES = 10
COLUMNS = ["macro_ap", "micro_f1", "macro_f1", "samples_f1", "genres_per_poster"]


def lite0(n_jobs):
    """Lite0 features of the poster column, cached per poster."""
    return ColumnTransformer([("poster", CNNFeatureExtractor(cache=user_cache_dir()),
                               ["poster"])])


def poster_lr(n_jobs, class_weight="balanced"):
    return make_pipeline(lite0(n_jobs), StandardScaler(), PerGenreClassifier(
        LogisticRegression(C=0.003, max_iter=2000), class_weight=class_weight, n_jobs=n_jobs))


def colour_rf(n_jobs):
    return make_pipeline(
        ColumnTransformer([("poster", make_pipeline(PosterLoader(column="poster", n_jobs=n_jobs),
                                                    RGBStatsExtractor()), ["poster"])]),
        PerGenreClassifier(RandomForestClassifier(n_estimators=300, min_samples_leaf=3,
                                                  n_jobs=n_jobs, random_state=0)),
    )


def metadata_numbers(n_jobs=None):
    return make_metadata_preprocessor(numeric=IMDB_NUMERIC, categorical=IMDB_CATEGORICAL,
                                      keywords=None, log=IMDB_LOG)


def metadata_rf(n_jobs):
    return make_pipeline(metadata_numbers(), PerGenreClassifier(
        RandomForestClassifier(n_estimators=300, min_samples_leaf=3, n_jobs=n_jobs,
                               random_state=0)))


def metadata_svc(n_jobs):
    # SVC(probability=True) is deprecated in scikit-learn 1.9 for this spelling.
    return make_pipeline(metadata_numbers(), PerGenreClassifier(
        CalibratedClassifierCV(SVC(), ensemble=False), n_jobs=n_jobs))


def keywords_lr(n_jobs):
    return make_pipeline(
        make_metadata_preprocessor(numeric=(), categorical=(), keywords="plot_keywords", log=()),
        PerGenreClassifier(LogisticRegression(C=0.1, max_iter=2000), n_jobs=n_jobs))


def stacking(n_jobs):
    bases = [("poster", poster_lr(n_jobs)), ("metadata_rf", metadata_rf(n_jobs)),
             ("keywords", keywords_lr(n_jobs)), ("metadata_svc", metadata_svc(n_jobs))]
    return GenreStackingClassifier(bases, cv=5, random_state=0)


def stacking_by_meta_models(n_jobs):
    """The stack deciding with its meta-models' own predict (before tuned thresholds)."""
    return stacking(n_jobs).set_params(scoring=None)


def tuned(model, scoring="micro_f1", thresholds="per_genre"):
    """GenreThresholdClassifier with its defaults (5 multi-label stratified folds)."""
    return GenreThresholdClassifier(model, thresholds=thresholds, scoring=scoring,
                                    random_state=0)


class MeanOfProbabilities:
    """The plain mean of several models' probabilities (the reference's ~0.42-0.46)."""

    def __init__(self, models):
        self.models = models

    def fit(self, X, y):
        for model in self.models:
            model.fit(X, y)
        return self

    def predict_proba(self, X):
        return np.mean([model.predict_proba(X) for model in self.models], axis=0)

    def predict(self, X):
        return (self.predict_proba(X) >= 0.5).astype(int)


def table(data, rows):
    """Model input: the poster path column then the metadata columns, by row."""
    frame = pd.DataFrame({"poster": data.paths[rows]}, index=data.ids[rows])
    if data.metadata is not None:
        metadata = data.metadata.set_index("Id").reindex(data.ids[rows])
        frame = frame.join(metadata)
    return frame.reset_index(drop=True)


def evaluate(name, model, X, Y, train, test, names):
    start = time.perf_counter()
    model.fit(X.iloc[train], Y[train])
    seconds = time.perf_counter() - start
    proba = model.predict_proba(X.iloc[test])
    predicted = model.predict(X.iloc[test])
    report = genre_report(Y[test], proba, y_pred=predicted, target_names=names,
                          y_prior=Y[train])
    row = report.summary.loc["model", COLUMNS].round(3).to_dict()
    row["true_genres_per_poster"] = round(report.true_genres_per_poster, 3)
    # The trap in the decisions: a genre of modest prevalence predicted on most posters.
    table = report.per_genre
    row["max_rate_of_rarer_genres"] = round(
        float(table.loc[table["prevalence"] <= 0.25, "predicted_rate"].max()), 3)
    row["fit_seconds"] = round(seconds, 1)
    print(f"{name}: {row}", flush=True)
    return row, report


def subset(data, rows):
    """Targets restricted to genres with enough training posters among ``rows``."""
    train, test = split_by_id(data.ids[rows])
    kept = data.target[rows][train].sum(axis=0) >= MIN_TRAIN_POSITIVES
    names = [n for n, k in zip(data.target_names, kept) if k]
    return data.target[rows][:, kept], train, test, names


def run(data_dir, n_jobs):
    data = load_posters(data_dir)
    result = {"posters": {}, "metadata_subset": {}}

    every = np.arange(len(data.ids))
    X = table(data, every)
    Y, train, test, names = subset(data, every)
    result["posters_split"] = {"n_train": len(train), "n_test": len(test), "n_genres": len(names),
                               "true_genres_per_poster": Y[test].sum(axis=1).mean()}
    posters = {
        "colour stats + RandomForest": colour_rf(n_jobs),
        "Lite0 + LogisticRegression, threshold 0.5": poster_lr(n_jobs),
        "Lite0 + LogisticRegression, tuned micro-F1 (default)": tuned(poster_lr(n_jobs)),
        "Lite0 + LogisticRegression, tuned macro-F1": tuned(poster_lr(n_jobs), "macro_f1"),
        "Lite0 + LogisticRegression, one threshold for micro-F1": tuned(
            poster_lr(n_jobs), "micro_f1", "global"),
        "Lite0 + LogisticRegression, tuned samples-F1": tuned(poster_lr(n_jobs), "samples_f1"),
        "Lite0 + LogisticRegression, one threshold for samples-F1": tuned(
            poster_lr(n_jobs), "samples_f1", "global"),
        "Lite0 + unweighted LogisticRegression, threshold 0.5": poster_lr(n_jobs, None),
        "Lite0 + unweighted LogisticRegression, tuned micro-F1": tuned(poster_lr(n_jobs, None)),
        "Lite0 + unweighted LogisticRegression, tuned macro-F1": tuned(
            poster_lr(n_jobs, None), "macro_f1"),
    }
    for name, model in posters.items():
        result["posters"][name], report = evaluate(name, model, X, Y, train, test, names)
    result["posters"]["label prior"] = report.summary.loc["prior", COLUMNS].round(3).to_dict()

    with_metadata = np.flatnonzero(np.isin(data.ids, data.metadata["Id"]))
    X = table(data, with_metadata)
    Y, train, test, names = subset(data, with_metadata)
    result["metadata_split"] = {"n_train": len(train), "n_test": len(test),
                                "n_genres": len(names),
                                "true_genres_per_poster": Y[test].sum(axis=1).mean()}
    models = {
        "Lite0 + LogisticRegression (poster only)": poster_lr(n_jobs),
        "metadata RandomForest": metadata_rf(n_jobs),
        "metadata SVC": metadata_svc(n_jobs),
        "plot keywords bag of words + LogisticRegression": keywords_lr(n_jobs),
        "mean of poster, RandomForest and keyword probabilities": MeanOfProbabilities(
            [poster_lr(n_jobs), metadata_rf(n_jobs), keywords_lr(n_jobs)]),
        "stacking (poster + RandomForest + keywords + SVC), meta-models' predict":
            stacking_by_meta_models(n_jobs),
        "stacking, default predict (thresholds tuned for micro-F1)": stacking(n_jobs),
        "stacking, thresholds tuned for macro-F1": stacking(n_jobs).set_params(
            scoring="macro_f1"),
    }
    for name, model in models.items():
        result["metadata_subset"][name], report = evaluate(name, model, X, Y, train, test, names)
    result["metadata_subset"]["label prior"] = (
        report.summary.loc["prior", COLUMNS].round(3).to_dict())
    return result


def to_markdown(result):
    header = ["| model | macro AP | micro-F1 | macro-F1 | samples-F1 | genres per poster "
              "| max rate, genres under 25 % | fit (s) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines = []
    for part, split in (("posters", "posters_split"), ("metadata_subset", "metadata_split")):
        info = result[split]
        lines += ["", f"**{part.replace('_', ' ')}**: {info['n_train']} train / {info['n_test']} "
                      f"test posters, {info['n_genres']} genres scored, "
                      f"{info['true_genres_per_poster']:.2f} true genres per test poster", ""
                  ] + header
        for name, row in result[part].items():
            cells = [f"{row[c]:.3f}" for c in COLUMNS] + [
                str(row.get(c, "")) for c in ("max_rate_of_rarer_genres", "fit_seconds")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip() + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    result = run(args.data, args.n_jobs)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "genre_models.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "genre_models.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

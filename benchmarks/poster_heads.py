"""Heads over frozen poster features: per-genre LR against joint and combined heads.

Usage: python benchmarks/poster_heads.py [--data ../shared/posters] [--n-jobs 1]

The features are those of poster_features.py (read from the user feature cache): the
posters-plus set (Lite0/1/2 at 2:3 with stages 3-6, 5,152 features) and Lite0 alone
as a reference. Every head runs inside GenreThresholdClassifier(scoring="micro_f1",
cv=3) on the fixed id split of genre_models.py (23 genres with at least 10 training
posters); its macro AP is that of the final fit on the whole training part, so the
threshold folds change only the F1 columns. Hyper-parameters (MLP alpha, per-genre C)
are chosen on an inner split of the training part, never on the test part; the LR's C
is the one poster_features.py chose that way.

Writes benchmarks/results/poster_heads.json and .md.
"""

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multioutput import ClassifierChain
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter import PerGenreClassifier, load_posters, split_by_id
from skposter.ensemble import GenreStackingClassifier
from skposter.multilabel import GenreThresholdClassifier

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from genre_models import evaluate, subset, table  # noqa: E402
from poster_features import ROWS, Extractions  # noqa: E402

RESULTS = HERE / "results"
FEATURES = {"posters-plus": "Lite0+1+2 at 2:3 + depths", "Lite0": "Lite0 (reference)"}
ALPHAS = (10.0, 30.0)
C_GRID = (0.00003, 0.0001, 0.0003, 0.001)
#: One hidden layer shared by every genre: what it learns for Drama it can reuse for
#: Romance. 60 epochs: with alpha >= 10 it stops there or earlier (tol).
HIDDEN, EPOCHS = (256,), 60
#: Heads, in the order of the table; those of SINGLE_BLOCK also run on Lite0 alone.
HEADS = ["per-genre LogisticRegression (reference)", "MLPClassifier (one shared hidden layer)",
         "MLPClassifier, early stopping", "mean of LR and MLP probabilities",
         "mean of LR and 3 MLPs (seeds 0-2)", "ClassifierChain(LR), most frequent genre first",
         "soft vote of one LR per backbone", "per-genre C (inner split)",
         "PCA 256 whitened + LR", "stacking of LR and MLP (per-genre meta LR)"]
SINGLE_BLOCK = HEADS[:4]


def logistic(C, n_jobs):
    return make_pipeline(StandardScaler(), PerGenreClassifier(
        LogisticRegression(C=C, max_iter=2000), n_jobs=n_jobs))


def mlp(alpha, early_stopping=False, seed=0):
    return make_pipeline(StandardScaler(), MLPClassifier(
        HIDDEN, alpha=alpha, early_stopping=early_stopping, max_iter=EPOCHS, random_state=seed))


def chain(C, order):
    # Genre k reads the features and the probabilities of the genres before it.
    return make_pipeline(StandardScaler(), ClassifierChain(
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"), order=order,
        chain_method="predict_proba"))


def columns(head, start, stop):
    return make_pipeline(ColumnTransformer([("block", "passthrough", slice(start, stop))]), head)


class MeanProba(ClassifierMixin, BaseEstimator):
    """The mean of several multi-label models' probabilities (soft vote)."""

    def __init__(self, estimators):
        self.estimators = estimators

    def fit(self, X, y):
        self.estimators_ = [clone(est).fit(X, y) for est in self.estimators]
        self.classes_ = np.arange(np.shape(y)[1])
        return self

    def predict_proba(self, X):
        return np.mean([est.predict_proba(X) for est in self.estimators_], axis=0)

    def predict(self, X):
        return (self.predict_proba(X) >= 0.5).astype(int)


class PerGenreC(ClassifierMixin, BaseEstimator):
    """Balanced logistic regression per genre, each with its own C."""

    def __init__(self, Cs):
        self.Cs = Cs

    def fit(self, X, y):
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        self.estimators_ = [
            LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(Z, y[:, k])
            for k, C in enumerate(self.Cs)]
        self.classes_ = np.arange(len(self.Cs))
        return self

    def predict_proba(self, X):
        Z = self.scaler_.transform(X)
        return np.column_stack([est.predict_proba(Z)[:, 1] for est in self.estimators_])

    def predict(self, X):
        return (self.predict_proba(X) >= 0.5).astype(int)


class Inner:
    """An inner split of the training part: fit on three quarters, score on one."""

    def __init__(self, X, Y, ids, train):
        # split_by_id's test part holds ids hashed below test_size; 0.4 sends a quarter
        # of the training part (ids above 0.2) to the inner validation part.
        _, val = split_by_id(ids[train], test_size=0.4)
        is_val = np.zeros(len(train), bool)
        is_val[val] = True
        self.X, self.Y = X, Y
        self.fit_rows, self.val_rows = train[~is_val], train[is_val]

    def proba(self, model):
        model.fit(self.X[self.fit_rows], self.Y[self.fit_rows])
        return model.predict_proba(self.X[self.val_rows])

    def macro_ap(self, proba, average="macro"):
        return average_precision_score(self.Y[self.val_rows], proba, average=average)

    def best(self, make, grid):
        scores = {value: round(float(self.macro_ap(self.proba(make(value)))), 4)
                  for value in grid}
        return max(scores, key=scores.get), scores

    def per_genre_C(self, n_jobs):
        """Each genre's C with its best average precision."""
        scores = np.array([self.macro_ap(self.proba(logistic(C, n_jobs)), average=None)
                           for C in C_GRID])
        return [C_GRID[i] for i in scores.argmax(axis=0)], scores.round(4).tolist()


class Heads:
    """Every head measured on one feature set; choices on the inner split made once."""

    def __init__(self, Y, inner, blocks, C, n_jobs):
        self.Y, self.inner, self.blocks, self.C, self.n_jobs = Y, inner, blocks, C, n_jobs

    @functools.cached_property
    def alpha(self):
        return self.inner.best(mlp, ALPHAS)

    def names(self):
        return [name for name in HEADS if self.blocks is not None or name in SINGLE_BLOCK]

    def build(self, name):
        """(estimator, choices) of the head ``name``."""
        C, n_jobs = self.C, self.n_jobs
        if name == "per-genre LogisticRegression (reference)":
            return logistic(C, n_jobs), {"C": C}
        alpha, scores = self.alpha
        if name == "MLPClassifier (one shared hidden layer)":
            return mlp(alpha), {"alpha": alpha, "inner_macro_ap": scores}
        if name == "MLPClassifier, early stopping":
            return mlp(alpha, early_stopping=True), {"alpha": alpha}
        if name == "mean of LR and MLP probabilities":
            return MeanProba([logistic(C, n_jobs), mlp(alpha)]), {"C": C, "alpha": alpha}
        if name == "mean of LR and 3 MLPs (seeds 0-2)":
            return (MeanProba([logistic(C, n_jobs),
                               MeanProba([mlp(alpha, seed=s) for s in range(3)])]),
                    {"C": C, "alpha": alpha})
        if name == "stacking of LR and MLP (per-genre meta LR)":
            return (GenreStackingClassifier([("lr", logistic(C, n_jobs)), ("mlp", mlp(alpha))],
                                            cv=3, random_state=0), {"C": C, "alpha": alpha})
        return self._linear(name)

    def _linear(self, name):
        C, n_jobs, inner = self.C, self.n_jobs, self.inner
        if name == "ClassifierChain(LR), most frequent genre first":
            order = np.argsort(-self.Y[inner.fit_rows].sum(axis=0), kind="stable")
            return chain(C, order), {"C": C}
        if name == "soft vote of one LR per backbone":
            edges = np.cumsum([0] + self.blocks)
            return (MeanProba([columns(logistic(C, n_jobs), a, b)
                               for a, b in zip(edges, edges[1:])]),
                    {"C": C, "blocks": self.blocks})
        if name == "per-genre C (inner split)":
            Cs, scores = inner.per_genre_C(n_jobs)
            return PerGenreC(Cs), {"Cs": Cs, "inner_ap": scores}
        if name == "PCA 256 whitened + LR":
            C, scores = inner.best(lambda c: pca_logistic(c, n_jobs), (0.0003, 0.001, 0.003))
            return pca_logistic(C, n_jobs), {"C": C, "inner_macro_ap": scores}
        raise ValueError(f"unknown head {name!r}")


def pca_logistic(C, n_jobs):
    return make_pipeline(StandardScaler(), PCA(256, whiten=True, random_state=0),
                         PerGenreClassifier(LogisticRegression(C=C, max_iter=2000),
                                            n_jobs=n_jobs))


def with_thresholds(model):
    if isinstance(model, GenreStackingClassifier):
        return model  # it tunes its own thresholds for micro-F1
    return GenreThresholdClassifier(model, scoring="micro_f1", cv=3, random_state=0)


def run(data_dir, n_jobs, wanted):
    """Measure the heads whose name holds one of ``wanted``, unless already on disk."""
    data = load_posters(data_dir)
    every = np.arange(len(data.ids))
    paths = table(data, every)["poster"].to_numpy()
    Y, train, test, names = subset(data, every)
    features = json.loads((RESULTS / "poster_features.json").read_text())
    extractions = Extractions(paths, features["extractions"])
    result = {"split": {"n_train": len(train), "n_test": len(test), "n_genres": len(names)},
              "hidden": list(HIDDEN), "epochs": EPOCHS, "rows": {}}
    for label, row in FEATURES.items():
        parts = ROWS[row]
        X = extractions.columns(parts)
        blocks = ([extractions.info[name]["n_features"] for name, _ in parts]
                  if len(parts) > 1 else None)
        heads = Heads(Y, Inner(X, Y, data.ids, train), blocks, features["rows"][row]["C"],
                      n_jobs)
        for name in heads.names():
            key = f"{label}: {name}"
            # Several runs may share the work: a row on disk is not measured again.
            if not any(w in key for w in wanted) or key in saved_rows():
                continue
            cpu, start = time.process_time(), time.perf_counter()
            model, choices = heads.build(name)
            measured, _ = evaluate(key, with_thresholds(model), pd.DataFrame(X), Y, train,
                                   test, names)
            measured.update({"features": label, "head": name, "n_features": X.shape[1],
                             "choices": choices,
                             "fit_seconds": round(time.perf_counter() - start, 1),
                             "fit_cpu_seconds": round(time.process_time() - cpu, 1),
                             # The first measure: a rerun times the cache, not the network.
                             "extraction_seconds": features["rows"][row]["extraction_seconds"]})
            result["rows"] = {key: measured}
            result = write(result)
    return result


def saved_rows():
    path = RESULTS / "poster_heads.json"
    return json.loads(path.read_text())["rows"] if path.exists() else {}


def to_markdown(result):
    split = result["split"]
    lines = [f"{split['n_train']} train / {split['n_test']} test posters (fixed id split), "
             f"{split['n_genres']} genres scored. Features of benchmarks/poster_features.py, "
             "read from the cache (extraction: the seconds poster_features.py measured). Each "
             "head inside GenreThresholdClassifier(scoring=\"micro_f1\", cv=3), the stack with its "
             "own micro-F1 thresholds; MLP: one hidden layer of "
             f"{result['hidden'][0]} units, at most {result['epochs']} epochs, alpha chosen on "
             "an inner split of the training part. Fit times (wall and process CPU, which "
             "counts the BLAS threads) include the threshold folds and any inner-split "
             "choice, on 2 cores shared with other jobs, under nice 19.", "",
             "| features | head | macro AP | macro-F1 | micro-F1 | genres per poster "
             "| fit wall (s) | fit CPU (s) | extraction (s) | chosen |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"].values():
        chosen = ", ".join(f"{k}={v}" for k, v in row["choices"].items()
                           if k in ("C", "alpha"))
        lines.append(
            f"| {row['features']} | {row['head']} | {row['macro_ap']:.3f} | "
            f"{row['macro_f1']:.3f} | {row['micro_f1']:.3f} | {row['genres_per_poster']:.2f} | "
            f"{row['fit_seconds']} | {row['fit_cpu_seconds']} | {row['extraction_seconds']} | "
            f"{chosen} |")
    return "\n".join(lines + [""] + notes(result["rows"])) + "\n"


def notes(rows):
    """The best head per feature set against its per-genre LR."""
    out = []
    for label in FEATURES:
        mine = {k: r for k, r in rows.items() if r["features"] == label}
        reference = mine.get(f"{label}: per-genre LogisticRegression (reference)")
        if not reference:
            continue
        best = max(mine.values(), key=lambda r: r["macro_ap"])
        out.append(f"{label}: best head {best['head']}, macro AP {best['macro_ap']:.3f} "
                   f"against {reference['macro_ap']:.3f} for per-genre LR "
                   f"({best['macro_ap'] - reference['macro_ap']:+.3f}).")
    return out + ["The CLI's posters-plus preset takes a head over per-genre LR only when it "
                  "gains at least 0.005 macro AP here."]


def write(result):
    """Add ``result``'s rows to those on disk, in the order of the table; return all."""
    rows = {**saved_rows(), **result["rows"]}
    order = [f"{label}: {name}" for label in FEATURES for name in HEADS]
    result = {**result, "rows": {key: rows[key] for key in order if key in rows}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "poster_heads.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "poster_heads.md").write_text(to_markdown(result))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--heads", nargs="+", default=[""], metavar="TEXT",
                        help="measure only rows whose name holds one of these (several runs "
                             "can share the table); rows on disk are kept, delete the json "
                             "to measure them again")
    args = parser.parse_args()
    print(to_markdown(run(args.data, args.n_jobs, args.heads)))


if __name__ == "__main__":
    main()

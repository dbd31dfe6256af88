"""Colour statistics + per-genre RandomForest on the fixed 80/20 split of real posters.

Usage: python benchmarks/colour_baseline.py [--data ../shared/posters]

Writes benchmarks/results/colour_baseline.json and .md. Macro average precision is
taken over genres with at least 10 training posters, as in shared/MEASURED.md.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from skposter import (
    PerGenreClassifier, PosterLoader, RGBStatsExtractor, genre_report, load_posters, split_by_id,
)

HERE = Path(__file__).resolve().parent
MIN_TRAIN_POSITIVES = 10


def colour_features(paths, n_jobs):
    images = PosterLoader(n_jobs=n_jobs, verbose=1).fit_transform(paths)
    return RGBStatsExtractor().fit_transform(images)


def run(data_dir, n_jobs=2, random_state=0):
    data = load_posters(data_dir)
    train, test = split_by_id(data.ids)
    start = time.perf_counter()
    X = colour_features(data.paths, n_jobs)
    extract_seconds = time.perf_counter() - start
    kept = data.target[train].sum(axis=0) >= MIN_TRAIN_POSITIVES
    Y = data.target[:, kept]
    names = [n for n, k in zip(data.target_names, kept) if k]
    model = PerGenreClassifier(RandomForestClassifier(
        n_estimators=300, min_samples_leaf=3, n_jobs=n_jobs, random_state=random_state,
    ))
    start = time.perf_counter()
    model.fit(X[train], Y[train])
    fit_seconds = time.perf_counter() - start
    report = genre_report(Y[test], model.predict_proba(X[test]), target_names=names,
                          y_prior=Y[train])
    return {
        "data": os.path.relpath(data_dir, HERE.parent),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "n_genres_scored": int(kept.sum()),
        "extract_seconds": round(extract_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        **report.to_dict(),
    }, report


def to_markdown(result):
    rows = ["| row | macro AP | micro-F1 | macro-F1 | samples-F1 |", "| --- | --- | --- | --- | --- |"]
    for row in result["summary"]:
        rows.append(f"| {row['row']} | {row['macro_ap']:.3f} | {row['micro_f1']:.3f} | "
                    f"{row['macro_f1']:.3f} | {row['samples_f1']:.3f} |")
    rows += ["", "| genre | support | AP | ROC AUC | F1 at 0.5 |", "| --- | --- | --- | --- | --- |"]
    for row in result["per_genre"]:
        rows.append(f"| {row['genre']} | {row['support']} | {row['average_precision']:.3f} | "
                    f"{row['roc_auc']:.3f} | {row['f1']:.3f} |")
    return (
        "# Colour statistics + per-genre RandomForest\n\n"
        f"Fixed split by id of `{result['data']}`: {result['n_train']} train, "
        f"{result['n_test']} test posters; {result['n_genres_scored']} genres with at least "
        f"{MIN_TRAIN_POSITIVES} training posters. Feature extraction "
        f"{result['extract_seconds']} s, fit {result['fit_seconds']} s.\n\n"
        + "\n".join(rows) + "\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    result, report = run(args.data, n_jobs=args.n_jobs)
    print(report)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "colour_baseline.json").write_text(json.dumps(result, indent=2, default=float))
    (out / "colour_baseline.md").write_text(to_markdown(result))


if __name__ == "__main__":
    main()

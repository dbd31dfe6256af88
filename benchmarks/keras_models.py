"""Keras poster classifiers against logistic regression on frozen EfficientNet-Lite0 features.

Usage: nice -n 10 python benchmarks/keras_models.py [--data ../shared/posters] [--quick]

On the fixed 80/20 split by id, trains ``KerasPosterClassifier`` as ``seed_cnn``, as
``transfer`` (EfficientNet-Lite0, frozen) and as ``transfer`` with the top block
(``block7a`` and ``top_conv``) fine-tuned after the head, and compares them with a
per-genre LogisticRegression on standardised pooled Lite0 features of the same
224x224 posters. Every model trains on the genres with at least 10 training posters
and is scored on them (macro average precision and macro-F1 at 0.5), as in
shared/MEASURED.md. Times are CPU wall-clock seconds on this machine.

Posters are decoded once per input size through ``skposter.io.PosterStream`` (the
loader the models stream with) and given as arrays: on a 2-core CPU, decoding the
files again at every epoch would compete with training for the cores.

Writes benchmarks/results/keras_models.json and .md; ``--quick`` (400 posters, one
epoch) only prints, to check the script.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter import PerGenreClassifier, genre_report, load_posters, split_by_id
from skposter.features import CNNFeatureExtractor
from skposter.io import PosterStream
from skposter.models import KerasPosterClassifier

HERE = Path(__file__).resolve().parent
MIN_TRAIN_POSITIVES = 10
LOGISTIC_C = 0.005

# Shared by the three networks: per-genre balanced loss (macro-F1 at 0.5 needs rare
# genres predicted at all), early stopping on 10 % of the training posters.
COMMON = {"class_weight": "balanced", "batch_size": 32, "validation_split": 0.1,
          "patience": 4, "random_state": 0}
NETWORKS = {
    # Light dropout: from scratch, 0.5 kept it at the label prior in 12 epochs.
    "seed_cnn": {"architecture": "seed_cnn", "input_size": (128, 85), "epochs": 15,
                 "dropout": 0.1},
    "transfer (Lite0 frozen)": {"architecture": "transfer", "input_size": 224, "epochs": 6},
    "transfer (Lite0, top block fine-tuned)": {
        "architecture": "transfer", "input_size": 224, "epochs": 6,
        "fine_tune_layers": "block7a", "fine_tune_epochs": 4, "fine_tune_learning_rate": 1e-4,
    },
}


def decode(paths, size):
    """Posters resized to ``size`` as one uint8 array, through the models' own loader."""
    stream = PosterStream(list(paths), size, batch_size=64)
    images = np.concatenate([batch.numpy() for batch in stream.dataset()])
    if stream.failures:
        raise RuntimeError(f"unreadable posters: {stream.failures}")
    return images


def run_network(name, params, data, train, test, Y, names, quick):
    size = params["input_size"]
    size = (size, size) if isinstance(size, int) else size
    start = time.perf_counter()
    images = decode(data.paths, size)
    decode_seconds = time.perf_counter() - start
    if quick:
        params = {**params, "epochs": 1, "fine_tune_epochs": 1}
    model = KerasPosterClassifier(**COMMON, **params, verbose=2)
    start = time.perf_counter()
    model.fit(images[train], Y[train])
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict_proba(images[test])
    predict_seconds = time.perf_counter() - start
    report = genre_report(Y[test], proba, target_names=names, y_prior=Y[train])
    print(f"\n== {name}\n{report}\n", flush=True)
    return {
        "model": name,
        "params": {**COMMON, **params},
        "epochs_run": model.current_epoch,
        "fine_tune_start": model.fine_tune_start_,
        "decode_seconds": round(decode_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "predict_seconds": round(predict_seconds, 1),
        "history": model.history_,
        **_scores(report),
    }


def run_logistic(data, train, test, Y, names):
    start = time.perf_counter()
    features = CNNFeatureExtractor("efficientnet_lite0").fit_transform(data.paths)
    extract_seconds = time.perf_counter() - start
    model = make_pipeline(StandardScaler(), PerGenreClassifier(
        LogisticRegression(C=LOGISTIC_C, max_iter=2000)))
    start = time.perf_counter()
    model.fit(features[train], Y[train])
    fit_seconds = time.perf_counter() - start
    report = genre_report(Y[test], model.predict_proba(features[test]), target_names=names,
                          y_prior=Y[train])
    print(f"\n== logistic regression\n{report}\n", flush=True)
    return {
        "model": f"LogisticRegression (C={LOGISTIC_C}) on frozen Lite0 features",
        "params": {"C": LOGISTIC_C, "input_size": 224, "class_weight": "balanced"},
        "extract_seconds": round(extract_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        **_scores(report),
    }


def _scores(report):
    summary = report.summary
    return {
        "macro_ap": float(summary.loc["model", "macro_ap"]),
        "macro_f1": float(summary.loc["model", "macro_f1"]),
        "micro_f1": float(summary.loc["model", "micro_f1"]),
        "prior_macro_ap": float(summary.loc["prior", "macro_ap"]),
        "per_genre_ap": report.per_genre["average_precision"].round(4).to_dict(),
    }


def run(data_dir, quick=False):
    data = load_posters(data_dir)
    if quick:
        keep = np.random.default_rng(0).choice(len(data.ids), 400, replace=False)
        data.paths, data.target, data.ids = data.paths[keep], data.target[keep], data.ids[keep]
    train, test = split_by_id(data.ids)
    kept = data.target[train].sum(axis=0) >= (2 if quick else MIN_TRAIN_POSITIVES)
    Y = data.target[:, kept]
    names = [n for n, k in zip(data.target_names, kept) if k]
    results = [run_logistic(data, train, test, Y, names)]
    for name, params in NETWORKS.items():
        results.append(run_network(name, params, data, train, test, Y, names, quick))
    return {
        "data": os.path.relpath(data_dir, HERE.parent),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "n_genres_scored": int(kept.sum()),
        "cpu_count": os.cpu_count(),
        "results": results,
    }


def to_markdown(result):
    rows = ["| model | macro AP | macro-F1 | micro-F1 | epochs | train s | other s |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["results"]:
        epochs = r.get("epochs_run", "-")
        if r.get("fine_tune_start") is not None:
            epochs = f"{r['fine_tune_start']} + {r['epochs_run'] - r['fine_tune_start']}"
        other = (f"features {r['extract_seconds']}" if "extract_seconds" in r
                 else f"decode {r['decode_seconds']}, predict {r['predict_seconds']}")
        rows.append(f"| {r['model']} | {r['macro_ap']:.3f} | {r['macro_f1']:.3f} | "
                    f"{r['micro_f1']:.3f} | {epochs} | {r['fit_seconds']} | {other} |")
    prior = result["results"][0]["prior_macro_ap"]
    return (
        "# Keras poster classifiers vs logistic regression on frozen Lite0 features\n\n"
        f"Fixed split by id of `{result['data']}`: {result['n_train']} train, "
        f"{result['n_test']} test posters; {result['n_genres_scored']} genres with at least "
        f"{MIN_TRAIN_POSITIVES} training posters. Label prior: macro AP {prior:.3f}. "
        f"CPU only ({result['cpu_count']} cores); epochs as head + fine-tuning; train s is "
        "the wall-clock time of `fit` (early stopping on 10 % of the training posters).\n\n"
        + "\n".join(rows) + "\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--quick", action="store_true", help="400 posters, one epoch")
    args = parser.parse_args()
    result = run(args.data, quick=args.quick)
    print(to_markdown(result))
    if not args.quick:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / "keras_models.json").write_text(json.dumps(result, indent=2, default=float))
        (out / "keras_models.md").write_text(to_markdown(result))


if __name__ == "__main__":
    main()

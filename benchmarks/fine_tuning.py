"""End-to-end fine-tuning of EfficientNet-Lite0 on a CPU, within a training budget.

Usage: nice -n 19 python benchmarks/fine_tuning.py [--data ../shared/posters]
       [--budget-minutes 60] [--size 224 224] [--quick]

On the fixed 80/20 split by id (23 genres with at least 10 training posters), trains
``KerasPosterClassifier("transfer")`` on Lite0 in two fits of one estimator:

1. the head (dense 256 + genres) on the frozen backbone: the frozen reference, scored;
2. a warm start that opens the whole backbone (``fine_tune_layers="all"``, batch norms
   frozen) with augmentation, a linear warm-up and a cosine schedule, scored again.

The posters are decoded once into a memmap (``image_cache=<folder>``), timed apart as
the extraction; both fits read it and decode nothing. The fine-tuning epochs are
planned from a measured step time (a short probe fit on a few training posters) so
that the two fits together train for about ``--budget-minutes``; the head's epochs are
fixed. Scores at threshold 0.5 (the loss weighs each genre's positives and negatives
as balanced). Wall and process CPU times are recorded, with the load average, as the
2 cores are shared.

Writes benchmarks/results/fine_tuning.json and .md; ``--quick`` (300 posters, tiny
budget) only prints, to check the script.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from skposter import genre_report, load_posters
from skposter.models import KerasPosterClassifier
from skposter.models._data import cached_decode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from genre_models import subset  # noqa: E402

HEAD = {"architecture": "transfer", "backbone": "efficientnet_lite0", "epochs": 5,
        "learning_rate": 1e-3, "class_weight": "balanced", "batch_size": 32,
        "validation_split": 0.1, "patience": 3, "random_state": 0}
FINE_TUNE = {"fine_tune_layers": "all", "fine_tune_learning_rate": 1e-4,
             "fine_tune_schedule": "cosine", "fine_tune_warmup": 0.1}
PROBE_POSTERS = 320


class EpochClock(keras.callbacks.Callback):
    """Wall and process CPU seconds of each epoch, kept in a list the copies share."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def __deepcopy__(self, memo):
        # The estimator trains with copies of its callbacks: they write to one log.
        return EpochClock(self.log)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        wall, cpu = self._start
        self.log.append({"epoch": epoch, "wall": time.perf_counter() - wall,
                         "cpu": time.process_time() - cpu})


def timed(function):
    """Run ``function``; return its result, wall and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def score(model, paths, Y, train, test, names):
    proba, wall, cpu = timed(lambda: model.predict_proba(paths[test]))
    report = genre_report(Y[test], proba, y_pred=(proba >= 0.5).astype(int),
                          target_names=names, y_prior=Y[train])
    summary = report.summary.loc["model"]
    return {"macro_ap": round(float(summary["macro_ap"]), 4),
            "macro_f1": round(float(summary["macro_f1"]), 4),
            "micro_f1": round(float(summary["micro_f1"]), 4),
            "genres_per_poster": round(float(summary["genres_per_poster"]), 2),
            "prior_macro_ap": round(float(report.summary.loc["prior", "macro_ap"]), 4),
            "predict_wall_s": round(wall, 1), "predict_cpu_s": round(cpu, 1)}


def probe_step_seconds(paths, Y, train, size, cache):
    """Seconds per training step of the frozen head and of whole-backbone fine-tuning.

    Two epochs per phase on a few posters; the second epoch of each (graphs traced
    already) is the measure.
    """
    rows = train[:PROBE_POSTERS]
    log = []
    params = {**HEAD, **FINE_TUNE, "epochs": 2, "fine_tune_epochs": 2, "validation_split": 0}
    model = KerasPosterClassifier(**params, input_size=size, image_cache=cache,
                                  callbacks=[EpochClock(log)])
    _, wall, cpu = timed(lambda: model.fit(paths[rows], Y[rows]))
    steps = math.ceil(len(rows) / HEAD["batch_size"])
    return {"head": log[1]["wall"] / steps, "fine_tune": log[3]["wall"] / steps,
            "head_cpu": log[1]["cpu"] / steps, "fine_tune_cpu": log[3]["cpu"] / steps,
            "probe_wall_s": round(wall, 1), "probe_cpu_s": round(cpu, 1)}


def plan_fine_tune_epochs(budget_s, head_train_s, step, n_train):
    """Fine-tuning epochs that fit what the budget leaves after the head's fit.

    An epoch costs its training steps plus a validation pass (about one frozen step
    per batch); the warm start also runs one more head epoch first.
    """
    n_fit = n_train - round(HEAD["validation_split"] * n_train)
    steps = math.ceil(n_fit / HEAD["batch_size"])
    val_steps = math.ceil((n_train - n_fit) / HEAD["batch_size"])
    head_epoch = (steps + val_steps) * step["head"]
    epoch = steps * step["fine_tune"] + val_steps * step["head"]
    return max(1, int((budget_s - head_train_s - head_epoch) // epoch)), epoch


def run(data_dir, budget_minutes, size, quick=False):
    data = load_posters(data_dir)
    rows = np.arange(len(data.ids))
    if quick:
        rows = np.sort(np.random.default_rng(0).choice(rows, 300, replace=False))
    paths = data.paths[rows]
    data.ids, data.target = data.ids[rows], data.target[rows]
    Y, train, test, names = subset(data, np.arange(len(rows)))
    cache = Path(tempfile.gettempdir()) / "skposter-fine-tuning"
    load = [os.getloadavg()]

    _, decode_wall, decode_cpu = timed(lambda: cached_decode(
        paths[train], size, cache, mode="stretch", batch_size=HEAD["batch_size"]))
    step = probe_step_seconds(paths, Y, train, size, cache)
    load.append(os.getloadavg())

    log = []
    model = KerasPosterClassifier(**HEAD, input_size=size, image_cache=cache,
                                  callbacks=[EpochClock(log)], verbose=2)
    if quick:
        model.set_params(epochs=1)
    _, head_wall, head_cpu = timed(lambda: model.fit(paths[train], Y[train]))
    frozen = score(model, paths, Y, train, test, names)
    print("frozen:", frozen, flush=True)
    load.append(os.getloadavg())

    epochs, epoch_s = plan_fine_tune_epochs(budget_minutes * 60, head_wall, step, len(train))
    print(f"planned {epochs} fine-tuning epochs of about {epoch_s:.0f} s", flush=True)
    model.set_params(**FINE_TUNE, fine_tune_epochs=epochs, epochs=1, warm_start=True)
    _, tune_wall, tune_cpu = timed(lambda: model.fit(paths[train], Y[train]))
    tuned = score(model, paths, Y, train, test, names)
    print("fine-tuned:", tuned, flush=True)
    load.append(os.getloadavg())

    return {
        "data": os.path.relpath(data_dir, HERE.parent), "quick": quick,
        "n_train": int(len(train)), "n_test": int(len(test)), "n_genres": len(names),
        "input_size": list(size), "budget_minutes": budget_minutes,
        "cpu_count": os.cpu_count(), "load_average_1_5_15": [list(map(float, x)) for x in load],
        "decode": {"wall_s": round(decode_wall, 1), "cpu_s": round(decode_cpu, 1)},
        "probe_step_s": {k: round(v, 3) for k, v in step.items()},
        "planned_fine_tune_epochs": epochs, "planned_epoch_s": round(epoch_s, 1),
        "head": {"params": {**HEAD, "input_size": list(size)}, "fit_wall_s": round(head_wall, 1),
                 "fit_cpu_s": round(head_cpu, 1), **frozen},
        "fine_tuned": {"params": {**FINE_TUNE, "fine_tune_epochs": epochs,
                                  "warm_start_head_epochs": 1},
                       "fit_wall_s": round(tune_wall, 1), "fit_cpu_s": round(tune_cpu, 1),
                       "fine_tune_start": model.fine_tune_start_,
                       "epochs_run": model.current_epoch, **tuned},
        "history": model.history_,
        "epoch_clock": [{k: round(v, 1) for k, v in e.items()} for e in log],
    }


def to_markdown(r):
    head, tuned = r["head"], r["fine_tuned"]
    total = head["fit_wall_s"] + tuned["fit_wall_s"]
    rows = [
        "| model | macro AP | macro-F1 | micro-F1 | genres per poster | fit wall s | "
        "fit CPU s | extraction s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| Lite0 frozen, head only ({head['params']['epochs']} epochs max) | "
        f"{head['macro_ap']:.3f} | {head['macro_f1']:.3f} | {head['micro_f1']:.3f} | "
        f"{head['genres_per_poster']} | {head['fit_wall_s']} | {head['fit_cpu_s']} | "
        f"{r['decode']['wall_s']} |",
        f"| + whole backbone fine-tuned (1 head + {tuned['epochs_run'] - tuned['fine_tune_start']}"
        f" of {r['planned_fine_tune_epochs']} planned epochs) | {tuned['macro_ap']:.3f} | "
        f"{tuned['macro_f1']:.3f} | {tuned['micro_f1']:.3f} | {tuned['genres_per_poster']} | "
        f"{total:.1f} (both fits) | {head['fit_cpu_s'] + tuned['fit_cpu_s']:.1f} | "
        f"{r['decode']['wall_s']} |",
    ]
    step = r["probe_step_s"]
    return (
        "# Whole-backbone fine-tuning of EfficientNet-Lite0 on a CPU\n\n"
        f"Fixed split by id of `{r['data']}`: {r['n_train']} train, {r['n_test']} test "
        f"posters, {r['n_genres']} genres scored; input {r['input_size'][0]}x"
        f"{r['input_size'][1]}; label prior macro AP {head['prior_macro_ap']:.3f}. Scores "
        "at threshold 0.5 (balanced per-genre loss). Training budget "
        f"{r['budget_minutes']} min over both fits; {r['cpu_count']} CPU cores shared with "
        f"other jobs (load averages 1/5/15 min at start, after the probe, after each fit: "
        f"{r['load_average_1_5_15']}).\n\n"
        + "\n".join(rows) + "\n\n"
        f"Head: {json.dumps(head['params'])}. Fine-tuning: {json.dumps(tuned['params'])}, "
        "batch norms frozen in inference mode, flip/shift/zoom augmentation. Extraction: "
        "decoding the training posters once into the memmap both fits read "
        f"({r['decode']['cpu_s']} CPU s). Probe ({PROBE_POSTERS} posters): "
        f"{step['head']} s per frozen step, {step['fine_tune']} s per fine-tuning step "
        f"(CPU {step['head_cpu']} and {step['fine_tune_cpu']} s); planned epoch "
        f"{r['planned_epoch_s']} s. Predicting the test part: "
        f"{tuned['predict_wall_s']} s wall.\n\n" + _reading(r) + "\n"
    )


def _reading(r):
    """What the history says: where validation loss was best, how contended the run was."""
    val = r["history"].get("val_loss", [])
    start, head, tuned = r["fine_tuned"]["fine_tune_start"], r["head"], r["fine_tuned"]
    if not val or start is None:
        return ""
    best = start + int(np.argmin(val[start:]))
    epochs = [e["wall"] for e in r["epoch_clock"][start:]]
    cores = (head["fit_cpu_s"] + tuned["fit_cpu_s"]) / (head["fit_wall_s"] + tuned["fit_wall_s"])
    return (
        f"Validation loss: best of the head {min(val[:start]):.4f}, best of fine-tuning "
        f"{val[best]:.4f} at its epoch {best - start + 1} of {len(val) - start} run (weights "
        "restored from there). Fine-tuning epochs took "
        f"{', '.join(f'{w:.0f}' for w in epochs)} s wall against {r['planned_epoch_s']} s "
        f"planned; the process had {cores:.2f} of the {r['cpu_count']} cores on average "
        f"(CPU s / wall s of the fits): with every core free, the wall times would shrink "
        f"by up to {r['cpu_count'] / cores:.1f}x.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--budget-minutes", type=float, default=60)
    parser.add_argument("--size", type=int, nargs=2, default=(224, 224))
    parser.add_argument("--quick", action="store_true", help="300 posters, tiny budget")
    args = parser.parse_args()
    result = run(args.data, args.budget_minutes, tuple(args.size), quick=args.quick)
    print(to_markdown(result))
    if not args.quick:
        out = HERE / "results"
        (out / "fine_tuning.json").write_text(json.dumps(result, indent=2))
        (out / "fine_tuning.md").write_text(to_markdown(result))


if __name__ == "__main__":
    main()

"""Throughput and memory of CNNFeatureExtractor against the seed notebooks' way.

Usage: python benchmarks/cnn_throughput.py [--data ../shared/posters] [--n 1000]

Same backbone (EfficientNet-Lite0, ImageNet weights), same 224x224 input, one process,
measured side by side, each timing repeated and the best kept:

(a) seed: a PIL loop decoding and resizing every poster into one array, then
    ``model.predict`` on its float32 copy (TensorFlow);
(b) skposter: ``CNNFeatureExtractor(runtime="auto").transform(paths)`` (batches decoded
    by threads while the model runs; OpenVINO float32 when installed);
(c) TensorFlow ceiling: skposter's TensorFlow forward pass alone on pre-decoded uint8
    batches;
(c') runtime ceiling: the forward pass of the runtime (b) chose, alone, likewise;
(d) cached: (b) again with ``cache=`` already filled;
(e) bfloat16: (b) with ``precision="mixed_bfloat16"`` (OpenVINO's bfloat16, opt-in);
(f) ONNX Runtime ceiling: the TensorFlow forward exported by ``tf2onnx`` and run by
    ``onnxruntime`` on the same batches, when both are installed (a candidate runtime
    that skposter does not offer: see the results).

Beside the rates, the loader's CPU cost per poster (``PosterStream`` alone, process
CPU time) and the bound it puts on (b)/(c'): with both cores busy, the forward costs
``cores / c'`` CPU-seconds per poster, so (b)/(c') <= forward / (forward + loader).

At two poster sizes: the shared posters (182x268) and 500x750 JPEG copies of them
(TMDb's common size) written to a temporary folder. Peak RSS of (b) and (a) is taken
at 1,000 and 5,000 posters, each in a fresh process.

Writes benchmarks/results/cnn_throughput.json and .md. ``--bfloat16-ap`` adds the
quality cost of bfloat16 to them: macro AP of the Lite0 + LogisticRegression head of
benchmarks/genre_models.py on its id split, with float32 and with bfloat16 features.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from skposter import load_posters
from skposter.features import CNNFeatureExtractor, get_backbone

HERE = Path(__file__).resolve().parent
BACKBONE = "efficientnet_lite0"
SIZE = 224
REPEATS = 2
CORES = os.cpu_count()


def seed_way(paths, model):
    """The notebooks' loop: decode everything into one array, then predict."""
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((SIZE, SIZE)))
                       for p in paths])
    inputs = get_backbone(BACKBONE).preprocess_input(images.astype("float32"))
    return model.predict(inputs, batch_size=32, verbose=0)


def ceiling(batches, runtime):
    return list(runtime.engine.map(batches))


def onnx_forward(tensorflow):
    """(f): the TensorFlow forward exported to ONNX, or None without tf2onnx/onnxruntime."""
    try:
        import onnxruntime
        import tensorflow as tf
        import tf2onnx
    except ImportError:
        return None
    spec = (tf.TensorSpec((None, SIZE, SIZE, 3), tf.uint8),)
    proto, _ = tf2onnx.convert.from_function(tensorflow.engine.forward,
                                                input_signature=spec)
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def forward(batches):
        return [session.run(None, {name: batch})[0] for batch in batches]

    return forward


def loader_cpu_ms(paths):
    """CPU milliseconds per poster of decoding and resizing alone (PosterStream)."""
    from skposter.io._stream import PosterStream

    stream = PosterStream(paths, (SIZE, SIZE), batch_size=32)
    start = time.process_time()
    for _ in stream.batches():
        pass
    return 1000 * (time.process_time() - start) / len(paths)


def tensorflow_model():
    extractor = CNNFeatureExtractor(BACKBONE, runtime="tensorflow").fit()
    return extractor._runtime()


def rate(n, func, *args):
    start = time.perf_counter()
    func(*args)
    return n / (time.perf_counter() - start)


def best_rate(n, func, *args):
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func(*args)
        seconds.append(time.perf_counter() - start)
    return n / min(seconds)


def upscaled_copies(paths, folder):
    copies = []
    for path in paths:
        target = Path(folder) / Path(path).name
        Image.open(path).convert("RGB").resize((500, 750), Image.Resampling.BICUBIC).save(
            target, quality=90)
        copies.append(str(target))
    return copies


def measure_size(paths, label):
    extractor = CNNFeatureExtractor(BACKBONE).fit()
    bf16 = CNNFeatureExtractor(BACKBONE, precision="mixed_bfloat16").fit()
    tensorflow, chosen = tensorflow_model(), extractor._runtime()
    # Warm every path so tracing and compilation are not timed.
    seed_way(paths[:64], tensorflow.model)
    extractor.transform(paths[:64])
    bf16.transform(paths[:64])
    batches = [np.stack([np.asarray(Image.open(p).convert("RGB").resize((SIZE, SIZE)))
                         for p in paths[i:i + 32]])
               for i in range(0, len(paths), 32)]
    rates = {}
    ways = [("a_seed", seed_way, paths, tensorflow.model),
            ("b_skposter", extractor.transform, paths),
            ("c_tensorflow_ceiling", ceiling, batches, tensorflow),
            ("c2_runtime_ceiling", ceiling, batches, chosen),
            ("e_bfloat16", bf16.transform, paths)]
    onnx = onnx_forward(tensorflow)
    if onnx is not None:
        onnx(batches[:2])
        ways.append(("f_onnxruntime_ceiling", onnx, batches))
    for _ in range(REPEATS):  # interleaved, so machine noise hits every way alike
        for name, func, *args in ways:
            rates[name] = max(rates.get(name, 0), rate(len(paths), func, *args))
    with tempfile.TemporaryDirectory() as cache:
        cached = CNNFeatureExtractor(BACKBONE, cache=cache).fit()
        cached.transform(paths)
        rates["d_cached"] = best_rate(len(paths), cached.transform, paths)
    rates = {k: round(v, 1) for k, v in rates.items()}
    loader = min(loader_cpu_ms(paths) for _ in range(REPEATS))
    forward = 1000 * CORES / rates["c2_runtime_ceiling"]
    print(label, rates, f"loader {loader:.2f} ms/poster", flush=True)
    return {
        "posters": len(paths),
        "runtime": extractor.runtime_,
        "posters_per_second": rates,
        "loader_cpu_ms_per_poster": round(loader, 2),
        "forward_cpu_ms_per_poster": round(forward, 2),
        "b_over_c2_bound": round(forward / (forward + loader), 2),
        "b_over_a": round(rates["b_skposter"] / rates["a_seed"], 2),
        "b_over_c": round(rates["b_skposter"] / rates["c_tensorflow_ceiling"], 2),
        "b_over_c2": round(rates["b_skposter"] / rates["c2_runtime_ceiling"], 2),
        "e_over_c": round(rates["e_bfloat16"] / rates["c_tensorflow_ceiling"], 2),
    }


def peak_rss_child(way, n, data_dir):
    """Run one way on n posters in this fresh process; print peak RSS in MiB."""
    paths = list(load_posters(data_dir).paths[:n])
    if way == "skposter":
        CNNFeatureExtractor(BACKBONE).fit().transform(paths)
    else:
        seed_way(paths, tensorflow_model().model)
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak
    # over from fork.
    status = Path("/proc/self/status").read_text()
    print(int(status.split("VmHWM:")[1].split()[0]) / 1024)


def peak_rss(way, n, data_dir):
    out = subprocess.run([sys.executable, __file__, "--rss-child", way, str(n), "--data",
                          str(data_dir)], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def run(data_dir, n):
    paths = list(load_posters(data_dir).paths[:n])
    import openvino

    result = {"backbone": BACKBONE, "input_size": SIZE, "repeats": REPEATS,
              "openvino": openvino.get_version()}
    result["small_182x268"] = measure_size(paths, "small")
    with tempfile.TemporaryDirectory() as folder:
        result["large_500x750"] = measure_size(upscaled_copies(paths, folder), "large")
    rss = {f"{way}_{count}": peak_rss(way, count, data_dir)
           for way in ("skposter", "seed") for count in (1000, 5000)}
    rss["skposter_5000_over_1000"] = round(rss["skposter_5000"] / rss["skposter_1000"], 2)
    rss["seed_5000_over_1000"] = round(rss["seed_5000"] / rss["seed_1000"], 2)
    result["peak_rss_mib"] = rss
    print(rss, flush=True)
    return result


def bfloat16_macro_ap(data_dir):
    """Macro AP on the id split with float32 and with bfloat16 Lite0 features."""
    from genre_models import poster_lr, subset, table

    from skposter import genre_report

    data = load_posters(data_dir)
    every = np.arange(len(data.ids))
    X, (Y, train, test, names) = table(data, every), subset(data, every)
    scores = {}
    for precision in ("float32", "mixed_bfloat16"):
        # Features cached per precision: bfloat16 entries are kept apart from float32 ones.
        model = poster_lr(n_jobs=None).set_params(columntransformer__poster__precision=precision)
        model.fit(X.iloc[train], Y[train])
        report = genre_report(Y[test], model.predict_proba(X.iloc[test]), target_names=names,
                              y_prior=Y[train])
        scores[precision] = round(float(report.summary.loc["model", "macro_ap"]), 4)
        print(precision, scores[precision], flush=True)
    return {"n_train": len(train), "n_test": len(test), "n_genres": len(names),
            "macro_ap": scores,
            "difference": round(scores["mixed_bfloat16"] - scores["float32"], 4)}


def to_markdown(result):
    lines = [f"Backbone {result['backbone']} at {result['input_size']} px, posters per second "
             f"(best of {result['repeats']}, measured interleaved in one process; OpenVINO "
             f"{result['openvino']}).", "",
             "| posters | runtime | (a) seed loop + predict | (b) skposter | (c) TF ceiling "
             "| (c') runtime ceiling | (d) cached rerun | (e) bfloat16 | (f) ONNX Runtime "
             "ceiling | b/a | b/c | b/c' | e/c |", "| --- " * 13 + "|"]
    for key in ("small_182x268", "large_500x750"):
        row, rates = result[key], result[key]["posters_per_second"]
        lines.append(f"| {key} ({row['posters']}) | {row['runtime']} | {rates['a_seed']} | "
                     f"{rates['b_skposter']} | {rates['c_tensorflow_ceiling']} | "
                     f"{rates['c2_runtime_ceiling']} | {rates['d_cached']} | "
                     f"{rates['e_bfloat16']} | {rates.get('f_onnxruntime_ceiling', '-')} | "
                     f"{row['b_over_a']} | {row['b_over_c']} | {row['b_over_c2']} | "
                     f"{row['e_over_c']} |")
    lines += ["", "| posters | loader CPU ms/poster | forward CPU ms/poster at (c') | "
              "bound on b/c' |", "| --- " * 4 + "|"]
    for key in ("small_182x268", "large_500x750"):
        row = result[key]
        lines.append(f"| {key} | {row['loader_cpu_ms_per_poster']} | "
                     f"{row['forward_cpu_ms_per_poster']} | {row['b_over_c2_bound']} |")
    rss = result["peak_rss_mib"]
    lines += ["", "| peak RSS (MiB) | 1,000 posters | 5,000 posters | ratio |",
              "| --- | --- | --- | --- |",
              f"| (b) skposter | {rss['skposter_1000']} | {rss['skposter_5000']} | "
              f"{rss['skposter_5000_over_1000']} |",
              f"| (a) seed | {rss['seed_1000']} | {rss['seed_5000']} | "
              f"{rss['seed_5000_over_1000']} |"]
    if "bfloat16_macro_ap" in result:
        quality = result["bfloat16_macro_ap"]
        lines += ["", f"Macro AP, Lite0 + LogisticRegression on the id split "
                  f"({quality['n_train']} / {quality['n_test']} posters, "
                  f"{quality['n_genres']} genres): float32 {quality['macro_ap']['float32']}, "
                  f"bfloat16 {quality['macro_ap']['mixed_bfloat16']} "
                  f"(difference {quality['difference']})."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--bfloat16-ap", action="store_true",
                        help="add bfloat16's macro-AP cost to the stored results")
    parser.add_argument("--rss-child", nargs=2, metavar=("WAY", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        peak_rss_child(args.rss_child[0], int(args.rss_child[1]), args.data)
        return
    out = HERE / "results"
    if args.bfloat16_ap:
        result = json.loads((out / "cnn_throughput.json").read_text())
        result["bfloat16_macro_ap"] = bfloat16_macro_ap(args.data)
    else:
        result = run(args.data, args.n)
        previous = out / "cnn_throughput.json"
        if previous.exists():
            # bfloat16's quality cost does not depend on the loader measured here.
            quality = json.loads(previous.read_text()).get("bfloat16_macro_ap")
            if quality is not None:
                result["bfloat16_macro_ap"] = quality
    out.mkdir(exist_ok=True)
    (out / "cnn_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "cnn_throughput.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

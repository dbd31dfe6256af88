"""Feature extraction in one process against a 2-worker Dask LocalCluster, same machine.

Usage: python benchmarks/distributed.py [--data ../shared/posters] [--n 2000]
       [--memory-sizes 1000 5000] [--rounds 2] [--partition-size 256]

EfficientNet-Lite0 (ImageNet weights) at 224x224, no feature cache:

(a) single: ``CNNFeatureExtractor.transform(paths)`` in one fresh process (TensorFlow
    using every core, as a user would run it);
(b) cluster: ``skposter.distributed.extract_features(paths, extractor)`` on a fresh
    ``local_cluster(2)`` (two worker processes, one task thread each, TensorFlow
    given cores // 2 threads each), the features gathered back block by block.

Both are timed after the backbone is built and its forward traced (model build and
cluster start are reported apart), and run interleaved, round after round, so load
from other jobs on the machine falls on both alike. Peak memory is each process's
VmHWM: the single process's, and each worker's (the nanny and the client apart),
measured again on fresh clusters at each of ``--memory-sizes`` posters.

Writes benchmarks/results/distributed.json and .md.
"""

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This file's folder comes first on sys.path and its name would shadow the
# ``distributed`` package: drop the folder (child processes inherit sys.path).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import numpy as np  # noqa: E402
BACKBONE = "efficientnet_lite0"
WARM = 32


def peak_rss_mib():
    """This process's peak resident memory (VmHWM) in MiB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def single_child(paths):
    """Runs in a fresh process: build, warm, then time one transform of ``paths``."""
    from skposter.features import CNNFeatureExtractor

    start = time.perf_counter()
    extractor = CNNFeatureExtractor(BACKBONE).fit()
    extractor.transform(paths[:WARM])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    features = extractor.transform(paths)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "setup_seconds": setup, "peak_rss_mib": peak_rss_mib(),
            "features": features}


def run_single(paths):
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        result = pool.submit(single_child, paths).result()
    features = result.pop("features")
    result.update(posters=len(paths), rate=len(paths) / result["seconds"])
    return result, features


def _warm_worker(paths):
    from skposter.features import CNNFeatureExtractor

    CNNFeatureExtractor(BACKBONE).fit().transform(paths)


def gather_blocks(features, client):
    """Compute a Dask array block by block into one local array, releasing each block.

    ``features.compute()`` would concatenate every block on one worker first; this
    keeps each worker's memory at one block's features.
    """
    from distributed import as_completed

    starts = np.concatenate([[0], np.cumsum(features.chunks[0])])
    blocks = features.to_delayed().ravel().tolist()
    futures = client.compute(blocks)
    index = {future.key: i for i, future in enumerate(futures)}
    out = np.empty(features.shape, dtype=features.dtype)
    for future, block in as_completed(futures, with_results=True):
        i = index[future.key]
        out[starts[i]:starts[i + 1]] = block
        future.release()
    return out


def run_cluster(paths, partition_size, tf_threads=None):
    from distributed import Client

    from skposter.distributed import extract_features, local_cluster
    from skposter.features import CNNFeatureExtractor

    start = time.perf_counter()
    with local_cluster(2, threads_per_worker=1, tf_threads=tf_threads,
                       silence_logs=40) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        started = time.perf_counter() - start
        client.run(_warm_worker, paths[:WARM])  # build and trace on every worker
        setup = time.perf_counter() - start
        # Fitted here without building: extract_features then only sends it out.
        extractor = CNNFeatureExtractor(BACKBONE)
        lazy = extract_features(paths, extractor, client=client,
                                partition_size=partition_size)
        start = time.perf_counter()
        features = gather_blocks(lazy, client)
        seconds = time.perf_counter() - start
        peaks = client.run(peak_rss_mib)
        threads = client.run(lambda: os.environ.get("TF_NUM_INTRAOP_THREADS"))
    return {"posters": len(paths), "seconds": seconds, "rate": len(paths) / seconds,
            "cluster_start_seconds": started, "setup_seconds": setup,
            "peak_rss_mib_per_worker": sorted(peaks.values()),
            "tf_threads_per_worker": sorted(set(threads.values())),
            "partitions": len(lazy.chunks[0])}, features


def load_avg():
    return [round(x, 2) for x in os.getloadavg()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "posters"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[1000, 5000])
    parser.add_argument("--partition-size", type=int, default=256)
    parser.add_argument("--tf-threads", type=int, nargs="+", default=[None],
                        help="TensorFlow threads per worker, one cluster configuration "
                             "each, run in every round (default: local_cluster's, cores "
                             "// workers); memory runs use the first")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()

    import dask
    import distributed
    import tensorflow as tf

    from skposter import load_posters

    all_paths = [os.path.abspath(p) for p in load_posters(args.data).paths]
    needed = max([args.n, *args.memory_sizes])
    if len(all_paths) < needed:
        sys.exit(f"{args.data} holds {len(all_paths)} posters; {needed} needed.")
    paths = all_paths[:args.n]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    loads = [load_avg()]

    rounds = []
    for r in range(args.rounds):
        single, single_features = run_single(paths)
        print(f"round {r + 1} single : {single['rate']:.1f} posters/s, "
              f"peak {single['peak_rss_mib']:.0f} MiB", flush=True)
        row = {"single": single, "clusters": []}
        for tf_threads in args.tf_threads:
            cluster, cluster_features = run_cluster(paths, args.partition_size, tf_threads)
            cluster["ratio"] = cluster["rate"] / single["rate"]
            cluster["max_abs_difference"] = float(
                np.abs(single_features - cluster_features).max())
            print(f"round {r + 1} cluster (TF threads {cluster['tf_threads_per_worker']}): "
                  f"{cluster['rate']:.1f} posters/s, peak per worker "
                  f"{cluster['peak_rss_mib_per_worker']} MiB", flush=True)
            row["clusters"].append(cluster)
        row["load_after"] = load_avg()
        rounds.append(row)

    memory = []
    for n in args.memory_sizes:
        cluster, _ = run_cluster(all_paths[:n], args.partition_size, args.tf_threads[0])
        print(f"memory {n}: peak per worker {cluster['peak_rss_mib_per_worker']} MiB, "
              f"{cluster['rate']:.1f} posters/s", flush=True)
        memory.append(cluster)
    loads.append(load_avg())

    singles = [r["single"]["rate"] for r in rounds]
    summary = {"single_rate_best": max(singles),
               "single_peak_rss_mib": max(r["single"]["peak_rss_mib"] for r in rounds),
               "clusters": []}
    for k, tf_threads in enumerate(args.tf_threads):
        runs = [r["clusters"][k] for r in rounds]
        summary["clusters"].append({
            "tf_threads_per_worker": runs[0]["tf_threads_per_worker"],
            "rate_best": max(c["rate"] for c in runs),
            "ratio_of_bests": max(c["rate"] for c in runs) / max(singles),
            "ratio_per_round": [c["ratio"] for c in runs],
            "peak_rss_mib_per_worker": max(max(c["peak_rss_mib_per_worker"]) for c in runs),
        })
    if len(memory) >= 2:
        low, high = memory[0], memory[-1]
        summary["worker_memory_ratio"] = (max(high["peak_rss_mib_per_worker"])
                                          / max(low["peak_rss_mib_per_worker"]))
    result = {
        "started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_avg_before_after": loads, "cpu_count": os.cpu_count(),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "dask": dask.__version__, "distributed": distributed.__version__},
        "backbone": BACKBONE, "input_size": 224, "posters": args.n,
        "partition_size": args.partition_size, "data": "shared posters, 182x268 JPEG",
        "rounds": rounds, "memory": memory, "summary": summary,
        "command": "python benchmarks/distributed.py " + " ".join(sys.argv[1:]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "distributed.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "distributed.md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(result):
    s = result["summary"]
    lines = [
        f"EfficientNet-Lite0 features at 224 px of {result['posters']} shared posters "
        f"(182x268 JPEG), no cache, on a {result['cpu_count']}-core machine; one fresh "
        "process against a fresh 2-worker `local_cluster` (1 task thread per worker; "
        "TensorFlow threads per worker as listed), interleaved round by round; model "
        f"build and warm-up not timed. Run {result['started']} to {result['finished']}, "
        f"load average {result['load_avg_before_after'][0]} before, "
        f"{result['load_avg_before_after'][-1]} after. Command: `{result['command']}`.",
        "",
        "| round | configuration | posters/s | / single | peak RSS per process (MiB) "
        "| max abs difference to single |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(result["rounds"], 1):
        lines.append(f"| {i} | single process | {r['single']['rate']:.1f} | 1 | "
                     f"{r['single']['peak_rss_mib']:.0f} | |")
        for c in r["clusters"]:
            peaks = ", ".join(f"{m:.0f}" for m in c["peak_rss_mib_per_worker"])
            lines.append(
                f"| {i} | 2 workers, TF threads {'/'.join(c['tf_threads_per_worker'])} | "
                f"{c['rate']:.1f} | {c['ratio']:.2f} | {peaks} | "
                f"{c['max_abs_difference']:.1e} |")
    lines += ["", f"Best single-process rate: {s['single_rate_best']:.1f} posters/s."]
    for c in s["clusters"]:
        lines.append(f"Best 2-worker rate with {'/'.join(c['tf_threads_per_worker'])} TF "
                     f"thread(s) per worker: {c['rate_best']:.1f} posters/s, "
                     f"{c['ratio_of_bests']:.2f} of the single process (target: at least "
                     "0.8).")
    lines.append("")
    if result["memory"]:
        lines += ["| posters | peak RSS per worker (MiB) | cluster posters/s |",
                  "| --- | --- | --- |"]
        for m in result["memory"]:
            lines.append(f"| {m['posters']} | "
                         f"{', '.join(f'{x:.0f}' for x in m['peak_rss_mib_per_worker'])} | "
                         f"{m['rate']:.1f} |")
        if "worker_memory_ratio" in s:
            lines += ["", f"Largest worker peak, last size over first: "
                      f"{s['worker_memory_ratio']:.2f} (target: within 1.2)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""``skposter extract``: fill the feature cache of a poster folder on a Dask cluster."""

import logging
import os
import sys
import time
from pathlib import Path

from .._utils._cache import user_cache_dir
from ..datasets import load_posters
from ..features import BACKBONES, CNNFeatureExtractor
from ._common import VERBOSE, add_labels_argument, common_parser, say, stage


def add_extract_parser(commands):
    parser = commands.add_parser(
        "extract", parents=[common_parser()],
        help="compute CNN features of a poster folder into the cache, on a Dask cluster",
        description=(
            "Compute the pretrained-CNN features of every poster of a folder into a "
            "feature cache, partition by partition on the workers of a Dask cluster "
            "(--scheduler), or without one on a local cluster of worker processes. "
            "Each worker builds the backbone once. 'skposter train --model "
            "cnn-features' then reads the features from the cache instead of computing "
            "them. Needs the dask extra: pip install 'skposter[dask]'."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True,
                        help="poster folder: images/ + genres.csv, or the Kaggle layout; "
                             "with --scheduler, at the same path on every worker")
    add_labels_argument(parser)
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="efficientnet_lite0",
                        metavar="NAME",
                        help="CNN backbone (default: %(default)s, the one 'train --model "
                             f"cnn-features' uses); one of {', '.join(sorted(BACKBONES))}")
    parser.add_argument("--cache", metavar="DIR", default=None,
                        help="feature cache folder, on storage every worker can write "
                             "(default: skposter's user cache, $SKPOSTER_CACHE_DIR, which is "
                             "where 'train' looks)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler, e.g. tcp://10.0.0.1:8786 (default: start a "
                             "local cluster of --n-workers processes)")
    parser.add_argument("--n-workers", type=int, default=None, metavar="N",
                        help="worker processes of the local cluster (default: one per "
                             "core, at most 4); not with --scheduler")
    parser.add_argument("--partition-size", type=int, default=256, metavar="N",
                        help="posters per task (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N",
                        help="posters per forward pass (default: %(default)s)")
    parser.set_defaults(run=run_extract)


def run_extract(args):
    if args.scheduler and args.n_workers is not None:
        raise ValueError("--n-workers sizes the local cluster; with --scheduler, start "
                         "as many 'dask worker' processes as you want instead.")
    for name in ("n_workers", "partition_size", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}.")
    try:
        from distributed import Client

        from ..distributed import fill_cache, local_cluster
    except ImportError as exc:
        print(f"skposter extract: error: {exc}; install the extra: "
              "pip install 'skposter[dask]'", file=sys.stderr)
        raise SystemExit(1) from None

    stage(args, f"reading the poster table of {args.data}")
    data = load_posters(args.data, labels=args.labels)
    # Workers resolve paths themselves: give them absolute ones.
    paths = [os.path.abspath(p) for p in data.paths]
    cache = Path(args.cache).expanduser().resolve() if args.cache else user_cache_dir()
    extractor = CNNFeatureExtractor(args.backbone, cache=cache, batch_size=args.batch_size)

    cluster = None
    if args.scheduler:
        stage(args, f"connecting to the Dask scheduler at {args.scheduler}")
        client = Client(args.scheduler)
        where = f"the cluster at {args.scheduler}"
    else:
        stage(args, "starting a local Dask cluster")
        logs = logging.INFO if args.verbosity >= VERBOSE else logging.ERROR
        cluster = local_cluster(args.n_workers, silence_logs=logs)
        client = Client(cluster)
        where = "a local cluster"
    try:
        n_workers = len(client.scheduler_info()["workers"])
        say(args, f"skposter extract: {args.backbone} features of {len(paths)} posters on "
                  f"{where} ({n_workers} workers) into {cache}")
        stage(args, f"computing the features, {args.partition_size} posters per task")
        start = time.perf_counter()
        done = fill_cache(paths, extractor, client=client, partition_size=args.partition_size)
        elapsed = time.perf_counter() - start
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"{done} posters in {elapsed:.1f} s ({done / max(elapsed, 1e-9):.1f} posters/s, "
          "including the workers' model builds)")
    if cache != user_cache_dir():
        say(args, f"next: SKPOSTER_CACHE_DIR={cache} skposter train --data {args.data} "
                  "--model cnn-features --out MODEL")
    else:
        say(args, f"next: skposter train --data {args.data} --model cnn-features --out MODEL")

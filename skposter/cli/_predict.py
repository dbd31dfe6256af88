"""``skposter predict``: genres of poster files from a saved model."""

from pathlib import Path

import numpy as np
import pandas as pd

from .. import load
from ._common import genre_names, metadata_columns, model_input, scores_and_genres


def add_predict_parser(commands):
    parser = commands.add_parser(
        "predict",
        help="print each poster's genres with their probabilities",
        description=(
            "Load a model saved by 'skposter train' (only load files you trust: "
            "loading runs code) and print, for each poster, its genres sorted by "
            "probability; '*' marks the genres the model predicts (its own "
            "thresholds)."
        ),
    )
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'skposter train' or skposter.save")
    parser.add_argument("--metadata", metavar="CSV",
                        help="metadata table with an Id column, for a model trained "
                             "with --metadata; a poster's id is its file name without "
                             "extension")
    parser.add_argument("--top", type=int, default=None, metavar="K",
                        help="print only the K most probable genres (default: all)")
    parser.add_argument("posters", nargs="+", metavar="POSTER", help="poster image files")
    parser.set_defaults(run=run_predict)


def run_predict(args):
    model = load(args.model)
    needed = metadata_columns(model)
    metadata = None
    if needed:
        if args.metadata is None:
            raise ValueError(f"{args.model} was trained with metadata; pass --metadata CSV.")
        metadata = pd.read_csv(args.metadata, dtype={"Id": str})
    ids = [Path(p).stem for p in args.posters]
    X = model_input(args.posters, ids, metadata)
    scores, predicted = scores_and_genres(model, X)
    names = genre_names(model, scores.shape[1])
    width = max(map(len, names))
    for path, score, chosen in zip(args.posters, scores, predicted, strict=True):
        picked = [names[k] for k in np.flatnonzero(chosen)]
        print(f"{path}: {', '.join(picked) or '(no genre)'}")
        for k in np.argsort(-score, kind="stable")[:args.top]:
            print(f"  {'*' if chosen[k] else ' '} {names[k]:<{width}}  {score[k]:.3f}")

"""``skposter predict``: genres of poster files from a saved model."""

from pathlib import Path

import numpy as np

from .. import load
from ..datasets._posters import read_table
from .._utils._progress import set_verbosity
from ..exceptions import PosterReadError
from ._common import (
    common_parser, genre_names, metadata_columns, model_input, scores_and_genres, stage,
)
from ._models import POSTER_COLUMN


def add_predict_parser(commands):
    parser = commands.add_parser(
        "predict", parents=[common_parser()],
        help="print each poster's genres with their probabilities",
        description=(
            "Load a model saved by 'skposter train' (only load files you trust: "
            "loading runs code) and print, for each poster, its genres sorted by "
            "probability; '*' marks the genres the model predicts (its own "
            "thresholds). Unreadable posters are named in the error after the "
            "others are printed."
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
    stage(args, f"loading the model {args.model}")
    model = set_verbosity(load(args.model), args.verbosity)
    needed = metadata_columns(model)
    metadata = None
    if needed:
        if args.metadata is None:
            raise ValueError(f"{args.model} was trained with metadata; pass --metadata CSV.")
        metadata = read_table(args.metadata, dtype={"Id": str})
    ids = [Path(p).stem for p in args.posters]
    X = model_input(args.posters, ids, metadata, allow_no_rows=True)
    stage(args, f"predicting the genres of {len(X)} posters")
    try:
        scores, predicted = scores_and_genres(model, X)
        unreadable = None
    except PosterReadError as exc:
        # One bad file must not cost the predictions of the others: print those,
        # then fail naming every unreadable file.
        unreadable = exc
        readable = ~X[POSTER_COLUMN].isin(list(exc.failures)).to_numpy()
        if not readable.any():
            raise
        X = X[readable].reset_index(drop=True)
        scores, predicted = scores_and_genres(model, X)
    names = genre_names(model, scores.shape[1])
    width = max(map(len, names))
    for path, score, chosen in zip(X[POSTER_COLUMN], scores, predicted, strict=True):
        picked = [names[k] for k in np.flatnonzero(chosen)]
        print(f"{path}: {', '.join(picked) or '(no genre)'}")
        for k in np.argsort(-score, kind="stable")[:args.top]:
            print(f"  {'*' if chosen[k] else ' '} {names[k]:<{width}}  {score[k]:.3f}")
    if unreadable is not None:
        raise unreadable

"""``skposter train``: fit a model kind on a poster folder and save it."""

import time
from pathlib import Path

from .. import save
from ._common import add_labels_argument, common_parser, load_part, model_input, say, stage
from ._models import DEFAULT_MODEL, MODELS, build_model


def add_train_parser(commands):
    kinds = "; ".join(f"{name}: {help}" for name, (_, help) in MODELS.items())
    parser = commands.add_parser(
        "train", parents=[common_parser()],
        help="fit a model on a poster folder and save it to a file",
        description=(
            "Fit a model on the train part of a poster folder (about 80 % of the "
            "posters, chosen by a hash of each id, the split skposter.split_by_id makes "
            "everywhere) and save it with skposter.save. 'skposter evaluate' then "
            "scores it on the other 20 %. Use --all to fit on every poster instead."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True,
                        help="poster folder: images/ + genres.csv (+ metadata.csv), or "
                             "the Kaggle layout")
    add_labels_argument(parser)
    parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL,
                        help=f"model kind (default: %(default)s, the best posters-only "
                             f"model; colour fits in seconds). {kinds}")
    parser.add_argument("--metadata", action="store_true",
                        help="also use DIR/metadata.csv, matched by Id (numbers and "
                             "frequent categories; posters without a row count as missing)")
    parser.add_argument("--out", metavar="FILE", required=True,
                        help="model file to write (its folder must exist)")
    parser.add_argument("--all", action="store_true",
                        help="fit on every poster, leaving none for evaluation")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="parallel jobs, e.g. threads decoding posters (default: 1; "
                             "-1: all cores)")
    parser.add_argument("--random-state", type=int, default=0, metavar="SEED",
                        help="seed of the model's randomness (default: %(default)s)")
    parser.add_argument("--format", choices=["skops", "pickle"], default="skops",
                        help="model file format (default: %(default)s): skops files load "
                             "without running code; pickle holds anything picklable but "
                             "runs code when loaded")
    parser.set_defaults(run=run_train)


def run_train(args):
    # Fitting can take minutes: refuse an unwritable destination before, not after.
    if not Path(args.out).parent.is_dir():
        raise FileNotFoundError(f"the folder of --out {args.out} does not exist.")
    stage(args, f"reading the poster table of {args.data}")
    data, rows, _ = load_part(args.data, "all" if args.all else "train", args.labels)
    metadata = None
    if args.metadata:
        if data.metadata is None:
            raise FileNotFoundError(f"{args.data} has no metadata.csv; drop --metadata.")
        metadata = data.metadata
    X = model_input(data.paths[rows], data.ids[rows], metadata)
    y = data.frame[data.target_names].iloc[rows]
    model = build_model(
        args.model, metadata_columns=list(X.columns[1:]), n_jobs=args.n_jobs,
        random_state=args.random_state, verbose=args.verbosity,
    )
    part = "every poster" if args.all else "the train part"
    say(args, f"skposter train: {args.model} model on {len(rows)} of {len(data.ids)} posters "
              f"({part}), {len(data.target_names)} genres"
              + (f", {X.shape[1] - 1} metadata columns" if metadata is not None else ""))
    start = time.perf_counter()
    stage(args, f"fitting the {args.model} model")
    model.fit(X, y)
    stage(args, f"saving the model to {args.out}")
    path = save(model, args.out, format=args.format)
    print(f"fitted in {time.perf_counter() - start:.1f} s; saved to {path}")
    if not args.all:
        say(args, f"next: skposter evaluate --model {path} --data {args.data} "
                  "--report-dir REPORT")

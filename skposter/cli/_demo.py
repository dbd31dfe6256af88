"""``skposter demo``: train and evaluate a model, print the report.

On synthetic posters, colour statistics (fast: CI runs it); on a poster folder, a CLI
model kind, by default the best posters-only one.
"""

import time

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..datasets import load_posters, make_posters, split_by_id
from ..metrics import genre_report
from ..multilabel import GenreThresholdClassifier, PerGenreClassifier
from ..preprocessing import RGBStatsExtractor
from ._common import (
    add_labels_argument, common_parser, decision_thresholds, model_input, print_written,
    save_report, say, scores_and_genres, stage,
)
from ._models import DEFAULT_MODEL, MODELS, build_model


def add_demo_parser(commands):
    parser = commands.add_parser(
        "demo", parents=[common_parser()],
        help="train and evaluate on synthetic posters (or --data DIR) and print the report",
        description=(
            "Fit a model, with genre thresholds tuned for micro-F1 on inner folds, on 80 % "
            "of the posters (split by a hash of each id) and print the per-genre report on "
            "the other 20 %, beside the label-prior and stratified baselines. On synthetic "
            "posters the model is colour statistics plus a per-genre logistic regression; "
            f"on a poster folder (--data) it is a model kind of 'skposter train', by "
            f"default {DEFAULT_MODEL} (pretrained features, cached per poster)."
        ),
    )
    parser.add_argument("--data", metavar="DIR",
                        help="poster folder (images/ + genres.csv); default: synthetic posters")
    add_labels_argument(parser)
    parser.add_argument("--model", choices=list(MODELS),
                        help=f"model kind fitted on --data, as in 'skposter train' (default: "
                             f"{DEFAULT_MODEL}; colour fits in seconds)")
    parser.add_argument("--n-samples", type=int, default=1000, metavar="N",
                        help="synthetic posters to generate (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="threads decoding posters (default: 1)")
    parser.add_argument("--random-state", type=int, default=0, metavar="SEED",
                        help="seed of the synthetic posters and of the model (default: "
                             "%(default)s)")
    parser.add_argument("--report-dir", metavar="OUT",
                        help="also write per_genre.csv, summary.csv, report.md and PNG "
                             "plots to this folder (plots need matplotlib: pip install "
                             "\"skposter[plots]\")")
    parser.set_defaults(run=run_demo)


def run_demo(args):
    if args.data is None and args.model is not None:
        raise ValueError("--model chooses the model fitted on --data DIR; synthetic posters "
                         "always get the colour model.")
    if args.data is None:
        stage(args, f"drawing {args.n_samples} synthetic posters")
        data = make_posters(n_samples=args.n_samples, random_state=args.random_state)
        X, source = data.images, f"{args.n_samples} synthetic posters"
        model = _colour_model(args)
    else:
        stage(args, f"reading the poster table of {args.data}")
        data = load_posters(args.data, labels=args.labels)
        X = model_input(data.paths)
        kind = args.model or DEFAULT_MODEL
        source = f"{len(data.paths)} posters from {args.data}, {kind} model"
        model = build_model(kind, n_jobs=args.n_jobs, random_state=args.random_state,
                            verbose=args.verbosity)
    train, test = split_by_id(data.ids)
    say(args, f"skposter demo: {source}, {len(data.target_names)} genres, "
              f"{len(train)} for training, {len(test)} held out")
    start = time.perf_counter()
    stage(args, "fitting the model")
    model.fit(_rows(X, train), data.target[train])
    stage(args, f"predicting the genres of the {len(test)} held-out posters")
    score, predicted = scores_and_genres(model, _rows(X, test))
    say(args, f"fitted and predicted in {time.perf_counter() - start:.1f} s\n")
    thresholds = decision_thresholds(model)
    report = genre_report(
        data.target[test], score, y_pred=predicted, target_names=data.target_names,
        y_prior=data.target[train], **thresholds,
    )
    print(report)
    print(f"\nmacro average precision: {report.summary.loc['model', 'macro_ap']:.3f} "
          f"(label prior: {report.summary.loc['prior', 'macro_ap']:.3f})")
    if args.report_dir is not None:
        stage(args, f"writing the report to {args.report_dir}")
        files = save_report(report, args.report_dir, y_true=data.target[test], y_score=score,
                            title=f"skposter demo: {source}", **thresholds)
        print_written(files)


def _colour_model(args):
    """Colour statistics of image arrays -> scaler -> per-genre LR, tuned thresholds."""
    return make_pipeline(
        RGBStatsExtractor(),
        StandardScaler(),
        # Thresholds tuned for micro-F1 on inner folds: balanced per-genre models
        # cut at 0.5 give posters far more genres than they have.
        GenreThresholdClassifier(
            PerGenreClassifier(LogisticRegression(max_iter=1000), verbose=args.verbosity),
            cv=3, at_least_one=True, random_state=args.random_state, verbose=args.verbosity),
    )


def _rows(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]

"""``skposter evaluate``: score a saved model on a poster folder and write the report."""

import warnings

from .. import load
from .._utils._progress import set_verbosity
from ..metrics import genre_report
from ._common import (
    add_labels_argument, common_parser, decision_thresholds, genre_names, load_part,
    metadata_columns, model_input, print_written, save_report, say, scores_and_genres, stage,
)


def add_evaluate_parser(commands):
    parser = commands.add_parser(
        "evaluate", parents=[common_parser()],
        help="score a saved model on a poster folder; write CSV, markdown and plots",
        description=(
            "Score a model saved by 'skposter train' (only load files you trust: "
            "loading runs code) on the test part of a poster folder: the ~20 % of "
            "posters that 'train' leaves out, chosen by a hash of each id. Prints the "
            "per-genre report beside the label-prior and stratified baselines and "
            "writes per_genre.csv, summary.csv, report.md and PNG plots (plots need "
            "matplotlib: pip install \"skposter[plots]\")."
        ),
    )
    parser.add_argument("--model", metavar="FILE", required=True,
                        help="model file written by 'skposter train' or skposter.save")
    parser.add_argument("--data", metavar="DIR", required=True,
                        help="poster folder with the genres the model predicts")
    add_labels_argument(parser)
    parser.add_argument("--report-dir", metavar="OUT", required=True,
                        help="folder to write the report into (created if needed)")
    parser.add_argument("--all", action="store_true",
                        help="score every poster of DIR (a folder the model never saw) "
                             "instead of the test part")
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args):
    stage(args, f"loading the model {args.model}")
    model = set_verbosity(load(args.model), args.verbosity)
    stage(args, f"reading the poster table of {args.data}")
    data, rows, train = load_part(args.data, "all" if args.all else "test", args.labels)
    needed = metadata_columns(model)
    if needed and data.metadata is None:
        raise FileNotFoundError(f"{args.model} reads metadata but {args.data} has no "
                                "metadata.csv.")
    X = model_input(data.paths[rows], data.ids[rows], data.metadata if needed else None)
    stage(args, f"predicting the genres of {len(rows)} posters")
    scores, predicted = scores_and_genres(model, X)
    names = genre_names(model, scores.shape[1], default=data.target_names)
    missing = [name for name in names if name not in data.frame.columns]
    if missing:
        raise ValueError(f"{args.data} lacks genres the model predicts: {missing}.")
    unknown = [name for name in data.target_names if name not in names]
    if unknown:
        # Scores of the other genres stay right, but the report must not pass for
        # one on every genre of the folder.
        warnings.warn(f"{args.data} has genres the model does not predict: {unknown}; "
                      "the report leaves them out.", UserWarning, stacklevel=2)
    target = data.frame[names].to_numpy(dtype=int)
    part = "every poster" if args.all else "the test part"
    say(args, f"skposter evaluate: {args.model} on {len(rows)} posters of {args.data} "
              f"({part})\n")
    thresholds = decision_thresholds(model)
    report = genre_report(
        target[rows], scores, y_pred=predicted, target_names=names,
        # With --all the model saw none of DIR, so the baselines use its own frequencies.
        y_prior=None if args.all else target[train], **thresholds,
    )
    print(report)
    print(f"\nmacro average precision: {report.summary.loc['model', 'macro_ap']:.3f} "
          f"(label prior: {report.summary.loc['prior', 'macro_ap']:.3f})")
    stage(args, f"writing the report to {args.report_dir}")
    files = save_report(report, args.report_dir, y_true=target[rows], y_score=scores,
                        title=f"{args.model} on {args.data} ({part})", **thresholds)
    print_written(files)

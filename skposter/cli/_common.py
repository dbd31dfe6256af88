"""Steps shared by the subcommands: output flags, model input frames, genre names, reports."""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from ..datasets import load_posters, split_by_id
from ..metrics import write_report
from ._models import POSTER_COLUMN

#: ``args.verbosity`` of ``--quiet``, of neither flag, and of ``--verbose``.
QUIET, NORMAL, VERBOSE = 0, 1, 2


def common_parser():
    """The options every command takes, ``--quiet`` and ``--verbose``, as a parent parser.

    Give it to a command's parser, ``commands.add_parser(name, parents=[common_parser()])``;
    the command then reads ``args.verbosity``: :data:`QUIET`, :data:`NORMAL` or
    :data:`VERBOSE`.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(add_help=False)
    flags = parser.add_mutually_exclusive_group()
    flags.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=QUIET,
                       default=NORMAL,
                       help="print only the result (report, predictions, model file) and "
                            "the warnings and errors; no progress")
    flags.add_argument("-v", "--verbose", dest="verbosity", action="store_const",
                       const=VERBOSE,
                       help="also print the log lines of skposter and the libraries it "
                            "uses, TensorFlow's included (hidden by default)")
    return parser


def stage(args, message):
    """A progress line on standard error, between progress bars; none with ``--quiet``."""
    if args.verbosity >= NORMAL:
        tqdm.write(message, file=sys.stderr)


def say(args, message=""):
    """A line of standard output that is not the result; none with ``--quiet``."""
    if args.verbosity >= NORMAL:
        print(message)


def model_input(paths, ids=None, metadata=None, *, allow_no_rows=False):
    """The DataFrame CLI models read: poster paths, then metadata columns by id.

    Parameters
    ----------
    paths : sequence of str
        Poster files.
    ids : sequence of str, default=None
        Id of each poster, matched with the metadata's ``Id`` column.
    metadata : pandas.DataFrame, default=None
        Metadata table with an ``Id`` column; posters without a row get missing values,
        with a warning.
    allow_no_rows : bool, default=False
        Accept a table holding none of the posters (then only warn). A folder whose
        metadata matches none of its posters is a mistake (ids written differently),
        not missing values; a few new posters to predict may well have no row.

    Returns
    -------
    pandas.DataFrame
    """
    frame = pd.DataFrame({POSTER_COLUMN: [str(p) for p in paths]})
    if metadata is None:
        return frame
    if "Id" not in metadata.columns:
        raise ValueError(f"the metadata table has no Id column; columns are "
                         f"{list(metadata.columns)}.")
    ids, known = list(ids), set(metadata["Id"])
    absent = [i for i in ids if i not in known]
    if absent and len(absent) == len(ids) and not allow_no_rows:
        raise ValueError(
            f"none of the {len(ids)} posters has a row in the metadata table (ids such as "
            f"{absent[:3]}; the table has {metadata['Id'].head(3).tolist()}).")
    if absent:
        warnings.warn(f"{len(absent)} of {len(ids)} posters have no row in the metadata "
                      f"table (first: {absent[:5]}); their metadata counts as missing.",
                      UserWarning, stacklevel=2)
    rows = metadata.drop_duplicates("Id").set_index("Id").reindex(ids)
    return frame.join(rows.reset_index(drop=True))


def metadata_columns(model):
    """Metadata columns a fitted CLI model reads (empty for a posters-only model)."""
    columns = getattr(model, "feature_names_in_", [POSTER_COLUMN])
    return [c for c in columns if c != POSTER_COLUMN]


def add_labels_argument(parser):
    """``--labels FILE``: which label table of a poster folder to read."""
    parser.add_argument("--labels", metavar="CSV",
                        help="label table to read in DIR when it holds several (the Kaggle "
                             "download has train.csv, val.csv, test.csv and whole.csv), "
                             "e.g. --labels whole.csv")


def load_part(directory, part, labels=None):
    """Load a poster folder and pick rows by the fixed split.

    Parameters
    ----------
    directory : str or path-like
        Poster folder, as :func:`~skposter.datasets.load_posters` reads.
    part : {"train", "test", "all"}
        Rows of :func:`~skposter.datasets.split_by_id`'s train or test part, or all.
    labels : str, default=None
        The label table, as ``load_posters`` takes it.

    Returns
    -------
    data : sklearn.utils.Bunch
        From ``load_posters``.
    rows, train_rows : ndarray of int
        Rows of ``part``, and the train part's rows (for baselines).
    """
    data = load_posters(directory, labels=labels)
    train, test = split_by_id(data.ids)
    rows = {"train": train, "test": test, "all": np.arange(len(data.ids))}[part]
    if len(rows) == 0:
        raise ValueError(f"the {part} part of {directory} holds no poster.")
    return data, rows, train


def genre_names(model, n_genres, default=None):
    """Genre names of a fitted model's outputs.

    Its ``classes_`` when they are names (a model fitted on a DataFrame of genres),
    else ``default`` when it has ``n_genres`` names, else ``genre_0``, ``genre_1``...
    """
    classes = list(getattr(model, "classes_", []))
    if len(classes) == n_genres and all(isinstance(c, str) for c in classes):
        return classes
    if default is not None and len(default) == n_genres:
        return list(default)
    return [f"genre_{k}" for k in range(n_genres)]


def scores_and_genres(model, X):
    """``predict_proba`` and ``predict`` of ``X``, running a pipeline's transforms once.

    ``predict`` applies the model's own thresholds (per-genre ones when tuned), which
    is why it is called rather than cutting the probabilities at 0.5.
    """
    if isinstance(model, Pipeline):
        X, model = model[:-1].transform(X), model[-1]
    return np.asarray(model.predict_proba(X)), np.asarray(model.predict(X), dtype=int)


def decision_thresholds(model):
    """The tuned ``thresholds`` and ``cv_thresholds`` of a model's final step, if any.

    Returns
    -------
    dict
        Keyword arguments for :func:`~skposter.metrics.genre_report` and
        :func:`save_report`; empty for a model deciding at 0.5.
    """
    final = model[-1] if isinstance(model, Pipeline) else model
    names = {"thresholds": "thresholds_", "cv_thresholds": "cv_thresholds_"}
    return {key: getattr(final, attr) for key, attr in names.items() if hasattr(final, attr)}


def save_report(report, directory, *, y_true, y_score, title, **thresholds):
    """Write the report files; without matplotlib, warn and write the tables only.

    ``thresholds`` are :func:`decision_thresholds`, marked on the threshold plot.

    Returns
    -------
    list of pathlib.Path
    """
    try:
        return write_report(report, directory, y_true=y_true, y_score=y_score, title=title,
                            **thresholds)
    except ImportError as exc:
        warnings.warn(f"{exc}; writing the tables without plots.", UserWarning, stacklevel=2)
        return write_report(report, directory, title=title, plots=False)


def print_written(files):
    """List written files under the folder they share."""
    folder = Path(files[0]).parent
    print(f"\nwrote to {folder}/: " + ", ".join(Path(f).name for f in files))

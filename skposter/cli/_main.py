"""Argument parsing and error reporting for the ``skposter`` command."""

import argparse
import logging
import sys
import warnings
from contextlib import contextmanager

from tqdm.auto import tqdm

from .._utils._quiet import native_stderr_silenced
from ._common import NORMAL, VERBOSE
from ._demo import add_demo_parser
from ._evaluate import add_evaluate_parser
from ._extract import add_extract_parser
from ._predict import add_predict_parser
from ._serve import add_serve_parser
from ._train import add_train_parser


def build_parser():
    """Return the ``skposter`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="skposter",
        description="Predict movie genres from posters with scikit-learn compatible parts.",
        epilog="Run 'skposter COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_parser(commands)
    add_train_parser(commands)
    add_predict_parser(commands)
    add_evaluate_parser(commands)
    add_extract_parser(commands)
    add_serve_parser(commands)
    return parser


def main(argv=None):
    """Run the ``skposter`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    # A command registered without common_parser() runs at the default verbosity.
    args.verbosity = getattr(args, "verbosity", NORMAL)
    with _output(args.verbosity), warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            args.run(args)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"skposter {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
    return 0


@contextmanager
def _output(verbosity):
    """Library log lines for ``--verbose``; else TensorFlow's native log lines hidden."""
    if verbosity < VERBOSE:
        with native_stderr_silenced():
            yield
        return
    root = logging.getLogger()
    handler, level = logging.StreamHandler(sys.stderr), root.level
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _one_line(exc):
    # Some errors (e.g. PosterReadError) list one file per line.
    return " ".join(line.strip() for line in str(exc).splitlines())


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    # A terminal user needs the message, not the library line that raised it; written
    # through tqdm so that it does not land in the middle of a progress bar.
    tqdm.write(f"skposter: {category.__name__}: {_one_line(message)}", file=sys.stderr)

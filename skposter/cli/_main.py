"""Argument parsing and error reporting for the ``skposter`` command."""

import argparse
import sys
import warnings

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
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            args.run(args)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            print(f"skposter {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
    return 0


def _one_line(exc):
    # Some errors (e.g. PosterReadError) list one file per line.
    return " ".join(line.strip() for line in str(exc).splitlines())


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    # A terminal user needs the message, not the library line that raised it.
    print(f"skposter: {category.__name__}: {_one_line(message)}", file=sys.stderr)

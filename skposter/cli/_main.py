"""Argument parsing and error reporting for the ``skposter`` command."""

import argparse
import sys

from ._demo import add_demo_parser


def build_parser():
    """Return the ``skposter`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="skposter",
        description="Predict movie genres from posters with scikit-learn compatible parts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_parser(commands)
    return parser


def main(argv=None):
    """Run the ``skposter`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        print(f"skposter {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0

"""The ``skposter`` command line; every step calls the public Python API."""

from ._main import main

__all__ = ["main"]

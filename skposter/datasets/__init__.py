"""Poster collections: :func:`make_posters` (synthetic), :func:`load_posters` (folders)."""

from ._posters import load_posters, split_by_id
from ._synthetic import make_posters

__all__ = ["load_posters", "make_posters", "split_by_id"]

"""Poster collections: :func:`make_posters` (synthetic), :func:`load_posters` (folders),
and the IMDb metadata columns by kind (``IMDB_NUMERIC``, ``IMDB_LOG``, ...)."""

from ._imdb import IMDB_CATEGORICAL, IMDB_KEYWORDS, IMDB_LOG, IMDB_NUMERIC
from ._posters import load_posters, split_by_id
from ._synthetic import make_posters

__all__ = ["IMDB_CATEGORICAL", "IMDB_KEYWORDS", "IMDB_LOG", "IMDB_NUMERIC", "load_posters",
           "make_posters", "split_by_id"]

"""skposter: predict movie genres from posters and metadata, the scikit-learn way."""

from ._persistence import load, save
from .datasets import load_posters, make_posters, split_by_id
from .ensemble import GenreStackingClassifier
from .io import PosterLoader, decode_poster, scan_posters
from .metrics import GenreReport, genre_report
from .multilabel import GenreThresholdClassifier, PerGenreClassifier
from .preprocessing import RGBStatsExtractor, Resizer

__version__ = "0.1.0"

__all__ = [
    "GenreReport",
    "GenreStackingClassifier",
    "GenreThresholdClassifier",
    "PerGenreClassifier",
    "PosterLoader",
    "RGBStatsExtractor",
    "Resizer",
    "decode_poster",
    "genre_report",
    "load",
    "load_posters",
    "make_posters",
    "save",
    "scan_posters",
    "split_by_id",
]

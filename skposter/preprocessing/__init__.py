"""Preprocessing: images (:class:`Resizer`, :class:`RGBStatsExtractor`) and metadata
(:func:`make_metadata_preprocessor`)."""

from ._metadata import make_metadata_preprocessor
from ._resize import Resizer, resize_image
from ._rgb_stats import RGBStatsExtractor

__all__ = ["RGBStatsExtractor", "Resizer", "make_metadata_preprocessor", "resize_image"]

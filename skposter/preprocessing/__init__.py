"""Image preprocessing: :class:`Resizer` and :class:`RGBStatsExtractor`."""

from ._resize import Resizer, resize_image
from ._rgb_stats import RGBStatsExtractor

__all__ = ["RGBStatsExtractor", "Resizer", "resize_image"]

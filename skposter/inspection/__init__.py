"""Why a model reads a poster as a genre: per-genre heat maps.

Exact class activation maps for CNN features followed by linear per-genre models,
Grad-CAM for :class:`~skposter.models.KerasPosterClassifier`, and their drawing over
the poster. TensorFlow loads when a map is computed, not on import.
"""

from ._heatmaps import GenreHeatmap, genre_heatmaps
from ._overlay import overlay_heatmap
from ._plot import plot_genre_heatmaps

__all__ = ["GenreHeatmap", "genre_heatmaps", "overlay_heatmap", "plot_genre_heatmaps"]

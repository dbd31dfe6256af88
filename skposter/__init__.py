"""skposter: predict movie genres from posters and metadata, the scikit-learn way.

Every public class and function of the subpackages is also available here. The cheap
ones are imported with the package; the rest (among them :class:`CNNFeatureExtractor`
and :class:`KerasPosterClassifier`) are imported on first access through a module
``__getattr__`` (PEP 562), so ``import skposter`` loads neither TensorFlow nor Dask:
``from skposter import KerasPosterClassifier`` loads TensorFlow, when it runs.
"""

import importlib
from typing import TYPE_CHECKING

from ._persistence import load, save
from .datasets import load_posters, make_posters, split_by_id
from .ensemble import GenreStackingClassifier
from .io import PosterLoader, decode_poster, scan_posters
from .metrics import GenreReport, genre_report
from .multilabel import GenreThresholdClassifier, PerGenreClassifier
from .preprocessing import RGBStatsExtractor, Resizer

__version__ = "0.1.0"

# Imported on first access: subpackage -> its classes and functions not imported above.
# Constants (BACKBONES, GENRE_SCORERS, ...) stay in their subpackage.
# tests/test_init.py checks this table against each subpackage's ``__all__``.
_LAZY = {
    "distributed": ("extract_features", "fill_cache", "local_cluster"),
    "features": ("Backbone", "CNNFeatureExtractor", "DevicePlan", "FaceFeatureExtractor",
                 "PosterTextExtractor", "get_backbone", "plan_devices"),
    "inspection": ("GenreHeatmap", "genre_heatmaps", "overlay_heatmap", "plot_genre_heatmaps"),
    "io": ("PosterStream", "prepare_poster"),
    "metrics": ("GenreScorer", "calibration_table", "genre_summary_scorer", "plot_calibration",
                "plot_genre_scores", "plot_history", "plot_precision_recall",
                "plot_threshold_curves", "write_report"),
    "models": ("FocalLoss", "GenreBinaryCrossentropy", "JointPosterClassifier",
               "KerasPosterClassifier", "SoftF1Loss", "balanced_genre_weights"),
    "preprocessing": ("make_metadata_preprocessor", "resize_image"),
    "serve": ("PosterServer", "UploadError", "make_server", "poster_report"),
}
_LAZY_ORIGIN = {name: package for package, names in _LAZY.items() for name in names}

# Subpackages reachable as attributes (``skposter.models``) without an import statement.
_SUBPACKAGES = ("cli", "datasets", "distributed", "ensemble", "exceptions", "features",
                "inspection", "io", "metrics", "models", "multilabel", "preprocessing", "serve")

if TYPE_CHECKING:  # for type checkers and IDEs; never run
    from .distributed import extract_features, fill_cache, local_cluster
    from .features import (
        Backbone, CNNFeatureExtractor, DevicePlan, FaceFeatureExtractor, PosterTextExtractor,
        get_backbone, plan_devices,
    )
    from .inspection import GenreHeatmap, genre_heatmaps, overlay_heatmap, plot_genre_heatmaps
    from .io import PosterStream, prepare_poster
    from .metrics import (
        GenreScorer, calibration_table, genre_summary_scorer, plot_calibration,
        plot_genre_scores, plot_history, plot_precision_recall, plot_threshold_curves,
        write_report,
    )
    from .models import (
        FocalLoss, GenreBinaryCrossentropy, JointPosterClassifier, KerasPosterClassifier,
        SoftF1Loss, balanced_genre_weights,
    )
    from .preprocessing import make_metadata_preprocessor, resize_image
    from .serve import PosterServer, UploadError, make_server, poster_report

__all__ = sorted([
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
    *_LAZY_ORIGIN,
])


def __getattr__(name):
    if name in _LAZY_ORIGIN:
        value = getattr(importlib.import_module(f".{_LAZY_ORIGIN[name]}", __name__), name)
        globals()[name] = value  # later look-ups are plain attribute reads
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY_ORIGIN, *_SUBPACKAGES})

"""Running skposter's slow parts on a Dask cluster (the optional ``skposter[dask]`` extra).

* :func:`extract_features`: features of a collection of poster paths as a lazy Dask
  array, one task per partition, each worker building its backbone once;
* :func:`fill_cache`: the same, storing the features in the extractor's cache only
  (what ``skposter extract`` runs);
* :func:`local_cluster`: a ``distributed.LocalCluster`` of worker processes whose
  TensorFlow thread pools share the machine's cores instead of oversubscribing them.

Grid searches, :class:`~skposter.multilabel.GenreThresholdClassifier`,
:class:`~skposter.multilabel.PerGenreClassifier` and
:class:`~skposter.ensemble.GenreStackingClassifier` need nothing from here: they run
their fits on the cluster inside ``joblib.parallel_backend("dask")``.

Importing :mod:`skposter` never imports Dask; importing this subpackage does (when
it is installed: without it, the functions raise an ImportError naming the extra).
"""

from ._cluster import local_cluster
from ._extract import DEFAULT_PARTITION_SIZE, extract_features, fill_cache

__all__ = ["DEFAULT_PARTITION_SIZE", "extract_features", "fill_cache", "local_cluster"]

"""Feature extraction over a Dask collection of poster paths, one partition per task."""

import os

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

try:
    import dask
    import dask.array as da
    import dask.bag as db
    import dask.dataframe as dd
except ImportError:  # without the extra the module still imports; calls say what to install
    dask = None

#: Posters per task when the paths come as an in-memory sequence.
DEFAULT_PARTITION_SIZE = 256

def extract_features(paths, extractor, client=None, partition_size=None, column=None):
    """Features of every poster, computed partition by partition on Dask workers.

    The result is lazy: a Dask array with one chunk of rows per partition of
    ``paths``, in the order of ``paths``. Compute it (``.compute()``, ``.persist()``,
    ``.to_zarr(...)``) with a ``distributed.Client`` active to run on its cluster, or
    without one on Dask's local threads. Each worker process builds the backbone once
    and reuses it for all its partitions; with ``cache=`` on a folder every worker
    sees, workers fill the cache concurrently and a later single-machine ``fit`` reads
    it. A worker dying mid-partition costs that partition's unfinished batch at most
    (finished batches are in the cache): the scheduler recomputes the partition
    elsewhere.

    Parameters
    ----------
    paths : sequence of path-like, pandas Series/DataFrame, or Dask array, bag, Series or DataFrame
        Poster files, readable at the same paths on every worker. A DataFrame must
        have one column or name it with ``column``. Unknown partition lengths (a
        Dask frame or bag) are computed first, in one pass over the paths.
    extractor : transformer
        Turns a list of paths into a 2-D array, e.g.
        :class:`~skposter.features.CNNFeatureExtractor` or
        ``make_pipeline(PosterLoader(), RGBStatsExtractor())``. Fitted here if it is
        not yet (on a worker when a client is given or active, so the backbone is
        never built on the client); not modified.
    client : distributed.Client, default=None
        Where to fit an unfitted extractor and to probe the output; default: the
        active client if there is one, else this process. Computing the result uses
        whichever scheduler is active then.
    partition_size : int, default=None
        Posters per task. Default: 256 for in-memory ``paths``; a Dask collection
        keeps its own partitions unless this is given. Larger partitions spread the
        per-task start (a ``tf.data`` pipeline) over more posters; smaller ones lose
        less work to a dead worker and balance better.
    column : str, default=None
        Column of a (Dask or pandas) DataFrame holding the paths.

    Returns
    -------
    dask.array.Array of shape (n_posters, n_features)
        Row ``i`` holds the features of ``paths[i]``; chunks follow the partitions,
        one chunk along the features; dtype that of the extractor's output (float32
        for ``CNNFeatureExtractor``).

    Examples
    --------
    >>> from skposter.distributed import extract_features
    >>> from skposter.features import CNNFeatureExtractor
    >>> features = extract_features(paths, CNNFeatureExtractor(cache="/shared/cache"))
    ...                                                      # doctest: +SKIP
    >>> features.to_zarr("/shared/features.zarr")              # doctest: +SKIP
    """
    require_dask()
    if partition_size is not None and (not isinstance(partition_size, (int, np.integer))
                                       or partition_size < 1):
        raise ValueError(f"partition_size must be a positive integer, got {partition_size!r}.")
    path_array = _as_path_array(paths, partition_size, column)
    client = _resolve_client(client)
    extractor, n_features, dtype = _fitted_extractor(extractor, path_array, client)
    # One graph key holding the extractor: each worker receives it once and every task
    # there uses the same object, instead of one pickled copy inside every task.
    fitted = dask.delayed(extractor, pure=True, traverse=False)
    return da.map_blocks(
        _transform_block, path_array, fitted, n_features, dtype,
        new_axis=1, chunks=(path_array.chunks[0], (n_features,)),
        dtype=dtype, meta=np.empty((0, n_features), dtype=dtype),
        token="skposter-extract",
    )


def fill_cache(paths, extractor, client=None, partition_size=None, column=None):
    """Compute the features of every poster into the extractor's cache; none travel back.

    Parameters
    ----------
    paths, extractor, client, partition_size, column
        As in :func:`extract_features`; ``extractor`` must have ``cache=`` set, on a
        folder every worker can write.

    Returns
    -------
    int
        Number of posters processed (computed, or found in the cache).
    """
    require_dask()
    if getattr(extractor, "cache", None) is None:
        raise ValueError("fill_cache needs an extractor with cache= set to a folder every "
                         "worker sees.")
    features = extract_features(paths, extractor, client=client,
                                partition_size=partition_size, column=column)
    # Each partition's features are reduced to its row count on its worker, so only
    # integers reach the client.
    counts = features.map_blocks(_count_rows, drop_axis=1,
                                 chunks=((1,) * features.numblocks[0],), dtype=np.int64)
    total = counts.sum()
    client = _resolve_client(client)
    return int(total.compute() if client is None else client.compute(total).result())


def require_dask():
    """Raise an ImportError naming the extra when Dask is not installed."""
    try:
        import dask.array  # noqa: F401
        import dask.bag  # noqa: F401
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ImportError("skposter.distributed needs Dask: pip install 'skposter[dask]' "
                          "(dask[dataframe], distributed, dask-ml).") from exc


def _count_rows(block):
    return np.asarray([block.shape[0]], dtype=np.int64)


def _transform_block(block, extractor, n_features, dtype):
    """Features of one partition of paths (runs on a worker)."""
    paths = [os.fspath(p) for p in np.asarray(block, dtype=object).ravel()]
    if not paths:
        return np.empty((0, n_features), dtype=dtype)
    # Threads of one worker share the extractor's per-process backbone, which it builds
    # once under its own lock.
    features = np.asarray(extractor.transform(paths), dtype=dtype)
    if features.shape != (len(paths), n_features):
        raise ValueError(f"the extractor returned shape {features.shape} for {len(paths)} "
                         f"posters; expected ({len(paths)}, {n_features}).")
    return features


def _resolve_client(client):
    if client is not None:
        return client
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):
        return None


def _fitted_extractor(extractor, path_array, client):
    """The fitted extractor, its number of output features and their dtype.

    Fitting and probing run on a worker when there is a client: for a CNN that builds
    the backbone there, where it is memoised for the tasks to come, not on the client.
    """
    if len(path_array) == 0:
        raise ValueError("no poster paths to extract features from.")
    known = _known_output(extractor)
    if known is not None:
        return (extractor, *known)
    sample = [os.fspath(p) for p in np.asarray(path_array[:1].compute(), dtype=object)]
    if client is None:
        return _fit_and_probe(extractor, sample)
    return client.submit(_fit_and_probe, extractor, sample, pure=False).result()


def _known_output(extractor):
    """(n_features, dtype) of a fitted CNN extractor, known without running it; else None."""
    if not _is_cnn_extractor(extractor):
        return None
    try:
        check_is_fitted(extractor, "n_features_out_")
    except NotFittedError:
        return None
    # float32 by the extractor's contract.
    return int(extractor.n_features_out_), np.dtype(np.float32)


def _fit_and_probe(extractor, sample):
    try:
        check_is_fitted(extractor)
    except NotFittedError:
        from sklearn.base import clone
        extractor = clone(extractor).fit(sample)
    known = _known_output(extractor)
    if known is not None:
        return (extractor, *known)
    probe = np.asarray(extractor.transform(sample))
    if probe.ndim != 2 or probe.shape[0] != len(sample):
        raise ValueError(f"the extractor must return one row of features per poster; it "
                         f"returned shape {probe.shape} for {len(sample)} poster(s).")
    return extractor, int(probe.shape[1]), probe.dtype


def _is_cnn_extractor(extractor):
    from ..features import CNNFeatureExtractor
    return isinstance(extractor, CNNFeatureExtractor)


def _as_path_array(paths, partition_size, column):
    """A 1-D Dask array of path strings with known chunks."""
    if isinstance(paths, db.Bag):
        array = _bag_to_array(paths)
    elif isinstance(paths, (dd.DataFrame, dd.Series)):
        series = _one_column(paths, column)
        array = series.astype(object).to_dask_array(lengths=True)
    elif isinstance(paths, da.Array):
        array = paths
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(f"a Dask array of paths must be 1-D, got shape {array.shape}.")
        if any(np.isnan(c) for c in array.chunks[0]):
            array = array.compute_chunk_sizes()
    else:
        if isinstance(paths, (pd.DataFrame, pd.Series)):
            paths = _one_column(paths, column)
        elif isinstance(paths, (str, os.PathLike)):
            raise TypeError("paths must be a sequence of poster paths, not one path.")
        values = np.asarray([os.fspath(p) for p in paths], dtype=object)
        size = partition_size or DEFAULT_PARTITION_SIZE
        return da.from_array(values, chunks=max(1, min(size, len(values))), name=False)
    if partition_size is not None:
        array = array.rechunk(partition_size)
    return array


def _one_column(frame, column):
    if column is not None:
        return frame[column]
    if isinstance(frame, (pd.Series, dd.Series)):
        return frame
    if len(frame.columns) != 1:
        raise ValueError(f"a DataFrame of paths needs column= when it has several columns; "
                         f"it has {list(frame.columns)}.")
    return frame[frame.columns[0]]


def _bag_to_array(bag):
    parts = bag.to_delayed()
    lengths = dask.compute(*[dask.delayed(len)(part) for part in parts])
    blocks = [da.from_delayed(dask.delayed(_as_object_array)(part), shape=(n,), dtype=object)
              for part, n in zip(parts, lengths)]
    return da.concatenate(blocks) if blocks else da.from_array(np.empty(0, dtype=object))


def _as_object_array(items):
    return np.asarray([os.fspath(p) for p in items], dtype=object)

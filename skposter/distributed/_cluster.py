"""A LocalCluster whose workers share the machine's cores between their TensorFlow pools."""

import os

from ._extract import require_dask


def local_cluster(n_workers=None, *, threads_per_worker=1, tf_threads=None, **kwargs):
    """Start a ``distributed.LocalCluster`` of worker processes suited to feature extraction.

    TensorFlow sizes its thread pool to every core of the machine in each process, so
    N workers would run N x cores threads on the cores. Each worker here gets
    ``tf_threads`` threads instead (``TF_NUM_INTRAOP_THREADS``, read by TensorFlow
    when it starts in the worker).

    Parameters
    ----------
    n_workers : int, default=None
        Worker processes; default: one per core, at most 4.
    threads_per_worker : int, default=1
        Dask task threads per worker. One is right for a CNN: the model already uses
        ``tf_threads`` cores and decodes posters in its own threads.
    tf_threads : int, default=None
        TensorFlow intra-op threads per worker; default: cores // workers (at least 1).
    **kwargs
        Passed to ``LocalCluster`` (``memory_limit``, ``dashboard_address``...).

    Returns
    -------
    distributed.LocalCluster
    """
    require_dask()
    from distributed import LocalCluster

    cores = os.cpu_count() or 1
    if n_workers is None:
        n_workers = max(1, min(cores, 4))
    if tf_threads is None:
        tf_threads = max(1, cores // n_workers)
    env = {"TF_NUM_INTRAOP_THREADS": str(tf_threads), "TF_CPP_MIN_LOG_LEVEL": "2",
           **kwargs.pop("env", {})}
    kwargs.setdefault("dashboard_address", None)
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        processes=True, env=env, **kwargs)

"""On a real cluster: two worker processes of a distributed.LocalCluster.

Extraction equals the local features in order, each worker builds the backbone once,
workers share one cache safely, a worker killed mid-partition costs only its
unfinished batch, and grid search, thresholds and stacking under the dask joblib
backend give the local results.
"""

import json
import os
import signal
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")
import cloudpickle  # noqa: E402  (installed with distributed)
import joblib  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin, clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skposter.datasets import make_posters  # noqa: E402
from skposter.ensemble import GenreStackingClassifier  # noqa: E402
from skposter.exceptions import FeatureCacheWarning  # noqa: E402
from skposter.features import CNNFeatureExtractor  # noqa: E402
from skposter.metrics import GENRE_SCORERS  # noqa: E402
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier  # noqa: E402
from skposter.preprocessing import RGBStatsExtractor  # noqa: E402
from skposter.distributed import extract_features, fill_cache, local_cluster  # noqa: E402

pytestmark = pytest.mark.slow

# Classes and functions of this module travel to the workers by value: the workers
# cannot import a test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        cluster = local_cluster(2, threads_per_worker=1, silence_logs=40)
        client = distributed.Client(cluster)
    assert len(client.scheduler_info()["workers"]) == 2
    yield client
    client.close()
    cluster.close()


def extract_workers(task_stream):
    """Addresses of the workers that ran extraction tasks."""
    return {task["worker"] for task in task_stream.data if "skposter-extract" in task["key"][0]}


# --- extraction ---------------------------------------------------------------------


def test_cluster_features_equal_the_local_ones_in_order(client, paths, weights_file, small,
                                                        local_features):
    order = np.random.default_rng(0).permutation(len(paths))
    extractor = CNNFeatureExtractor(weights=weights_file, **small).fit()
    with distributed.get_task_stream(client) as stream:
        features = extract_features(np.asarray(paths)[order], extractor, partition_size=4)
        computed = features.compute()
    assert computed.shape == (len(paths), 1280) and computed.dtype == np.float32
    np.testing.assert_allclose(computed, local_features[order], **TOLERANCE)
    assert len(extract_workers(stream)) == 2  # both workers took partitions


def _count_backbone_builds():
    """Runs on each worker: count every backbone the extractor builds in this process."""
    from skposter.features import _extractor

    runtime = _extractor._Runtime
    if not hasattr(runtime, "builds"):
        original = runtime.__init__

        def counting_init(self, *args, **kwargs):
            type(self).builds += 1
            original(self, *args, **kwargs)

        runtime.builds = 0
        runtime.__init__ = counting_init
    return runtime.builds


def _backbone_builds():
    from skposter.features import _extractor
    return _extractor._Runtime.builds


def test_each_worker_builds_the_backbone_once(client, paths, weights_file, small):
    before = client.run(_count_backbone_builds)
    # Settings no other test uses (max pooling): no worker has this backbone built yet.
    # Unfitted: it is fitted on a worker, which builds it there, once.
    extractor = CNNFeatureExtractor(weights=weights_file, pooling="max", **small)
    with distributed.get_task_stream(client) as stream:
        # 12 partitions for 2 workers: each runs several.
        extract_features(paths, extractor, partition_size=2).compute()
    workers = extract_workers(stream)
    assert len(workers) == 2
    per_task = [t["worker"] for t in stream.data if "skposter-extract" in t["key"][0]]
    builds = client.run(_backbone_builds)
    for worker in workers:
        assert per_task.count(worker) >= 2
        assert builds[worker] - before[worker] == 1, builds


def test_workers_fill_one_shared_cache_concurrently(client, paths, weights_file, small,
                                                    local_features, tmp_path):
    cache = tmp_path / "shared-cache"
    extractor = CNNFeatureExtractor(weights=weights_file, cache=cache, **small)
    # Every poster three times in different partitions: both workers write the same
    # entries at the same time.
    assert fill_cache(paths * 3, extractor, partition_size=3) == 3 * len(paths)
    entries = list(cache.rglob("*.feat"))
    assert len(entries) == len(paths) and not list(cache.rglob(".tmp-*"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureCacheWarning)  # no damaged entry
        again = clone(extractor).fit().transform(paths)
    np.testing.assert_allclose(again, local_features, **TOLERANCE)


class DieMidPartition(TransformerMixin, BaseEstimator):
    """Wraps an extractor; the first partition computed once ``armed`` exists kills its worker.

    That partition's first half is extracted (and cached) before the worker process
    is killed with SIGKILL; the cache entries present then, with their inode numbers,
    are written to ``record``. Any later call simply extracts.
    """

    def __init__(self, extractor=None, armed=None, record=None):
        self.extractor = extractor
        self.armed = armed
        self.record = record

    def fit(self, X=None, y=None):
        self.extractor_ = clone(self.extractor).fit(X)
        self.n_features_out_ = self.extractor_.n_features_out_
        return self

    def transform(self, X):
        X = list(X)
        if os.path.exists(self.armed) and self._claim():
            self.extractor_.transform(X[: len(X) // 2])
            entries = {str(p): p.stat().st_ino for p in
                       __import__("pathlib").Path(self.extractor_.cache).rglob("*.feat")}
            with open(self.record, "w") as file:
                json.dump({"pid": os.getpid(), "entries": entries}, file)
                file.flush()
                os.fsync(file.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return self.extractor_.transform(X)

    def _claim(self):
        try:
            os.close(os.open(self.record, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


def test_a_worker_killed_mid_partition_loses_only_its_unfinished_batch(
        client, paths, weights_file, small, local_features, tmp_path):
    cache = tmp_path / "cache"
    armed, record = tmp_path / "armed", tmp_path / "record.json"
    extractor = DieMidPartition(CNNFeatureExtractor(weights=weights_file, cache=cache, **small),
                                armed=str(armed), record=str(record)).fit(paths[:1])
    pids = set(client.run(os.getpid).values())
    features = extract_features(paths, extractor, partition_size=12)
    armed.touch()
    computed = features.compute()
    # Complete and correct, in order, though a worker died holding a partition.
    np.testing.assert_allclose(computed, local_features, **TOLERANCE)
    killed = json.loads(record.read_text())
    assert killed["pid"] in pids and killed["pid"] not in set(client.run(os.getpid).values())
    # The half computed before the kill was stored and not computed again: same files.
    assert len(killed["entries"]) >= 6
    for path, inode in killed["entries"].items():
        assert os.stat(path).st_ino == inode
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


def test_a_worker_killed_from_outside_during_extraction_is_replaced(
        client, paths, weights_file, small, local_features):
    extractor = CNNFeatureExtractor(weights=weights_file, **small).fit()
    copies = 6  # 72 tasks of 2 posters: the kill lands while most are still to run
    features = extract_features(paths * copies, extractor, partition_size=2).persist()
    futures = distributed.futures_of(features)
    distributed.wait(futures, return_when="FIRST_COMPLETED")
    pids = client.run(os.getpid)
    busy = [worker for worker, keys in client.processing().items() if keys]
    assert busy and sum(f.done() for f in futures) < len(futures)
    os.kill(pids[busy[0]], signal.SIGKILL)
    computed = features.compute()
    np.testing.assert_allclose(computed, np.vstack([local_features] * copies), **TOLERANCE)
    client.wait_for_workers(2, timeout=60)
    assert pids[busy[0]] not in set(client.run(os.getpid).values())  # it was replaced


# --- search and stacking ------------------------------------------------------------


@pytest.fixture(scope="module")
def colour_data():
    data = make_posters(120, n_genres=3, size=(40, 28), random_state=1)
    X = RGBStatsExtractor().fit_transform(data.images)
    return X, data.target


def test_grid_search_on_the_cluster_equals_the_local_one(client, colour_data):
    X, Y = colour_data
    search = GridSearchCV(
        make_pipeline(StandardScaler(), PerGenreClassifier(LogisticRegression(max_iter=500))),
        {"pergenreclassifier__estimator__C": [0.001, 0.1, 10.0]},
        scoring={"ap": GENRE_SCORERS["macro_ap"], "f1": GENRE_SCORERS["macro_f1"]},
        refit="ap", cv=3,
    )
    local = clone(search).fit(X, Y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        remote = clone(search).fit(X, Y)
    assert len(stream.data) >= 9  # 3 candidates x 3 folds ran on the workers
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_ap", "mean_test_f1", "split0_test_ap", "rank_test_ap"):
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], rtol=1e-12)
    np.testing.assert_allclose(remote.predict_proba(X), local.predict_proba(X), rtol=1e-12)


def test_thresholds_and_stacking_on_the_cluster_equal_the_local_ones(client, colour_data):
    X, Y = colour_data
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    half = X.shape[1] // 2

    def base(columns):
        return make_pipeline(ColumnTransformer([("cols", StandardScaler(), columns)]),
                             PerGenreClassifier(LogisticRegression(max_iter=500)))

    models = {
        "thresholds": GenreThresholdClassifier(base(list(frame.columns)), cv=3,
                                               random_state=0),
        "stacking": GenreStackingClassifier(
            [("first", base(list(frame.columns[:half]))),
             ("second", base(list(frame.columns[half:])))], cv=3, random_state=0),
    }
    for name, model in models.items():
        local = clone(model).fit(frame, Y)
        with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            remote = clone(model).fit(frame, Y)
        assert stream.data, f"{name} ran nothing on the cluster"
        np.testing.assert_allclose(remote.predict_proba(frame), local.predict_proba(frame),
                                   rtol=1e-12, err_msg=name)
        np.testing.assert_array_equal(remote.predict(frame), local.predict(frame))
        np.testing.assert_allclose(remote.thresholds_, local.thresholds_, err_msg=name)

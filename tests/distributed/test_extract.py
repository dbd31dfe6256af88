"""extract_features on Dask's local threads: every kind of path collection, order, chunks.

No cluster here (see test_cluster.py for worker processes): the graph is the same, so
these check the shape of the result quickly.
"""

import os
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
db = pytest.importorskip("dask.bag")

from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skposter.exceptions import FeatureCacheWarning  # noqa: E402
from skposter.features import CNNFeatureExtractor  # noqa: E402
from skposter.features import _extractor  # noqa: E402
from skposter.io import PosterLoader  # noqa: E402
from skposter.preprocessing import RGBStatsExtractor  # noqa: E402
from skposter.distributed import extract_features, fill_cache  # noqa: E402


@pytest.fixture(scope="module")
def extractor(weights_file, small):
    return CNNFeatureExtractor(weights=weights_file, **small).fit()


COLLECTIONS = {
    "list": lambda p: list(p),
    "ndarray": lambda p: np.asarray(p, dtype=object),
    "series": lambda p: pd.Series(p, name="poster"),
    "frame": lambda p: pd.DataFrame({"poster": p}),
    "dask array": lambda p: da.from_array(np.asarray(p, dtype=object), chunks=7),
    "dask column array": lambda p: da.from_array(np.asarray(p, dtype=object)[:, None],
                                                 chunks=(7, 1)),
    "dask series": lambda p: dd.from_pandas(pd.Series(p, name="poster"), npartitions=3),
    "dask frame": lambda p: dd.from_pandas(pd.DataFrame({"poster": p}), npartitions=3),
    "dask bag": lambda p: db.from_sequence(p, npartitions=4),
}


@pytest.mark.parametrize("kind", list(COLLECTIONS))
def test_every_collection_gives_the_local_features_in_order(kind, paths, extractor,
                                                            local_features):
    # Reversed: a result in file-name order would not pass by chance.
    order = paths[::-1]
    features = extract_features(COLLECTIONS[kind](order), extractor)
    assert isinstance(features, da.Array)
    assert features.shape == (len(paths), extractor.n_features_out_)
    assert features.dtype == np.float32
    assert not np.isnan(features.chunks[0]).any() and features.chunks[1] == (1280,)
    computed = features.compute(scheduler="threads")
    assert computed.dtype == np.float32
    np.testing.assert_allclose(computed, local_features[::-1], rtol=1e-5, atol=1e-6)


def test_partition_size_sets_the_row_chunks(paths, extractor):
    assert extract_features(paths, extractor, partition_size=5).chunks[0] == (5, 5, 5, 5, 4)
    dask_paths = da.from_array(np.asarray(paths, dtype=object), chunks=12)
    assert extract_features(dask_paths, extractor).chunks[0] == (12, 12)
    assert extract_features(dask_paths, extractor, partition_size=10).chunks[0] == (10, 10, 4)


def test_an_unfitted_extractor_is_fitted_on_a_copy(paths, weights_file, local_features,
                                                   small):
    unfitted = CNNFeatureExtractor(weights=weights_file, **small)
    features = extract_features(paths, unfitted, partition_size=10)
    assert not hasattr(unfitted, "n_features_out_")
    np.testing.assert_allclose(features.compute(), local_features, rtol=1e-5, atol=1e-6)


def test_any_paths_to_features_pipeline_works(paths):
    colour = make_pipeline(PosterLoader(), RGBStatsExtractor())
    expected = clone(colour).fit(paths).transform(paths)
    features = extract_features(paths, colour, partition_size=10)
    assert features.shape == expected.shape and features.dtype == expected.dtype
    np.testing.assert_allclose(features.compute(), expected)


def test_threads_of_one_process_share_one_backbone_and_one_cache(paths, weights_file, small,
                                                                 local_features, tmp_path):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path, **small)
    # Every poster twice, in different partitions: four threads write the same entries.
    features = extract_features(paths + paths, extractor, partition_size=3)
    computed = features.compute(scheduler="threads", num_workers=4)
    np.testing.assert_allclose(computed, np.vstack([local_features, local_features]),
                               rtol=1e-5, atol=1e-6)
    assert len(list(tmp_path.rglob("*.feat"))) == len(paths)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_fill_cache_stores_features_a_later_fit_reads_without_the_network(
        paths, weights_file, small, local_features, tmp_path, count_forward):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path, **small)
    assert fill_cache(paths, extractor, partition_size=5) == len(paths)
    before = count_forward()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureCacheWarning)
        again = clone(extractor).fit().transform(paths)
    assert count_forward() == before
    np.testing.assert_allclose(again, local_features, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["cnn", "colour"])
def test_parallel_post_fit_on_a_dask_frame(kind, paths, extractor, local_features):
    """dask-ml's own wrapper works on a frame of paths given the output's meta.

    (It cannot give an array of paths correct chunks: its map_blocks keeps the input's
    shape, which is why extract_features exists.)
    """
    wrappers = pytest.importorskip("dask_ml.wrappers")
    if kind == "colour":
        extractor = make_pipeline(PosterLoader(), RGBStatsExtractor()).fit(paths)
        local_features = extractor.transform(paths)
    meta = np.empty((0, local_features.shape[1]), dtype=local_features.dtype)
    frame = dd.from_pandas(pd.DataFrame({"poster": paths}), npartitions=3)
    features = wrappers.ParallelPostFit(extractor, transform_meta=meta).transform(frame)
    np.testing.assert_allclose(features.compute(), local_features, rtol=1e-5, atol=1e-6)


def test_bad_arguments(paths, extractor):
    with pytest.raises(ValueError, match="partition_size"):
        extract_features(paths, extractor, partition_size=0)
    with pytest.raises(ValueError, match="no poster"):
        extract_features([], extractor)
    with pytest.raises(ValueError, match="column="):
        extract_features(pd.DataFrame({"a": paths, "b": paths}), extractor)
    with pytest.raises(TypeError, match="not one path"):
        extract_features(paths[0], extractor)
    with pytest.raises(ValueError, match="1-D"):
        extract_features(da.from_array(np.asarray(paths, dtype=object).reshape(4, 6), chunks=-1),
                         extractor)
    with pytest.raises(ValueError, match="cache="):
        fill_cache(paths, extractor)


def test_two_calls_give_two_graphs(paths, extractor, local_features):
    first = extract_features(paths[:10], extractor)
    second = extract_features(paths[10:], extractor)
    assert first.name != second.name
    both = da.concatenate([first, second]).compute()
    np.testing.assert_allclose(both, local_features, rtol=1e-5, atol=1e-6)
    assert os.path.basename(paths[0])  # paths stay strings


def test_threads_racing_to_the_first_partition_build_the_backbone_once(
        paths, weights_file, small, monkeypatch):
    builds = []
    original = _extractor._Runtime.__init__

    def counting_init(self, *args, **kwargs):
        builds.append(1)
        original(self, *args, **kwargs)

    extractor = CNNFeatureExtractor(weights=weights_file, pooling="max", input_size=33,
                                    backbone=small["backbone"]).fit()
    # As on a fresh worker: fitted elsewhere, nothing built in this process yet.
    _extractor._load_runtime.cache_clear()
    monkeypatch.setattr(_extractor._Runtime, "__init__", counting_init)
    features = extract_features(paths, extractor, partition_size=3)
    features.compute(scheduler="threads", num_workers=4)
    assert len(builds) == 1

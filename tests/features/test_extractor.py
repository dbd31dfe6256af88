"""CNNFeatureExtractor: inputs, sizes, weights, caching, failures, pickling.

A small random-weight MobileNetV2 at 32x32 keeps these fast; weights saved from it
to a file give the fixed weights that caching needs.
"""

import pickle
from pathlib import Path

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skposter.datasets import make_posters
from skposter.exceptions import PosterReadError, PosterReadWarning, WeightsUnavailableError
from skposter.features import CNNFeatureExtractor
from skposter.features import _extractor
from skposter.io import PosterLoader
from skposter.multilabel import PerGenreClassifier

SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=8)


def assert_same_features(actual, expected):
    """Equal to float tolerance relative to the features' scale (random weights give tiny ones)."""
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def posters():
    return make_posters(24, n_genres=3, size=(48, 32), random_state=0)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, posters):
    """Weights of a random small backbone saved the way a user would, with its features."""
    extractor = CNNFeatureExtractor(weights=None, **SMALL).fit()
    path = tmp_path_factory.mktemp("weights") / "mobilenet32.weights.h5"
    extractor._runtime().model.save_weights(path)
    return path, extractor.transform(posters.images)


@pytest.fixture(scope="module")
def weights_file(saved_model):
    return saved_model[0]


def test_output_shape_names_and_fitted_attributes(posters):
    extractor = CNNFeatureExtractor(weights=None, **SMALL)
    with pytest.raises(NotFittedError):
        extractor.transform(posters.images)
    features = extractor.fit_transform(posters.images)
    assert features.shape == (24, 1280) and features.dtype == np.float32
    assert np.isfinite(features).all() and features.std() > 0
    assert extractor.n_features_in_ == 1 and extractor.n_features_out_ == 1280
    assert extractor.input_size_ == (32, 32)
    assert list(extractor.get_feature_names_out()[:2]) == ["mobilenet_v2_0", "mobilenet_v2_1"]


def test_pandas_output(posters):
    extractor = CNNFeatureExtractor(weights=None, **SMALL).set_output(transform="pandas")
    frame = extractor.fit_transform(posters.images)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (24, 1280)
    assert frame.columns[0] == "mobilenet_v2_0"


def test_paths_give_the_features_of_the_decoded_arrays(posters, poster_files):
    extractor = CNNFeatureExtractor(weights=None, **SMALL).fit()
    from_paths = extractor.transform(poster_files)
    from_loader = extractor.transform(PosterLoader().transform(poster_files))
    from_array = extractor.transform(np.stack(posters.images))
    assert_same_features(from_paths, from_loader)
    assert_same_features(from_paths, from_array)


def test_paths_in_a_series_or_one_column_frame(poster_files):
    extractor = CNNFeatureExtractor(weights=None, **SMALL).fit()
    expected = extractor.transform(poster_files[:5])
    frame = pd.DataFrame({"poster": poster_files[:5]})
    assert_same_features(extractor.transform(frame), expected)
    assert_same_features(extractor.transform(frame["poster"]), expected)


def test_order_is_kept_across_batches(posters):
    extractor = CNNFeatureExtractor(weights=None, **{**SMALL, "batch_size": 5}).fit()
    forward = extractor.transform(posters.images)
    backward = extractor.transform(posters.images[::-1])
    assert_same_features(forward, backward[::-1])


@pytest.mark.parametrize("backbone, size, minimum", [("mobilenet_v2", 31, 32),
                                                      ("inception_v3", 74, 75)])
def test_input_below_the_backbone_minimum_is_refused(backbone, size, minimum):
    with pytest.raises(ValueError, match=f"minimum of {minimum}x{minimum}"):
        CNNFeatureExtractor(backbone, weights=None, input_size=size).fit()


def test_default_input_size_is_the_backbones_own():
    extractor = CNNFeatureExtractor("mobilenet_v2", weights=None)
    assert extractor.fit().input_size_ == (224, 224)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="backbone"):
        CNNFeatureExtractor("alexnet").fit()


def test_weights_file_reproduces_the_saved_model(posters, saved_model):
    path, expected = saved_model
    loaded = CNNFeatureExtractor(weights=path, **SMALL).fit()
    assert_same_features(loaded.transform(posters.images), expected)


def test_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        CNNFeatureExtractor(weights=missing, **SMALL).fit()


def test_offline_imagenet_download_gives_a_clear_error(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailableError, match="efficientnet_lite0"):
        CNNFeatureExtractor("vgg16", input_size=32).fit()


def test_cache_needs_fixed_weights(tmp_path):
    with pytest.raises(ValueError, match="fixed weights"):
        CNNFeatureExtractor(weights=None, cache=tmp_path, **SMALL).fit()


def test_cache_computes_each_poster_once(poster_files, weights_file, tmp_path, count_forward):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "c", **SMALL).fit()
    first = extractor.transform(poster_files)
    assert count_forward() == 24
    second = clone(extractor).fit().transform(poster_files[::-1])
    assert count_forward() == 24
    np.testing.assert_array_equal(second, first[::-1])


def test_cache_keys_on_content_not_name(poster_files, weights_file, tmp_path, count_forward):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "c", **SMALL).fit()
    extractor.transform(poster_files[:3])
    renamed = tmp_path / "renamed.png"
    renamed.write_bytes(Path(poster_files[0]).read_bytes())
    extractor.transform([str(renamed)])
    assert count_forward() == 3


def test_cache_separates_settings(poster_files, weights_file, tmp_path, count_forward):
    cache = tmp_path / "c"
    # At 64 px the last feature map is 2x2, so the two poolings differ.
    avg = CNNFeatureExtractor(weights=weights_file, cache=cache, **{**SMALL, "input_size": 64})
    avg.fit()
    peak = clone(avg).set_params(pooling="max").fit()
    assert not np.allclose(avg.transform(poster_files[:4]), peak.transform(poster_files[:4]),
                           rtol=1e-3, atol=0)
    assert count_forward() == 8


def test_cache_accepts_a_joblib_memory(poster_files, weights_file, tmp_path, count_forward):
    memory = joblib.Memory(tmp_path / "mem", verbose=0)
    extractor = CNNFeatureExtractor(weights=weights_file, cache=memory, **SMALL).fit()
    extractor.transform(poster_files[:4])
    extractor.transform(poster_files[:4])
    assert count_forward() == 4
    assert (tmp_path / "mem" / "cnn-features").is_dir()


def test_interrupted_extraction_resumes(poster_files, weights_file, tmp_path, monkeypatch,
                                        count_forward):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "c", **SMALL).fit()
    counting_run = _extractor._Runtime.run

    def killed_after_two_batches(self, dataset):
        for done, features in enumerate(counting_run(self, dataset)):
            if done == 2:
                raise KeyboardInterrupt
            yield features

    monkeypatch.setattr(_extractor._Runtime, "run", killed_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        extractor.transform(poster_files)
    monkeypatch.setattr(_extractor._Runtime, "run", counting_run)
    computed_before = count_forward()
    resumed = extractor.transform(poster_files)
    # Two finished batches of 8 were kept; the third, interrupted, is redone.
    assert count_forward() - computed_before == 24 - 16
    fresh = CNNFeatureExtractor(weights=weights_file, **SMALL).fit().transform(poster_files)
    assert_same_features(resumed, fresh)


def test_grid_search_extracts_each_poster_once(posters, poster_files, weights_file, tmp_path,
                                               count_forward):
    pipe = make_pipeline(
        CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "c", **SMALL),
        PerGenreClassifier(LogisticRegression(max_iter=200), min_support=1),
    )
    grid = GridSearchCV(pipe, {"pergenreclassifier__estimator__C": [0.1, 1.0]}, cv=3,
                        scoring="f1_micro")
    grid.fit(np.asarray(poster_files), posters.target)
    assert count_forward() == 24


def test_unreadable_file_is_named_after_the_others_are_cached(poster_files, weights_file,
                                                              tmp_path, count_forward):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    files = poster_files[:5] + [str(broken)]
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "c", **SMALL).fit()
    with pytest.raises(PosterReadError, match="broken.jpg") as error:
        extractor.transform(files)
    assert list(error.value.failures) == [str(broken)]
    extractor.transform(poster_files[:5])
    assert count_forward() == 6


def test_blank_policy_warns_and_keeps_rows(poster_files, tmp_path):
    broken = tmp_path / "empty.jpg"
    broken.write_bytes(b"")
    extractor = CNNFeatureExtractor(weights=None, on_error="blank", **SMALL).fit()
    with pytest.warns(PosterReadWarning, match="empty.jpg"):
        features = extractor.transform(poster_files[:3] + [str(broken)])
    assert features.shape == (4, 1280) and np.isfinite(features).all()


def test_pickle_holds_no_keras_model_and_predicts_the_same(posters, weights_file):
    extractor = CNNFeatureExtractor(weights=weights_file, **SMALL).fit()
    blob = pickle.dumps(extractor)
    assert len(blob) < 10_000
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.transform(posters.images),
                                  extractor.transform(posters.images))


def test_precision_setting_is_restored_after_the_build(posters):
    extractor = CNNFeatureExtractor(weights=None, precision="mixed_bfloat16", **SMALL).fit()
    assert keras.config.dtype_policy().name == "float32"
    assert extractor.device_plan_.dtype_policy == "mixed_bfloat16"
    features = extractor.transform(posters.images[:4])
    assert features.dtype == np.float32 and np.isfinite(features).all()

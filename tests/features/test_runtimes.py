"""Runtimes of the frozen backbone: choice, fallback, conversion store, equal features."""

import os
import pickle
import sys
import threading
import warnings

import numpy as np
import pytest

from skposter.datasets import make_posters
from skposter.exceptions import RuntimeFallbackWarning
from skposter.features import BACKBONES, CNNFeatureExtractor, DevicePlan, _extractor
from skposter._keras import _runtimes
from skposter._keras._runtimes import (OpenVINOForward, TensorFlowForward, load_conversion,
                                       resolve_runtime)

CPU = DevicePlan(("/CPU:0",), "float32")
CPU_BF16 = DevicePlan(("/CPU:0",), "mixed_bfloat16")
GPU = DevicePlan(("/GPU:0",), "mixed_float16")
SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=8)

needs_openvino = pytest.mark.skipif(not _runtimes.openvino_available(),
                                    reason="OpenVINO (the fast extra) is not installed")


@pytest.fixture
def without_openvino(monkeypatch):
    """As on a machine without the fast extra: importing openvino fails."""
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.setattr(_runtimes, "_WARNED", threading.Event())


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path / "user-cache"))
    _extractor._load_runtime.cache_clear()
    yield tmp_path / "user-cache"
    _extractor._load_runtime.cache_clear()


@pytest.fixture(scope="module")
def posters():
    return make_posters(10, n_genres=3, size=(48, 32), random_state=0)


def _relative_error(a, b):
    return np.abs(a - b).max() / np.abs(a).max()


def test_auto_falls_back_to_tensorflow_saying_so_once(without_openvino):
    with pytest.warns(RuntimeFallbackWarning, match=r"skposter\[fast\]"):
        assert resolve_runtime("auto", CPU) == "tensorflow"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_runtime("auto", CPU) == "tensorflow"


def test_auto_is_silent_about_float16_without_openvino(without_openvino):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_runtime("auto", DevicePlan(("/CPU:0",), "mixed_float16")) == "tensorflow"


def test_an_explicit_openvino_request_without_openvino_fails_at_fit(without_openvino):
    with pytest.raises(ImportError, match=r"skposter\[fast\]"):
        CNNFeatureExtractor(weights=None, runtime="openvino", **SMALL).fit()


def test_gpu_plans_and_float16_stay_on_tensorflow_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_runtime("auto", GPU) == "tensorflow"
        assert resolve_runtime("auto", DevicePlan(("/CPU:0",), "mixed_float16")) == "tensorflow"
        assert resolve_runtime("tensorflow", CPU) == "tensorflow"


def test_openvino_refuses_a_gpu_device_and_float16():
    with pytest.raises(ValueError, match="runs on the CPU"):
        CNNFeatureExtractor(weights=None, runtime="openvino", device="gpu:0", **SMALL).fit()
    if _runtimes.openvino_available():
        with pytest.raises(ValueError, match="float32 or bfloat16"):
            CNNFeatureExtractor(weights=None, runtime="openvino", precision="mixed_float16",
                                **SMALL).fit()


def test_without_openvino_the_extractor_runs_on_tensorflow(without_openvino, posters,
                                                           weights_file):
    with pytest.warns(RuntimeFallbackWarning):
        extractor = CNNFeatureExtractor(weights=weights_file, **SMALL).fit()
    assert extractor.runtime_ == "tensorflow"
    expected = CNNFeatureExtractor(weights=weights_file, runtime="tensorflow", **SMALL)
    np.testing.assert_array_equal(extractor.transform(posters.images),
                                  expected.fit().transform(posters.images))


@pytest.fixture(scope="module")
def small_network():
    """A random MobileNetV2 at 32 pixels: its TensorFlow forward pass and its conversion."""
    if not _runtimes.openvino_available():
        pytest.skip("OpenVINO (the fast extra) is not installed")
    forward = TensorFlowForward.build(BACKBONES["mobilenet_v2"], None, (32, 32), "avg", CPU)
    return forward, _runtimes._convert(forward)


def test_openvino_features_equal_tensorflow_on_the_same_network(small_network):
    forward, network = small_network
    batch = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    assert _relative_error(forward(batch), OpenVINOForward(network, "float32")(batch)) < 1e-4


def test_openvino_runs_several_batches_at_once_in_order(small_network):
    forward, network = small_network
    engine = OpenVINOForward(network, "float32")
    images = np.random.default_rng(1).integers(0, 256, (14, 32, 32, 3), dtype=np.uint8)
    batches = [images[i:i + 4] for i in range(0, 14, 4)]
    results = list(engine.map(iter(batches)))
    assert [len(r) for r in results] == [4, 4, 4, 2]
    np.testing.assert_allclose(np.concatenate(results), forward(images), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@needs_openvino
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_converts_to_equal_features(name):
    backbone = BACKBONES[name]
    size = (backbone.min_size, backbone.min_size)
    forward = TensorFlowForward.build(backbone, None, size, "avg", CPU)
    converted = OpenVINOForward(_runtimes._convert(forward), "float32")
    batch = np.random.default_rng(0).integers(0, 256, (3, *size, 3), dtype=np.uint8)
    assert _relative_error(forward(batch), converted(batch)) < 1e-4


@needs_openvino
def test_auto_takes_openvino_and_matches_tensorflow(cache_dir, posters, weights_file):
    extractor = CNNFeatureExtractor(weights=weights_file, **SMALL).fit()
    assert extractor.runtime_ == "openvino"
    reference = CNNFeatureExtractor(weights=weights_file, runtime="tensorflow", **SMALL).fit()
    assert _relative_error(reference.transform(posters.images),
                           extractor.transform(posters.images)) < 1e-4
    assert len(list((cache_dir / "openvino").iterdir())) == 1


@needs_openvino
def test_a_stored_conversion_is_reused_without_building_keras(cache_dir, weights_file,
                                                              posters):
    first = CNNFeatureExtractor(weights=weights_file, **SMALL).fit()
    expected = first.transform(posters.images)
    assert first._runtime().model is not None  # converted here, from the Keras model
    _extractor._load_runtime.cache_clear()  # as in a new process
    again = pickle.loads(pickle.dumps(first))
    assert again._runtime().model is None
    np.testing.assert_array_equal(again.transform(posters.images), expected)


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest"])
def test_a_damaged_conversion_is_converted_again(cache_dir, small_network, damage):
    forward, network = small_network
    calls = []

    def convert():
        calls.append(1)
        return network

    load_conversion("damaged", convert)
    folder = cache_dir / "openvino" / "damaged"
    if damage == "truncate":
        with open(folder / "model.bin", "r+b") as file:
            file.truncate(os.path.getsize(folder / "model.bin") // 2)
    elif damage == "delete":
        (folder / "model.xml").unlink()
    else:
        (folder / "manifest.json").write_text("{not json")
    batch = np.full((2, 32, 32, 3), 100, dtype=np.uint8)
    loaded = OpenVINOForward(load_conversion("damaged", convert), "float32")
    assert len(calls) == 2
    np.testing.assert_allclose(loaded(batch), forward(batch), rtol=1e-4, atol=1e-5)
    assert _runtimes._read_checked(folder) is not None
    assert [p.name for p in (cache_dir / "openvino").iterdir()] == ["damaged"]


def test_a_conversion_stored_meanwhile_by_another_process_is_kept(cache_dir, small_network):
    import openvino as ov

    network = small_network[1]
    load_conversion("race", lambda: network)
    target = cache_dir / "openvino" / "race"
    stored = (target / "model.xml").stat().st_mtime_ns
    # A second writer finishing later finds the folder taken and keeps the first.
    other = cache_dir / "openvino" / ".other-writer"
    other.mkdir()
    ov.save_model(network, str(other / "model.xml"), compress_to_fp16=False)
    _runtimes._write_manifest(other)
    _runtimes._replace_folder(other, target)
    assert (target / "model.xml").stat().st_mtime_ns == stored
    assert _runtimes._read_checked(target) is not None


@needs_openvino
def test_a_pickle_asking_for_openvino_loads_where_it_is_missing(cache_dir, weights_file,
                                                                monkeypatch):
    blob = pickle.dumps(CNNFeatureExtractor(weights=weights_file, runtime="openvino",
                                            **SMALL).fit())
    assert b"runtime_" not in blob
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.warns(RuntimeFallbackWarning):
        restored = pickle.loads(blob)
    assert restored.runtime_ == "tensorflow"


@needs_openvino
def test_bfloat16_is_opt_in_close_and_cached_apart(cache_dir, tmp_path, weights_file, posters):
    float32 = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "f", **SMALL).fit()
    bf16 = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "f",
                               precision="mixed_bfloat16", **SMALL).fit()
    assert (float32.runtime_, bf16.runtime_) == ("openvino", "openvino")
    assert _relative_error(float32.transform(posters.images),
                           bf16.transform(posters.images)) < 0.1
    tensorflow = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "f",
                                     runtime="tensorflow", **SMALL).fit()
    assert float32._feature_cache().directory == tensorflow._feature_cache().directory
    assert bf16._feature_cache().directory != float32._feature_cache().directory


def test_threads_racing_to_the_first_transform_build_the_runtime_once(weights_file,
                                                                      monkeypatch, posters):
    builds = []
    original = _extractor._Runtime.__init__

    def counting_init(self, *args, **kwargs):
        builds.append(1)
        original(self, *args, **kwargs)

    extractor = CNNFeatureExtractor(weights=weights_file, runtime="tensorflow", pooling="max",
                                    input_size=34, backbone="mobilenet_v2")
    extractor.fit()
    _extractor._load_runtime.cache_clear()
    monkeypatch.setattr(_extractor._Runtime, "__init__", counting_init)
    threads = [threading.Thread(target=extractor.transform, args=(posters.images[:2],))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1

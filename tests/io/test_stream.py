"""prepare_poster and PosterStream: the tf.data path agrees with the PIL path."""

import numpy as np
import pytest
from PIL import Image

from skposter.io import BLANK_VALUE, decode_poster
from skposter.io._stream import PosterStream, prepare_poster
from skposter.preprocessing import Resizer


def _two_tone(height, width):
    """Top half red, bottom half blue: orientation shows in the result."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[: height // 2, :, 0] = 255
    image[height // 2 :, :, 2] = 255
    return image


@pytest.mark.parametrize("mode", ["stretch", "crop", "pad"])
def test_file_and_array_give_the_resizer_result(tmp_path, mode):
    image = np.random.default_rng(0).integers(0, 256, (90, 60, 3), dtype=np.uint8)
    path = tmp_path / "poster.png"
    Image.fromarray(image).save(path)
    expected = Resizer((40, 40), mode=mode).transform([image])[0]
    np.testing.assert_array_equal(prepare_poster(str(path), (40, 40), mode=mode), expected)
    np.testing.assert_array_equal(prepare_poster(image, (40, 40), mode=mode), expected)


def _save_in_mode(path, mode, rotated):
    rgb = np.random.default_rng(1).integers(0, 256, (90, 60, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    if rotated:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(path, exif=exif)
    else:
        image.save(path)


@pytest.mark.parametrize("name, mode", [("rgb.jpg", "RGB"), ("grey.jpg", "L"),
                                        ("cmyk.jpg", "CMYK"), ("alpha.png", "RGBA"),
                                        ("palette.png", "P"), ("wide.png", "I;16")])
@pytest.mark.parametrize("rotated", [False, True])
def test_every_file_mode_resizes_like_its_decoded_array(tmp_path, name, mode, rotated):
    # Files are resized from Pillow's buffer, arrays through Resizer: same pixels.
    path = tmp_path / name
    _save_in_mode(path, mode, rotated and name.endswith(".jpg"))
    expected = Resizer((40, 30), mode="crop").transform([decode_poster(path)])[0]
    np.testing.assert_array_equal(
        prepare_poster(str(path), (40, 30), mode="crop", draft=False), expected)


def test_draft_decodes_large_jpegs_close_to_the_full_decode(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (15, 10, 3)), np.ones((50, 50, 1))).astype(np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(smooth).save(path, quality=95)
    drafted = prepare_poster(str(path), (224, 224), draft=True).astype(int)
    full = prepare_poster(str(path), (224, 224), draft=False).astype(int)
    assert drafted.shape == full.shape == (224, 224, 3)
    assert np.abs(drafted - full).mean() < 3


def test_draft_respects_exif_rotation(tmp_path):
    # Stored sideways (red on the left) with orientation 6: upright, red is on top.
    sideways = np.rot90(_two_tone(1000, 600), k=1).copy()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(sideways).save(path, exif=exif, quality=95)
    upright = prepare_poster(str(path), (100, 100), draft=True)
    assert upright[10, 50, 0] > 200 and upright[90, 50, 2] > 200


def test_stream_keeps_order_and_batches(tmp_path):
    images = [np.full((20 + i, 30, 3), i * 10, dtype=np.uint8) for i in range(7)]
    stream = PosterStream(images, (8, 8), batch_size=3)
    batches = [batch.numpy() for batch in stream.dataset()]
    assert [len(b) for b in batches] == [3, 3, 1]
    values = np.concatenate(batches)[:, 0, 0, 0]
    np.testing.assert_array_equal(values, np.arange(7) * 10)


def test_stream_over_a_subset_of_indices():
    images = [np.full((8, 8, 3), i, dtype=np.uint8) for i in range(6)]
    stream = PosterStream(images, (8, 8), batch_size=4)
    batch = next(iter(stream.dataset([5, 1, 3])))
    np.testing.assert_array_equal(batch.numpy()[:, 0, 0, 0], [5, 1, 3])


def test_unreadable_files_become_blanks_and_are_listed(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_two_tone(20, 20)).save(good)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    stream = PosterStream([str(good), str(broken), str(tmp_path / "missing.jpg")], (10, 10),
                          batch_size=8)
    batch = next(iter(stream.dataset())).numpy()
    assert sorted(stream.failures) == [1, 2]
    assert "FileNotFoundError" in stream.failures[2]
    assert (batch[1] == BLANK_VALUE).all() and (batch[2] == BLANK_VALUE).all()
    np.testing.assert_array_equal(batch[0], prepare_poster(decode_poster(good), (10, 10)))


def test_batches_are_numpy_in_order_and_decoded_a_bounded_distance_ahead(monkeypatch):
    images = [np.full((12, 12, 3), i, dtype=np.uint8) for i in range(40)]
    stream = PosterStream(images, (8, 8), batch_size=4, n_threads=2, prefetch=3)
    decoded = []
    original = PosterStream._load_batch

    def counting(self, indices):
        decoded.append(len(indices))
        return original(self, indices)

    monkeypatch.setattr(PosterStream, "_load_batch", counting)
    batches = stream.batches(np.arange(40)[::-1])
    first = next(batches)
    assert isinstance(first, np.ndarray) and first.dtype == np.uint8
    np.testing.assert_array_equal(first[:, 0, 0, 0], [39, 38, 37, 36])
    # Memory stays flat: the one being read, and at most `prefetch` more.
    assert len(decoded) <= 4
    rest = np.concatenate(list(batches))[:, 0, 0, 0]
    np.testing.assert_array_equal(rest, np.arange(36)[::-1])


def test_a_consumer_stopping_early_does_not_decode_the_rest(monkeypatch):
    images = [np.zeros((8, 8, 3), dtype=np.uint8)] * 100
    stream = PosterStream(images, (8, 8), batch_size=2, n_threads=1, prefetch=2)
    decoded = []
    original = PosterStream._load_batch
    monkeypatch.setattr(PosterStream, "_load_batch",
                        lambda self, indices: decoded.append(1) or original(self, indices))
    batches = stream.batches()
    next(batches)
    batches.close()
    assert len(decoded) <= 3

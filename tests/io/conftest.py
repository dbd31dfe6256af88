"""File-making fixtures for the skposter.io tests.

Every image is generated in ``tmp_path`` at test time with Pillow and numpy; no test
reads files from outside its temporary folder.
"""

import zlib

import numpy as np
import pytest
from PIL import Image


def _solid(size, colour, mode="RGB"):
    """A ``size=(width, height)`` image filled with ``colour``."""
    return Image.new(mode, size, colour)


@pytest.fixture
def save_image(tmp_path):
    """Factory: ``save_image(name, image_or_array, **save_kwargs) -> pathlib.Path``."""

    def _save(name, image, **save_kwargs):
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        path = tmp_path / name
        image.save(path, **save_kwargs)
        return path

    return _save


@pytest.fixture
def noise_jpeg(tmp_path):
    """Factory: a real JPEG of random noise, ``noise_jpeg(name, size=64) -> Path``."""

    def _make(name="noise.jpg", size=64, seed=0):
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        path = tmp_path / name
        Image.fromarray(pixels).save(path, quality=95)
        return path

    return _make


@pytest.fixture
def truncated_jpeg(tmp_path, noise_jpeg):
    """Factory: a noise JPEG cut to the first half of its bytes."""

    def _make(name="truncated.jpg"):
        full = noise_jpeg("full_" + name).read_bytes()
        path = tmp_path / name
        path.write_bytes(full[: len(full) // 2])
        return path

    return _make


@pytest.fixture
def zero_byte_file(tmp_path):
    """Factory: an empty file with an image name."""

    def _make(name="empty.jpg"):
        path = tmp_path / name
        path.write_bytes(b"")
        return path

    return _make


@pytest.fixture
def text_file(tmp_path):
    """Factory: a text file pretending to be a JPEG by its name."""

    def _make(name="notes.jpg"):
        path = tmp_path / name
        path.write_text("this is not an image\n")
        return path

    return _make


@pytest.fixture
def missing_path(tmp_path):
    """Factory: a path that does not exist."""

    def _make(name="missing.jpg"):
        path = tmp_path / name
        assert not path.exists()
        return path

    return _make


def patch_png_size(data, width, height):
    """Return PNG bytes with the IHDR width/height replaced and the IHDR CRC fixed."""
    raw = bytearray(data)
    assert raw[12:16] == b"IHDR"
    raw[16:20] = width.to_bytes(4, "big")
    raw[20:24] = height.to_bytes(4, "big")
    raw[29:33] = zlib.crc32(bytes(raw[12:29])).to_bytes(4, "big")
    return bytes(raw)


@pytest.fixture
def bomb_png(tmp_path):
    """Factory: a tiny PNG whose header claims ``width x height`` pixels."""

    def _make(name="bomb.png", width=100_000, height=100_000):
        small = tmp_path / ("small_" + name)
        _solid((8, 8), (10, 20, 30)).save(small)
        path = tmp_path / name
        path.write_bytes(patch_png_size(small.read_bytes(), width, height))
        return path

    return _make


#: Good posters used by the loader and scan tests: id -> ((width, height), colour).
GOOD_POSTERS = {
    "tt01": ((8, 12), (255, 0, 0)),
    "tt02": ((10, 6), (0, 255, 0)),
    "tt03": ((5, 5), (0, 0, 255)),
    "tt04": ((7, 9), (12, 34, 56)),
}


@pytest.fixture
def poster_dir(tmp_path):
    """A folder of solid-colour PNG posters of different sizes.

    Returns
    -------
    root : pathlib.Path
    expected : dict of id -> ndarray (H, W, 3) uint8, the exact decoded pixels.
    """
    root = tmp_path / "posters"
    root.mkdir()
    expected = {}
    for poster_id, (size, colour) in GOOD_POSTERS.items():
        _solid(size, colour).save(root / f"{poster_id}.png")
        width, height = size
        expected[poster_id] = np.broadcast_to(
            np.asarray(colour, dtype=np.uint8), (height, width, 3)
        ).copy()
    return root, expected


@pytest.fixture
def mixed_files(poster_dir, truncated_jpeg, zero_byte_file, text_file, missing_path):
    """Good posters interleaved with every kind of bad file.

    Returns
    -------
    paths : list of str, in a fixed order
    expected : list of ndarray or None (None for a bad file)
    bad : set of str, the bad paths
    """
    root, good = poster_dir
    bad_paths = [
        str(truncated_jpeg("truncated.jpg")),
        str(zero_byte_file("empty.jpg")),
        str(text_file("notes.jpg")),
        str(missing_path("missing.jpg")),
    ]
    good_paths = [str(root / f"{poster_id}.png") for poster_id in good]
    good_images = list(good.values())
    paths, expected = [], []
    for i in range(max(len(good_paths), len(bad_paths))):
        if i < len(good_paths):
            paths.append(good_paths[i])
            expected.append(good_images[i])
        if i < len(bad_paths):
            paths.append(bad_paths[i])
            expected.append(None)
    return paths, expected, set(bad_paths)

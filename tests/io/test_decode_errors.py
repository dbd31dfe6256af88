"""Only errors about a broken file become blanks or report rows; the rest propagate."""

import struct

import numpy as np
import pytest

from skposter.exceptions import PosterReadWarning
from skposter.io import PosterLoader, scan_posters
from skposter.io import _loader, _scan


@pytest.fixture
def paths(poster_dir):
    root, good = poster_dir
    return [str(root / f"{poster_id}.png") for poster_id in good]


def _raising(exc):
    def decode(*args, **kwargs):
        raise exc

    return decode


@pytest.mark.parametrize("exc", [MemoryError(), KeyboardInterrupt(), RecursionError()],
                         ids=["MemoryError", "KeyboardInterrupt", "RecursionError"])
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_loader_blank_mode_lets_non_file_errors_through(paths, monkeypatch,
                                                        exc, n_jobs):
    monkeypatch.setattr(_loader, "decode_poster", _raising(exc))

    with pytest.raises(type(exc)):
        PosterLoader(on_error="blank", n_jobs=n_jobs).transform(paths)


@pytest.mark.parametrize("exc", [MemoryError(), KeyboardInterrupt()],
                         ids=["MemoryError", "KeyboardInterrupt"])
def test_scan_lets_non_file_errors_through(paths, monkeypatch, exc):
    monkeypatch.setattr(_scan, "decode_opened", _raising(exc))

    with pytest.raises(type(exc)):
        scan_posters(paths)


_FILE_ERRORS = [SyntaxError("broken PNG file"), struct.error("unpack requires 4 bytes"),
                EOFError("no more images"), IndexError("tile out of range"),
                ValueError("Decompressed Data Too Large"), OSError("image file is truncated")]


@pytest.mark.parametrize("exc", _FILE_ERRORS, ids=lambda e: type(e).__name__)
def test_pillow_errors_for_broken_files_still_become_blanks(paths, monkeypatch,
                                                             exc):
    monkeypatch.setattr(_loader, "decode_poster", _raising(exc))

    with pytest.warns(PosterReadWarning, match=type(exc).__name__):
        images = PosterLoader(on_error="blank").transform(paths)

    assert all(np.array_equal(image, np.full((1, 1, 3), 128, np.uint8)) for image in images)


@pytest.mark.parametrize("exc", _FILE_ERRORS, ids=lambda e: type(e).__name__)
def test_pillow_errors_for_broken_files_are_scan_rows(paths, monkeypatch, exc):
    monkeypatch.setattr(_scan, "decode_opened", _raising(exc))

    report = scan_posters(paths)

    assert not report["readable"].any()
    assert report["error"].str.startswith(type(exc).__name__).all()

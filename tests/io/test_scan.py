"""Tests of skposter.io.scan_posters."""

import pathlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skposter.io import PosterLoader, scan_posters

COLUMNS = ["path", "readable", "error", "format", "mode", "width", "height"]

#: Bad file name -> text its error must contain.
EXPECTED_ERRORS = {
    "truncated.jpg": "OSError: image file is truncated",
    "empty.jpg": "UnidentifiedImageError",
    "notes.jpg": "UnidentifiedImageError",
    "missing.jpg": "FileNotFoundError",
    "bomb.png": "ImageTooLargeError",
}


@pytest.fixture
def scan_inputs(mixed_files, bomb_png):
    """Good posters, the four bad kinds and a decompression bomb header."""
    paths, expected, bad = mixed_files
    bomb = str(bomb_png("bomb.png"))
    return paths + [bomb], expected + [None], bad | {bomb}


def test_report_shape_columns_and_order(scan_inputs):
    paths, _, _ = scan_inputs

    report = scan_posters(paths)

    assert isinstance(report, pd.DataFrame)
    assert list(report.columns) == COLUMNS
    assert len(report) == len(paths)
    assert report["path"].tolist() == paths
    assert list(report.index) == list(range(len(paths)))
    assert report["readable"].dtype == bool
    assert str(report["width"].dtype) == "Int64"
    assert str(report["height"].dtype) == "Int64"


def test_readable_exactly_for_good_files(scan_inputs):
    paths, _, bad = scan_inputs

    report = scan_posters(paths)

    assert report["readable"].tolist() == [p not in bad for p in paths]
    for _, row in report.iterrows():
        name = pathlib.Path(row["path"]).name
        if row["readable"]:
            assert row["error"] == ""
        else:
            assert row["error"] != ""
            assert EXPECTED_ERRORS[name] in row["error"], (name, row["error"])


def test_good_rows_describe_the_file(scan_inputs):
    paths, expected, _ = scan_inputs

    report = scan_posters(paths)

    good = report[report["readable"]]
    assert good["format"].tolist() == ["PNG"] * 4
    assert good["mode"].tolist() == ["RGB"] * 4
    sizes = [(img.shape[1], img.shape[0]) for img in expected if img is not None]
    assert list(zip(good["width"], good["height"])) == sizes


def test_bad_rows_fields(scan_inputs):
    paths, _, _ = scan_inputs

    report = scan_posters(paths).set_index(
        pd.Index([pathlib.Path(p).name for p in paths])
    )

    # The truncated JPEG has a readable header: its format and size are known.
    truncated = report.loc["truncated.jpg"]
    assert (truncated["format"], truncated["mode"]) == ("JPEG", "RGB")
    assert (truncated["width"], truncated["height"]) == (64, 64)
    # Files whose header cannot be read have no format or size.
    for name in ["empty.jpg", "notes.jpg", "missing.jpg", "bomb.png"]:
        row = report.loc[name]
        assert pd.isna(row["format"]) and pd.isna(row["mode"])
        assert pd.isna(row["width"]) and pd.isna(row["height"])


def test_bomb_header_is_unreadable(bomb_png):
    bomb = str(bomb_png())

    report = scan_posters([bomb])

    assert not report.loc[0, "readable"]
    assert "decompression bomb" in report.loc[0, "error"]
    assert "10000000000" in report.loc[0, "error"]


def test_max_pixels_is_applied(poster_dir):
    root, _ = poster_dir
    ids = ["tt01", "tt03"]  # 96 and 25 pixels

    report = scan_posters(ids, root=root, pattern="{}.png", max_pixels=50)

    assert report["readable"].tolist() == [False, True]
    assert "ImageTooLargeError" in report.loc[0, "error"]
    assert "max_pixels=50" in report.loc[0, "error"]


@pytest.mark.parametrize("bad_value", [0, -1, 2.5, "10"])
def test_invalid_max_pixels(poster_dir, bad_value):
    root, _ = poster_dir

    with pytest.raises(ValueError, match="max_pixels"):
        scan_posters(["tt01"], root=root, pattern="{}.png", max_pixels=bad_value)


def test_decode_false_reads_headers_only(scan_inputs):
    paths, _, bad = scan_inputs
    names = [pathlib.Path(p).name for p in paths]

    report = scan_posters(paths, decode=False)

    readable = dict(zip(names, report["readable"]))
    assert readable["truncated.jpg"]  # the broken pixel data goes unnoticed
    for name in ["empty.jpg", "notes.jpg", "missing.jpg", "bomb.png"]:
        assert not readable[name], name
    for poster_id in ["tt01", "tt02", "tt03", "tt04"]:
        assert readable[f"{poster_id}.png"]
    assert report["readable"].sum() == len(paths) - len(bad) + 1


def test_ids_root_pattern_and_dataframe_column(poster_dir):
    root, _ = poster_dir
    frame = pd.DataFrame({"Id": ["tt02", "nope", "tt04"], "year": [1, 2, 3]})

    report = scan_posters(frame, root=root, pattern="{}.png", column="Id")

    assert report["path"].tolist() == [str(root / f"{i}.png") for i in frame["Id"]]
    assert report["readable"].tolist() == [True, False, True]
    assert report.loc[1, "error"].startswith("FileNotFoundError")


def test_scan_input_errors(poster_dir):
    root, _ = poster_dir
    with pytest.raises(ValueError, match="0 posters"):
        scan_posters([], root=root)
    with pytest.raises(ValueError, match="row 1"):
        scan_posters(["tt01", None], root=root)
    with pytest.raises(KeyError, match="Id"):
        scan_posters(pd.DataFrame({"x": ["tt01"]}), root=root, column="Id")


def test_n_jobs_gives_the_same_report(scan_inputs):
    paths, _, _ = scan_inputs

    serial = scan_posters(paths)
    threaded = scan_posters(paths, n_jobs=2)

    pd.testing.assert_frame_equal(serial, threaded)


def test_verbose_shows_progress(poster_dir, capsys):
    root, _ = poster_dir

    report = scan_posters(["tt01", "tt02"], root=root, pattern="{}.png", verbose=1)

    assert report["readable"].all()
    assert "scanning posters" in capsys.readouterr().err


def test_exif_size_is_reported_as_stored(save_image):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = str(save_image("rotated.jpg", img, exif=exif))

    report = scan_posters([path])

    assert report.loc[0, "readable"]
    assert (report.loc[0, "width"], report.loc[0, "height"]) == (40, 20)


def test_readable_mask_keeps_x_and_y_aligned(poster_dir, truncated_jpeg, zero_byte_file):
    root, good = poster_dir
    # Bad posters stored under the same root with ids, so ids alone name the files.
    truncated = truncated_jpeg("bad1.png")
    zero_byte_file("bad2.png")
    assert truncated.parent != root
    truncated.rename(root / "bad1.png")
    (truncated.parent / "bad2.png").rename(root / "bad2.png")

    ids = ["tt04", "bad1", "tt01", "bad2", "tt03", "tt02"]
    frame = pd.DataFrame({"Id": ids, "year": [2004, 0, 2001, 0, 2003, 2002]})
    y = np.array([[1, 0], [9, 9], [0, 1], [9, 9], [1, 1], [0, 0]])

    report = scan_posters(frame, root=root, pattern="{}.png", column="Id")
    mask = report["readable"].to_numpy()
    frame_ok, y_ok = frame[mask], y[mask]

    assert mask.tolist() == [True, False, True, False, True, True]
    assert frame_ok["Id"].tolist() == ["tt04", "tt01", "tt03", "tt02"]
    np.testing.assert_array_equal(y_ok, [[1, 0], [0, 1], [1, 1], [0, 0]])
    assert not (y_ok == 9).any()
    # The kept rows load without error, and image k belongs to label row k.
    images = PosterLoader(root=root, pattern="{}.png", column="Id").transform(frame_ok)
    assert len(images) == len(y_ok)
    for image, poster_id in zip(images, frame_ok["Id"]):
        np.testing.assert_array_equal(image, good[poster_id])

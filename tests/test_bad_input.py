"""Bad input, end to end through the Python API and the ``skposter`` command.

Every case of the bad-input issue gets a clear error naming the file, row or column,
or a documented handling (with a warning where the input is suspect, and the right
output), and nothing already computed is lost. All files are made in ``tmp_path``.

The 25 cases, by section:

Image files (``decode_poster``, ``PosterLoader``, ``CNNFeatureExtractor``, CLI)
    1. truncated JPEG          -> OSError; PosterReadError naming the file; blank + warning
    2. zero-byte file          -> UnidentifiedImageError; named
    3. mislabelled file        -> a PNG/WebP named .jpg decodes by content; text named
                                  .jpg is refused and named
    4. missing file            -> FileNotFoundError naming it; named by the loader, by the
                                  extractor *with a cache* too, and by ``load_posters``
    5. CMYK                    -> decodes to the right RGB colour
    6. palette + transparency  -> transparent index / per-entry alpha over white
    7. 16-bit                  -> grey and RGB 16-bit scaled to 8 bits (65535 -> 255)
    8. animated GIF            -> first frame (WebP / PNG animations too)
    9. WebP                    -> decodes exactly (lossless), alpha over white
   10. 1x1 image               -> decodes, resizes, gives finite colour and CNN features
   11. decompression bomb      -> ImageTooLargeError before decoding, named, fast
   12. many bad files at once  -> one error listing all of them; the good posters'
                                  CNN features are cached (a rerun computes nothing)

Label files and targets (``load_posters``, ``PerGenreClassifier``, ``GenreThresholdClassifier``)
   13. wrong shape             -> extra field: file + line; missing field: column + id;
                                  y of wrong length / 3-D / no column: shape in message
   14. all-zero genre          -> prior fallback with a warning naming the genre (by name,
                                  also under threshold tuning); probability 0
   15. unknown / non-0/1 labels-> column, values and ids named; evaluate names genres the
                                  data lacks and warns about genres the model lacks
   16. duplicate ids           -> identical rows kept once, one warning naming the ids;
                                  rows with different labels: file and ids named

Metadata (``make_metadata_preprocessor``, CLI ``--metadata``)
   17. NaN                     -> imputed with a missing flag; an all-NaN column is dropped
                                  with a warning naming it
   18. inf                     -> ValueError naming the column (fit, transform, CLI)
   19. text in a number column -> ValueError naming the column and the value
   20. unseen categories       -> all-zero one-hot, no error (documented)
   21. ids matching no poster  -> CLI error (train), warning for posters without a row

Empty input
   22. no posters              -> "found 0 posters" (loader, extractor), argparse error
   23. empty label table       -> header only / zero bytes: file named
   24. no image at all         -> error even with on_missing="drop"
   25. no samples in y         -> ValueError, not a silent prior-only model

The CLI cases check ``main(argv)``: exit code 1 and a last stderr line
``skposter COMMAND: error: ...`` naming the culprit, or exit code 0 with one-line
``skposter: Warning...`` messages; a failed ``train`` leaves an existing ``--out`` file
untouched and a failed ``predict`` still prints the readable posters.
"""

import contextlib
import io
import shutil
import struct
import time
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image, UnidentifiedImageError
from PIL import features as pil_features

from skposter.cli import main
from skposter.datasets import load_posters, make_posters, split_by_id
from skposter.exceptions import ImageTooLargeError, PosterReadError, PosterReadWarning
from skposter.features import CNNFeatureExtractor
from skposter.io import BLANK_VALUE, PosterLoader, decode_poster, scan_posters
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier
from skposter.preprocessing import Resizer, RGBStatsExtractor, make_metadata_preprocessor

needs_webp = pytest.mark.skipif(not pil_features.check("webp"), reason="Pillow without WebP")

# --------------------------------------------------------------------------- file makers


def solid(path, colour, size=(6, 4), mode="RGB", **save):
    """Save a solid ``size=(width, height)`` image and return its path as str."""
    Image.new(mode, size, colour).save(path, **save)
    return str(path)


def truncated_jpeg(path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return str(path)


def png_bytes(width, height, colour_type, bit_depth, rows):
    """A PNG written by hand (Pillow cannot write 16-bit RGB)."""

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def bomb_png(path, width, height):
    """An 8x8 PNG whose header claims ``width x height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="PNG")
    raw = bytearray(buffer.getvalue())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return str(path)


@pytest.fixture
def bad_files(tmp_path):
    """One file of each unreadable kind, by name."""
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    return {
        "truncated": truncated_jpeg(tmp_path / "truncated.jpg"),
        "zero-byte": str(empty),
        "text named .jpg": str(text),
        "missing": str(tmp_path / "missing.jpg"),
        "bomb": bomb_png(tmp_path / "bomb.png", 8000, 8000),
    }


@pytest.fixture
def good_files(tmp_path):
    colours = [(255, 0, 0), (0, 160, 0), (0, 0, 255), (200, 200, 40)]
    return [solid(tmp_path / f"good{k}.png", c, size=(12 + k, 18)) for k, c in enumerate(colours)]


# ============================================================== cases 1-4, 12: unreadable files


@pytest.mark.parametrize("kind, error, reason", [
    ("truncated", OSError, "truncated"),
    ("zero-byte", UnidentifiedImageError, "cannot identify image file"),
    ("text named .jpg", UnidentifiedImageError, "cannot identify image file"),
    ("missing", FileNotFoundError, "No such file"),
])
def test_unreadable_file_raises_and_the_loader_names_it(bad_files, good_files, kind, error,
                                                        reason):
    path = bad_files[kind]
    with pytest.raises(error, match=reason):
        decode_poster(path)
    with pytest.raises(PosterReadError) as info:
        PosterLoader().transform([good_files[0], path])
    assert list(info.value.failures) == [path]
    assert path in str(info.value) and error.__name__ in str(info.value)
    # The documented alternative: a 1x1 blank and one warning naming the file.
    with pytest.warns(PosterReadWarning, match=path):
        images = PosterLoader(on_error="blank").transform([good_files[0], path])
    np.testing.assert_array_equal(images[1], np.full((1, 1, 3), BLANK_VALUE, np.uint8))
    assert images[0].shape == (18, 12, 3)


def test_mislabelled_image_decodes_by_its_content(tmp_path):
    png = solid(tmp_path / "really_a_png.jpg", (12, 34, 56), format="PNG")
    with Image.open(png) as img:
        assert img.format == "PNG"
    assert decode_poster(png)[0, 0].tolist() == [12, 34, 56]
    assert scan_posters([png])["format"].tolist() == ["PNG"]


@needs_webp
def test_webp_named_jpg_decodes_by_its_content(tmp_path):
    path = solid(tmp_path / "really_a_webp.jpg", (12, 34, 56), format="WEBP", lossless=True)
    assert decode_poster(path)[0, 0].tolist() == [12, 34, 56]


def test_loader_lists_every_bad_file_at_once(bad_files, good_files):
    paths = [good_files[0], *bad_files.values(), good_files[1]]
    with pytest.raises(PosterReadError) as info:
        PosterLoader(n_jobs=2).transform(paths)
    assert list(info.value.failures) == list(bad_files.values())
    message = str(info.value)
    assert message.startswith(f"{len(bad_files)} poster file(s) could not be read")
    assert all(path in message for path in bad_files.values())
    # scan_posters reports the same files up front, to drop them from X and y together.
    report = scan_posters(paths)
    assert report["readable"].tolist() == [True] + [False] * len(bad_files) + [True]


# ====================================================================== cases 5-11: odd formats


def test_cmyk_decodes_to_the_right_colour(tmp_path):
    cyan = solid(tmp_path / "cyan.jpg", (255, 0, 0, 0), size=(16, 16), mode="CMYK", quality=95)
    red = solid(tmp_path / "red.tif", (0, 255, 255, 0), size=(4, 4), mode="CMYK")
    black = solid(tmp_path / "black.tif", (0, 0, 0, 255), size=(4, 4), mode="CMYK")
    with Image.open(cyan) as img:
        assert img.mode == "CMYK"
    assert np.abs(decode_poster(cyan)[8, 8].astype(int) - [0, 255, 255]).max() <= 3
    assert decode_poster(red)[0, 0].tolist() == [255, 0, 0]
    assert decode_poster(black)[0, 0].tolist() == [0, 0, 0]
    assert PosterLoader().transform([red])[0].shape == (4, 4, 3)


def _palette(indices, colours):
    img = Image.new("P", (len(indices), 1))
    flat = [value for colour in colours for value in colour]
    img.putpalette(flat + [0] * (768 - len(flat)))
    img.putdata(indices)
    return img


@pytest.mark.parametrize("name", ["index.png", "index.gif"])
def test_palette_transparent_index_becomes_white(tmp_path, name):
    path = tmp_path / name
    _palette([0, 1, 0], [(255, 0, 0), (0, 255, 0)]).save(path, transparency=1)
    with Image.open(path) as img:
        assert img.mode == "P" and img.info["transparency"] == 1
    assert decode_poster(path).tolist() == [[[255, 0, 0], [255, 255, 255], [255, 0, 0]]]


def test_palette_alpha_per_entry_is_composited_over_white(tmp_path):
    path = tmp_path / "alpha.png"
    _palette([0, 1, 2], [(255, 0, 0), (0, 255, 0), (0, 0, 255)]).save(
        path, transparency=bytes([255, 128, 0]))
    # 0 over white at alpha 128: (0 * 128 + 255 * 127 + 127) // 255 = 127.
    assert decode_poster(path).tolist() == [[[255, 0, 0], [127, 255, 127], [255, 255, 255]]]


def test_16bit_grey_is_scaled_to_8_bits(tmp_path):
    grey = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)
    with Image.open(path) as img:
        assert img.mode == "I;16"
    out = decode_poster(path)
    assert out.dtype == np.uint8 and out[..., 0].tolist() == [[0, 1, 128, 255]]
    assert (out[..., 0] == out[..., 2]).all()


def test_16bit_rgb_and_rgba_are_scaled_to_8_bits(tmp_path):
    rgb = np.array([[65535, 32768, 0], [2570, 0, 65535]], dtype=">u2")
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(2, 1, 2, 16, [rgb.tobytes()]))
    assert decode_poster(path).tolist() == [[[255, 128, 0], [10, 0, 255]]]
    rgba = np.array([[65535, 32768, 0, 65535], [0, 0, 65535, 0]], dtype=">u2")
    path = tmp_path / "rgba16.png"
    path.write_bytes(png_bytes(2, 1, 6, 16, [rgba.tobytes()]))
    assert decode_poster(path).tolist() == [[[255, 128, 0], [255, 255, 255]]]


@pytest.mark.parametrize("name, extra", [
    ("anim.gif", {}),
    ("anim.png", {}),
    pytest.param("anim.webp", {"lossless": True}, marks=needs_webp),
])
def test_animation_uses_its_first_frame(tmp_path, name, extra):
    frames = [Image.new("RGB", (10, 8), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    path = tmp_path / name
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, **extra)
    with Image.open(path) as img:
        assert img.n_frames == 3
    out = decode_poster(path)
    assert out.shape == (8, 10, 3) and (out == [255, 0, 0]).all()


@needs_webp
def test_webp_decodes_exactly_and_alpha_goes_over_white(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = tmp_path / "poster.webp"
    Image.fromarray(pixels).save(path, lossless=True)
    np.testing.assert_array_equal(decode_poster(path), pixels)
    clear = solid(tmp_path / "clear.webp", (10, 200, 30, 0), mode="RGBA", lossless=True)
    assert (decode_poster(clear) == 255).all()
    assert PosterLoader().transform([str(path)])[0].shape == (7, 9, 3)


def test_one_pixel_poster_goes_through_every_image_step(tmp_path):
    one = solid(tmp_path / "one.png", (9, 8, 7), size=(1, 1))
    assert decode_poster(one).tolist() == [[[9, 8, 7]]]
    images = PosterLoader().transform([one, solid(tmp_path / "big.png", (1, 2, 3), (30, 40))])
    for mode in ("crop", "pad", "stretch"):
        resized = Resizer((4, 4), mode=mode).fit_transform(images)
        assert resized.shape == (2, 4, 4, 3) and (resized[0] == [9, 8, 7]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by a zero spread
        colour = RGBStatsExtractor().fit_transform(images)
    assert np.isfinite(colour).all()


@pytest.mark.parametrize("width, height, refused_by", [
    (8000, 8000, "header declares 8000x8000 = 64,000,000 pixels, above max_pixels"),
    (100_000, 100_000, "refused as a decompression bomb by Pillow"),
])
def test_decompression_bomb_header_is_refused_fast(tmp_path, width, height, refused_by):
    path = bomb_png(tmp_path / "bomb.png", width, height)
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=refused_by):
        decode_poster(path)
    with pytest.raises(PosterReadError, match=f"{path}: ImageTooLargeError: {refused_by}"):
        PosterLoader().transform([path])
    assert scan_posters([path])["error"][0].startswith("ImageTooLargeError")
    # Refused from the header: no 64-megapixel (or larger) buffer was ever decoded.
    assert time.perf_counter() - start < 2


# ================================================================ cases 1-12, 22: CNN extractor

CNN = dict(backbone="mobilenet_v2", input_size=32, batch_size=4)


def assert_same_features(actual, expected):
    """Equal up to float noise, relative to the features' scale (random weights are tiny)."""
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=1e-4)


def test_extractor_names_every_bad_file_after_caching_the_good_ones(
        bad_files, good_files, weights_file, tmp_path, count_forward):
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "cache", **CNN).fit()
    paths = [good_files[0], *bad_files.values(), *good_files[1:]]
    with pytest.raises(PosterReadError) as info:
        extractor.transform(paths)
    # Every bad file at once, the missing one included (its hash used to stop the run
    # before anything was computed).
    assert list(info.value.failures) == list(bad_files.values())
    assert count_forward() == len(paths)
    # Nothing computed is lost: the good posters come from the cache.
    features = extractor.transform(good_files)
    assert count_forward() == len(paths)
    fresh = CNNFeatureExtractor(weights=weights_file, **CNN).fit().transform(good_files)
    assert_same_features(features, fresh)


def test_extractor_blank_policy_with_a_cache_and_a_missing_file(good_files, weights_file,
                                                                 tmp_path):
    missing = str(tmp_path / "missing.jpg")
    extractor = CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "cache",
                                    on_error="blank", **CNN).fit()
    with pytest.warns(PosterReadWarning, match="missing.jpg"):
        features = extractor.transform(good_files[:2] + [missing])
    blank = np.full((1, 1, 3), BLANK_VALUE, np.uint8)
    assert_same_features(features[2], extractor.transform([blank])[0])
    assert_same_features(features[:2], extractor.transform(good_files[:2]))


def test_extractor_reads_odd_files_by_the_decoding_rule(tmp_path, weights_file):
    frames = [Image.new("RGB", (10, 8), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    grey16 = tmp_path / "grey16.png"
    Image.fromarray(np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)).save(grey16)
    paths = [
        solid(tmp_path / "cmyk.jpg", (255, 0, 0, 0), size=(16, 16), mode="CMYK"),
        str(grey16),
        str(tmp_path / "anim.gif"),
        solid(tmp_path / "one.png", (9, 8, 7), size=(1, 1)),
        solid(tmp_path / "png_named.jpg", (30, 60, 90), format="PNG"),
    ]
    if pil_features.check("webp"):
        paths.append(solid(tmp_path / "p.webp", (5, 250, 5), lossless=True))
    extractor = CNNFeatureExtractor(weights=weights_file, **CNN).fit()
    from_paths = extractor.transform(paths)
    assert np.isfinite(from_paths).all()
    assert_same_features(from_paths, extractor.transform(PosterLoader().transform(paths)))


def test_extractor_refuses_empty_input(weights_file):
    extractor = CNNFeatureExtractor(weights=weights_file, **CNN).fit()
    with pytest.raises(ValueError, match="found 0 posters"):
        extractor.transform([])
    with pytest.raises(ValueError, match="found 0 images"):
        extractor.transform(np.zeros((0, 8, 8, 3), np.uint8))


# ========================================================================== cases 13-16: labels


@pytest.fixture
def folder(tmp_path):
    make_posters(n_samples=12, n_genres=3, size=(16, 12), metadata=True, directory=tmp_path,
                 random_state=0)
    return tmp_path


def _genres(folder):
    return pd.read_csv(folder / "genres.csv", dtype={"Id": str})


def test_label_row_with_an_extra_field_names_the_file_and_line(folder):
    lines = (folder / "genres.csv").read_text().splitlines()
    lines[3] += ",1"
    (folder / "genres.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"genres\.csv is not a readable CSV table: .*line 4"):
        load_posters(folder)


def test_label_row_with_a_missing_field_names_the_column_and_id(folder):
    lines = (folder / "genres.csv").read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]
    (folder / "genres.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"genre column 'Action' of .*genres\.csv must hold "
                                         r"only 0 and 1; found \[nan\] \(ids \['syn000002'\]\)"):
        load_posters(folder)


@pytest.mark.parametrize("value", [2, "yes", -1])
def test_non_binary_label_names_the_column_value_and_id(folder, value):
    frame = _genres(folder).astype({"Comedy": object})
    frame.loc[5, "Comedy"] = value
    frame.to_csv(folder / "genres.csv", index=False)
    # A text value must be shown, not the column's '0' and '1' read as text.
    with pytest.raises(ValueError, match=rf"genre column 'Comedy' .* found \[{value!r}\] "
                                         rf"\(ids \['syn000005'\]\)"):
        load_posters(folder)


def _conflicting_copy_of_row(frame, row):
    return pd.concat([frame, frame.iloc[[row]].assign(Comedy=1 - frame["Comedy"][row])])


def test_duplicate_ids_are_named_with_the_file(folder):
    frame = _genres(folder)
    _conflicting_copy_of_row(frame, 4).to_csv(folder / "genres.csv", index=False)
    with pytest.raises(ValueError, match=r"genres\.csv repeats ids \['syn000004'\] with "
                                         r"different labels"):
        load_posters(folder)
    pd.concat([frame, frame.iloc[[4]]]).to_csv(folder / "genres.csv", index=False)
    with pytest.warns(UserWarning, match=r"genres\.csv repeats 1 ids with identical rows"):
        assert len(load_posters(folder).ids) == len(frame)


def test_all_zero_genre_column_is_loaded_as_it_is(folder):
    _genres(folder).assign(Comedy=0).to_csv(folder / "genres.csv", index=False)
    data = load_posters(folder)
    assert data.target_names == ["Drama", "Comedy", "Action"]
    assert (data.target[:, 1] == 0).all()


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    Y = pd.DataFrame({"Drama": (X[:, 0] > 0).astype(int), "Comedy": (X[:, 1] > 0).astype(int),
                      "Action": (X[:, 2] > 0.5).astype(int)})
    return X, Y


@pytest.mark.parametrize("make", [PerGenreClassifier,
                                  lambda: GenreThresholdClassifier(cv=3, random_state=0)])
def test_targets_of_the_wrong_shape_are_refused(problem, make):
    X, Y = problem
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[60, 50\]"):
        make().fit(X, Y.iloc[:50])
    with pytest.raises(ValueError, match=r"got shape \(60, 2, 2\)"):
        make().fit(X, np.zeros((60, 2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"got shape \(60, 0\)"):
        make().fit(X, np.zeros((60, 0), dtype=int))


@pytest.mark.parametrize("make", [PerGenreClassifier,
                                  lambda: GenreThresholdClassifier(cv=3, random_state=0)])
@pytest.mark.parametrize("bad", [2, np.nan, "Drama"])
def test_non_binary_targets_name_the_genre(problem, make, bad):
    X, Y = problem
    Y = Y.astype(object)
    Y.loc[7, "Action"] = bad
    with pytest.raises(ValueError, match=r"genre columns \['Action'\] hold values other than"):
        make().fit(X, Y)


def test_all_zero_genre_falls_back_to_its_prior_with_a_warning(problem):
    X, Y = problem
    Y = Y.assign(Comedy=0)
    with pytest.warns(UserWarning, match=r"genres \['Comedy'\] have fewer than min_support"):
        model = PerGenreClassifier().fit(X, Y)
    assert (model.predict_proba(X)[:, 1] == 0).all() and (model.predict(X)[:, 1] == 0).all()
    assert model.fallback_genres_ == ["Comedy"]


def test_all_zero_genre_under_threshold_tuning_warns_by_name_only(problem):
    X, Y = problem
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = GenreThresholdClassifier(cv=3, random_state=0).fit(X, Y.assign(Comedy=0))
    messages = [str(w.message) for w in record if "min_support" in str(w.message)]
    # The inner folds see y as an array and would say "genres [1]"; each fact is said
    # once per fit: the final model's prior, and the threshold it gets.
    assert messages == [
        _NOT_TUNED, "genres ['Comedy'] have fewer than min_support=5 positives or "
        "negatives; they predict their training frequency."]
    assert (model.predict(X)[:, 1] == 0).all() and model.predict(X)[:, 0].any()


_NOT_TUNED = ("genres ['Comedy'] have fewer than min_support=10 positives or negatives, or a "
              "constant probability in some inner fold; they get the threshold shared by "
              "the other genres, never below their training frequency.")


# ======================================================================== cases 17-20: metadata


@pytest.fixture
def metadata():
    return make_posters(n_samples=40, metadata=True, random_state=0).metadata


def _names(preprocessor):
    return list(preprocessor.get_feature_names_out())


def _dense(X):
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


def test_nan_is_imputed_with_a_missing_flag(metadata):
    assert metadata["duration"].isna().any()
    preprocessor = make_metadata_preprocessor().fit(metadata)
    assert "numeric__missingindicator_duration" in _names(preprocessor)
    assert np.isfinite(_dense(preprocessor.transform(metadata))).all()
    # A missing value at predict time in a column complete in fit is imputed too.
    row = metadata.iloc[[0]].assign(imdb_score=np.nan)
    assert np.isfinite(_dense(preprocessor.transform(row))).all()


def test_all_nan_column_is_dropped_with_a_warning_naming_it(metadata):
    empty = metadata.assign(duration=np.nan)
    with pytest.warns(UserWarning, match=r"without any observed values: \['duration'\]"):
        preprocessor = make_metadata_preprocessor().fit(empty)
    assert "numeric__duration" not in _names(preprocessor)
    assert "numeric__title_year" in _names(preprocessor)
    # The imputer names the skipped column again at every transform.
    with pytest.warns(UserWarning, match=r"without any observed values: \['duration'\]"):
        assert np.isfinite(_dense(preprocessor.transform(metadata))).all()


@pytest.mark.parametrize("column, value, message", [
    ("duration", np.inf, r"numeric column 'duration' holds infinite values"),
    ("budget", -np.inf, r"numeric column 'budget' holds infinite values"),
    ("duration", "2h", r"numeric column 'duration' holds non-numeric values, e.g. '2h'"),
    ("title_year", "n/a", r"numeric column 'title_year' holds non-numeric values, e.g. 'n/a'"),
])
def test_bad_numbers_name_the_column_at_fit_and_transform(metadata, column, value, message):
    bad = metadata.astype({column: object})
    bad.loc[3, column] = value
    with pytest.raises(ValueError, match=message):
        make_metadata_preprocessor().fit(bad)
    fitted = make_metadata_preprocessor().fit(metadata)
    with pytest.raises(ValueError, match=message):
        fitted.transform(bad)


def test_unseen_categories_are_encoded_as_zeros(metadata):
    preprocessor = make_metadata_preprocessor().fit(metadata)
    new = metadata.iloc[:2].assign(country="Atlantis", content_rating="NC-17")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # documented handling, not a data error
        features = pd.DataFrame(_dense(preprocessor.transform(new)), columns=_names(preprocessor))
    assert (features.filter(like="categorical__").to_numpy() == 0).all()
    seen = pd.DataFrame(_dense(preprocessor.transform(metadata.iloc[:2])),
                        columns=_names(preprocessor))
    assert (seen.filter(like="categorical__country").sum(axis=1) == 1).all()


# ===================================================================== cases 22-25: empty input


def test_empty_input_is_refused_by_name(tmp_path, folder, problem):
    with pytest.raises(ValueError, match="found 0 posters; at least 1 is required"):
        PosterLoader().transform([])
    with pytest.raises(ValueError, match="found 0 posters"):
        scan_posters(pd.Series([], dtype=str))
    X, Y = problem
    for model in (PerGenreClassifier(), GenreThresholdClassifier(cv=3)):
        with pytest.raises(ValueError, match=r"y has 0 samples \(shape \(0, 3\)\)"):
            model.fit(X[:0], Y.iloc[:0])
    with pytest.raises(ValueError, match="0 sample"):
        make_metadata_preprocessor().fit(pd.DataFrame(columns=list(
            ["duration", "budget", "title_year", "imdb_score", "content_rating", "country",
             "plot_keywords"])))


@pytest.mark.parametrize("text, message", [
    ("Id,Genre,Drama\n", r"genres\.csv has no rows"),
    ("", r"genres\.csv is not a readable CSV table: No columns to parse"),
])
def test_empty_label_table_names_the_file(folder, text, message):
    (folder / "genres.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        load_posters(folder)


def test_empty_metadata_table_names_the_file(folder):
    (folder / "metadata.csv").write_text("")
    with pytest.raises(ValueError, match=r"metadata\.csv is not a readable CSV table"):
        load_posters(folder)


def test_no_image_at_all_is_an_error_even_when_dropping(folder):
    for path in (folder / "images").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match=r"12 of 12 rows of .*genres\.csv have no image"):
        load_posters(folder, on_missing="drop")
    with pytest.raises(FileNotFoundError, match="syn000000"):
        load_posters(folder)


# ======================================================================= CLI: cases 1, 4, 12-24
# A module-scoped synthetic folder (60 posters, 3 genres, metadata) and two models
# trained once by ``skposter train``; each test breaks its own copy of the folder.


#: ``skposter train`` of the colour kind, which fits these tiny folders in a second.
TRAIN = ("train", "--model", "colour")


def run(argv):
    """``main(argv)`` -> (exit code, stdout, skposter's stderr lines without progress bars)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_info:  # argparse's own usage errors
            code = exit_info.code
    lines = [part.strip() for line in err.getvalue().splitlines() for part in line.split("\r")]
    return code, out.getvalue(), [line for line in lines if line.startswith("skposter")]


def assert_fails_naming(result, command, *names):
    code, _, lines = result
    assert code == 1, lines
    assert lines[-1].startswith(f"skposter {command}: error: "), lines
    for name in names:
        assert str(name) in lines[-1], (name, lines[-1])


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A synthetic poster folder with metadata, ids of its train and test parts."""
    folder = tmp_path_factory.mktemp("posters")
    data = make_posters(n_samples=60, n_genres=3, size=(24, 16), metadata=True,
                        directory=folder, random_state=0)
    train, test = split_by_id(data.ids)
    return folder, data.ids[train], data.ids[test]


@pytest.fixture(scope="module")
def models(source, tmp_path_factory):
    """Colour models trained by ``skposter train``: posters only, and with metadata."""
    folder, _, _ = source
    out = tmp_path_factory.mktemp("models")
    assert run([*TRAIN, "--data", folder, "--out", out / "plain.skposter"])[0] == 0
    assert run([*TRAIN, "--data", folder, "--metadata", "--out", out / "meta.skposter"])[0] == 0
    return out / "plain.skposter", out / "meta.skposter"


@pytest.fixture
def copy(source, tmp_path):
    """A fresh copy of the poster folder to break."""
    target = tmp_path / "copy"
    shutil.copytree(source[0], target)
    return target


def test_cli_train_names_a_broken_poster_and_keeps_the_old_model(source, copy, tmp_path):
    _, train_ids, _ = source
    broken = copy / "images" / f"{train_ids[3]}.jpg"
    truncated_jpeg(broken)
    out = tmp_path / "model.skposter"
    out.write_bytes(b"previous model")
    assert_fails_naming(run([*TRAIN, "--data", copy, "--out", out]), "train",
                        broken, "could not be read")
    assert out.read_bytes() == b"previous model"


def test_cli_train_names_a_missing_poster(source, copy, tmp_path):
    _, train_ids, _ = source
    (copy / "images" / f"{train_ids[0]}.jpg").unlink()
    assert_fails_naming(run([*TRAIN, "--data", copy, "--out", tmp_path / "m"]), "train",
                        "genres.csv have no image", train_ids[0])


@pytest.mark.parametrize("breakage, names", [
    ("duplicate", ["genres.csv repeats ids", "syn000004"]),
    ("extra field", ["genres.csv is not a readable CSV table", "line 5"]),
    ("non-binary", ["genre column 'Comedy'", "'maybe'", "syn000006"]),
    ("empty", ["genres.csv has no rows"]),
])
def test_cli_train_names_a_bad_label_table(copy, tmp_path, breakage, names):
    path = copy / "genres.csv"
    frame = pd.read_csv(path, dtype={"Id": str})
    if breakage == "duplicate":
        _conflicting_copy_of_row(frame, 4).to_csv(path, index=False)
    elif breakage == "extra field":
        lines = path.read_text().splitlines()
        lines[4] += ",0"
        path.write_text("\n".join(lines) + "\n")
    elif breakage == "non-binary":
        frame.astype({"Comedy": object}).assign(
            Comedy=lambda f: f["Comedy"].where(f.index != 6, "maybe")).to_csv(path, index=False)
    else:
        path.write_text(path.read_text().splitlines()[0] + "\n")
    assert_fails_naming(run([*TRAIN, "--data", copy, "--out", tmp_path / "m"]), "train",
                        *names)


def test_cli_train_with_an_all_zero_genre_succeeds_with_a_warning(copy, tmp_path):
    frame = pd.read_csv(copy / "genres.csv", dtype={"Id": str})
    frame.assign(Comedy=0).to_csv(copy / "genres.csv", index=False)
    code, out, lines = run([*TRAIN, "--data", copy, "--out", tmp_path / "m.skposter"])
    assert code == 0 and "saved to" in out
    assert lines == [
        "skposter: UserWarning: " + _NOT_TUNED,
        "skposter: UserWarning: genres ['Comedy'] have fewer than min_support=5 "
        "positives or negatives; they predict their training frequency."]


@pytest.mark.parametrize("value, names", [
    ("inf", ["numeric column 'budget' holds infinite values"]),
    ("lots", ["numeric column 'budget' holds non-numeric values, e.g. 'lots'"]),
])
def test_cli_train_names_a_bad_metadata_column(source, copy, tmp_path, value, names):
    _, train_ids, _ = source
    metadata = pd.read_csv(copy / "metadata.csv", dtype={"Id": str}).astype({"budget": object})
    metadata.loc[metadata["Id"] == train_ids[2], "budget"] = value
    metadata.to_csv(copy / "metadata.csv", index=False)
    assert_fails_naming(run([*TRAIN, "--data", copy, "--metadata", "--out", tmp_path / "m"]),
                        "train", *names)


def test_cli_metadata_ids_matching_no_poster(copy, tmp_path):
    metadata = pd.read_csv(copy / "metadata.csv", dtype={"Id": str})
    metadata.assign(Id="tt" + metadata["Id"]).to_csv(copy / "metadata.csv", index=False)
    assert_fails_naming(run([*TRAIN, "--data", copy, "--metadata", "--out", tmp_path / "m"]),
                        "train", "has a row in the metadata table", "'tt")


def test_cli_predict_prints_the_readable_posters_then_names_the_bad_ones(source, models,
                                                                          tmp_path):
    folder, _, _ = source
    good = [folder / "images" / "syn000001.jpg", folder / "images" / "syn000002.jpg"]
    truncated = truncated_jpeg(tmp_path / "truncated.jpg")
    missing = tmp_path / "missing.jpg"
    code, out, lines = run(["predict", "--model", models[0], good[0], truncated, missing,
                            good[1]])
    assert_fails_naming((code, out, lines), "predict", truncated, missing,
                        "2 poster file(s) could not be read")
    printed = [line.split(": ")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert printed == [str(good[0]), str(good[1])]
    # The same predictions as a clean run.
    assert out == run(["predict", "--model", models[0], *good])[1]


def test_cli_predict_names_a_lone_missing_or_truncated_poster(models, tmp_path):
    for path in (tmp_path / "missing.jpg", truncated_jpeg(tmp_path / "cut.jpg")):
        code, out, lines = run(["predict", "--model", models[0], path])
        assert_fails_naming((code, out, lines), "predict", path)
        assert out == ""


def test_cli_predict_with_metadata_rows_missing_unseen_or_infinite(source, models, tmp_path):
    folder, _, _ = source
    metadata = pd.read_csv(folder / "metadata.csv", dtype={"Id": str})
    poster = folder / "images" / "syn000001.jpg"
    stranger = tmp_path / "stranger.jpg"
    shutil.copy(poster, stranger)
    table = tmp_path / "metadata.csv"
    metadata.assign(country="Atlantis").to_csv(table, index=False)
    code, out, lines = run(["predict", "--model", models[1], "--metadata", table, poster,
                            stranger])
    assert code == 0 and f"{stranger}: " in out
    assert lines == ["skposter: UserWarning: 1 of 2 posters have no row in the metadata table "
                     "(first: ['stranger']); their metadata counts as missing."]
    metadata.assign(duration=np.inf).to_csv(table, index=False)
    assert_fails_naming(run(["predict", "--model", models[1], "--metadata", table, poster]),
                        "predict", "numeric column 'duration' holds infinite values")
    table.write_text("")
    assert_fails_naming(run(["predict", "--model", models[1], "--metadata", table, poster]),
                        "predict", table, "not a readable CSV table")


def test_cli_predict_without_posters_is_a_usage_error(models):
    code, _, lines = run(["predict", "--model", models[0]])
    assert code == 2
    assert lines[-1] == "skposter predict: error: the following arguments are required: POSTER"


def test_cli_empty_inputs(copy, models, tmp_path):
    for path in (copy / "images").iterdir():
        path.unlink()
    assert_fails_naming(run([*TRAIN, "--data", copy, "--out", tmp_path / "m"]), "train",
                        "60 of 60 rows", "have no image")
    # One poster, in the train part: the test part is empty.
    make_posters(n_samples=1, n_genres=3, directory=tmp_path / "one", random_state=0)
    assert split_by_id(["syn000000"])[1].size == 0
    assert_fails_naming(run(["evaluate", "--model", models[0], "--data", tmp_path / "one",
                             "--report-dir", tmp_path / "r"]), "evaluate",
                        "the test part of", "holds no poster")


def test_cli_evaluate_names_genres_the_folder_lacks(copy, models, tmp_path):
    frame = pd.read_csv(copy / "genres.csv", dtype={"Id": str})
    frame.drop(columns=["Action"]).to_csv(copy / "genres.csv", index=False)
    assert_fails_naming(run(["evaluate", "--model", models[0], "--data", copy,
                             "--report-dir", tmp_path / "r"]), "evaluate",
                        "lacks genres the model predicts: ['Action']")
    assert not (tmp_path / "r").exists()


def test_cli_evaluate_warns_about_genres_the_model_lacks(source, copy, models, tmp_path):
    frame = pd.read_csv(copy / "genres.csv", dtype={"Id": str}).assign(Western=1)
    # An extra genre and shuffled columns: genres are matched by name, not position.
    frame[["Id", "Genre", "Western", "Action", "Drama", "Comedy"]].to_csv(
        copy / "genres.csv", index=False)
    code, _, lines = run(["evaluate", "--model", models[0], "--data", copy,
                          "--report-dir", tmp_path / "shuffled"])
    assert code == 0
    assert any("has genres the model does not predict: ['Western']; the report leaves them "
               "out." in line for line in lines)
    assert run(["evaluate", "--model", models[0], "--data", source[0],
                "--report-dir", tmp_path / "original"])[0] == 0
    shuffled = pd.read_csv(tmp_path / "shuffled" / "per_genre.csv", index_col="genre")
    original = pd.read_csv(tmp_path / "original" / "per_genre.csv", index_col="genre")
    pd.testing.assert_frame_equal(shuffled, original)


def test_cli_evaluate_names_a_broken_test_poster(source, copy, models, tmp_path):
    _, _, test_ids = source
    broken = copy / "images" / f"{test_ids[0]}.jpg"
    broken.write_bytes(b"")
    assert_fails_naming(run(["evaluate", "--model", models[0], "--data", copy,
                             "--report-dir", tmp_path / "r"]), "evaluate", broken)

"""Tests of skposter.io.decode_poster: every file Pillow reads -> (H, W, 3) uint8."""

import io
import time

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError, features

from skposter._utils._images import to_rgb_array
from skposter.exceptions import ImageTooLargeError
from skposter.io import DEFAULT_MAX_PIXELS, decode_poster
from skposter.io._decode import open_poster


def over_white(colour, alpha):
    """The documented compositing rule, for scalars."""
    return (colour * alpha + 255 * (255 - alpha) + 127) // 255


def assert_rgb(image, height, width):
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8
    assert image.shape == (height, width, 3)


# --------------------------------------------------------------------------- RGB


def test_rgb_png_is_exact(save_image):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    path = save_image("rgb.png", pixels)

    out = decode_poster(path)

    assert_rgb(out, 12, 17)
    np.testing.assert_array_equal(out, pixels)


def test_rgb_jpeg_is_close_to_source(save_image):
    # Four 8x8-aligned solid blocks, so JPEG blocks do not mix colours much.
    colours = [(200, 100, 50), (20, 180, 90), (60, 60, 220), (240, 240, 240)]
    pixels = np.zeros((16, 16, 3), dtype=np.uint8)
    for k, colour in enumerate(colours):
        row, col = divmod(k, 2)
        pixels[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] = colour
    path = save_image("rgb.jpg", pixels, quality=95, subsampling=0)

    out = decode_poster(path)

    assert_rgb(out, 16, 16)
    for k, colour in enumerate(colours):
        row, col = divmod(k, 2)
        centre = out[row * 8 + 4, col * 8 + 4].astype(int)
        assert np.abs(centre - np.asarray(colour)).max() <= 6, (colour, centre)


def test_str_path_and_file_object_give_the_same_pixels(save_image):
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = save_image("rgb.png", pixels)

    from_str = decode_poster(str(path))
    with open(path, "rb") as handle:
        from_file = decode_poster(io.BytesIO(handle.read()))

    np.testing.assert_array_equal(from_str, pixels)
    np.testing.assert_array_equal(from_file, pixels)


def test_one_by_one_image(save_image):
    path = save_image("one.png", Image.new("RGB", (1, 1), (9, 8, 7)))

    out = decode_poster(path)

    assert_rgb(out, 1, 1)
    assert out[0, 0].tolist() == [9, 8, 7]


# --------------------------------------------------------------------------- grey


def test_grey_L_is_repeated_to_three_channels(save_image):
    grey = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    path = save_image("grey.png", Image.fromarray(grey, mode="L"))

    out = decode_poster(path)

    assert_rgb(out, 4, 6)
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], grey)


def test_bilevel_mode_1(save_image):
    img = Image.new("1", (3, 2), 0)
    img.putpixel((1, 0), 1)
    img.putpixel((2, 1), 1)
    path = save_image("bilevel.png", img)
    with Image.open(path) as saved:
        assert saved.mode == "1"

    out = decode_poster(path)

    assert_rgb(out, 2, 3)
    expected = np.zeros((2, 3), dtype=np.uint8)
    expected[0, 1] = expected[1, 2] = 255
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], expected)


# --------------------------------------------------------------------------- alpha

ALPHAS = [0, 255, 128, 64, 200]


def test_LA_png_is_composited_over_white(save_image):
    grey = np.array([[10, 10, 10, 200, 0]], dtype=np.uint8)
    alpha = np.array([ALPHAS], dtype=np.uint8)
    img = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)])
    path = save_image("la.png", img)
    with Image.open(path) as saved:
        assert saved.mode == "LA"

    out = decode_poster(path)

    assert_rgb(out, 1, 5)
    assert out[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white
    assert out[0, 1].tolist() == [10, 10, 10]  # fully opaque keeps its grey
    assert out[0, 2].tolist() == [over_white(10, 128)] * 3
    assert over_white(10, 128) == 132
    assert out[0, 3].tolist() == [over_white(200, 64)] * 3
    assert out[0, 4].tolist() == [over_white(0, 200)] * 3


def test_RGBA_png_is_composited_over_white(save_image):
    colour = (200, 100, 50)
    pixels = np.zeros((1, len(ALPHAS), 4), dtype=np.uint8)
    pixels[..., :3] = colour
    pixels[..., 3] = ALPHAS
    path = save_image("rgba.png", pixels)
    with Image.open(path) as saved:
        assert saved.mode == "RGBA"

    out = decode_poster(path)

    assert_rgb(out, 1, len(ALPHAS))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == list(colour)
    assert out[0, 2].tolist() == [over_white(c, 128) for c in colour]
    assert out[0, 2].tolist() == [227, 177, 152]
    for i, a in enumerate(ALPHAS):
        assert out[0, i].tolist() == [over_white(c, a) for c in colour]


def test_rgba_file_equals_rgba_array_rule(save_image):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    pixels[0, :5, 3] = [0, 1, 127, 128, 255]  # make sure the edge alphas occur
    path = save_image("random_rgba.png", pixels)

    np.testing.assert_array_equal(decode_poster(path), to_rgb_array(pixels))


def test_la_file_equals_grey_alpha_array_rule(save_image):
    rng = np.random.default_rng(8)
    pixels = rng.integers(0, 256, (6, 7, 2), dtype=np.uint8)
    img = Image.merge("LA", [Image.fromarray(pixels[..., 0]), Image.fromarray(pixels[..., 1])])
    path = save_image("random_la.png", img)

    np.testing.assert_array_equal(decode_poster(path), to_rgb_array(pixels))


def _palette_image(indices, colours):
    img = Image.new("P", (len(indices), 1))
    flat = [value for colour in colours for value in colour]
    img.putpalette(flat + [0] * (768 - len(flat)))
    img.putdata(indices)
    return img


def test_palette_with_transparent_index_becomes_white(save_image):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    img = _palette_image([0, 1, 2, 1, 0], colours)
    path = save_image("palette_t.png", img, transparency=1)
    with Image.open(path) as check:
        assert check.mode == "P" and check.info["transparency"] == 1

    out = decode_poster(path)

    assert_rgb(out, 1, 5)
    assert out[0].tolist() == [
        [255, 0, 0],
        [255, 255, 255],
        [0, 0, 255],
        [255, 255, 255],
        [255, 0, 0],
    ]


def test_palette_without_transparency_gives_palette_colours(save_image):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (17, 34, 51)]
    img = _palette_image([3, 2, 1, 0], colours)
    path = save_image("palette.png", img)
    with Image.open(path) as check:
        assert check.mode == "P" and "transparency" not in check.info

    out = decode_poster(path)

    assert_rgb(out, 1, 4)
    assert out[0].tolist() == [list(c) for c in reversed(colours)]


def test_grey_with_transparent_colour_becomes_white(save_image):
    grey = np.array([[0, 100, 255]], dtype=np.uint8)
    path = save_image("grey_t.png", grey, transparency=100)

    out = decode_poster(path)

    assert out[0].tolist() == [[0, 0, 0], [255, 255, 255], [255, 255, 255]]


def test_rgb_with_transparent_colour_becomes_white(save_image):
    pixels = np.array([[[1, 2, 3], [10, 20, 30]]], dtype=np.uint8)
    path = save_image("rgb_t.png", pixels, transparency=(10, 20, 30))

    out = decode_poster(path)

    assert out[0].tolist() == [[1, 2, 3], [255, 255, 255]]


def test_16bit_grey_with_transparent_colour_becomes_white(save_image):
    grey = np.array([[0, 1000, 65535]], dtype=np.uint16)
    path = save_image("grey16_t.png", grey, transparency=1000)
    with Image.open(path) as check:
        assert check.mode == "I;16" and check.info["transparency"] == 1000

    out = decode_poster(path)

    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 2].tolist() == [255, 255, 255]


# --------------------------------------------------------------------------- CMYK


def test_cmyk_jpeg_pure_cyan(save_image):
    path = save_image("cyan.jpg", Image.new("CMYK", (16, 16), (255, 0, 0, 0)), quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"

    out = decode_poster(path)

    assert_rgb(out, 16, 16)
    red, green, blue = out[8, 8].astype(int)
    assert red <= 30
    assert green >= 225
    assert blue >= 225


def test_cmyk_jpeg_pure_black_key(save_image):
    path = save_image("black.jpg", Image.new("CMYK", (8, 8), (0, 0, 0, 255)), quality=95)

    out = decode_poster(path)

    assert_rgb(out, 8, 8)
    assert out.max() <= 30


# --------------------------------------------------------------------------- wide grey


def test_16bit_grey_png_is_scaled(save_image):
    values = np.array([[65535, 0, 32896, 257, 128, 129]], dtype=np.uint16)
    path = save_image("grey16.png", values)
    with Image.open(path) as check:
        assert check.mode.startswith("I;16")

    out = decode_poster(path)

    assert_rgb(out, 1, 6)
    expected = [(int(v) * 255 + 32767) // 65535 for v in values[0]]
    assert expected == [255, 0, 128, 1, 0, 1]
    assert out[0, :, 0].tolist() == expected
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_32bit_integer_grey_tiff_is_scaled_and_clipped(save_image):
    values = np.array([[0, 32896, 65535, 70000, -5]], dtype=np.int32)
    path = save_image("grey32.tif", values)
    with Image.open(path) as check:
        assert check.mode == "I"

    out = decode_poster(path)

    assert_rgb(out, 1, 5)
    assert out[0, :, 0].tolist() == [0, 128, 255, 255, 0]
    assert (out[..., 0] == out[..., 2]).all()


def test_float_grey_tiff_is_rounded_and_clipped(save_image):
    values = np.array([[-10.0, 0.4, 0.6, 127.0, 254.6, 300.0]], dtype=np.float32)
    path = save_image("greyf.tif", values)
    with Image.open(path) as check:
        assert check.mode == "F"

    out = decode_poster(path)

    assert_rgb(out, 1, 6)
    assert out[0, :, 0].tolist() == [0, 0, 1, 127, 255, 255]
    assert (out[..., 1] == out[..., 0]).all()


# --------------------------------------------------------------------------- EXIF


@pytest.mark.parametrize(
    ("orientation", "shape", "red_at", "blue_at"),
    [
        (1, (20, 40, 3), (10, 5), (10, 35)),  # as stored: left red, right blue
        (3, (20, 40, 3), (10, 35), (10, 5)),  # rotated 180: right red
        (6, (40, 20, 3), (5, 10), (35, 10)),  # stored left column is the visual top
        (8, (40, 20, 3), (35, 10), (5, 10)),  # stored left column is the visual bottom
    ],
)
def test_exif_orientation_is_applied(save_image, orientation, shape, red_at, blue_at):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save_image(f"exif{orientation}.jpg", img, exif=exif, quality=95)

    out = decode_poster(path)

    assert out.shape == shape
    red = out[red_at].astype(int)
    blue = out[blue_at].astype(int)
    assert red[0] >= 230 and red[1] <= 25 and red[2] <= 25, red
    assert blue[2] >= 230 and blue[0] <= 25 and blue[1] <= 25, blue


# --------------------------------------------------------------------------- other formats


def test_animated_gif_gives_first_frame(save_image):
    frames = [Image.new("RGB", (8, 6), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    path = save_image(
        "anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=50, loop=0
    )
    with Image.open(path) as check:
        assert check.n_frames == 3

    out = decode_poster(path)

    assert_rgb(out, 6, 8)
    assert (out == np.array([255, 0, 0], dtype=np.uint8)).all()


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp_lossless(save_image):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
    path = save_image("poster.webp", pixels, lossless=True)

    out = decode_poster(path)

    assert_rgb(out, 10, 14)
    np.testing.assert_array_equal(out, pixels)


# --------------------------------------------------------------------------- broken files


def test_truncated_jpeg_raises_oserror(truncated_jpeg):
    path = truncated_jpeg()

    with pytest.raises(OSError, match="truncated"):
        decode_poster(path)


def test_zero_byte_file_is_unidentified(zero_byte_file):
    with pytest.raises(UnidentifiedImageError):
        decode_poster(zero_byte_file())


def test_text_file_named_jpg_is_unidentified(text_file):
    with pytest.raises(UnidentifiedImageError):
        decode_poster(text_file())


def test_missing_path_raises_file_not_found(missing_path):
    path = missing_path()
    with pytest.raises(FileNotFoundError):
        decode_poster(path)
    with pytest.raises(FileNotFoundError):
        decode_poster(str(path))


# --------------------------------------------------------------------------- size guard


def test_decompression_bomb_header_fails_fast(bomb_png):
    path = bomb_png(width=100_000, height=100_000)
    assert path.stat().st_size < 200

    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError) as info:
        decode_poster(path)
    elapsed = time.perf_counter() - start

    assert elapsed < 5
    message = str(info.value)
    assert "decompression bomb" in message
    assert "10000000000" in message.replace(",", "")


def test_header_over_default_limit_names_pixel_count(bomb_png):
    # 64 Mpx: above skposter's 40 Mpx default, below Pillow's own warning level.
    path = bomb_png(width=8000, height=8000)
    assert 8000 * 8000 > DEFAULT_MAX_PIXELS

    with pytest.raises(ImageTooLargeError, match="64,000,000 pixels") as info:
        decode_poster(path)

    assert "8000x8000" in str(info.value)
    assert "max_pixels=40,000,000" in str(info.value)


def test_image_too_large_error_is_a_value_error():
    assert issubclass(ImageTooLargeError, ValueError)


def test_max_pixels_boundary(save_image):
    pixels = np.full((100, 100, 3), 77, dtype=np.uint8)
    path = save_image("hundred.png", pixels)

    with pytest.raises(ImageTooLargeError, match="10,000 pixels"):
        decode_poster(path, max_pixels=5000)
    with pytest.raises(ImageTooLargeError):
        decode_poster(path, max_pixels=9999)

    out = decode_poster(path, max_pixels=10_000)
    np.testing.assert_array_equal(out, pixels)


def test_pillow_limit_above_max_pixels_says_how_to_raise_it(bomb_png):
    # Pillow's process-wide guard (2 * MAX_IMAGE_PIXELS) still applies: the error says so.
    path = bomb_png(width=15_000, height=15_000)  # 225 Mpx, header only

    with pytest.raises(ImageTooLargeError, match="PIL.Image.MAX_IMAGE_PIXELS"):
        open_poster(path, max_pixels=10**9)

"""overlay_heatmap and plot_genre_heatmaps."""

import matplotlib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter.datasets import make_posters
from skposter.features import CNNFeatureExtractor
from skposter.inspection import overlay_heatmap, plot_genre_heatmaps
from skposter.inspection._geometry import normalise, to_poster
from skposter.multilabel import PerGenreClassifier

matplotlib.use("Agg")


def test_overlay_is_an_rgb_image_of_the_posters_shape():
    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, (40, 30, 3)).astype(np.uint8)
    heat = rng.uniform(size=(40, 30))
    out = overlay_heatmap(image, heat)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8
    # Cold pixels keep the poster; alpha 0 draws nothing.
    np.testing.assert_array_equal(overlay_heatmap(image, np.zeros((40, 30))), image)
    np.testing.assert_array_equal(overlay_heatmap(image, heat, alpha=0), image)
    # The hottest pixel is tinted towards red.
    hot = np.unravel_index(np.argmax(heat), heat.shape)
    black = overlay_heatmap(np.zeros_like(image), heat, alpha=1.0)
    assert black[hot][0] > 200 and black[hot][2] < 50


def test_overlay_resizes_a_smaller_heatmap_and_takes_grey_images():
    out = overlay_heatmap(np.full((20, 10), 128, np.uint8), np.eye(2))
    assert out.shape == (20, 10, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("heat, alpha, message", [
    (np.zeros(5), 0.5, "2-D"),
    (np.full((2, 2), np.nan), 0.5, "NaN"),
    (np.zeros((2, 2)), 1.5, "alpha"),
])
def test_overlay_refuses_bad_input(heat, alpha, message):
    with pytest.raises(ValueError, match=message):
        overlay_heatmap(np.zeros((4, 4, 3), np.uint8), heat, alpha=alpha)


def test_grid_maps_follow_each_resize_mode():
    hot_corner = np.array([[1.0, 0.0], [0.0, 0.0]])
    stretched = to_poster(hot_corner, (8, 4), [((2, 2), "stretch")])
    assert stretched.shape == (8, 4) and stretched[0, 0] == 1 and stretched[-1, -1] == 0
    # A 8x4 poster cropped to a square keeps its middle 4x4: the rest was never seen.
    cropped = to_poster(np.ones((2, 2)), (8, 4), [((4, 4), "crop")])
    assert (cropped[2:6] == 1).all() and (cropped[:2] == 0).all() and (cropped[6:] == 0).all()
    # Padded to a square, the poster fills columns 2-6 of 8: its first pixel centre
    # (column 2.5) lies 1/8 of a cell right of the hot cell's centre, its last (5.5)
    # 1/8 of a cell left of the cold one's.
    padded = to_poster(hot_corner, (8, 4), [((8, 8), "pad")])
    assert padded[0, 0] == pytest.approx(0.875) and padded[0, -1] == pytest.approx(0.125)
    assert padded[-1, 0] == pytest.approx(0.0)


def test_normalise_keeps_positive_evidence_and_never_divides_by_zero():
    np.testing.assert_allclose(normalise(np.array([[-2.0, 1.0], [2.0, 0.0]])),
                               [[0, 0.5], [1, 0]])
    assert not normalise(-np.ones((3, 3))).any()


def test_plot_draws_the_poster_and_one_panel_per_genre():
    data = make_posters(20, n_genres=3, size=(48, 32), random_state=0)
    model = make_pipeline(CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32),
                          StandardScaler(), PerGenreClassifier()).fit(data.images, data.target)
    figure = plot_genre_heatmaps(model, data.images[0], top=2)
    axes = figure.axes
    assert len(axes) == 3 and axes[0].get_title() == "poster"
    assert all("%" in ax.get_title() and "cam" in ax.get_title() for ax in axes[1:])
    import matplotlib.pyplot as plt

    _, given = plt.subplots(1, 2)
    assert plot_genre_heatmaps(model, data.images[0], genres=[1], axes=given) is given[0].figure
    with pytest.raises(ValueError, match="axes must hold 2"):
        plot_genre_heatmaps(model, data.images[0], genres=[1], axes=given[:1])
    plt.close("all")

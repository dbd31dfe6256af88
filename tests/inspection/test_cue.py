"""Heat maps follow what makes the genre: a cue moved on the poster moves the map."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter.datasets import load_posters
from skposter.features import CNNFeatureExtractor
from skposter.inspection import genre_heatmaps
from skposter.multilabel import PerGenreClassifier

SIDE, PATCH = 96, 28


def cue_poster(rng, red_at=None, blue_at=None):
    """Grey noise; "Horror" is a red square, "Comedy" a blue one, anywhere."""
    image = rng.normal(110, 25, (SIDE, SIDE, 3))
    for corner, colour in ((red_at, (240, 30, 30)), (blue_at, (30, 60, 240))):
        if corner is not None:
            top, left = corner
            image[top:top + PATCH, left:left + PATCH] = colour
    return np.clip(image, 0, 255).astype(np.uint8)


def centre_of_mass(heatmap):
    rows, cols = np.mgrid[:heatmap.shape[0], :heatmap.shape[1]]
    return np.array([(heatmap * rows).sum(), (heatmap * cols).sum()]) / heatmap.sum()


@pytest.mark.slow
def test_the_map_moves_with_the_genre_cue():
    rng = np.random.RandomState(0)
    spot = lambda: tuple(rng.randint(0, SIDE - PATCH, 2))  # noqa: E731
    labels = rng.random_sample((60, 2)) < 0.5
    images = np.stack([cue_poster(rng, spot() if red else None, spot() if blue else None)
                       for red, blue in labels])
    target = pd.DataFrame(labels.astype(int), columns=["Horror", "Comedy"])
    model = make_pipeline(CNNFeatureExtractor("efficientnet_lite0", input_size=SIDE),
                          StandardScaler(), PerGenreClassifier()).fit(images, target)
    far = SIDE - PATCH
    centres = {}
    for corner in ((0, 0), (far, far), (0, far), (far, 0)):
        (item,) = genre_heatmaps(model, cue_poster(rng, red_at=corner), genres=["Horror"])
        assert item.heatmap.max() == 1
        centres[corner] = centre_of_mass(item.heatmap)
        # Most of the map lies in the patch's half of the poster, both ways.
        top, left = (slice(None, SIDE // 2) if c == 0 else slice(SIDE // 2, None)
                     for c in corner)
        assert item.heatmap[top].sum() > 0.6 * item.heatmap.sum()
        assert item.heatmap[:, left].sum() > 0.6 * item.heatmap.sum()
    # Moving the square right moves the map right, moving it down moves the map down.
    assert centres[(0, far)][1] - centres[(0, 0)][1] > 15
    assert centres[(far, far)][0] - centres[(0, far)][0] > 15
    assert centres[(far, 0)][0] - centres[(0, 0)][0] > 15


@pytest.mark.slow
@pytest.mark.realdata
def test_real_posters_get_exact_maps_at_their_own_size(shared_posters):
    data = load_posters(shared_posters, as_frame=True)
    paths, target = list(data.paths[:60]), data.target.iloc[:60]
    common = target.columns[target.sum() >= 8]
    model = make_pipeline(CNNFeatureExtractor("efficientnet_lite0", input_size=128),
                          StandardScaler(), PerGenreClassifier()).fit(paths, target[common])
    proba = model.predict_proba(paths[:3])
    for i in range(3):
        with Image.open(paths[i]) as poster:
            shape = (poster.height, poster.width)
        for item in genre_heatmaps(model, paths[i], genres=list(common)):
            k = list(common).index(item.genre)
            assert item.heatmap.shape == shape
            assert item.probability == pytest.approx(proba[i, k], abs=1e-3)
            assert item.raw.mean(dtype=float) + item.offset == pytest.approx(
                np.log(proba[i, k] / (1 - proba[i, k])), rel=1e-3, abs=1e-3)

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skposter.datasets import make_posters
from skposter.preprocessing import RGBStatsExtractor


def _features(image, **params):
    extractor = RGBStatsExtractor(**params)
    values = extractor.fit_transform(image[None])[0]
    return dict(zip(extractor.get_feature_names_out(), values))


def _solid(rgb, size=(6, 4)):
    return np.broadcast_to(np.array(rgb, np.uint8), (*size, 3)).copy()


def test_feature_names_match_columns():
    extractor = RGBStatsExtractor(bins=4)
    out = extractor.fit_transform(np.zeros((2, 5, 5, 3), np.uint8))
    names = extractor.get_feature_names_out()
    assert out.shape == (2, len(names)) == (2, 6 + 3 * 4 + 7)
    assert len(set(names)) == len(names)
    assert out.dtype == np.float64


def test_solid_colour_statistics():
    f = _features(_solid((255, 0, 0)), bins=4)
    assert f["r_mean"] == 1 and f["g_mean"] == 0 and f["r_std"] == 0
    assert f["r_hist_3"] == 1 and f["r_hist_0"] == 0 and f["g_hist_0"] == 1
    assert f["saturation_mean"] == pytest.approx(1)
    assert f["brightness_mean"] == pytest.approx(0.299)
    # Colourfulness of pure red: no spread, offset sqrt(1 + 0.25) scaled by 0.3.
    assert f["colourfulness"] == pytest.approx(0.3 * np.hypot(1, 0.5))


def test_histograms_are_shares_that_sum_to_one():
    image = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    f = _features(image, bins=5)
    for channel in "rgb":
        assert sum(f[f"{channel}_hist_{k}"] for k in range(5)) == pytest.approx(1)


def test_grey_image_has_no_dominant_hue():
    f = _features(_solid((128, 128, 128)))
    assert f["hue_sin"] == 0 and f["hue_cos"] == 0 and f["colourfulness"] == 0


def test_hue_is_circular():
    # Red just below 360 degrees and just above 0 degrees must land close together,
    # while their raw hue numbers are far apart.
    below, above = _features(_solid((255, 0, 8))), _features(_solid((255, 8, 0)))
    green = _features(_solid((0, 255, 0)))
    distance = np.hypot(below["hue_sin"] - above["hue_sin"], below["hue_cos"] - above["hue_cos"])
    assert distance < 0.2
    assert np.hypot(below["hue_sin"], below["hue_cos"]) == pytest.approx(1)
    assert green["hue_cos"] == pytest.approx(np.cos(np.deg2rad(125)), abs=0.1)


def test_dominant_hue_ignores_grey_pixels():
    image = _solid((128, 128, 128), size=(10, 10))
    image[0, 0] = (0, 0, 255)  # one blue pixel among greys decides the hue
    f = _features(image)
    assert f["hue_cos"] == pytest.approx(np.cos(np.deg2rad(245)), abs=0.1)


def test_images_of_different_sizes_mix():
    images = [_solid((10, 20, 30), (5, 7)), _solid((10, 20, 30), (50, 3))]
    out = RGBStatsExtractor().fit_transform(images)
    np.testing.assert_allclose(out[0], out[1], atol=1e-12)


def test_conventions():
    extractor = RGBStatsExtractor(bins=3, hue_bins=12)
    assert clone(extractor).get_params() == {"bins": 3, "hue_bins": 12}
    extractor.set_params(bins=5)
    assert extractor.bins == 5
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(extractor)).transform(images), extractor.transform(images)
    )
    # Stateless: transform without fit works.
    assert RGBStatsExtractor().transform(images).shape[0] == 3


def test_pandas_output():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    out = RGBStatsExtractor(bins=2).set_output(transform="pandas").fit_transform(images)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(RGBStatsExtractor(bins=2).get_feature_names_out())


def test_in_pipeline_with_grid_search_beats_chance():
    data = make_posters(n_samples=160, n_genres=3, size=(32, 24), random_state=0)
    pipe = Pipeline([
        ("stats", RGBStatsExtractor()),
        ("scale", StandardScaler()),
        ("clf", OneVsRestClassifier(LogisticRegression(max_iter=500))),
    ])
    search = GridSearchCV(pipe, {"stats__bins": [4, 8]}, cv=3, scoring="average_precision")
    search.fit(data.images, data.target)
    assert search.best_score_ > data.target.mean() + 0.2
    assert search.best_estimator_.named_steps["stats"].bins in (4, 8)


def test_in_column_transformer_on_an_image_column():
    images = np.random.default_rng(0).integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    frame = pd.DataFrame({"poster": list(images), "budget": [1.0, 2.0, 3.0, 4.0]})
    columns = ColumnTransformer([
        ("colour", make_pipeline(FunctionTransformer(list), RGBStatsExtractor(bins=2)), "poster"),
        ("numbers", StandardScaler(), ["budget"]),
    ])
    out = columns.fit_transform(frame)
    n_colour = RGBStatsExtractor(bins=2).get_feature_names_out().size
    assert out.shape == (4, n_colour + 1)
    np.testing.assert_allclose(out[:, :n_colour], RGBStatsExtractor(bins=2).transform(images))

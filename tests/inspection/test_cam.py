"""Exact class activation maps of CNN features + linear per-genre models."""

import pickle

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter.cli._models import posters_and_metadata, with_thresholds
from skposter.datasets import make_posters
from skposter.ensemble import GenreStackingClassifier
from skposter.features import CNNFeatureExtractor
from skposter.inspection import GenreHeatmap, genre_heatmaps
from skposter.inspection._cam import _feature_map
from skposter.io import PosterLoader, prepare_poster
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import Resizer, RGBStatsExtractor


def logit(p):
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def posters():
    return make_posters(30, n_genres=3, size=(96, 64), random_state=0)


@pytest.fixture(scope="module")
def linear_model(posters):
    # A random MobileNetV2 at 64 px: a 2 x 2 feature grid, built in a second.
    return make_pipeline(
        CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=64), StandardScaler(),
        PerGenreClassifier(LogisticRegression(max_iter=1000)),
    ).fit(posters.images, pd.DataFrame(posters.target, columns=posters.target_names))


def test_cam_mean_is_the_logit_minus_the_intercept(linear_model, posters):
    extractor, scaler, per_genre = linear_model.named_steps.values()
    for i in range(3):
        pixels = prepare_poster(posters.images[i], extractor.input_size_)
        pooled = _feature_map(extractor, pixels).mean(axis=(0, 1))
        # The extractor's own features: the map is the one it pools.
        np.testing.assert_allclose(pooled, extractor.transform(posters.images[i:i + 1])[0],
                                   rtol=1e-4, atol=1e-6 * np.abs(pooled).max())
        z = scaler.transform(pooled[None])
        maps = genre_heatmaps(linear_model, posters.images[i], genres=posters.target_names)
        for k, (item, est) in enumerate(zip(maps, per_genre.estimators_)):
            assert item.genre == posters.target_names[k]
            assert item.method == "cam"
            assert item.raw.shape == (2, 2) and item.raw.dtype == np.float32
            # Posters only: the offset is the logistic regression's own intercept.
            assert item.offset == pytest.approx(est.intercept_[0], abs=1e-9)
            assert item.raw.mean(dtype=float) + item.offset == pytest.approx(
                est.decision_function(z)[0], abs=1e-4)
            assert item.probability == pytest.approx(est.predict_proba(z)[0, 1], abs=1e-9)


def test_probabilities_are_the_models(linear_model, posters):
    # Up to the float32 rounding of another forward pass (OpenVINO when installed).
    proba = linear_model.predict_proba(posters.images[:3])
    for i in range(3):
        maps = genre_heatmaps(linear_model, posters.images[i], genres=posters.target_names)
        np.testing.assert_allclose([m.probability for m in maps], proba[i], atol=1e-3)


def test_heatmaps_are_at_the_posters_resolution_in_unit_range(linear_model, posters):
    for item in genre_heatmaps(linear_model, posters.images[4], top=3):
        assert isinstance(item, GenreHeatmap)
        assert item.heatmap.shape == (96, 64) and item.heatmap.dtype == np.float32
        assert item.heatmap.min() >= 0 and item.heatmap.max() <= 1
        assert np.isfinite(item.heatmap).all()
        # Normalised positive evidence: its peak is 1, or nothing is positive.
        assert item.heatmap.max() == 1.0 or not (item.raw > 0).any()


def test_top_genres_come_by_decreasing_probability(linear_model, posters):
    proba = linear_model.predict_proba(posters.images[5:6])[0]
    maps = genre_heatmaps(linear_model, posters.images[5], top=2)
    assert [m.genre for m in maps] == [posters.target_names[k] for k in np.argsort(-proba)[:2]]
    assert len(genre_heatmaps(linear_model, posters.images[5], top=10)) == 3
    asked = genre_heatmaps(linear_model, posters.images[5], genres=["Action", "Drama"])
    assert [m.genre for m in asked] == ["Action", "Drama"]
    assert genre_heatmaps(linear_model, posters.images[5], genres="Comedy")[0].genre == "Comedy"


def test_bad_genres_and_top_are_refused(linear_model, posters):
    with pytest.raises(ValueError, match=r"unknown genres \['Horror'\].*Drama"):
        genre_heatmaps(linear_model, posters.images[0], genres=["Horror"])
    with pytest.raises(ValueError, match="top must be a positive int"):
        genre_heatmaps(linear_model, posters.images[0], top=0)


def test_loader_resizer_and_weights_file_from_paths(tmp_path, posters, weights_file):
    paths = []
    for i, image in enumerate(posters.images):
        paths.append(str(tmp_path / f"p{i}.png"))
        Image.fromarray(image).save(paths[-1])
    target = pd.DataFrame(posters.target, columns=posters.target_names)
    model = make_pipeline(
        PosterLoader(), Resizer((48, 48), mode="crop"),
        CNNFeatureExtractor("mobilenet_v2", weights=weights_file, input_size=32),
        StandardScaler(), PerGenreClassifier(),
    ).fit(paths, target)
    proba = model.predict_proba(paths[:1])[0]
    for item in genre_heatmaps(model, paths[0], genres=posters.target_names):
        k = posters.target_names.index(item.genre)
        assert item.raw.mean(dtype=float) + item.offset == pytest.approx(logit(proba[k]),
                                                                         rel=1e-3)
        # A 1 x 1 grid: one value over the square the crop kept, 0 where it cut.
        assert item.heatmap.shape == (96, 64)
        if item.raw[0, 0] > 0:
            assert (item.heatmap[16:80] == 1).all()
            assert (item.heatmap[:15] == 0).all() and (item.heatmap[81:] == 0).all()


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_posters")
    data = make_posters(36, n_genres=3, size=(96, 64), metadata=True, directory=folder,
                        random_state=1)
    X = data.metadata.drop(columns="Id")
    X.insert(0, "poster", data.paths)
    return data, X, pd.DataFrame(data.target, columns=data.target_names)


def _cli_form(metadata_columns):
    # skposter train --model cnn-features, with a small random backbone in place of Lite0.
    features = CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=64)
    return with_thresholds(make_pipeline(
        posters_and_metadata(features, metadata_columns), StandardScaler(),
        PerGenreClassifier(LogisticRegression(C=0.003, max_iter=2000)),
    ), random_state=0)


def test_cli_model_with_metadata_explains_the_poster_share(cli_data):
    data, X, Y = cli_data
    columns = ["duration", "budget", "content_rating"]
    model = _cli_form(columns).fit(X[["poster", *columns]], Y)
    row = X[["poster", *columns]].iloc[[2]]
    proba = model.predict_proba(row)[0]
    maps = genre_heatmaps(model, row, genres=data.target_names)
    intercepts = [est.intercept_[0] for est in model.estimator_[-1].estimators_]
    for k, item in enumerate(maps):
        assert item.probability == pytest.approx(proba[k], abs=1e-3)
        assert item.raw.mean(dtype=float) + item.offset == pytest.approx(logit(proba[k]),
                                                                         rel=1e-3)
    # The metadata's share sits in the offset, beside the intercept.
    assert not np.allclose([m.offset for m in maps], intercepts)
    with pytest.raises(ValueError, match="metadata columns.*one-row DataFrame"):
        genre_heatmaps(model, data.paths[2])


def test_cli_posters_only_model_takes_paths_images_and_rows(cli_data):
    data, X, Y = cli_data
    model = _cli_form(()).fit(X[["poster"]], Y)
    proba = model.predict_proba(X[["poster"]].iloc[[0]])[0]
    from_path = genre_heatmaps(model, data.paths[0], top=3)
    from_row = genre_heatmaps(model, X[["poster"]].iloc[[0]], top=3)
    decoded = np.asarray(Image.open(data.paths[0]).convert("RGB"))
    from_image = genre_heatmaps(model, decoded, top=3)
    for a, b, c in zip(from_path, from_row, from_image):
        assert a.genre == b.genre == c.genre
        np.testing.assert_allclose(a.raw, b.raw, atol=1e-5)
        np.testing.assert_allclose(a.raw, c.raw, atol=1e-4)
        k = data.target_names.index(a.genre)
        assert a.probability == pytest.approx(proba[k], abs=1e-3)


def test_max_pooling_has_no_exact_map(posters):
    model = make_pipeline(CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32,
                                              pooling="max"),
                          PerGenreClassifier()).fit(posters.images, posters.target)
    with pytest.raises(ValueError, match="pooling='avg'"):
        genre_heatmaps(model, posters.images[0])


@pytest.mark.parametrize("model", [
    make_pipeline(RGBStatsExtractor(), PerGenreClassifier(RandomForestClassifier(5))),
    GenreStackingClassifier([("colour", make_pipeline(RGBStatsExtractor(),
                                                      PerGenreClassifier()))]),
], ids=["colour-forest", "stacking"])
def test_unsupported_models_say_what_is_supported(model, posters):
    if not isinstance(model, GenreStackingClassifier):
        model.fit(posters.images, posters.target)
    with pytest.raises(TypeError, match="KerasPosterClassifier"):
        genre_heatmaps(model, posters.images[0])


def test_a_forest_on_cnn_features_is_refused(posters):
    model = make_pipeline(CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32),
                          PerGenreClassifier(RandomForestClassifier(5, random_state=0)))
    model.fit(posters.images, posters.target)
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        genre_heatmaps(model, posters.images[0])


def test_bad_posters_are_refused(linear_model):
    with pytest.raises(TypeError, match="poster must be"):
        genre_heatmaps(linear_model, 3)
    with pytest.raises(ValueError, match="exactly one row"):
        genre_heatmaps(linear_model, pd.DataFrame({"poster": ["a.jpg", "b.jpg"]}))


def test_a_reloaded_model_gives_the_same_maps(linear_model, posters):
    # As skposter.save/load do: the extractor's network is rebuilt after unpickling.
    reloaded = pickle.loads(pickle.dumps(linear_model))
    for before, after in zip(genre_heatmaps(linear_model, posters.images[6]),
                             genre_heatmaps(reloaded, posters.images[6])):
        assert before.genre == after.genre
        np.testing.assert_allclose(before.raw, after.raw, rtol=1e-5, atol=1e-6)


def test_an_unfitted_model_is_refused(posters):
    model = make_pipeline(CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32),
                          StandardScaler(), PerGenreClassifier())
    with pytest.raises(NotFittedError):
        genre_heatmaps(model, posters.images[0])

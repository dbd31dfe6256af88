import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter.datasets import load_posters, make_posters
from skposter.io import PosterLoader
from skposter.preprocessing import RGBStatsExtractor


def test_shapes_and_labels():
    data = make_posters(n_samples=50, n_genres=4, size=(40, 30), random_state=0)
    assert data.images.shape == (50, 40, 30, 3) and data.images.dtype == np.uint8
    assert data.target.shape == (50, 4) and set(np.unique(data.target)) == {0, 1}
    assert (data.target.sum(axis=1) >= 1).all()
    assert data.target_names == ["Drama", "Comedy", "Action", "Romance"]
    assert list(data.frame.columns) == ["Id", "Genre", *data.target_names]
    assert data.metadata is None and data.paths is None


def test_repeatable_with_seed():
    a, b = (make_posters(n_samples=5, random_state=3) for _ in range(2))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.target, b.target)
    assert not np.array_equal(a.images, make_posters(n_samples=5, random_state=4).images)


def test_genres_are_imbalanced_like_real_ones():
    prevalence = make_posters(n_samples=2000, n_genres=6, size=(8, 8), random_state=0).target.mean(0)
    assert prevalence[0] > 0.4 and prevalence[-1] < 0.2
    assert (np.diff(prevalence) < 0.05).all()


def test_colour_model_beats_the_prior_but_does_not_solve_it():
    train = make_posters(n_samples=400, n_genres=4, size=(48, 32), random_state=0)
    test = make_posters(n_samples=200, n_genres=4, size=(48, 32), random_state=1)
    model = make_pipeline(RGBStatsExtractor(), StandardScaler(),
                          OneVsRestClassifier(LogisticRegression(max_iter=1000)))
    model.fit(train.images, train.target)
    ap = average_precision_score(test.target, model.predict_proba(test.images), average="macro")
    prior = test.target.mean()
    assert prior + 0.2 < ap < 0.97


def test_metadata_is_correlated_and_has_gaps():
    data = make_posters(n_samples=300, n_genres=3, size=(8, 8), metadata=True, random_state=0)
    meta = data.metadata
    assert list(meta["Id"]) == list(data.ids)
    assert {"duration", "budget", "title_year", "content_rating", "plot_keywords"} <= set(meta)
    assert meta["duration"].isna().any() and meta["content_rating"].isna().any()
    assert meta["plot_keywords"].str.contains("|", regex=False).all()
    # At least one number differs between posters with and without some genre.
    gaps = [abs(meta["duration"][data.target[:, k] == 1].mean()
                - meta["duration"][data.target[:, k] == 0].mean()) for k in range(3)]
    assert max(gaps) > 3


def test_written_folder_loads_back(tmp_path):
    data = make_posters(n_samples=6, n_genres=3, metadata=True, directory=tmp_path, random_state=0)
    loaded = load_posters(tmp_path)
    np.testing.assert_array_equal(loaded.target, data.target)
    assert loaded.target_names == data.target_names
    assert list(loaded.paths) == list(data.paths)
    assert len(loaded.metadata) == 6
    images = PosterLoader().fit_transform(loaded.paths)
    # JPEG smooths the pixel noise away but keeps each poster's colours.
    mean_colours = np.stack(images).mean(axis=(1, 2))
    np.testing.assert_allclose(mean_colours, data.images.mean(axis=(1, 2)), atol=1)


@pytest.mark.parametrize("kwargs", [{"n_genres": 0}, {"n_genres": 21}, {"n_samples": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_posters(**kwargs)

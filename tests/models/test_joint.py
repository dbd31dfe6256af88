"""JointPosterClassifier on a small table of synthetic posters and their metadata.

Poster features come from colour statistics (PosterLoader + RGBStatsExtractor): as
deterministic as a fitted CNN, without building one in every test.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skposter.datasets import make_posters
from skposter.ensemble import GenreStackingClassifier
from skposter.io import PosterLoader
from skposter.models import JointPosterClassifier
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import RGBStatsExtractor, make_metadata_preprocessor

NUMERIC = ["duration", "budget", "title_year", "imdb_score"]
CATEGORICAL = ["content_rating", "country"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """(X, Y): poster paths and metadata by row, and a genre DataFrame."""
    folder = tmp_path_factory.mktemp("posters")
    data = make_posters(60, n_genres=3, size=(24, 16), metadata=True, directory=folder,
                        random_state=0)
    X = data.metadata.drop(columns="Id").assign(poster=data.paths)
    return X, pd.DataFrame(data.target, columns=data.target_names)


def colour_features():
    return make_pipeline(PosterLoader(column="poster"), RGBStatsExtractor(bins=4, hue_bins=6))


def joint(**params):
    defaults = dict(feature_extractor=colour_features(), numeric=NUMERIC,
                    categorical=CATEGORICAL, keywords=["plot_keywords"], branch_units=8,
                    hidden_units=(8,), epochs=3, batch_size=16, random_state=0)
    return JointPosterClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(table):
    return joint().fit(*table)


def test_probabilities_one_per_genre_named_by_the_target(fitted, table):
    X, Y = table
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float64
    assert np.all((proba > 0) & (proba < 1))
    assert list(fitted.classes_) == list(Y.columns)
    assert set(np.unique(fitted.predict(X))) <= {0, 1}
    assert fitted.n_features_in_ == X.shape[1]


def test_same_seed_same_network(fitted, table):
    X, Y = table
    again = clone(fitted).fit(X, Y)
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), rtol=1e-5)


def test_vocabularies_and_log_columns_are_learned_in_fit(fitted, table):
    X, _ = table
    assert list(fitted.categories_[1]) == sorted(X["country"].unique())
    assert len(fitted.keyword_vocabularies_[0]) > 5
    # Synthetic budgets are heavy-tailed; durations are not.
    assert "budget" in fitted.log_columns_ and "duration" not in fitted.log_columns_
    limited = joint(max_keywords=3, log=[]).fit(*table)
    assert len(limited.keyword_vocabularies_[0]) == 3 and limited.log_columns_ == []


def test_unknown_categories_and_missing_metadata_predict(fitted, table):
    X, _ = table
    odd = X.head(4).copy()
    odd["country"] = ["Atlantis", None, np.nan, "USA"]
    odd.loc[odd.index[:2], ["budget", "duration", "plot_keywords"]] = np.nan
    proba = fitted.predict_proba(odd)
    assert proba.shape == (4, 3) and np.isfinite(proba).all()
    # Unseen and (never seen) missing values share the reserved code.
    from skposter.models._joint import _codes

    codes = _codes(odd["country"], fitted.categories_[1])
    assert list(codes[:3]) == [0, 0, 0] and codes[3] > 0


def test_missing_values_in_fit_become_their_own_category(table):
    X, Y = table
    holed = X.copy()
    holed.loc[holed.index[::5], ["country", "budget", "plot_keywords"]] = np.nan
    model = joint().fit(holed, Y)
    assert "\0missing" in set(model.categories_[1])
    assert np.isfinite(model.predict_proba(holed)).all()


def test_pickle_holds_weights_and_predicts_the_same(fitted, table):
    X, _ = table
    blob = pickle.dumps(fitted)
    assert b"keras.src" not in blob
    restored = pickle.loads(blob)
    np.testing.assert_allclose(restored.predict_proba(X), fitted.predict_proba(X), rtol=1e-6)


def test_not_fitted_before_fit(table):
    with pytest.raises(NotFittedError):
        joint().predict_proba(table[0])


def test_errors_name_the_missing_column(fitted, table):
    X, Y = table
    with pytest.raises(ValueError, match="country"):
        fitted.predict_proba(X.drop(columns="country"))
    with pytest.raises(ValueError, match="revenue"):
        joint(numeric=["revenue"]).fit(X, Y)
    with pytest.raises(ValueError, match="'cover'"):
        joint(poster_column="cover").fit(X, Y)
    with pytest.raises(TypeError, match="DataFrame"):
        joint().fit(X.to_numpy(), Y)


def test_branches_are_optional_and_columns_can_be_selected(table):
    X, Y = table
    metadata_only = joint(poster_column=None, numeric=make_column_selector(
        dtype_include="number"), keywords=[]).fit(X, Y)
    assert metadata_only.numeric_columns_ == NUMERIC
    assert metadata_only.feature_extractor_ is None
    names = {layer.name for layer in metadata_only.model_.layers}
    assert "metadata_dense" in names and "poster_dense" not in names
    with pytest.raises(ValueError, match="no input"):
        joint(poster_column=None, numeric=[], categorical=[], keywords=[]).fit(X, Y)


def test_class_labels_get_a_softmax(table):
    X, Y = table
    labels = np.array(["drama", "comedy", "action"])[np.arange(len(X)) % 3]
    model = joint(class_weight=None).fit(X, labels)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(model.predict(X)) <= set(labels)


def test_balanced_weights_and_sample_weights_train(table):
    X, Y = table
    weights = np.r_[np.zeros(10), np.ones(len(X) - 10)]
    model = joint(class_weight="balanced").fit(X, Y, sample_weight=weights)
    assert len(model.history_["loss"]) == 3


def test_early_stopping_on_a_validation_split(table):
    model = joint(epochs=50, patience=1, validation_split=0.3, learning_rate=0.1).fit(*table)
    assert "val_loss" in model.history_ and len(model.history_["loss"]) < 50


@pytest.mark.slow
def test_a_base_of_genre_stacking(table):
    X, Y = table
    keywords_only = make_pipeline(
        make_metadata_preprocessor(numeric=(), categorical=(), log=()),
        PerGenreClassifier(LogisticRegression(solver="liblinear")))
    stack = GenreStackingClassifier(
        [("joint", joint()), ("keywords", keywords_only)],
        PerGenreClassifier(LogisticRegression(solver="liblinear")), cv=2, random_state=0)
    proba = stack.fit(X, Y).predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert list(stack.get_feature_names_out())[:3] == [f"joint__{g}" for g in Y.columns]


@pytest.mark.slow
def test_grid_search_over_network_parameters(table):
    X, Y = table
    search = GridSearchCV(joint(epochs=2), {"hidden_units": [(), (8,)], "embedding_dim": [2]},
                          cv=2, scoring="average_precision").fit(X, Y)
    assert search.best_params_["embedding_dim"] == 2
    assert search.best_estimator_.predict_proba(X).shape == (len(X), 3)

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skposter.datasets import make_posters
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import RGBStatsExtractor


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    Y = pd.DataFrame({
        "Drama": (X[:, 0] > 0).astype(int),
        "Western": (X[:, 1] > 1.3).astype(int),  # rare: about 10 %
        "Horror": (X[:, 2] + X[:, 3] > 0).astype(int),
    })
    return X, Y


def test_one_model_per_genre_with_names(problem):
    X, Y = problem
    model = PerGenreClassifier().fit(X, Y)
    assert is_classifier(model)
    assert list(model.classes_) == ["Drama", "Western", "Horror"]
    assert len(model.estimators_) == 3 and model.n_features_in_ == 4
    proba = model.predict_proba(X)
    assert proba.shape == (300, 3) and ((proba >= 0) & (proba <= 1)).all()
    pred = model.predict(X)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) == {0, 1}
    assert (pred == Y.to_numpy()).mean() > 0.9


def test_each_genre_gets_its_own_balanced_weights(problem):
    X, Y = problem
    balanced = PerGenreClassifier().fit(X, Y).predict(X)[:, 1]
    plain = PerGenreClassifier(class_weight=None).fit(X, Y).predict(X)[:, 1]
    # Balancing the rare genre raises its recall.
    rare = Y["Western"].to_numpy() == 1
    assert balanced[rare].mean() > plain[rare].mean()
    assert balanced[rare].mean() > 0.85


class _NoSampleWeight(LogisticRegression):
    def fit(self, X, y):
        return super().fit(X, y)


def test_class_weight_goes_to_estimators_without_sample_weight(problem):
    X, Y = problem
    model = PerGenreClassifier(_NoSampleWeight()).fit(X, Y)
    assert all(est.class_weight == "balanced" for est in model.estimators_)
    with pytest.raises(ValueError, match="class_weight=None"):
        PerGenreClassifier(KNeighborsClassifier()).fit(X, Y)
    assert PerGenreClassifier(KNeighborsClassifier(), class_weight=None).fit(X, Y).predict(X).shape == (300, 3)


def test_estimator_without_predict_proba(problem):
    X, Y = problem
    model = PerGenreClassifier(LinearSVC()).fit(X, Y)
    assert not hasattr(model, "predict_proba")
    assert (model.predict(X) == Y.to_numpy()).mean() > 0.9


def test_rare_genre_falls_back_to_prior_with_warning(problem):
    X, Y = problem
    Y = Y.assign(News=0)
    Y.loc[:2, "News"] = 1
    with pytest.warns(UserWarning, match="News"):
        model = PerGenreClassifier(min_support=5).fit(X, Y)
    assert model.fallback_genres_ == ["News"]
    np.testing.assert_allclose(model.predict_proba(X)[:, 3], 3 / 300)


def test_genre_without_positives_has_probability_zero(problem):
    X, Y = problem
    with pytest.warns(UserWarning, match="Empty"):
        model = PerGenreClassifier().fit(X, Y.assign(Empty=0, Full=1))
    proba = model.predict_proba(X)
    assert (proba[:, 3] == 0).all() and (proba[:, 4] == 1).all()
    assert (model.predict(X)[:, 3:] == [0, 1]).all()


def test_bad_targets_are_named(problem):
    X, Y = problem
    with pytest.raises(ValueError, match="Horror"):
        PerGenreClassifier().fit(X, Y.assign(Horror=Y["Horror"] * 2))
    with pytest.raises(ValueError, match="requires y"):
        PerGenreClassifier().fit(X, None)


def test_not_fitted_clone_pickle_and_parallel(problem):
    X, Y = problem
    with pytest.raises(NotFittedError):
        PerGenreClassifier().predict_proba(X)
    model = PerGenreClassifier(n_jobs=2).fit(X, Y)
    serial = PerGenreClassifier().fit(X, Y)
    np.testing.assert_allclose(model.predict_proba(X), serial.predict_proba(X))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert clone(model).get_params()["n_jobs"] == 2


def test_grid_search_and_scorers_on_posters():
    data = make_posters(n_samples=200, n_genres=3, size=(32, 24), random_state=0)
    pipe = make_pipeline(RGBStatsExtractor(), StandardScaler(),
                         PerGenreClassifier(LogisticRegression(max_iter=500)))
    search = GridSearchCV(pipe, {"pergenreclassifier__estimator__C": [0.01, 1.0]},
                          scoring="average_precision", cv=3)
    search.fit(data.images, data.target)
    assert search.best_score_ > data.target.mean() + 0.2
    scores = cross_val_score(pipe, data.images, data.target, cv=3, scoring="f1_macro")
    assert scores.mean() > 0.5

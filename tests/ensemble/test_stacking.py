import pickle
import re

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, ShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import f1_score
from sklearn.svm import SVC, LinearSVC

from skposter.datasets import make_posters
from skposter.ensemble import GenreStackingClassifier
from skposter.io import PosterLoader
from skposter.metrics import GENRE_SCORERS, genre_report
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import RGBStatsExtractor, make_metadata_preprocessor

MACRO_AP = GENRE_SCORERS["macro_ap"]


def _logistic():
    # liblinear: lbfgs runs ten times slower when BLAS threads compete for busy cores.
    return PerGenreClassifier(LogisticRegression(solver="liblinear"))


def _on(columns, model=None):
    """A base that sees only ``columns`` of the DataFrame."""
    return make_pipeline(make_column_transformer(("passthrough", columns)),
                         _logistic() if model is None else model)


@pytest.fixture(scope="module")
def complementary():
    """Genre "Left" shows in columns a*, "Right" in b*, "Both" needs a and b."""
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=["a0", "a1", "b0", "b1"])
    noise = rng.normal(scale=0.7, size=(600, 3))
    Y = pd.DataFrame({
        "Left": (X.a0 + X.a1 + noise[:, 0] > 0.5).astype(int),
        "Right": (X.b0 - X.b1 + noise[:, 1] > 0.5).astype(int),
        "Both": (X.a0 + X.b0 + noise[:, 2] > 1.0).astype(int),
    })
    return X[:400], Y[:400], X[400:], Y[400:]


def _left_right():
    return [("left", _on(["a0", "a1"])), ("right", _on(["b0", "b1"]))]


def _stack(**kwargs):
    return GenreStackingClassifier(_left_right(), _logistic(), random_state=0, **kwargs)


def test_stacking_beats_each_base_on_complementary_signals(complementary):
    X, Y, X_test, Y_test = complementary
    stack = GenreStackingClassifier(_left_right(), random_state=0).fit(X, Y)  # default meta-model
    stacked = MACRO_AP(stack, X_test, Y_test)
    for name, base in stack.named_estimators_.items():
        assert stacked > MACRO_AP(base, X_test, Y_test) + 0.15, name  # 0.84 vs 0.58, 0.62
    assert list(stack.classes_) == ["Left", "Right", "Both"]
    assert stack.n_features_in_ == 4 and list(stack.feature_names_in_) == list(X.columns)


def test_genre_meta_features_use_each_genres_own_columns(complementary):
    X, Y, X_test, _ = complementary
    by_genre = _stack().fit(X, Y)
    assert len(by_genre.final_estimators_) == 3
    assert all(est.n_features_in_ == 2 for est in by_genre.final_estimators_)
    # "Left" trusts the left base, "Right" the right one.
    left, right, _ = (est.estimators_[0].coef_.ravel() for est in by_genre.final_estimators_)
    assert left[0] > left[1] + 2 and right[1] > right[0] + 2
    every = clone(by_genre).set_params(meta_features="all").fit(X, Y)
    assert len(every.final_estimators_) == 1 and every.final_estimators_[0].n_features_in_ == 6
    assert every.predict_proba(X_test).shape == (200, 3)
    assert set(np.unique(every.predict(X_test))) == {0, 1}


def test_meta_model_learns_from_out_of_fold_probabilities(complementary):
    X, Y, _, _ = complementary
    # 1-nearest-neighbour probabilities are perfect in sample and poor out of fold:
    # a meta-model fitted in sample would trust it over the linear base.
    memorizer = PerGenreClassifier(KNeighborsClassifier(1), class_weight=None)
    stack = GenreStackingClassifier([("memorizer", memorizer), ("linear", _logistic())],
                                    _logistic(), random_state=0).fit(X, Y)
    for est in stack.final_estimators_:
        weight_memorizer, weight_linear = est.estimators_[0].coef_.ravel()
        assert weight_linear > weight_memorizer + 1


def test_bases_are_refitted_on_all_data(complementary):
    X, Y, X_test, _ = complementary
    stack = _stack(cv=3).fit(X, Y)
    alone = clone(_left_right()[0][1]).fit(X, Y)
    np.testing.assert_allclose(stack.named_estimators_.left.predict_proba(X_test),
                               alone.predict_proba(X_test))
    assert stack.estimators_[0] is stack.named_estimators_["left"]


def test_passthrough_needs_numeric_features(complementary):
    X, Y, X_test, _ = complementary
    stack = _stack(passthrough=True).fit(X, Y)
    assert all(est.n_features_in_ == 2 + 4 for est in stack.final_estimators_)
    assert stack.predict_proba(X_test).shape == (200, 3)
    with pytest.raises(ValueError, match=r"columns \['title'\] are not numeric"):
        clone(stack).fit(X.assign(title="x"), Y)


def test_drop_a_base_and_invalid_bases(complementary):
    X, Y, _, _ = complementary
    stack = _stack()
    dropped = clone(stack).set_params(right="drop").fit(X, Y)
    assert list(dropped.named_estimators_) == ["left"]
    assert all(est.n_features_in_ == 1 for est in dropped.final_estimators_)
    with pytest.raises(ValueError, match="all estimators are 'drop'"):
        clone(stack).set_params(left="drop", right="drop").fit(X, Y)
    with pytest.raises(ValueError, match=r"\['svm'\] have no predict_proba"):
        GenreStackingClassifier([("svm", PerGenreClassifier(LinearSVC()))]).fit(X, Y)
    with pytest.raises(ValueError, match="conflict with constructor"):
        GenreStackingClassifier([("cv", _logistic())]).fit(X, Y)


def test_native_multi_label_estimators_as_base_and_meta_model(complementary):
    X, Y, X_test, Y_test = complementary
    # A forest fitted on a genre matrix returns one (n, 2) array per genre.
    forest = _on(["a0", "a1", "b0", "b1"], RandomForestClassifier(30, random_state=0))
    stack = GenreStackingClassifier([*_left_right(), ("forest", forest)],
                                    RandomForestClassifier(30, random_state=0),
                                    meta_features="all", random_state=0).fit(X, Y)
    assert list(stack.classes_) == ["Left", "Right", "Both"]
    assert stack.predict_proba(X_test).shape == (200, 3)
    assert MACRO_AP(stack, X_test, Y_test) > 0.7  # the left and right bases: 0.58, 0.62


def test_class_labels_are_stacked_like_scikit_learn(complementary):
    X, Y, X_test, Y_test = complementary
    y = np.array(["left", "right", "neither"])[np.where(Y.Left, 0, np.where(Y.Right, 1, 2))]
    stack = _stack().fit(X, y)
    assert list(stack.classes_) == ["left", "neither", "right"]
    assert len(stack.final_estimators_) == 1
    assert stack.predict_proba(X_test).shape == (200, 3)
    assert set(stack.predict(X_test)) <= {"left", "neither", "right"}


def test_nested_params_pickle_and_parallel(complementary):
    X, Y, X_test, _ = complementary
    stack = _stack()
    params = stack.get_params()
    assert params["left"] is stack.estimators[0][1]
    assert "left__pergenreclassifier__estimator__C" in params
    stack.set_params(left__pergenreclassifier__estimator__C=0.5)
    assert stack.estimators[0][1][-1].estimator.C == 0.5
    serial = clone(stack).fit(X, Y)
    # Threads start at once; pickling, which processes would add, is checked below.
    with parallel_config(backend="threading"):
        parallel = clone(stack).set_params(n_jobs=2).fit(X, Y)
    np.testing.assert_allclose(parallel.predict_proba(X_test), serial.predict_proba(X_test))
    restored = pickle.loads(pickle.dumps(serial))
    np.testing.assert_array_equal(restored.predict_proba(X_test), serial.predict_proba(X_test))


def test_posters_and_metadata_in_one_frame_through_grid_search(tmp_path):
    data = make_posters(n_samples=120, n_genres=3, size=(32, 24), metadata=True,
                        directory=tmp_path, random_state=0)
    X = data.metadata.assign(path=data.paths)
    Y = pd.DataFrame(data.target, columns=data.target_names)
    train, test = np.arange(80), np.arange(80, 120)
    # The poster column reaches the image steps through a ColumnTransformer, or through
    # PosterLoader(column=...) on the whole frame: both give the same features.
    colours = make_column_transformer((make_pipeline(PosterLoader(), RGBStatsExtractor()), "path"))
    np.testing.assert_allclose(
        colours.fit_transform(X),
        make_pipeline(PosterLoader(column="path"), RGBStatsExtractor()).fit_transform(X))
    poster = make_pipeline(colours, StandardScaler(), _logistic())
    forest = make_pipeline(make_metadata_preprocessor(),
                           PerGenreClassifier(RandomForestClassifier(30, random_state=0)))
    # SVC(probability=True) is deprecated since scikit-learn 1.9 in favour of this;
    # isotonic, as sigmoid calibration runs lbfgs (slow when BLAS threads compete).
    svc = make_pipeline(make_metadata_preprocessor(), PerGenreClassifier(
        CalibratedClassifierCV(SVC(), method="isotonic", ensemble=False, cv=2)))
    stack = GenreStackingClassifier([("poster", poster), ("forest", forest), ("svc", svc)],
                                    _logistic(), cv=2, random_state=0)
    # One validation split keeps the search to three fits of the whole stack.
    search = GridSearchCV(stack, {"forest__pergenreclassifier__estimator__max_depth": [2, None]},
                          scoring=MACRO_AP, cv=ShuffleSplit(1, test_size=0.3, random_state=0))
    search.fit(X.iloc[train], Y.iloc[train])
    model = search.best_estimator_
    assert list(model.classes_) == ["Drama", "Comedy", "Action"]
    proba = model.predict_proba(X.iloc[test])
    report = genre_report(Y.iloc[test], proba, y_prior=Y.iloc[train])
    scores = report.summary["macro_ap"]
    assert scores["model"] > scores["prior"] + 0.3
    assert scores["model"] >= MACRO_AP(model.named_estimators_.poster, X.iloc[test], Y.iloc[test])


def test_predict_decides_with_thresholds_tuned_out_of_fold(complementary):
    X, Y, X_test, Y_test = complementary
    tuned = _stack().fit(X, Y)
    proba = tuned.predict_proba(X_test)
    np.testing.assert_array_equal(tuned.predict(X_test), proba >= tuned.thresholds_)
    assert tuned.cv_thresholds_.shape == (5, 3) and (tuned.thresholds_ > tuned.floors_).all()
    own = _stack(scoring=None).fit(X, Y)
    assert not hasattr(own, "thresholds_")
    np.testing.assert_array_equal(own.predict_proba(X_test), proba)
    # Balanced meta-models cut at 0.5 over-predict; micro-F1 thresholds do not.
    micro = [f1_score(Y_test, m.predict(X_test), average="micro") for m in (tuned, own)]
    assert micro[0] > micro[1]
    # A refit without scoring drops the old thresholds.
    assert not hasattr(clone(tuned).set_params(scoring=None).fit(X, Y), "thresholds_")
    tuned.set_params(scoring=None).fit(X, Y)
    assert not hasattr(tuned, "thresholds_")


def test_stack_never_leaves_a_poster_without_a_genre_when_asked(complementary):
    X, Y, X_test, _ = complementary
    pred = _stack(at_least_one=True).fit(X, Y).predict(X_test)
    assert (pred.sum(axis=1) >= 1).all()


def test_verbose_counts_every_fit_of_bases_and_meta_models(capsys):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] < 0]).astype(int)
    bases = [("first", _logistic()), ("second", _logistic())]
    GenreStackingClassifier(bases, cv=2, random_state=0).fit(X, Y)
    assert capsys.readouterr() == ("", "")
    GenreStackingClassifier(bases, cv=2, random_state=0, verbose=1).fit(X, Y)
    # 2 bases x (2 folds + final fit) + 3 meta-models x (1 fit + 2 threshold folds)
    assert re.search(r"stacking: 100%.*\b15/15\b", capsys.readouterr().err)

"""Metadata routing, configuration in workers, validation and delegation of the genre
meta-estimators; ClassifierChain inside threshold tuning."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from joblib import parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, KFold, cross_validate
from sklearn.multioutput import ClassifierChain
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError

from skposter.metrics import GENRE_SCORERS
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier
from skposter.multilabel._tuning import genre_folds


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    n = 240
    groups = np.repeat(np.arange(24), n // 24)  # 24 films, 10 posters each
    X = rng.normal(size=(n, 4))
    X[:, 3] = groups  # the group of each row, for the recorder below
    logits = X[:, :3] + rng.normal(size=(n, 3)) + [0.0, -0.8, -1.2]
    Y = pd.DataFrame((logits > 0).astype(int), columns=["Drama", "Horror", "Western"])
    return X, Y, groups


def _fast(**kwargs):
    return LogisticRegression(solver="liblinear", **kwargs)


# Group ids seen in training by each fitted recorder, checked at every prediction.
_LEAKS = []
_PREDICTIONS = []


class _GroupRecorder(LogisticRegression):
    """Logistic regression that fails loudly if it predicts a group it was trained on."""

    def fit(self, X, y, sample_weight=None):
        self.train_groups_ = set(np.asarray(X)[:, 3])
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        seen = set(np.asarray(X)[:, 3]) & self.train_groups_
        _PREDICTIONS.append(len(X))
        if seen:
            _LEAKS.append(sorted(seen))
        return super().predict_proba(X)


def test_groups_reach_the_inner_splitter_through_cross_validate(problem):
    X, Y, groups = problem
    model = GenreThresholdClassifier(PerGenreClassifier(_GroupRecorder(solver="liblinear")),
                                     cv=GroupKFold(3))
    _LEAKS.clear(), _PREDICTIONS.clear()
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_validate(model, X, Y, cv=GroupKFold(4), params={"groups": groups},
                                scoring=GENRE_SCORERS["micro_f1"], return_estimator=True)
    # 4 outer fits, each tuning on 3 inner folds: every prediction, inner and outer,
    # is on films its model never saw.
    assert _PREDICTIONS and not _LEAKS
    assert len(scores["estimator"]) == 4 and (scores["test_score"] > 0.3).all()
    for fitted in scores["estimator"]:
        assert fitted.cv_thresholds_.shape == (3, 3)


def test_inner_group_folds_keep_each_film_in_one_fold(problem):
    X, Y, groups = problem
    folds = genre_folds(GroupKFold(3), X, Y, random_state=0, groups=groups)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    # What the estimator tunes on are those folds: its thresholds per fold match.
    with sklearn.config_context(enable_metadata_routing=True):
        routed = GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=GroupKFold(3)).fit(
            X, Y, groups=groups)
    by_hand = GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=folds).fit(X, Y)
    np.testing.assert_array_equal(routed.cv_thresholds_, by_hand.cv_thresholds_)
    np.testing.assert_array_equal(routed.thresholds_, by_hand.thresholds_)


def test_groups_go_to_the_splitter_without_routing_too(problem):
    X, Y, groups = problem
    # Before, groups went on to LogisticRegression.fit: a TypeError.
    model = GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=GroupKFold(3))
    folds = list(GroupKFold(3).split(X, Y, groups))
    by_hand = GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=folds).fit(X, Y)
    np.testing.assert_array_equal(model.fit(X, Y, groups=groups).thresholds_,
                                  by_hand.thresholds_)


def _plain(**kwargs):
    # Without class weights, so that user weights visibly move the probabilities.
    return PerGenreClassifier(_fast(**kwargs), class_weight=None)


def test_sample_weight_without_routing_is_unchanged(problem):
    X, Y, _ = problem
    weights = np.where(Y["Western"] == 1, 10.0, 1.0)
    model = GenreThresholdClassifier(_plain(), random_state=0)
    weighted = clone(model).fit(X, Y, sample_weight=weights)
    assert weighted.thresholds_[2] > clone(model).fit(X, Y).thresholds_[2] + 0.1
    # The weights reach every clone, combined with its genre's class weights.
    direct = _plain().fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(weighted.estimator_.predict_proba(X), direct.predict_proba(X))


def test_sample_weight_is_routed_where_requested(problem):
    X, Y, _ = problem
    weights = np.where(Y["Western"] == 1, 10.0, 1.0)
    unrouted = GenreThresholdClassifier(_plain(), random_state=0).fit(
        X, Y, sample_weight=weights)
    unweighted = GenreThresholdClassifier(_plain(), random_state=0).fit(X, Y)
    default_outside = GenreThresholdClassifier(random_state=0).fit(X, Y, sample_weight=weights)
    with sklearn.config_context(enable_metadata_routing=True):
        requested = PerGenreClassifier(_fast().set_fit_request(sample_weight=True),
                                       class_weight=None)
        routed = GenreThresholdClassifier(requested, random_state=0).fit(
            X, Y, sample_weight=weights)
        # The default estimator requests the weights itself.
        default = GenreThresholdClassifier(random_state=0).fit(X, Y, sample_weight=weights)
        with pytest.raises(UnsetMetadataPassedError, match="LogisticRegression"):
            GenreThresholdClassifier(_plain()).fit(X, Y, sample_weight=weights)
        refused = PerGenreClassifier(_fast().set_fit_request(sample_weight=False),
                                     class_weight=None)
        # Weights nobody asks for are refused, as scikit-learn's routers do.
        with pytest.raises(TypeError, match="not routed to any object"):
            GenreThresholdClassifier(refused).fit(X, Y, sample_weight=weights)
        assert not hasattr(PerGenreClassifier(), "set_fit_request")  # a router only
    np.testing.assert_array_equal(routed.thresholds_, unrouted.thresholds_)
    np.testing.assert_array_equal(routed.scores_, unrouted.scores_)
    np.testing.assert_array_equal(default.thresholds_, default_outside.thresholds_)
    assert not np.array_equal(routed.thresholds_, unweighted.thresholds_)


def test_per_genre_routes_other_metadata_to_its_estimator(problem):
    X, Y, _ = problem

    class Scaled(LogisticRegression):
        def fit(self, X, y, sample_weight=None, scale=1.0):
            self.scale_ = scale
            return super().fit(X * scale, y, sample_weight=sample_weight)

    with sklearn.config_context(enable_metadata_routing=True):
        model = PerGenreClassifier(Scaled(solver="liblinear").set_fit_request(scale=True))
        fitted = model.fit(X, Y, scale=2.0)
        router = model.get_metadata_routing()
        assert router.consumes("fit", ["sample_weight", "scale"]) == {"scale"}
        both = PerGenreClassifier(Scaled().set_fit_request(scale=True, sample_weight=True))
        assert both.get_metadata_routing().consumes("fit", ["sample_weight", "scale"]) == {
            "sample_weight", "scale"}
    assert all(est.scale_ == 2.0 for est in fitted.estimators_)


def test_threshold_router_names_estimator_and_splitter():
    with sklearn.config_context(enable_metadata_routing=True):
        router = GenreThresholdClassifier(cv=GroupKFold(3)).get_metadata_routing()
        assert router.consumes("fit", ["groups", "sample_weight"]) == {"groups", "sample_weight"}
        plain = GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=KFold(3))
        assert plain.get_metadata_routing().consumes("fit", ["groups", "sample_weight"]) == set()


class _ConfigRecorder(ClassifierMixin, BaseEstimator):
    """Records the scikit-learn configuration its fit runs under."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.config_ = sklearn.get_config()["transform_output"]
        _CONFIGS.append(self.config_)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


_CONFIGS = []


@pytest.mark.filterwarnings("ignore:genres .* constant probability:UserWarning")
def test_configuration_reaches_parallel_workers(problem):
    X, Y, _ = problem
    # Threads start with scikit-learn's default configuration (it is thread-local):
    # only sklearn.utils.parallel carries the caller's into them.
    _CONFIGS.clear()
    with parallel_config(backend="threading"), sklearn.config_context(transform_output="pandas"):
        model = PerGenreClassifier(_ConfigRecorder(), class_weight=None, n_jobs=2).fit(X, Y)
        GenreThresholdClassifier(PerGenreClassifier(_ConfigRecorder(), class_weight=None),
                                 cv=3, n_jobs=2, random_state=0).fit(X, Y)
    assert [est.config_ for est in model.estimators_] == ["pandas"] * 3
    assert len(_CONFIGS) == 3 + 3 * (3 + 1) and set(_CONFIGS) == {"pandas"}


def test_fit_validates_parameters_unless_told_to_skip(problem):
    X, Y, _ = problem
    for model in (PerGenreClassifier(_fast(), min_support=0),
                  GenreThresholdClassifier(PerGenreClassifier(_fast()), cv=3, min_support=0)):
        with pytest.raises(InvalidParameterError, match="min_support"):
            clone(model).fit(X, Y)
        with sklearn.config_context(skip_parameter_validation=True):
            clone(model).fit(X, Y)
    # Nested estimators are validated too (prefer_skip_nested_validation=False).
    with pytest.raises(InvalidParameterError, match="C"):
        GenreThresholdClassifier(PerGenreClassifier(_fast(C=-1.0)), cv=3).fit(X, Y)


def test_availability_looks_at_the_fitted_estimator_first(problem):
    X, Y, _ = problem
    per_genre = PerGenreClassifier(_fast()).fit(X, Y)
    per_genre.set_params(estimator=LinearSVC())
    # What was fitted has predict_proba; the new unfitted estimator has not.
    assert hasattr(per_genre, "predict_proba")
    assert not hasattr(clone(per_genre), "predict_proba")
    chain = GenreThresholdClassifier(ClassifierChain(_fast()), cv=3, random_state=0).fit(X, Y)
    chain.set_params(estimator=PerGenreClassifier(_fast()))
    assert hasattr(chain, "decision_function")
    assert chain.decision_function(X).shape == (len(X), 3)
    assert not hasattr(clone(chain), "decision_function")


def test_classifier_chain_inside_threshold_tuning(problem):
    X, Y, _ = problem
    chain = ClassifierChain(_fast(), order=[0, 1, 2])
    model = GenreThresholdClassifier(chain, cv=3, random_state=0).fit(X, Y)
    assert isinstance(model.estimator_.classes_, list)  # what broke cross_val_predict
    assert list(model.classes_) == ["Drama", "Horror", "Western"]
    assert model.thresholds_.shape == (3,) and model.cv_thresholds_.shape == (3, 3)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, model.estimator_.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), proba >= model.thresholds_)
    plain = f1_score(Y, clone(chain).fit(X, Y).predict(X), average="macro")
    assert f1_score(Y, model.predict(X), average="macro") > plain

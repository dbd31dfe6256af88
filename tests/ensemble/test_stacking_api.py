"""GenreStackingClassifier as scikit-learn's stacking: ensemble base, transform and
feature names, sample weights, metadata routing, worker configuration, ClassifierChain."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from joblib import parallel_config
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.multioutput import ClassifierChain
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skposter.ensemble import GenreStackingClassifier
from skposter.metrics import GENRE_SCORERS
from skposter.multilabel import PerGenreClassifier

MACRO_AP = GENRE_SCORERS["macro_ap"]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a0", "a1", "b0", "b1"])
    noise = rng.normal(scale=0.7, size=(300, 3))
    Y = pd.DataFrame({
        "Left": (X.a0 + X.a1 + noise[:, 0] > 0.5).astype(int),
        "Right": (X.b0 - X.b1 + noise[:, 1] > 0.5).astype(int),
        "Both": (X.a0 + X.b0 + noise[:, 2] > 1.0).astype(int),
    })
    return X, Y


def _fast(**kwargs):
    return LogisticRegression(solver="liblinear", **kwargs)


def _logistic(**kwargs):
    return PerGenreClassifier(_fast(**kwargs))


def _on(columns, model=None):
    return make_pipeline(make_column_transformer(("passthrough", columns)),
                         _logistic() if model is None else model)


def _stack(**kwargs):
    bases = [("left", _on(["a0", "a1"])), ("right", _on(["b0", "b1"]))]
    return GenreStackingClassifier(bases, _logistic(), cv=3, random_state=0, **kwargs)


def test_built_on_scikit_learns_heterogeneous_ensemble(problem):
    X, Y = problem
    stack = _stack()
    assert isinstance(stack, _BaseHeterogeneousEnsemble)
    assert list(stack.named_estimators) == ["left", "right"]
    with pytest.raises(ValueError, match="should be a classifier"):
        GenreStackingClassifier([("linear", LinearRegression())]).fit(X, Y)
    with pytest.raises(ValueError, match="non-empty list"):
        GenreStackingClassifier([]).fit(X, Y)


def test_fitted_state_is_public(problem):
    X, Y = problem
    by_genre = _stack().fit(X, Y)
    assert by_genre.meta_features_ == "genre" and not hasattr(by_genre, "_by_genre")
    every = _stack(meta_features="all").fit(X, Y)
    assert every.meta_features_ == "all"
    labels = _stack().fit(X, np.where(Y.Left, "left", "other"))
    assert labels.meta_features_ == "all"  # a 1-D target: one meta-model on everything
    # A model pickled before meta_features_ existed kept the choice privately.
    state = by_genre.__getstate__()
    state["_by_genre"] = state.pop("meta_features_") == "genre"
    old = GenreStackingClassifier.__new__(GenreStackingClassifier)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X), by_genre.predict_proba(X))


def test_transform_gives_the_bases_probabilities_named_by_base_and_genre(problem):
    X, Y = problem
    stack = _stack().fit(X, Y)
    meta = stack.transform(X)
    expected = np.hstack([stack.named_estimators_[name].predict_proba(X)
                          for name in ("left", "right")])
    np.testing.assert_allclose(meta, expected)
    assert list(stack.get_feature_names_out()) == [
        "left__Left", "left__Right", "left__Both", "right__Left", "right__Right", "right__Both"]
    # What each per-genre meta-model reads is its genre's columns of transform.
    proba = stack.predict_proba(X)
    for k, est in enumerate(stack.final_estimators_):
        np.testing.assert_allclose(proba[:, k], est.predict_proba(meta[:, [k, 3 + k]])[:, 1])
    framed = clone(stack).set_output(transform="pandas").fit(X, Y).transform(X)
    assert isinstance(framed, pd.DataFrame)
    assert list(framed.columns) == list(stack.get_feature_names_out())
    assert (framed.index == X.index).all()


def test_transform_with_passthrough_and_class_labels(problem):
    X, Y = problem
    passing = _stack(passthrough=True).fit(X, Y)
    assert passing.transform(X).shape == (300, 6 + 4)
    assert list(passing.get_feature_names_out())[-4:] == ["a0", "a1", "b0", "b1"]
    y = np.array(["left", "right", "neither"])[np.where(Y.Left, 0, np.where(Y.Right, 1, 2))]
    labels = _stack().set_params(right="drop").fit(X, y)
    assert list(labels.get_feature_names_out()) == ["left__left", "left__neither",
                                                    "left__right"]
    assert labels.transform(X).shape == (300, 3)


def test_pickled_transform_and_names_survive(problem):
    X, Y = problem
    stack = _stack().fit(X, Y)
    restored = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(restored.transform(X), stack.transform(X))
    assert list(restored.get_feature_names_out()) == list(stack.get_feature_names_out())


def _direct_bases(final=None):
    # Bases whose fit takes sample_weight (no pipeline in front).
    return GenreStackingClassifier([("linear", _logistic()),
                                    ("scaled", PerGenreClassifier(_fast(C=0.1)))],
                                   _logistic() if final is None else final, cv=3,
                                   random_state=0)


def test_sample_weight_reaches_bases_and_meta_models_without_routing(problem):
    X, Y = problem
    weights = np.where(Y.Both == 1, 5.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every estimator takes them: no warning
        weighted = _direct_bases().fit(X, Y, sample_weight=weights)
    plain = _direct_bases().fit(X, Y)
    ones = _direct_bases().fit(X, Y, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(ones.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(ones.thresholds_, plain.thresholds_)
    alone = _logistic().fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(weighted.named_estimators_.linear.predict_proba(X),
                               alone.predict_proba(X))
    assert not np.allclose(weighted.predict_proba(X), plain.predict_proba(X))
    # A pipeline's fit takes no sample_weight: it is named, and fitted unweighted.
    with pytest.warns(UserWarning, match=r"\['left', 'right'\] take no sample_weight"):
        piped = _stack().fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(piped.named_estimators_.left.predict_proba(X),
                               _stack().fit(X, Y).named_estimators_.left.predict_proba(X))
    with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
        _stack().fit(X, Y, scale=2.0)


def test_sample_weight_is_routed_into_pipelines_when_requested(problem):
    X, Y = problem
    weights = np.where(Y.Both == 1, 5.0, 1.0)
    unrouted = _direct_bases().fit(X, Y, sample_weight=weights)
    with sklearn.config_context(enable_metadata_routing=True):
        bases = [("linear", PerGenreClassifier(_fast().set_fit_request(sample_weight=True))),
                 ("scaled", PerGenreClassifier(_fast(C=0.1).set_fit_request(sample_weight=True)))]
        final = PerGenreClassifier(_fast().set_fit_request(sample_weight=True))
        routed = GenreStackingClassifier(bases, final, cv=3, random_state=0).fit(
            X, Y, sample_weight=weights)
        requested = PerGenreClassifier(_fast().set_fit_request(sample_weight=True))
        piped = GenreStackingClassifier(
            [("left", _on(["a0", "a1"], requested)), ("right", _on(["b0", "b1"]))],
            final, cv=3, random_state=0)
        assert piped.get_metadata_routing().consumes("fit", ["sample_weight"]) == {
            "sample_weight"}
        with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError):
            piped.fit(X, Y, sample_weight=weights)  # the right base has not said
        piped.set_params(right=_on(["b0", "b1"], PerGenreClassifier(
            _fast().set_fit_request(sample_weight=False))))
        piped.fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(routed.predict_proba(X), unrouted.predict_proba(X))
    np.testing.assert_array_equal(routed.thresholds_, unrouted.thresholds_)
    weighted_left = _on(["a0", "a1"]).fit(X, Y, pergenreclassifier__sample_weight=weights)
    np.testing.assert_allclose(piped.named_estimators_.left.predict_proba(X),
                               weighted_left.predict_proba(X))
    np.testing.assert_allclose(piped.named_estimators_.right.predict_proba(X),
                               _on(["b0", "b1"]).fit(X, Y).predict_proba(X))


def test_groups_reach_the_stacking_folds(problem):
    X, Y = problem
    groups = np.repeat(np.arange(30), 10)
    folds = list(GroupKFold(3).split(X, Y, groups))
    by_hand = _stack().set_params(cv=folds).fit(X, Y)
    grouped = _stack().set_params(cv=GroupKFold(3)).fit(X, Y, groups=groups)
    np.testing.assert_array_equal(grouped.cv_thresholds_, by_hand.cv_thresholds_)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = _stack().set_params(cv=GroupKFold(3)).fit(X, Y, groups=groups)
    np.testing.assert_array_equal(routed.cv_thresholds_, by_hand.cv_thresholds_)


def test_classifier_chain_as_base_and_meta_model(problem):
    X, Y = problem
    chain = ClassifierChain(_fast(), order=[0, 1, 2])
    stack = GenreStackingClassifier([("chain", chain), ("linear", _logistic())], _logistic(),
                                    cv=3, random_state=0).fit(X, Y)
    assert isinstance(stack.named_estimators_.chain.classes_, list)
    assert stack.predict_proba(X).shape == (300, 3)
    assert stack.transform(X).shape == (300, 6)
    meta_chain = GenreStackingClassifier([("linear", _logistic())], ClassifierChain(_fast()),
                                         meta_features="all", cv=3, random_state=0).fit(X, Y)
    proba = meta_chain.predict_proba(X)
    meta_model = meta_chain.final_estimators_[0]
    np.testing.assert_allclose(proba, meta_model.predict_proba(meta_chain.transform(X)))
    np.testing.assert_array_equal(meta_chain.predict(X), proba >= meta_chain.thresholds_)
    assert MACRO_AP(meta_chain, X, Y) > 0.7


def test_configuration_reaches_parallel_workers(problem):
    X, Y = problem
    seen = []

    class Recorder(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append(sklearn.get_config()["assume_finite"])
            return super().fit(X, y, sample_weight=sample_weight)

    stack = GenreStackingClassifier([("a", PerGenreClassifier(Recorder(solver="liblinear")))],
                                    PerGenreClassifier(Recorder(solver="liblinear")), cv=2,
                                    n_jobs=2, random_state=0)
    with parallel_config(backend="threading"), sklearn.config_context(assume_finite=True):
        stack.fit(X, Y)
    # Bases: 3 genres x (2 folds + refit); meta-models: 3 fits + 3 x 2 tuning folds.
    assert len(seen) == 18 and all(seen)


def test_fit_validates_parameters_unless_told_to_skip(problem):
    X, Y = problem
    with pytest.raises(InvalidParameterError, match="at_least_one"):
        _stack(at_least_one=0).fit(X, Y)
    with sklearn.config_context(skip_parameter_validation=True):
        assert _stack(at_least_one=0).fit(X, Y).predict(X).shape == (300, 3)

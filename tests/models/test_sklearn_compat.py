"""scikit-learn compatibility: tags, meta-estimators and scorers.

scikeras 0.13's KerasClassifier is not a classifier to scikit-learn 1.9 (its mixins are
in the wrong order), which broke soft voting, calibration and the roc_auc scorer; each
of these is exercised here on the subclass. scikit-learn's estimator checks run in
tests/test_common.py with every other estimator's.
"""

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import get_tags

from skposter.models import KerasPosterClassifier


@pytest.fixture(scope="module")
def net(tiny):
    return KerasPosterClassifier(**tiny)


@pytest.fixture(scope="module")
def pixels():
    """A classifier on raw pixels, the other member of the ensembles."""
    flatten = FunctionTransformer(lambda X: X.reshape(len(X), -1) / 255.0)
    return make_pipeline(flatten, LogisticRegression(max_iter=500))


def test_tags_declare_a_multilabel_classifier_of_images():
    model = KerasPosterClassifier()
    tags = get_tags(model)
    assert is_classifier(model) and model._estimator_type == "classifier"
    assert tags.estimator_type == "classifier"
    assert tags.classifier_tags.multi_label
    assert tags.target_tags.required and tags.target_tags.multi_output
    assert not tags.input_tags.two_d_array and tags.input_tags.string


def test_stacking_with_class_labels(net, pixels, posters):
    stack = StackingClassifier([("net", net), ("pixels", pixels)], cv=2)
    proba = stack.fit(posters.images, posters.target[:, 0]).predict_proba(posters.images)
    assert proba.shape == (48, 2)


def test_cross_val_average_precision_on_a_genre_matrix(net, posters):
    scores = cross_val_score(net, posters.images, posters.target, cv=2,
                             scoring="average_precision")
    assert scores.shape == (2,) and np.all((scores > 0) & (scores <= 1))


def test_grid_search_tunes_architecture_sizes(net, posters):
    # One held-out split (of the 48 posters) keeps it to two fits.
    split = [(np.arange(32), np.arange(32, 48))]
    search = GridSearchCV(net, {"filters": [(4,), (8,)]}, cv=split,
                          scoring="average_precision", refit=False)
    search.fit(posters.images, posters.target)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["filters"] in [(4,), (8,)]


def test_soft_voting_and_roc_auc_scorer(net, pixels, posters):
    y = posters.target[:, 0]
    # Long enough for batch norm's moving statistics to settle, so the AUC means something.
    trained = clone(net).set_params(epochs=6)
    vote = VotingClassifier([("net", trained), ("pixels", pixels)], voting="soft")
    proba = vote.fit(posters.images, y).predict_proba(posters.images)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    fitted_net = vote.named_estimators_["net"]
    auc = get_scorer("roc_auc")(fitted_net, posters.images, y)
    assert 0.5 < auc <= 1  # training data: the net must rank it better than chance


def test_calibrated_classifier_on_a_binary_target(net, posters):
    calibrated = CalibratedClassifierCV(net, cv=2).fit(posters.images, posters.target[:, 0])
    proba = calibrated.predict_proba(posters.images)
    assert proba.shape == (48, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from skposter.metrics import genre_report


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    y_true = (rng.random((200, 4)) < [0.5, 0.4, 0.2, 0.1]).astype(int)
    y_score = np.clip(y_true * 0.4 + rng.random((200, 4)) * 0.6, 0, 1)
    return y_true, y_score


def test_matches_scikit_learn(scores):
    y_true, y_score = scores
    report = genre_report(y_true, y_score, target_names=list("abcd"))
    model = report.summary.loc["model"]
    y_pred = (y_score >= 0.5).astype(int)
    assert model["micro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro"))
    assert model["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert model["macro_ap"] == pytest.approx(average_precision_score(y_true, y_score))
    assert list(report.per_genre.index) == list("abcd")
    assert report.per_genre.loc["c", "support"] == y_true[:, 2].sum()


def test_baselines_are_below_a_useful_model(scores):
    y_true, y_score = scores
    summary = genre_report(y_true, y_score).summary
    assert summary.loc["prior", "macro_ap"] == pytest.approx(y_true.mean(axis=0).mean())
    assert summary.loc["prior", "macro_roc_auc"] == pytest.approx(0.5)
    assert summary.loc["model", "macro_ap"] > summary.loc["stratified", "macro_ap"]
    assert summary.loc["model", "macro_f1"] > summary.loc["prior", "macro_f1"]


def test_prior_from_training_labels(scores):
    y_true, y_score = scores
    y_train = np.zeros_like(y_true)
    y_train[:, 0] = 1  # a prior that always says genre 0
    summary = genre_report(y_true, y_score, y_prior=y_train).summary
    assert summary.loc["prior", "micro_f1"] == pytest.approx(
        f1_score(y_true, np.tile([1, 0, 0, 0], (200, 1)), average="micro")
    )


def test_genre_without_positives_is_nan_not_zero(scores):
    y_true, y_score = scores
    y_true[:, 3] = 0
    report = genre_report(y_true, y_score)
    assert np.isnan(report.per_genre["average_precision"].iloc[3])
    assert report.summary.loc["model", "macro_ap"] == pytest.approx(
        report.per_genre["average_precision"].iloc[:3].mean()
    )


def test_printable_and_serialisable(scores):
    report = genre_report(*scores, target_names=["Drama", "Comedy", "War", "Western"])
    text = str(report)
    assert "Western" in text and "stratified" in text and "macro_ap" in text
    json.dumps(report.to_dict())


def test_prior_row_predicts_the_most_frequent_genres_as_users_would(scores):
    y_true, y_score = scores
    report = genre_report(y_true, y_score, y_prior=y_true[:100])
    # 1.2 genres per sample on average: the prior row predicts genre 0 everywhere.
    expected = np.tile([1, 0, 0, 0], (200, 1))
    prior = report.summary.loc["prior"]
    assert prior["micro_f1"] == pytest.approx(f1_score(y_true, expected, average="micro"))
    assert prior["micro_f1"] > 0.3 and prior["genres_per_poster"] == 1
    assert report.true_genres_per_poster == pytest.approx(y_true.sum(axis=1).mean())
    assert report.summary.loc["model", "genres_per_poster"] == pytest.approx(
        (y_score >= 0.5).sum(axis=1).mean())
    np.testing.assert_allclose(report.per_genre["predicted_rate"], (y_score >= 0.5).mean(axis=0))


def test_thresholds_and_their_spread_per_genre(scores):
    y_true, y_score = scores
    thresholds = np.array([0.5, 0.4, 0.3, 0.6])
    folds = np.array([[0.5, 0.3, 0.3, 0.5], [0.5, 0.5, 0.3, 0.7]])
    report = genre_report(y_true, y_score, thresholds=thresholds, cv_thresholds=folds)
    np.testing.assert_allclose(report.per_genre["threshold"], thresholds)
    np.testing.assert_allclose(report.per_genre["threshold_sd"], [0, 0.1, 0, 0.1])
    # Without y_pred, the thresholds decide.
    assert report.summary.loc["model", "micro_f1"] == pytest.approx(
        f1_score(y_true, y_score >= thresholds, average="micro"))
    with pytest.raises(ValueError, match="one value per genre"):
        genre_report(y_true, y_score, thresholds=[0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_score": np.zeros((3, 2))}, "shape"),
        ({"target_names": ["a"]}, "target_names"),
        ({"y_true": np.full((5, 2), 2)}, "0/1"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"y_true": np.eye(5, 2, dtype=int), "y_score": np.zeros((5, 2))} | kwargs
    with pytest.raises(ValueError, match=match):
        genre_report(**args)

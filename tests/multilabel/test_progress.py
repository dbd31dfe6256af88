"""Progress bars of the multi-label estimators: on standard error with verbose, else none."""

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier, _per_genre


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] < 0]).astype(int)
    return X, Y


def _logistic(**params):
    return PerGenreClassifier(LogisticRegression(solver="liblinear"), **params)


def test_threshold_tuning_counts_the_inner_folds_and_the_final_fit(problem, capsys):
    GenreThresholdClassifier(_logistic(), cv=3, random_state=0, verbose=1).fit(*problem)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(r"threshold tuning: 100%.*\b4/4\b.*final fit", captured.err)


def test_fixed_thresholds_count_the_one_fit(problem, capsys):
    GenreThresholdClassifier(_logistic(), thresholds=0.3, verbose=1).fit(*problem)
    assert re.search(r"threshold tuning: 100%.*\b1/1\b", capsys.readouterr().err)


def test_per_genre_bar_counts_genres_and_only_shows_for_slow_fits(problem, capsys,
                                                                   monkeypatch):
    _logistic(verbose=1).fit(*problem)
    assert capsys.readouterr().err == ""  # faster than the bar's delay
    monkeypatch.setattr(_per_genre, "_BAR_DELAY", 0)
    _logistic(verbose=1).fit(*problem)
    assert re.search(r"fitting genres: .*/3", capsys.readouterr().err)


def test_the_default_estimator_gets_the_verbosity(problem):
    model = GenreThresholdClassifier(cv=2, verbose=1).fit(*problem)
    assert model.estimator_.verbose == 1 and model.estimator is None


@pytest.mark.parametrize("model", [
    GenreThresholdClassifier(_logistic(verbose=0), cv=2, random_state=0),
    _logistic(),
], ids=["thresholds", "per_genre"])
def test_verbose_0_prints_nothing(problem, capsys, monkeypatch, model):
    monkeypatch.setattr(_per_genre, "_BAR_DELAY", 0)
    model.fit(*problem)
    assert capsys.readouterr() == ("", "")

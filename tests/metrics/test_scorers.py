import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, get_scorer
from sklearn.model_selection import GridSearchCV

from skposter.metrics import GENRE_SCORERS, GenreScorer, genre_report, genre_summary_scorer
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier


def _logistic(**kwargs):
    # liblinear: lbfgs runs ten times slower when BLAS threads compete for busy cores.
    return PerGenreClassifier(LogisticRegression(solver="liblinear", **kwargs))


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    noise = rng.normal(size=(300, 3))
    Y = pd.DataFrame({
        "Drama": (X[:, 0] + noise[:, 0] > 0).astype(int),
        "Comedy": (X[:, 1] + noise[:, 1] > 1).astype(int),
        "Horror": (X[:, 2] + noise[:, 2] > 1.5).astype(int),
    })
    return X, Y


def test_scores_agree_with_the_report(problem):
    X, Y = problem
    model = _logistic().fit(X[:200], Y[:200])
    X_test, Y_test = X[200:], Y[200:]
    summary = genre_report(Y_test, model.predict_proba(X_test), y_pred=model.predict(X_test)
                           ).summary.loc["model"]
    together = genre_summary_scorer(model, X_test, Y_test)
    assert set(together) == set(GENRE_SCORERS)
    for name, scorer in GENRE_SCORERS.items():
        expected = -summary["hamming_loss"] if name == "neg_hamming_loss" else summary[name]
        assert scorer(model, X_test, Y_test) == pytest.approx(expected), name
        assert together[name] == pytest.approx(expected), name


def test_two_named_genres_where_scikit_learn_scorers_fail(problem):
    X, Y = problem
    model = _logistic().fit(X, Y[["Drama", "Comedy"]])
    # Two genre names make classes_ look binary to scikit-learn's scorers.
    with pytest.raises(ValueError, match="pos_label"):
        get_scorer("average_precision")(model, X, Y[["Drama", "Comedy"]])
    assert GENRE_SCORERS["macro_ap"](model, X, Y[["Drama", "Comedy"]]) > 0.7


def test_genres_without_positives_are_left_out_of_macro_averages(problem):
    X, Y = problem
    model = _logistic().fit(X, Y)
    proba = model.predict_proba(X)
    no_horror = Y.assign(Horror=0)
    expected = np.mean([average_precision_score(Y[g], proba[:, k])
                        for k, g in enumerate(["Drama", "Comedy"])])
    assert GENRE_SCORERS["macro_ap"](model, X, no_horror) == pytest.approx(expected)
    assert np.isfinite(GENRE_SCORERS["macro_roc_auc"](model, X, no_horror))


def test_f1_scorers_use_the_models_own_decisions(problem):
    X, Y = problem
    model = GenreThresholdClassifier(_logistic(), thresholds=[0.5, 0.3, 0.2]).fit(X, Y)
    expected = f1_score(Y, model.predict(X), average="macro")
    assert GENRE_SCORERS["macro_f1"](model, X, Y) == pytest.approx(expected)
    assert expected != pytest.approx(f1_score(Y, model.predict_proba(X) >= 0.5, average="macro"))


def test_list_of_arrays_probabilities(problem):
    X, Y = problem
    # A forest fitted on a genre matrix returns one (n, 2) array per genre.
    forest = RandomForestClassifier(20, random_state=0).fit(X, Y)
    proba = np.column_stack([p[:, 1] for p in forest.predict_proba(X)])
    expected = genre_report(Y, proba).summary.loc["model", "macro_ap"]
    assert GENRE_SCORERS["macro_ap"](forest, X, Y) == pytest.approx(expected)


def test_multi_metric_search_predicts_once_per_kind(problem, monkeypatch):
    X, Y = problem
    calls = []
    for method in ("predict", "predict_proba"):
        original = getattr(PerGenreClassifier, method)
        monkeypatch.setattr(PerGenreClassifier, method,
                            lambda self, X, _m=method, _o=original: calls.append(_m) or _o(self, X))
    search = GridSearchCV(_logistic(), {"estimator__C": [0.01, 1.0]}, cv=2,
                          scoring=genre_summary_scorer, refit="macro_ap").fit(X, Y)
    assert {"mean_test_macro_ap", "mean_test_samples_f1"} <= set(search.cv_results_)
    assert search.best_score_ == max(search.cv_results_["mean_test_macro_ap"])
    # Per fold and candidate: predict_proba once, predict (which calls it) once.
    assert calls.count("predict") == 2 * 2
    assert calls.count("predict_proba") == 2 * 2 * 2


def test_named_scorers_pickle_and_reject_unknown_names():
    scorer = pickle.loads(pickle.dumps(GENRE_SCORERS["macro_ap"]))
    assert repr(scorer) == "GenreScorer('macro_ap')"
    with pytest.raises(ValueError, match="choose from"):
        GenreScorer("accuracy")

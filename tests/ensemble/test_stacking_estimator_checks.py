from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skposter.ensemble import GenreStackingClassifier
from skposter.multilabel import PerGenreClassifier

# liblinear: lbfgs runs ten times slower when BLAS threads compete for busy cores.
_LOGISTIC = PerGenreClassifier(LogisticRegression(solver="liblinear", random_state=0))
_TREE = PerGenreClassifier(DecisionTreeClassifier(max_depth=3, random_state=0))


# Tuned thresholds decide genres; the check wants probability 0.5 to decide.
_EXPECTED = {"check_classifier_multioutput":
             "tuned thresholds, not probability 0.5, decide genre matrices"}


@parametrize_with_checks([
    GenreStackingClassifier([("logistic", _LOGISTIC), ("tree", _TREE)], _LOGISTIC, cv=2,
                            random_state=0),
    GenreStackingClassifier([("logistic", _LOGISTIC)], _LOGISTIC, meta_features="all",
                            passthrough=True, cv=2, random_state=0),
], expected_failed_checks=lambda estimator: _EXPECTED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

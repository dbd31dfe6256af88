from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier

# Tuned thresholds, not 0.5, decide: scikit-learn expects the same failures of its
# TunedThresholdClassifierCV.
_TUNED = "tuned thresholds, not probability 0.5 or the most probable class, decide"
_EXPECTED = {
    "per_genre": {
        "check_classifiers_train": _TUNED,
        "check_classifiers_train(readonly_memmap=True)": _TUNED,
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _TUNED,
        "check_classifier_multioutput": _TUNED,
    },
    # One threshold for every class keeps the most probable class on multiclass data.
    "global": {"check_classifier_multioutput": _TUNED},
}


# liblinear: lbfgs runs ten times slower when BLAS threads compete for busy cores.
_FAST = PerGenreClassifier(LogisticRegression(solver="liblinear", random_state=0))


@parametrize_with_checks(
    [
        GenreThresholdClassifier(_FAST, cv=2, random_state=0),
        GenreThresholdClassifier(_FAST, thresholds="global", cv=2, at_least_one=True,
                                 random_state=0),
    ],
    expected_failed_checks=lambda estimator: _EXPECTED[estimator.thresholds],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

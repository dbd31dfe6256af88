from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skposter.multilabel import PerGenreClassifier

# class_weight here is the per-genre "balanced" switch, not a dict keyed by class labels.
_ALWAYS = {"check_class_weight_classifiers": "class_weight takes 'balanced' or None, not a dict"}
# Failures of RandomForestClassifier itself, which sklearn also expects of it.
_FOREST = {
    "check_sample_weight_equivalence_on_dense_data": "bootstrap makes weights differ from repeats",
    "check_sample_weight_equivalence_on_sparse_data": "bootstrap makes weights differ from repeats",
    "check_classifiers_multilabel_output_format_predict_proba":
        "5 trees give probabilities of exactly 0; the check wants the open interval (0, 1)",
}


def _expected_failures(estimator):
    forest = isinstance(estimator.estimator, RandomForestClassifier)
    return {**_ALWAYS, **(_FOREST if forest else {})}


@parametrize_with_checks(
    [
        PerGenreClassifier(),
        PerGenreClassifier(LogisticRegression(max_iter=200), class_weight=None, min_support=1),
        PerGenreClassifier(RandomForestClassifier(n_estimators=5, random_state=0)),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

"""scikit-learn's estimator checks over every public skposter estimator.

One place, one naming scheme: each estimator below runs the whole of
``parametrize_with_checks``; the checks it is expected to fail are listed beside it,
each with its reason, and run as strict xfails (a listed check that passes fails the
run, so the lists cannot go stale).

Image estimators take images or paths, which the checks never generate: they run
through the adapters of ``tests/_adapters.py``, which validate each table like a
scikit-learn estimator and pass its rows on as one-pixel high posters (written to PNG
files for :class:`~skposter.io.PosterLoader`).

``make_metadata_preprocessor`` is a function returning scikit-learn's own
``ColumnTransformer``, not an estimator class of ours: no checks here.

The Keras classifiers, which train a network in each of about 60 checks (a minute each),
run the whole suite with ``-m slow``; the checks that need no data run on them in the fast
run.
"""

import inspect

import pytest
from _adapters import (
    CNNFeaturesOnTables, DenseBuilder, FacesOnTables, JointOnTables, KerasOnTables,
    NumericColumns, PosterLoaderOnTables, ResizerOnTables, RGBStatsOnTables,
)
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from skposter.ensemble import GenreStackingClassifier
from skposter.models import JointPosterClassifier, KerasPosterClassifier
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier

# liblinear: lbfgs runs ten times slower when BLAS threads compete for busy cores.
_LOGISTIC = PerGenreClassifier(LogisticRegression(solver="liblinear", random_state=0))
_TREE = PerGenreClassifier(DecisionTreeClassifier(max_depth=3, random_state=0))


@pytest.fixture(autouse=True, scope="module")
def private_weight_cache(tmp_path_factory):
    """Lite0 weights are converted into a temporary folder, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


# --- reasons, shared by the tables below -----------------------------------------------------

_TUNED = "tuned thresholds, not probability 0.5 or the most probable class, decide"
_IMAGE_LIST = ("images keep their own sizes: transform returns a list of (H, W, 3) arrays, "
               "not one array (Resizer makes one)")
_CLASS_WEIGHT = "class_weight is the per-genre 'balanced' switch, not a dict keyed by class"
_FOREST_BOOTSTRAP = "RandomForestClassifier's bootstrap makes weights differ from repeats"

# --- the estimators and their expected failures -----------------------------------------------

FAST = [
    (PosterLoaderOnTables(), {
        "check_transformer_general": _IMAGE_LIST,
        "check_transformer_general(readonly_memmap=True)": _IMAGE_LIST,
        "check_transformer_data_not_an_array": _IMAGE_LIST,
        "check_transformers_unfitted_stateless": _IMAGE_LIST,
    }),
    (ResizerOnTables(size=(2, 4)), {}),
    (RGBStatsOnTables(), {}),
    # The installed Lite0 weights at the backbone's smallest size (about 7 s in all).
    # batch_size=1: float32 kernels are chosen per batch shape, so a poster's features
    # in a batch of 64 and alone differ in the 7th digit (check_methods_subset_invariance).
    (CNNFeaturesOnTables("efficientnet_lite0", input_size=32, batch_size=1), {}),
    (FacesOnTables(min_height=24), {}),
    (PerGenreClassifier(), {
        "check_class_weight_classifiers": _CLASS_WEIGHT,
    }),
    (PerGenreClassifier(LogisticRegression(max_iter=200), class_weight=None, min_support=1), {
        "check_class_weight_classifiers": _CLASS_WEIGHT,
    }),
    (PerGenreClassifier(RandomForestClassifier(n_estimators=5, random_state=0)), {
        "check_class_weight_classifiers": _CLASS_WEIGHT,
        "check_sample_weight_equivalence_on_dense_data": _FOREST_BOOTSTRAP,
        "check_sample_weight_equivalence_on_sparse_data": _FOREST_BOOTSTRAP,
        "check_classifiers_multilabel_output_format_predict_proba":
            "5 trees give probabilities of exactly 0; the check wants the open interval "
            "(0, 1); scikit-learn expects the same of RandomForestClassifier",
    }),
    (GenreThresholdClassifier(_LOGISTIC, cv=2, random_state=0), {
        # scikit-learn expects the same failures of its TunedThresholdClassifierCV.
        "check_classifiers_train": _TUNED,
        "check_classifiers_train(readonly_memmap=True)": _TUNED,
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _TUNED,
        "check_classifier_multioutput": _TUNED,
    }),
    (GenreThresholdClassifier(_LOGISTIC, thresholds="global", cv=2, at_least_one=True,
                              random_state=0), {
        # One threshold for every class keeps the most probable class on multiclass data.
        "check_classifier_multioutput": _TUNED,
    }),
    (GenreStackingClassifier([("logistic", _LOGISTIC), ("tree", _TREE)], _LOGISTIC, cv=2,
                             random_state=0), {
        "check_classifier_multioutput": _TUNED,
    }),
    (GenreStackingClassifier([("logistic", _LOGISTIC)], _LOGISTIC, meta_features="all",
                             passthrough=True, cv=2, random_state=0), {
        "check_classifier_multioutput": _TUNED,
    }),
]

SLOW = [
    # 30 epochs: check_classifiers_train wants 83 % accuracy on blobs (10 epochs give less).
    (KerasOnTables(DenseBuilder(), input_size=(1, 16), epochs=30, learning_rate=0.02,
                   validation_split=0.0, flip=False, shift=0.0, zoom=0.0, batch_size=16,
                   random_state=0), {
        "check_sample_weight_equivalence_on_dense_data":
            "mini-batch SGD: a weight of 2 and a repeated row give different batches, hence "
            "different (equally good) networks",
    }),
    (JointOnTables(poster_column=None, numeric=NumericColumns(), log=[], epochs=30,
                   learning_rate=0.02, validation_split=0.0, dropout=0.0,
                   batch_size=16, random_state=0), {
        "check_sample_weight_equivalence_on_dense_data":
            "mini-batch SGD: a weight of 2 and a repeated row give different batches, hence "
            "different (equally good) networks",
    }),
]


def _strict_checks(cases):
    """``parametrize_with_checks`` over ``cases``, expected failures as strict xfails."""
    estimators = [estimator for estimator, _ in cases]
    expected = {id(estimator): failures for estimator, failures in cases}

    def expected_failed_checks(estimator):
        return expected[id(estimator)]

    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters:
        return parametrize_with_checks(estimators, expected_failed_checks=expected_failed_checks,
                                       xfail_strict=True)
    # scikit-learn < 1.8 has no xfail_strict: make its xfail marks strict ourselves.
    mark = parametrize_with_checks(estimators, expected_failed_checks=expected_failed_checks)
    params = []
    for param in mark.args[1]:
        if isinstance(param, tuple) and not hasattr(param, "marks"):
            params.append(param)
            continue
        marks = [pytest.mark.xfail(reason=m.kwargs.get("reason"), strict=True)
                 if m.name == "xfail" else m for m in param.marks]
        params.append(pytest.param(*param.values, marks=marks, id=param.id))
    return pytest.mark.parametrize(mark.args[0], params, **mark.kwargs)


# The checks fit on a few dozen rows, often with a constant genre: skposter rightly warns
# that such genres fall back to their frequency (tests/multilabel asserts that warning).
@pytest.mark.filterwarnings(r"ignore:genres \[.*\] have fewer than min_support=:UserWarning")
# check_supervised_y_no_nan passes y holding inf: scikit-learn's own target check casts
# it (warning) before skposter raises the error the check asks for.
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning:sklearn")
@_strict_checks(FAST)
def test_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@_strict_checks(SLOW)
def test_network_estimator_checks(estimator, check):
    check(estimator)


# The checks that need no data, on the Keras classifiers themselves rather than the
# adapters: the classes users get keep cloning, repr and parameter handling right in the
# fast run.
DATA_FREE_CHECKS = [
    "check_estimator_cloneable",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimators_unfitted",
]


@pytest.mark.parametrize("estimator", [KerasPosterClassifier(), JointPosterClassifier()],
                         ids=lambda estimator: type(estimator).__name__)
@pytest.mark.parametrize("check", DATA_FREE_CHECKS)
def test_keras_classifier_data_free_checks(check, estimator):
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def _public_estimators():
    import skposter

    return {name for name in skposter.__all__
            if inspect.isclass(getattr(skposter, name))
            and hasattr(getattr(skposter, name), "get_params")}


#: Estimators scikit-learn's checks cannot run, as it leaves its own text vectorizers out.
UNCHECKED = {
    "PosterTextExtractor": "returns one string per poster for a text vectorizer, not the 2-D "
                           "numeric array the transformer checks compare; tests/features/"
                           "test_text.py covers cloning, pickling, NotFittedError, errors",
}


def test_every_public_estimator_is_checked():
    checked = set(UNCHECKED)
    for estimator, _ in FAST + SLOW:
        for cls in type(estimator).__mro__:
            if cls.__module__.startswith("skposter"):
                checked.add(cls.__name__)
                break
    assert _public_estimators() <= checked, _public_estimators() - checked


@pytest.mark.parametrize("test", [test_estimator_checks, test_network_estimator_checks])
def test_expected_failures_are_strict_and_name_real_checks(test):
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    xfails = [m for param in mark.args[1] for m in getattr(param, "marks", ())
              if m.name == "xfail"]
    assert all(m.kwargs.get("strict") is True for m in xfails)
    assert all(len(m.kwargs.get("reason", "")) > 10 for m in xfails)
    listed = sum(len(failures) for _, failures in
                 (FAST if test is test_estimator_checks else SLOW))
    assert len(xfails) == listed, "an expected failure names a check that does not run"

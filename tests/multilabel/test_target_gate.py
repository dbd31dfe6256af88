"""One target gate: every genre meta-estimator accepts and refuses targets alike."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import LogisticRegression

from skposter._utils._targets import check_genre_target
from skposter.ensemble import GenreStackingClassifier
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier


def _fast():
    return PerGenreClassifier(LogisticRegression(solver="liblinear"))


MAKERS = {
    "per_genre": _fast,
    "thresholds": lambda: GenreThresholdClassifier(_fast(), cv=3, random_state=0),
    "stacking": lambda: GenreStackingClassifier([("a", _fast())], _fast(), cv=3, random_state=0),
}


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 3))
    Y = pd.DataFrame({"Drama": (X[:, 0] > 0).astype(int), "Comedy": (X[:, 1] > 0).astype(int)})
    return X, Y


def test_gate_reads_genre_matrices_and_class_labels():
    frame = pd.DataFrame({"Drama": [0, 1, 1], "Horror": [1, 0, 0]})
    target = check_genre_target(frame)
    assert target.multilabel and target.binarizer is None and target.y is frame
    assert list(target.classes) == ["Drama", "Horror"] and target.classes.dtype == object
    np.testing.assert_array_equal(target.Y, frame.to_numpy())
    assert target.Y.dtype.kind == "i"
    plain = check_genre_target(np.array([[0, 1], [1, 0]], dtype=bool))
    assert list(plain.classes) == [0, 1] and plain.Y.dtype.kind == "i"
    named = check_genre_target(np.array([[0, 1], [1, 0]]), names=["a", "b"])
    assert list(named.classes) == ["a", "b"]
    labels = check_genre_target(np.array(["b", "a", "c", "a"]))
    assert not labels.multilabel and list(labels.classes) == ["a", "b", "c"]
    assert labels.Y.shape == (4, 3)
    binary = check_genre_target([0, 1, 1], classes=[0, 1])
    assert binary.Y.shape == (3, 1) and list(binary.binarizer.classes_) == [0, 1]
    # Classes the target may lack (a part of the data), never labels outside them.
    missing = check_genre_target(["a", "a"], classes=["a", "b", "c"])
    assert list(missing.classes) == ["a", "b", "c"] and missing.Y.tolist() == [[1, 0, 0]] * 2
    with pytest.raises(ValueError, match=r"labels not in classes: \['d'\]"):
        check_genre_target(["a", "d"], classes=["a", "b"])


def test_gate_reads_a_column_of_labels_once_with_one_warning():
    with pytest.warns(DataConversionWarning, match="column-vector y") as caught:
        target = check_genre_target(np.array([[2], [3], [2]]))
    assert len(caught) == 1 and target.y.shape == (3,) and not target.multilabel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_genre = check_genre_target(np.array([[0], [1], [1]]))
    assert one_genre.multilabel and one_genre.Y.shape == (3, 1)


@pytest.mark.parametrize("y, message", [
    (None, "requires y to be passed"),
    (np.zeros((4, 2, 2)), r"must be class labels \(1-D\) or .* got shape \(4, 2, 2\)"),
    (np.zeros((4, 0)), r"got shape \(4, 0\)"),
    (np.zeros((0, 3)), r"y has 0 samples \(shape \(0, 3\)\)"),
    (np.linspace(0, 1, 5), "Unknown label type: continuous"),
    (np.array([[0, 2], [1, 0]]), r"genre columns \[1\] hold values other than 0 and 1"),
    (pd.DataFrame({"A": [0, np.nan], "B": [0, 1]}), r"genre columns \['A'\]"),
])
def test_gate_refuses_bad_targets(y, message):
    with pytest.raises(ValueError, match=message):
        check_genre_target(y)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_estimators_name_bad_genre_columns_alike(problem, kind):
    X, Y = problem
    bad = Y.to_numpy().copy()
    bad[3, 1] = 2
    # Unnamed columns are named as classes_ names them: by their integer position.
    with pytest.raises(ValueError, match=r"genre columns \[1\] hold values other than 0 and 1"):
        MAKERS[kind]().fit(X, bad)
    with pytest.raises(ValueError, match=r"genre columns \['Comedy'\] hold values"):
        MAKERS[kind]().fit(X, pd.DataFrame(bad, columns=Y.columns))
    with pytest.raises(ValueError, match="requires y"):
        MAKERS[kind]().fit(X, None)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_estimators_read_a_column_of_labels_as_labels(problem, kind):
    X, _ = problem
    y = np.where(X[:, 0] > 0, 3, 7).reshape(-1, 1)
    with pytest.warns(DataConversionWarning, match="column-vector y") as caught:
        model = MAKERS[kind]().fit(X, y)
    assert sum(issubclass(w.category, DataConversionWarning) for w in caught) == 1
    # The warning points at the caller, not into skposter.
    assert all(w.filename == __file__ for w in caught
               if issubclass(w.category, DataConversionWarning))
    assert list(model.classes_) == [3, 7]

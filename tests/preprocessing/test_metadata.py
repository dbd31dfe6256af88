import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from skposter.datasets import make_posters
from skposter.metrics import GENRE_SCORERS
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import make_metadata_preprocessor


@pytest.fixture(scope="module")
def posters():
    return make_posters(n_samples=150, n_genres=3, size=(8, 8), metadata=True, random_state=0)


def _dense(matrix):
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix


def _frame():
    return pd.DataFrame({
        "Id": ["a", "b", "c", "d"],
        "duration": [90.0, np.nan, 120.0, 100.0],
        "budget": [1e6, 1e7, np.nan, 0.0],
        "content_rating": ["PG", "R", np.nan, "PG"],
        "plot_keywords": ["Love|murder ", "space| alien|love", np.nan, "MURDER"],
    })


def _preprocessor(**kwargs):
    return make_metadata_preprocessor(numeric=["duration", "budget"],
                                      categorical=["content_rating"], **kwargs)


def test_columns_become_named_features():
    frame = _frame()
    preprocessor = _preprocessor().fit(frame)
    features = pd.DataFrame(_dense(preprocessor.transform(frame)),
                            columns=preprocessor.get_feature_names_out())
    assert list(features.columns) == [
        "numeric__duration", "numeric__missingindicator_duration",
        "log__budget", "log__missingindicator_budget",
        "categorical__content_rating_PG", "categorical__content_rating_R",
        "categorical__content_rating_nan",
        "keywords__alien", "keywords__love", "keywords__murder", "keywords__space",
    ]
    # Budget on a log scale, imputed at the median, then standardised.
    log_budget = np.log1p([1e6, 1e7, np.nan, 0.0])
    log_budget[2] = np.nanmedian(log_budget)
    np.testing.assert_allclose(features["log__budget"],
                               (log_budget - log_budget.mean()) / log_budget.std())
    # Indicators are scaled with the numbers they flag.
    assert (features["numeric__missingindicator_duration"] > 0).tolist() == [0, 1, 0, 0]
    # A missing rating is a category; keywords are trimmed, lower-cased and binary.
    assert features["categorical__content_rating_nan"].tolist() == [0, 0, 1, 0]
    assert features.filter(like="keywords").to_numpy().tolist() == [
        [0, 1, 1, 0], [1, 1, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0]]


def test_unseen_categories_and_keywords_are_ignored():
    preprocessor = _preprocessor().fit(_frame())
    new = _frame().assign(content_rating="NC-17", plot_keywords="dragon|love")
    features = pd.DataFrame(_dense(preprocessor.transform(new)),
                            columns=preprocessor.get_feature_names_out())
    assert (features.filter(like="categorical").to_numpy() == 0).all()
    assert features.filter(like="keywords").sum().to_dict() == {
        "keywords__alien": 0, "keywords__love": 4, "keywords__murder": 0, "keywords__space": 0}


@pytest.mark.parametrize("column, value, message", [
    ("duration", "ninety", r"numeric column 'duration' holds non-numeric values, e.g. 'ninety'"),
    ("duration", np.inf, r"numeric column 'duration' holds infinite values"),
    ("budget", -np.inf, r"numeric column 'budget' holds infinite values"),
    ("budget", -5.0, r"log columns \['budget'\] hold negative values"),
])
def test_bad_numbers_raise_naming_the_column(column, value, message):
    frame = _frame()
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        _preprocessor().fit(frame)
    # Also at transform time, on a fitted preprocessor.
    with pytest.raises(ValueError, match=message):
        _preprocessor().fit(_frame()).transform(frame)


def test_column_choices():
    with pytest.raises(ValueError, match=r"log columns \['gross'\] are not in numeric"):
        make_metadata_preprocessor(log=["gross"])
    with pytest.raises(ValueError, match="no metadata columns"):
        make_metadata_preprocessor(numeric=[], categorical=[], keywords=None, log=[])
    frame = _frame().assign(genres_tags="Drama|Comedy")
    preprocessor = make_metadata_preprocessor(
        numeric=["duration"], categorical=[], keywords=["plot_keywords", "genres_tags"], log=[])
    names = preprocessor.fit(frame).get_feature_names_out()
    assert [t[0] for t in preprocessor.transformers] == [
        "numeric", "keywords_plot_keywords", "keywords_genres_tags"]
    assert "keywords_genres_tags__comedy" in names


def test_defaults_fit_the_real_layout_and_pickle(posters):
    metadata = posters.metadata
    preprocessor = make_metadata_preprocessor()
    assert isinstance(preprocessor, ColumnTransformer)
    features = preprocessor.fit_transform(metadata)
    names = preprocessor.get_feature_names_out()
    assert features.shape == (150, len(names)) and not any("Id" in name for name in names)
    restored = pickle.loads(pickle.dumps(preprocessor))
    np.testing.assert_array_equal(_dense(restored.transform(metadata)), _dense(features))
    # A parameter of any step can be set (and grid-searched) by name.
    preprocessor.set_params(keywords__countvectorizer__min_df=20).fit(metadata)
    assert len(preprocessor.named_transformers_["keywords"][-1].vocabulary_) < 40


def test_metadata_predicts_genres(posters):
    model = make_pipeline(make_metadata_preprocessor(),
                          PerGenreClassifier(RandomForestClassifier(30, random_state=0)))
    scores = cross_val_score(model, posters.metadata, posters.target, cv=3,
                             scoring=GENRE_SCORERS["macro_ap"])
    assert scores.mean() > posters.target.mean() + 0.3

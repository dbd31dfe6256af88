"""Every public estimator's HTML repr links to its own entry of the API docs."""

import inspect
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator

import skposter
from skposter.base import DOCS_URL

API_DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"
ESTIMATORS = sorted(name for name in skposter.__all__ if inspect.isclass(getattr(skposter, name))
                    and issubclass(getattr(skposter, name), BaseEstimator))


def test_every_public_estimator_is_checked():
    assert {"CNNFeatureExtractor", "KerasPosterClassifier", "GenreStackingClassifier",
            "PosterLoader", "PerGenreClassifier"} <= set(ESTIMATORS)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_html_repr_links_to_the_class_on_its_subpackage_page(name):
    cls = getattr(skposter, name)
    subpackage = cls.__module__.split(".")[1]
    estimator = cls.__new__(cls)
    link = estimator._get_doc_link()
    assert link == f"{DOCS_URL}/api/{subpackage}/#skposter.{subpackage}.{name}"
    # The page mkdocstrings renders that anchor on, for a class its subpackage exports.
    assert f"::: skposter.{subpackage}" in (API_DOCS / f"{subpackage}.md").read_text()
    assert name in getattr(skposter, subpackage).__all__

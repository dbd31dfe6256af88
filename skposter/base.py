"""Base classes shared by skposter's estimators."""

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils import get_tags


#: Where the documentation site is published; every estimator's HTML repr links there.
DOCS_URL = "https://skposter.readthedocs.io/en/latest"


class DocLinkMixin:
    """Link an estimator's HTML repr (the "?" in Jupyter) to its skposter API page.

    scikit-learn links only estimators of its own module; this gives skposter's
    estimators the same link, to the anchor mkdocstrings gives the class on the page
    of its subpackage. Put it before ``BaseEstimator`` in the bases.
    """

    _doc_link_module = "skposter"
    _doc_link_template = DOCS_URL + "/api/{subpackage}/#skposter.{subpackage}.{name}"

    def _doc_link_url_param_generator(self):
        return {"subpackage": type(self).__module__.split(".")[1], "name": type(self).__name__}


class ImageTransformerMixin(DocLinkMixin, TransformerMixin, auto_wrap_output_keys=None):
    """Mixin for transformers whose output is images, not a table.

    Images cannot become a DataFrame, so :meth:`set_output` accepts the call that
    ``Pipeline.set_output`` forwards to every step and leaves images as they are; the
    setting still applies to the tabular steps after this one.
    """

    def set_output(self, *, transform=None):
        """Accept an output configuration; images are always returned as arrays.

        Returns
        -------
        self : object
        """
        return self

    def get_feature_names_out(self, input_features=None):
        """Name the single output "feature": the poster image.

        Lets ``Pipeline.get_feature_names_out`` pass through image steps to the
        feature extractor that names the real columns.

        Returns
        -------
        ndarray of str
            ``["poster"]``.
        """
        return np.asarray(["poster"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags


class GenreMetaClassifierMixin(DocLinkMixin):
    """Tags of a classifier over genres that wraps one base estimator.

    It takes what its base takes (``_base()``) and predicts a genre matrix as well as
    one label per sample.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = get_tags(self._base()).input_tags
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

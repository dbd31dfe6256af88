"""Base classes shared by skposter's estimators."""

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils import get_tags


class ImageTransformerMixin(TransformerMixin, auto_wrap_output_keys=None):
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


class GenreMetaClassifierMixin:
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

"""Test adapters: scikit-learn's estimator checks for estimators that take images.

The checks only generate numeric tables (and skip estimators whose tags say they take
no 2-D input). :class:`TablesAsImages` is a mixin, put before an image estimator,
that validates each table the way scikit-learn estimators do (so the checks'
expectations about NaN, sparse, 1-D, empty or renamed input apply), turns each row
into a one-pixel high RGB poster, and hands the posters to the estimator's own public
``fit``/``transform``/``predict``. Everything after the conversion is skposter's code:
fitting, streaming, encoding, pickling.

The adapted classes live at module level so that the checks can pickle them.
"""

import atexit
import hashlib
import inspect
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from PIL import Image
from sklearn.compose import make_column_selector
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, validate_data

from skposter.features import CNNFeatureExtractor, FaceFeatureExtractor
from skposter.io import PosterLoader
from skposter.models import JointPosterClassifier, KerasPosterClassifier
from skposter.preprocessing import RGBStatsExtractor, Resizer


def table_to_images(table):
    """Rows of a float table -> ``(n, 1, n_features, 3)`` uint8 posters (grey pixels)."""
    pixels = np.clip(np.round(128 + 32 * np.asarray(table, dtype=np.float64)), 0, 255)
    return np.repeat(pixels.astype(np.uint8)[:, None, :, None], 3, axis=3)


def _base_has(name):
    """``available_if`` test: the adapted estimator's own class has method ``name``."""
    return lambda self: hasattr(super(TablesAsImages, self), name)


class TablesAsImages:
    """Mixin: numeric tables in, one-pixel high posters to the estimator underneath."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        def fit(self, X, y=None, **params):
            return TablesAsImages.fit(self, X, y, **params)

        # The checks read fit's signature (has_fit_parameter) to decide, for example,
        # whether to try sample weights: show the adapted estimator's own.
        fit.__signature__ = inspect.signature(super(TablesAsImages, cls).fit)
        fit.__doc__ = TablesAsImages.fit.__doc__
        cls.fit = fit

    def _posters(self, X, *, reset):
        if reset:
            table = validate_data(self, X, dtype=np.float64, reset=True)
        elif hasattr(self, "n_features_in_"):
            table = validate_data(self, X, dtype=np.float64, reset=False)
        else:  # a stateless transformer used without fit
            table = check_array(X, dtype=np.float64)
        return self._from_table(table)

    def _from_table(self, table):
        return table_to_images(table)

    def _keep_table_shape(self, call):
        """Run ``call``; then restore what the table check learnt (the estimator's own
        fit describes the posters: one 'feature', no column names)."""
        n_features = self.n_features_in_
        names = getattr(self, "feature_names_in_", None)
        result = call()
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return result

    def fit(self, X, y=None, **params):
        """Fit the adapted estimator on the rows of ``X`` as posters."""
        posters = self._posters(X, reset=True)
        return self._keep_table_shape(lambda: super(TablesAsImages, self).fit(posters, y,
                                                                               **params))

    @available_if(_base_has("partial_fit"))
    def partial_fit(self, X, y=None, **params):
        posters = self._posters(X, reset=not hasattr(self, "n_features_in_"))
        return self._keep_table_shape(
            lambda: super(TablesAsImages, self).partial_fit(posters, y, **params))

    @available_if(_base_has("transform"))
    def transform(self, X):
        return super().transform(self._posters(X, reset=False))

    @available_if(_base_has("predict"))
    def predict(self, X):
        return super().predict(self._posters(X, reset=False))

    @available_if(_base_has("predict_proba"))
    def predict_proba(self, X):
        return super().predict_proba(self._posters(X, reset=False))

    @available_if(_base_has("predict_log_proba"))
    def predict_log_proba(self, X):
        return super().predict_log_proba(self._posters(X, reset=False))

    @available_if(_base_has("decision_function"))
    def decision_function(self, X):
        return super().decision_function(self._posters(X, reset=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.one_d_array = False
        tags.input_tags.string = False
        tags.input_tags.sparse = False
        return tags


# --- posters as files ------------------------------------------------------------------

_FOLDER = None


def _poster_folder():
    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="skposter-checks-"))
        atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
    return _FOLDER


def images_to_files(images):
    """Write each poster as a lossless PNG named by its content; return the paths."""
    folder, paths = _poster_folder(), []
    for image in images:
        name = hashlib.sha1(image.tobytes() + repr(image.shape).encode()).hexdigest()
        path = folder / f"{name}.png"
        if not path.exists():
            Image.fromarray(image).save(path)
        paths.append(str(path))
    return np.asarray(paths, dtype=object)


# --- the adapted estimators ----------------------------------------------------------------


class PosterLoaderOnTables(TablesAsImages, PosterLoader):
    """:class:`PosterLoader` reading each table row from a PNG file."""

    def _from_table(self, table):
        return images_to_files(table_to_images(table))


class ResizerOnTables(TablesAsImages, Resizer):
    """:class:`Resizer` on table rows as posters."""


class RGBStatsOnTables(TablesAsImages, RGBStatsExtractor):
    """:class:`RGBStatsExtractor` on table rows as posters."""


class CNNFeaturesOnTables(TablesAsImages, CNNFeatureExtractor):
    """:class:`CNNFeatureExtractor` on table rows as posters (stretched to its input)."""


class FacesOnTables(TablesAsImages, FaceFeatureExtractor):
    """:class:`FaceFeatureExtractor` on table rows as posters."""


class KerasOnTables(TablesAsImages, KerasPosterClassifier):
    """:class:`KerasPosterClassifier` on table rows as posters."""


class JointOnTables(TablesAsImages, JointPosterClassifier):
    """:class:`JointPosterClassifier` on table rows as DataFrames of numeric columns.

    The checks' tables have no poster: construct it with ``poster_column=None`` and
    ``numeric=NumericColumns()`` (the number of columns varies between checks).
    """

    def _posters(self, X, *, reset):
        # Missing numbers are the network's to impute: NaN passes the table check.
        if reset or hasattr(self, "n_features_in_"):
            table = validate_data(self, X, dtype=np.float64, reset=reset,
                                  ensure_all_finite="allow-nan")
        else:  # predicting before fit: the estimator raises NotFittedError
            table = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        return pd.DataFrame(table, columns=[f"x{i}" for i in range(table.shape[1])])


class NumericColumns:
    """Column selector of every numeric column, with a repr that keeps test ids stable."""

    def __call__(self, frame):
        return make_column_selector(dtype_include="number")(frame)

    def __repr__(self):
        return "NumericColumns()"


class DenseBuilder:
    """A small dense network for :class:`KerasPosterClassifier` (its ``architecture``):
    the checks' tables carry no spatial structure for a convolution to find.

    A class rather than a function so that test ids (the estimator's repr) are stable.
    """

    def __init__(self, units=16):
        self.units = units

    def __call__(self, input_shape, n_outputs, activation):
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(self.units, activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=activation)(x))

    def __repr__(self):
        return f"DenseBuilder(units={self.units})"

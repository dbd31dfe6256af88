"""JointPosterClassifier: one network over a poster's features and its movie's metadata."""

import numbers

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._tags import ClassifierTags
from sklearn.utils.validation import _check_sample_weight

from ..base import DocLinkMixin
from ..preprocessing._metadata import _keyword_lists, _split_keywords, make_metadata_preprocessor
from ._base import WeightsPickleMixin

# Keras and TensorFlow load inside the methods (fit, predict, unpickling) only.

#: Skewness above which a non-negative numeric column goes through log1p (log="auto").
_SKEWED = 2.0
#: Category code of a value not seen in fit; seen values start at 1.
_UNKNOWN = 0
#: A missing category is a category of its own when some were missing in fit.
_MISSING = "\0missing"


class JointPosterClassifier(WeightsPickleMixin, DocLinkMixin, ClassifierMixin, BaseEstimator):
    """A network on a table of posters and metadata: branches merged before the genres.

    Each row of ``X`` (a DataFrame) is one movie. Its columns feed up to three branches,
    concatenated and followed by dense layers and one sigmoid per genre (a softmax for
    1-D class labels):

    * **poster**: the poster column through ``feature_extractor`` (frozen; by default
      EfficientNet-Lite0's pooled features, which can be cached), standardised, then
      dropout and a dense layer;
    * **metadata**: numbers (``log1p`` where skewed, median-imputed with a missing
      indicator, standardised) and one learned ``Embedding`` per categorical column
      (vocabulary learned in fit; unseen values share a reserved index, a missing value
      is a category of its own), then a dense layer;
    * **keywords**: ``|``-separated keyword lists as a binary bag of words over the
      ``max_keywords`` most frequent keywords in fit, then dropout and a dense layer.

    Training holds back ``validation_split`` of the rows to stop early on the
    validation loss and keep the best epoch's weights.

    Parameters
    ----------
    feature_extractor : transformer, default=None
        Maps the one-column DataFrame of the poster column to a 2-D feature array; a
        clone is fitted. None: ``CNNFeatureExtractor()`` (EfficientNet-Lite0). Pass
        ``CNNFeatureExtractor(cache=...)`` so that repeated fits (grid searches,
        stacking folds) read cached features instead of running the backbone.
    poster_column : str or None, default="poster"
        Column of poster paths; None: no poster branch (a metadata network).
    numeric : list of str or callable, default=()
        Numeric columns, or a column selector such as
        ``sklearn.compose.make_column_selector(dtype_include="number")``.
    categorical : list of str or callable, default=()
        Categorical columns, each embedded.
    keywords : list of str or callable, default=()
        Columns of ``|``-separated keywords (lower-cased), one vocabulary each.
    log : "auto" or list of str, default="auto"
        Numeric columns passed through ``log1p`` before imputation and scaling.
        ``"auto"``: those with no negative value and a skewness above 2 in fit (counts,
        budgets, likes).
    branch_units : int, default=128
        Width of each branch's dense layer.
    hidden_units : tuple of int, default=(128,)
        Widths of the dense layers after the merge.
    embedding_dim : int, default=8
        Size of each category's embedding.
    max_keywords : int, default=1000
        Largest keyword vocabulary per column (the most frequent keywords in fit).
    dropout : float, default=0.5
        Dropout on the poster features, on the bag of words, after the merge and after
        each hidden layer.
    alpha : float, default=0.0
        L2 penalty on the dense layers' kernels.
    class_weight : {"balanced"}, dict or None, default=None
        ``"balanced"``: for a genre matrix, each genre's positives and negatives weigh
        inversely to their frequency in that genre's training column, in the binary
        cross-entropy; for class labels, sample weights as in scikit-learn. A dict maps
        class labels to weights (class labels only).
    learning_rate : float, default=1e-3
        Of the Adam optimizer.
    batch_size : int, default=64
    epochs : int, default=100
        Most epochs; early stopping usually ends sooner.
    validation_split : float, default=0.1
        Share of the training rows held back for early stopping (after ``patience``
        epochs without a better validation loss; the learning rate halves after
        ``patience // 2``). 0 trains on every row for ``epochs`` epochs.
    patience : int, default=10
    random_state : int, RandomState instance or None, default=None
        Seeds initial weights, dropout, the validation split and the batches: with an
        int, two fits on the CPU predict the same.
    verbose : int, default=0
        Keras progress output.

    Attributes
    ----------
    classes_ : ndarray
        Genre names (a DataFrame target's columns), else ``0 .. n_genres - 1``; the
        sorted class labels of a 1-D target.
    feature_extractor_ : transformer or None
        The fitted clone of ``feature_extractor``.
    numeric_columns_, categorical_columns_, keyword_columns_ : list of str
        The columns of each role.
    log_columns_ : list of str
        Numeric columns passed through ``log1p``.
    categories_ : list of ndarray
        Vocabulary of each categorical column; a value's code is its position plus 1.
    keyword_vocabularies_ : list of ndarray
        Keywords of each keyword column.
    model_ : keras.Model
        The trained network; its inputs are the poster features, the numbers, one
        category code per categorical column and the bags of words, in this order,
        for the branches present.
    history_ : dict of str -> list of float
        Per-epoch ``loss`` (and ``val_loss``, ``learning_rate``).
    n_features_in_ : int
        Columns of ``X`` in fit.
    feature_names_in_ : ndarray of str
        Column names of ``X`` in fit.

    Notes
    -----
    Unlike :class:`~skposter.models.KerasPosterClassifier` the backbone is frozen and
    outside the network: its features are computed once per fit (or read from the
    cache), so a fit costs seconds on a CPU. Pickles hold the network's weights,
    rebuilt from the parameters and the fitted vocabularies when unpickled.

    The defaults were chosen on the metadata subset of the real posters (1815 training
    movies, 21 genres, held-out macro average precision; ``benchmarks/joint_network.py``):
    dropout 0.5 and 128-unit branches gave 0.40-0.43 against 0.37 with 0.3 and 64,
    no L2 penalty 0.44-0.455 against 0.43 with ``alpha=1e-5`` and 0.34 with ``1e-3``;
    ``class_weight="balanced"`` fell to 0.33.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skposter.models import JointPosterClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame({"budget": rng.lognormal(size=60),
    ...                   "country": rng.choice(["USA", "UK"], 60)})
    >>> Y = pd.DataFrame({"Drama": X["country"] == "UK", "Action": X["budget"] > 1})
    >>> model = JointPosterClassifier(poster_column=None, numeric=["budget"],
    ...                               categorical=["country"], epochs=3, random_state=0)
    >>> model.fit(X, Y.astype(int)).predict_proba(X).shape
    (60, 2)
    """

    _parameter_constraints = {
        "feature_extractor": [HasMethods(["fit", "transform"]), None],
        "poster_column": [str, None],
        "numeric": [list, tuple, callable],
        "categorical": [list, tuple, callable],
        "keywords": [list, tuple, callable],
        "log": [StrOptions({"auto"}), list, tuple],
        "branch_units": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_units": [list, tuple],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_keywords": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_split": [Interval(numbers.Real, 0, 1, closed="left")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        feature_extractor=None,
        *,
        poster_column="poster",
        numeric=(),
        categorical=(),
        keywords=(),
        log="auto",
        branch_units=128,
        hidden_units=(128,),
        embedding_dim=8,
        max_keywords=1000,
        dropout=0.5,
        alpha=0.0,
        class_weight=None,
        learning_rate=1e-3,
        batch_size=64,
        epochs=100,
        validation_split=0.1,
        patience=10,
        random_state=None,
        verbose=0,
    ):
        self.feature_extractor = feature_extractor
        self.poster_column = poster_column
        self.numeric = numeric
        self.categorical = categorical
        self.keywords = keywords
        self.log = log
        self.branch_units = branch_units
        self.hidden_units = hidden_units
        self.embedding_dim = embedding_dim
        self.max_keywords = max_keywords
        self.dropout = dropout
        self.alpha = alpha
        self.class_weight = class_weight
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Learn the vocabularies and scalings, then train the network.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            The poster column and the metadata columns (others are ignored).
        y : array-like or DataFrame of shape (n_samples, n_genres), or (n_samples,)
            0/1 genre matrix (a DataFrame's columns name the genres), or class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in the loss.

        Returns
        -------
        self : object
        """
        from ._data import TargetEncoder, as_target_array
        from ._training import class_sample_weight, draw_seed, split_rows

        self._validate_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None.")
        names = list(y.columns) if isinstance(y, pd.DataFrame) else None
        X = self._check_frame(X, reset=True)
        y = as_target_array(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        self.target_encoder_ = TargetEncoder(genre_names=names).fit(y)
        self.classes_ = self.target_encoder_.classes_
        self._seed = draw_seed(self.random_state)
        inputs = self._fit_inputs(X, y)
        targets = self.target_encoder_.transform(y)
        weights = (None if sample_weight is None
                   else _check_sample_weight(sample_weight, X, dtype=np.float32))
        weights = class_sample_weight(self.class_weight, self.target_encoder_, targets, weights)
        train, validation = split_rows(len(X), self.validation_split, self._seed)
        self.model_ = self._build_keras_model()
        self.history_ = self._train(inputs, targets, weights, train, validation)
        return self

    def predict_proba(self, X):
        """Probability of each genre (or class).

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)

        Returns
        -------
        ndarray of shape (n_samples, n_genres)
        """
        raw = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(raw, return_proba=True)

    def predict(self, X):
        """Predict genres (probability at least 0.5) or the most probable class.

        Returns
        -------
        ndarray of shape (n_samples, n_genres) of 0/1 int, or (n_samples,) of labels
        """
        raw = self._predict_raw(X)
        return self.target_encoder_.inverse_transform(raw)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags = ClassifierTags(multi_label=True)
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        # A table, but of named columns: a DataFrame only (see _check_frame).
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        return tags

    # --- input table --------------------------------------------------------------------

    def _check_frame(self, X, *, reset):
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} takes a pandas DataFrame with named "
                            f"columns (poster and metadata), got {type(X).__name__}.")
        if len(X) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                             "minimum of 1 is required.")
        if reset:
            self.n_features_in_ = X.shape[1]
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return X

    def _columns(self, X, role):
        """The columns of ``role``: a list, or what a selector picks in ``X``."""
        chosen = getattr(self, role)
        columns = list(chosen(X) if callable(chosen) else chosen)
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"{role} columns {missing} are not in X (columns: "
                             f"{list(X.columns)[:20]}).")
        return columns

    def _required(self, X):
        columns = ([self.poster_column] if self.poster_column is not None else []) + [
            *self.numeric_columns_, *self.categorical_columns_, *self.keyword_columns_]
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the columns {missing} the model was fitted with.")

    # --- inputs of the network ----------------------------------------------------------

    def _fit_inputs(self, X, y):
        """Fit every branch's preprocessing on ``X``; return the network's input arrays."""
        if self.poster_column is not None:
            if self.poster_column not in X.columns:
                raise ValueError(f"poster_column {self.poster_column!r} is not in X "
                                 f"(columns: {list(X.columns)[:20]}).")
            extractor = self.feature_extractor
            if extractor is None:
                from ..features import CNNFeatureExtractor

                extractor = CNNFeatureExtractor()
            self.feature_extractor_ = clone(extractor).fit(X[[self.poster_column]], y)
            self.poster_scaler_ = StandardScaler()
        else:
            self.feature_extractor_ = self.poster_scaler_ = None
        self.numeric_columns_ = self._columns(X, "numeric")
        self.categorical_columns_ = self._columns(X, "categorical")
        self.keyword_columns_ = self._columns(X, "keywords")
        if not (self.poster_column or self.numeric_columns_ or self.categorical_columns_
                or self.keyword_columns_):
            raise ValueError("no input: set poster_column or some metadata columns.")
        self.log_columns_ = self._log_columns(X)
        self.numbers_ = None
        if self.numeric_columns_:
            self.numbers_ = make_metadata_preprocessor(
                self.numeric_columns_, (), None, log=self.log_columns_)
            self.numbers_.fit(X)
        self.categories_ = [_vocabulary(X[c]) for c in self.categorical_columns_]
        self.keyword_vectorizers_ = [self._fit_keywords(X, c) for c in self.keyword_columns_]
        self.keyword_vocabularies_ = [v.get_feature_names_out()
                                      for v in self.keyword_vectorizers_]
        return self._inputs(X, fitting=True)

    def _inputs(self, X, fitting=False):
        """The network's input arrays for ``X``, in the order of its inputs."""
        arrays = []
        if self.feature_extractor_ is not None:
            features = np.asarray(self.feature_extractor_.transform(X[[self.poster_column]]),
                                  dtype=np.float32)
            if fitting:
                self.poster_scaler_.fit(features)
            arrays.append(self.poster_scaler_.transform(features).astype(np.float32))
        if self.numbers_ is not None:
            arrays.append(np.asarray(self.numbers_.transform(X), dtype=np.float32))
        arrays += [_codes(X[c], vocabulary)[:, None]
                   for c, vocabulary in zip(self.categorical_columns_, self.categories_)]
        for column, vectorizer in zip(self.keyword_columns_, self.keyword_vectorizers_):
            bag = vectorizer.transform(_keyword_lists(X[[column]]))
            arrays.append(sparse.csr_array(bag).toarray().astype(np.float32))
        return arrays

    def _fit_keywords(self, X, column):
        vectorizer = CountVectorizer(tokenizer=_split_keywords, token_pattern=None,
                                     binary=True, max_features=self.max_keywords)
        try:
            return vectorizer.fit(_keyword_lists(X[[column]]))
        except ValueError:
            raise ValueError(f"keywords column {column!r} holds no keyword in fit.") from None

    def _log_columns(self, X):
        if self.log != "auto":
            unknown = sorted(set(self.log) - set(self.numeric_columns_))
            if unknown:
                raise ValueError(f"log columns {unknown} are not in numeric.")
            return list(self.log)
        chosen = []
        for column in self.numeric_columns_:
            values = pd.to_numeric(X[column], errors="coerce").dropna()
            if len(values) > 2 and values.min() >= 0 and values.skew() > _SKEWED:
                chosen.append(column)
        return chosen

    # --- network ------------------------------------------------------------------------

    def _input_widths(self):
        """Width of the poster features and of the numbers (0 when absent)."""
        poster = 0 if self.poster_scaler_ is None else self.poster_scaler_.n_features_in_
        numbers = 0 if self.numbers_ is None else len(self.numbers_.get_feature_names_out())
        return poster, numbers

    def _build_keras_model(self):
        import keras
        from keras import layers

        from ._losses import make_loss
        from ._training import python_seed

        poster, numbers = self._input_widths()
        penalty = keras.regularizers.L2(self.alpha) if self.alpha else None

        def dense(x, units, name):
            return layers.Dense(units, activation="relu", kernel_regularizer=penalty,
                                name=name)(x)

        with python_seed(self._seed):
            inputs, branches, metadata = [], [], []
            if poster:
                inputs.append(keras.Input((poster,), name="poster_features"))
                x = layers.Dropout(self.dropout, name="poster_dropout")(inputs[-1])
                branches.append(dense(x, self.branch_units, "poster_dense"))
            if numbers:
                inputs.append(keras.Input((numbers,), name="numbers"))
                metadata.append(inputs[-1])
            for k, vocabulary in enumerate(self.categories_):
                inputs.append(keras.Input((1,), dtype="int32", name=f"category{k}"))
                embedded = layers.Embedding(len(vocabulary) + 1, self.embedding_dim,
                                            name=f"category{k}_embedding")(inputs[-1])
                metadata.append(layers.Flatten(name=f"category{k}_flat")(embedded))
            if metadata:
                x = metadata[0] if len(metadata) == 1 else layers.Concatenate(
                    name="metadata")(metadata)
                branches.append(dense(x, self.branch_units, "metadata_dense"))
            for k, vocabulary in enumerate(self.keyword_vocabularies_):
                inputs.append(keras.Input((len(vocabulary),), name=f"keywords{k}"))
                x = layers.Dropout(self.dropout, name=f"keywords{k}_dropout")(inputs[-1])
                branches.append(dense(x, self.branch_units, f"keywords{k}_dense"))
            x = branches[0] if len(branches) == 1 else layers.Concatenate(
                name="merged")(branches)
            x = layers.Dropout(self.dropout, name="merged_dropout")(x)
            for i, units in enumerate(self.hidden_units):
                x = dense(x, units, f"hidden{i}")
                x = layers.Dropout(self.dropout, name=f"hidden{i}_dropout")(x)
            activation = "sigmoid" if self.target_encoder_.multilabel_ else "softmax"
            outputs = layers.Dense(len(self.classes_), activation=activation,
                                   name="genres")(x)
            model = keras.Model(inputs, outputs, name="joint_poster_classifier")
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss=make_loss("auto", self.target_encoder_, self.class_weight))
        return model

    def _train(self, inputs, targets, weights, train, validation):
        import keras

        callbacks = []
        validation_data = None
        if validation is not None:
            validation_data = _dataset(inputs, targets, weights, validation,
                                       self.batch_size)
            callbacks = [
                keras.callbacks.EarlyStopping(patience=self.patience,
                                              restore_best_weights=True),
                keras.callbacks.ReduceLROnPlateau(factor=0.5,
                                                  patience=max(1, self.patience // 2)),
            ]
        data = _dataset(inputs, targets, weights, train, self.batch_size, seed=self._seed)
        history = self.model_.fit(data, validation_data=validation_data, epochs=self.epochs,
                                  callbacks=callbacks, shuffle=False, verbose=self.verbose)
        return {key: [float(v) for v in values] for key, values in history.history.items()}

    def _predict_raw(self, X):
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. "
                                 "Call 'fit' with appropriate arguments first.")
        X = self._check_frame(X, reset=False)
        self._required(X)
        inputs = self._inputs(X)
        return self.model_.predict(inputs, batch_size=max(self.batch_size, 256), verbose=0)

    def _rebuilt_keras_model(self):
        # Pickles hold weights (WeightsPickleMixin): the network from the parameters.
        return self._build_keras_model()


def _vocabulary(values):
    """The sorted categories of a column in fit (as strings), missing included if any."""
    return np.unique(_as_categories(values)).astype(object)


def _as_categories(values):
    text = values.astype(object).where(values.notna(), _MISSING)
    return text.map(str).to_numpy(dtype=object)


def _codes(values, vocabulary):
    """Each value's position in ``vocabulary`` plus 1; ``_UNKNOWN`` if not in it."""
    text = _as_categories(values)
    index = np.searchsorted(vocabulary, text)
    index = np.minimum(index, len(vocabulary) - 1)
    known = vocabulary[index] == text
    return np.where(known, index + 1, _UNKNOWN).astype(np.int32)


def _dataset(inputs, targets, weights, rows, batch_size, seed=None):
    """Batches of the ``rows`` of ``(inputs, targets[, weights])``, shuffled if seeded."""
    import tensorflow as tf

    columns = [tuple(array[rows] for array in inputs), targets[rows]]
    if weights is not None:
        columns.append(weights[rows])
    data = tf.data.Dataset.from_tensor_slices(tuple(columns))
    if seed is not None:
        # An op seed alone makes the order repeatable, without touching global seeds.
        data = data.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    return data.batch(min(batch_size, len(rows)))

"""PerGenreClassifier: one binary classifier per genre, each with its own class weights."""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils import metadata_routing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter, MethodMapping, _routing_enabled, process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import delayed
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .._utils._meta import copy_feature_names
from .._utils._progress import progress_bar, run_parallel
from .._utils._targets import check_genre_target
from ..base import GenreMetaClassifierMixin
from ._tuning import positive_proba

# Seconds before the bar over genres shows: fits of small models print nothing.
_BAR_DELAY = 1.0


def _default_estimator():
    estimator = LogisticRegression(max_iter=1000)
    if _routing_enabled():
        # Weights given to fit reach the default estimator under routing as without.
        estimator.set_fit_request(sample_weight=True)
    return estimator


def base_has(attr, fitted="estimator_"):
    """``available_if`` check: the fitted estimator(s) first, else the unfitted one.

    As scikit-learn's ``_estimator_has``, but the unfitted estimator is ``_base()``
    (the default one when ``estimator`` is None), and a list of fitted estimators
    must all have ``attr`` (a genre that fell back to its prior holds a
    ``DummyClassifier``, which has every method).
    """
    def check(self):
        if hasattr(self, fitted):
            delegate = getattr(self, fitted)
            delegates = delegate if isinstance(delegate, list) else [delegate]
            return all(hasattr(est, attr) for est in delegates)
        return hasattr(self._base(), attr)
    return check


class PerGenreClassifier(GenreMetaClassifierMixin, MetaEstimatorMixin, ClassifierMixin,
                         BaseEstimator):
    """Fit one clone of a binary classifier per genre.

    Each genre is its own binary problem on its own 0/1 column, with class weights
    computed from that column, which is what imbalanced genres need (one weight for
    the whole matrix would favour Drama everywhere). Genres with fewer than
    ``min_support`` positives (or negatives) in the training data predict their
    training frequency instead, with a warning.

    Parameters
    ----------
    estimator : classifier, default=None
        Binary classifier cloned for each genre; ``LogisticRegression(max_iter=1000)``
        when None. It needs ``predict_proba`` for :meth:`predict_proba`.
    class_weight : {"balanced"} or None, default="balanced"
        ``"balanced"`` weighs each genre's positives and negatives inversely to their
        frequency in that genre's column: as ``sample_weight`` (multiplied with any
        given to :meth:`fit`) when the estimator takes it, else through the
        estimator's own ``class_weight`` parameter.
    min_support : int, default=5
        Fewest positives and negatives a genre needs for its own model.
    n_jobs : int, default=None
        Genres fitted in parallel (``sklearn.utils.parallel``: the scikit-learn
        configuration, e.g. ``set_output``, reaches the workers); ``None`` means 1.
    verbose : int, default=0
        Above 0, a progress bar over the genres on standard error, shown when the
        fits take more than a second; it disappears when done (it is usually one
        step of an outer estimator's progress).

    Attributes
    ----------
    estimators_ : list of estimators
        One fitted classifier per genre (a ``DummyClassifier(strategy="prior")`` for
        genres below ``min_support``).
    label_binarizer_ : LabelBinarizer or None
        Encoder of a 1-D training target; None for a genre matrix.
    classes_ : ndarray
        Genre names from a DataFrame target's columns, else ``0 .. n_genres - 1``;
        for a 1-D target, its class labels (one-vs-rest).
    fallback_genres_ : list
        Genres that fell back to their prior.
    n_features_in_ : int
        Features seen in fit, when the base estimator records it.

    Examples
    --------
    >>> import numpy as np
    >>> from skposter.multilabel import PerGenreClassifier
    >>> X = np.random.RandomState(0).normal(size=(60, 3))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 1]).astype(int)
    >>> model = PerGenreClassifier().fit(X, Y)
    >>> model.predict_proba(X).shape, model.predict(X).shape
    ((60, 2), (60, 2))
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "class_weight": [StrOptions({"balanced"}), None],
        "min_support": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }

    # A router: sample_weight reaches fit when the estimator requests it, so this
    # class has no request of its own (no set_fit_request).
    __metadata_request__fit = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, estimator=None, *, class_weight="balanced", min_support=5, n_jobs=None,
                 verbose=0):
        self.estimator = estimator
        self.class_weight = class_weight
        self.min_support = min_support
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(
        # The estimator is cloned and fitted in here: it is validated there.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one classifier per genre.

        Parameters
        ----------
        X : array-like
            Anything the base estimator takes (features, or images for image models).
        y : array-like or DataFrame of shape (n_samples, n_genres)
            0/1 genre matrix; a DataFrame's columns name the genres. A 1-D array of
            class labels is also accepted and handled one-vs-rest.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, multiplied with each genre's class weights and given to
            every clone as its ``sample_weight``. With metadata routing enabled, only
            when the estimator requests them (``set_fit_request(sample_weight=True)``;
            the default estimator does).
        **fit_params : dict
            Passed to every clone's ``fit``. With metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``), only those the
            estimator requests (e.g. through ``set_fit_request``).

        Returns
        -------
        self : object
        """
        target = check_genre_target(y, estimator=self, stacklevel=3)
        Y, self.classes_, self.label_binarizer_ = target.Y, target.classes, target.binarizer
        sample_weight, fit_params = self._routed_fit_params(sample_weight, fit_params)
        base = self._base()
        support = Y.sum(axis=0)
        too_few = (support < self.min_support) | (len(Y) - support < self.min_support)
        columns = self.classes_[1:] if Y.shape[1] < len(self.classes_) else self.classes_
        self.fallback_genres_ = np.asarray(columns)[too_few].tolist()
        if self.fallback_genres_:
            warnings.warn(
                f"genres {self.fallback_genres_} have fewer than min_support="
                f"{self.min_support} positives or negatives; they predict their training "
                "frequency.",
                UserWarning,
                stacklevel=3,
            )
        tasks = (
            delayed(_fit_genre)(
                DummyClassifier(strategy="prior") if few else clone(base),
                X, Y[:, k], None if few else self.class_weight, sample_weight, fit_params,
            )
            for k, few in enumerate(too_few)
        )
        with progress_bar(self.verbose, total=len(too_few), desc="fitting genres", unit="genre",
                          leave=False, delay=_BAR_DELAY) as bar:
            self.estimators_ = run_parallel(tasks, n_jobs=self.n_jobs, progress=bar)
        copy_feature_names(self.estimators_[int(np.argmin(too_few))], self)
        return self

    def _routed_fit_params(self, sample_weight, fit_params):
        """``sample_weight`` and the other ``fit`` parameters for the estimator.

        Without routing, all of them; with routing, those the estimator requests
        (``sample_weight`` included: it then reaches the clones combined with the
        class weights, as without routing).
        """
        if not _routing_enabled():
            return sample_weight, fit_params
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        params = dict(process_routing(self, "fit", **weights, **fit_params).estimator.fit)
        return params.pop("sample_weight", None), params

    def get_metadata_routing(self):
        """Metadata routing of this object: ``fit`` to the estimator's ``fit``.

        ``sample_weight`` reaches the clones (combined with their genre's class
        weights) when the estimator requests it, e.g.
        ``PerGenreClassifier(LogisticRegression().set_fit_request(sample_weight=True))``;
        the default estimator (None) requests it. Other metadata go to the clones'
        ``fit`` when the estimator requests them.

        Returns
        -------
        routing : MetadataRouter
        """
        return MetadataRouter(owner=self).add(
            estimator=self._base(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def _base(self):
        return _default_estimator() if self.estimator is None else self.estimator

    @available_if(base_has("predict_proba", fitted="estimators_"))
    def predict_proba(self, X):
        """Probability of each genre.

        Returns
        -------
        ndarray of shape (n_samples, n_genres)
            For a 1-D training target: one-vs-rest probabilities of each class,
            normalised to sum to one (two columns for a binary target).
        """
        check_is_fitted(self)
        proba = np.column_stack([positive_proba(est, X) for est in self.estimators_])
        if self.label_binarizer_ is None:
            return proba
        if len(self.classes_) == 2:
            return np.hstack([1 - proba, proba])
        totals = proba.sum(axis=1, keepdims=True)
        return np.divide(proba, totals, out=np.full_like(proba, 1 / proba.shape[1]),
                         where=totals > 0)

    def predict(self, X):
        """Predict genres: each genre's probability at or above 0.5.

        Returns
        -------
        ndarray of shape (n_samples, n_genres) of 0/1 int
            For a 1-D training target, the most likely class label per sample.
        """
        check_is_fitted(self)
        if hasattr(self._base(), "predict_proba"):
            scores = self.predict_proba(X)
        else:
            scores = np.column_stack([est.predict(X) for est in self.estimators_])
        if self.label_binarizer_ is not None:
            return self.classes_[np.argmax(scores, axis=1)]
        return (scores >= 0.5).astype(int)


def _fit_genre(estimator, X, y, class_weight, sample_weight, fit_params):
    # Class weights travel as sample weights where possible: combined with user
    # weights they stay finite even when those weights remove a class entirely.
    if class_weight is not None and has_fit_parameter(estimator, "sample_weight"):
        sample_weight = _balanced_weights(y, sample_weight)
    elif class_weight is not None and "class_weight" in estimator.get_params():
        estimator.set_params(class_weight=class_weight)
    elif class_weight is not None:
        raise ValueError(
            f"{type(estimator).__name__} takes neither sample_weight nor class_weight; "
            "set PerGenreClassifier(class_weight=None)."
        )
    if sample_weight is not None:
        fit_params = {**fit_params, "sample_weight": sample_weight}
    return estimator.fit(X, y, **fit_params)


def _balanced_weights(y, sample_weight):
    """Sample weights times "balanced" class weights from weighted class totals.

    Counting classes by weight, not by rows, keeps a weight of 2 equivalent to a
    repeated row.
    """
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    classes, index = np.unique(y, return_inverse=True)
    totals = np.bincount(index, weights=weights, minlength=len(classes))
    per_class = np.divide(weights.sum(), len(classes) * totals,
                          out=np.zeros_like(totals), where=totals > 0)
    return weights * per_class[index]

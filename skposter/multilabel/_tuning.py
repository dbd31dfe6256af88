"""Genre decisions from out-of-fold probabilities: folds, thresholds, floors and fallbacks.

Shared by :class:`GenreThresholdClassifier` and the stacking in :mod:`skposter.ensemble`,
so every model kind decides genres by one rule.
"""

import numbers
import warnings
from functools import partial

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import delayed
from sklearn.utils.validation import _check_method_params, _num_samples, indexable

from .._utils._progress import run_parallel

#: Named metrics; ``micro_f1`` and ``samples_f1`` couple the genres.
SCORINGS = ("macro_f1", "micro_f1", "samples_f1")
# Start of PerGenreClassifier's warning about genres predicting their prior.
_FALLBACK_WARNING = r"genres \[.*\] have fewer than min_support="
# Half-width, on the threshold axis, of the window a per-genre score curve is
# averaged over before its best threshold is picked: a small genre's curve is
# jagged, and a spike wins on the training folds only.
_SMOOTHING = 0.025
#: Fewest positives and negatives a genre needs for a threshold of its own.
MIN_SUPPORT = 10
# Coordinate ascent over genres stops after this many passes at the latest.
_MAX_PASSES = 10


def genre_folds(cv, X, y, random_state, groups=None):
    """The ``(train, test)`` index pairs of ``cv``, stratified by genre for an int.

    An int gives shuffled ``MultilabelStratifiedKFold`` (iterative stratification)
    for a genre matrix, ``StratifiedKFold`` for class labels or a single genre, so a
    rare genre is spread over all folds (shuffled ``KFold`` for any other target); a
    splitter or iterable is used as given.
    scikit-learn's own default for a genre matrix is ``KFold`` without shuffling,
    which puts any ordering of the rows (by year, by file name) into the folds.

    ``groups`` go to the splitter's ``split`` (``GroupKFold`` needs them; the
    stratified splitters of an int ignore them), never to an estimator.

    Returns
    -------
    list of tuple of ndarray
    """
    Y = np.asarray(y)
    if not isinstance(cv, numbers.Integral):
        splitter = check_cv(cv)
    elif type_of_target(Y) == "multilabel-indicator":
        splitter = MultilabelStratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    elif type_of_target(Y) in ("binary", "multiclass"):
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
        Y = Y.ravel()
    else:
        # Other targets are refused by the estimators, with their own messages.
        splitter = KFold(n_splits=cv, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros((len(Y), 1)), Y, groups))


def out_of_fold_proba(estimator, X, y, *, folds, n_jobs=None, params=None, progress=None):
    """Out-of-fold ``predict_proba`` of ``estimator``, as one 2-D array.

    What ``cross_val_predict(method="predict_proba")`` computes (the same target
    encoding, slicing of ``params`` and column order), but also for estimators
    whose ``classes_`` is a list of arrays while ``predict_proba`` returns one
    ``(n_samples, n_genres)`` array (``ClassifierChain``), which
    ``cross_val_predict`` cannot read. ``params`` go to every fold's ``fit`` as
    given: with metadata routing, the caller routes them first. ``progress``, a
    tqdm bar, advances by one as each fold is done.

    :class:`PerGenreClassifier`'s warnings about genres falling back to their prior
    are silenced in the folds, where they would repeat once per fold and name genres
    by column number; :func:`tune_thresholds` finds those genres in the
    probabilities and the callers warn once per fit, by name.
    """
    X, y = indexable(X, y)
    test_indices = np.concatenate([test for _, test in folds])
    if not np.array_equal(np.sort(test_indices), np.arange(_num_samples(X))):
        raise ValueError("the folds must partition the samples: every sample in exactly one "
                         "test part.")
    Y = _encoded(y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_FALLBACK_WARNING, category=UserWarning)
        # sklearn's Parallel carries these filters and the configuration to workers.
        parts = run_parallel(
            (delayed(_fold_proba)(clone(estimator), X, Y, train, test, params or {})
             for train, test in folds),
            n_jobs=n_jobs, progress=progress,
        )
    order = np.empty(len(test_indices), dtype=int)
    order[test_indices] = np.arange(len(test_indices))
    return np.concatenate(parts)[order]


def _encoded(y):
    """The target as ``cross_val_predict`` gives it to the folds: labels as 0 .. k - 1."""
    y = np.asarray(y)
    if y.ndim == 1:
        return LabelEncoder().fit_transform(y)
    return np.column_stack([LabelEncoder().fit_transform(column) for column in y.T])


def _fold_proba(estimator, X, Y, train, test, params):
    X_train, Y_train = _safe_split(estimator, X, Y, train)
    X_test, _ = _safe_split(estimator, X, Y, test, train)
    estimator.fit(X_train, Y_train, **_check_method_params(X, params, indices=train))
    proba = estimator.predict_proba(X_test)
    if Y.ndim == 2:
        return genre_proba(proba, getattr(estimator, "classes_", None))
    n_classes = len(np.unique(Y))
    classes = np.asarray(estimator.classes_)
    if len(classes) == n_classes:
        return np.asarray(proba)
    warnings.warn(
        f"Number of classes in training fold ({len(classes)}) does not match total number "
        f"of classes ({n_classes}). Results may not be appropriate for your use case. To "
        "fix this, use a cross-validation technique resulting in properly stratified folds",
        RuntimeWarning)
    # A class missing from the fold's training part has probability 0 there.
    full = np.zeros((len(proba), n_classes), dtype=np.asarray(proba).dtype)
    full[:, classes] = proba
    return full


def genre_proba(proba, classes=None):
    """One ``(n_samples, n_genres)`` array, also from scikit-learn's list of arrays.

    Parameters
    ----------
    proba : ndarray or list of ndarray
        ``predict_proba`` of a multi-label estimator: one 2-D array (returned as
        is, e.g. from :class:`PerGenreClassifier` or ``ClassifierChain``), or one
        ``(n_samples, n_classes)`` array per genre (forests, ``MultiOutputClassifier``).
    classes : list of ndarray, default=None
        The estimator's ``classes_``, one array per genre: each genre's column is
        then its class 1's, or zeros when training saw no 1. Without it, each
        array's last column.
    """
    if isinstance(proba, list):
        if classes is None or not isinstance(classes, list):
            return np.column_stack([p[:, -1] for p in proba])
        return np.column_stack([_column_of_one(p, c) for p, c in zip(proba, classes)])
    return np.asarray(proba)


def positive_proba(estimator, X):
    """Probability of class 1 (genre present) of a binary ``estimator``.

    Also for an estimator whose training data held a single class: without a class
    1, the probability is zero.
    """
    return _column_of_one(genre_proba(estimator.predict_proba(X)), estimator.classes_)


def _column_of_one(proba, classes):
    classes = list(classes)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(proba))


def decide(proba, thresholds, at_least_one):
    """0/1 genres: probability at or above threshold; optionally never an empty row."""
    pred = proba >= thresholds
    if at_least_one:
        # The genre closest to its own threshold rather than the most probable one,
        # so a rare genre's low threshold counts; on synthetic posters either rule
        # scores within 0.01 samples-F1 of the other.
        empty = np.flatnonzero(~pred.any(axis=1))
        pred[empty, np.argmax(proba[empty] - thresholds, axis=1)] = True
    return pred


def tune_thresholds(Y, proba, folds, *, scoring, strategy, grid, at_least_one=False,
                    min_support=MIN_SUPPORT):
    """Thresholds maximising ``scoring`` on out-of-fold probabilities.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_genres)
        0/1 genre matrix.
    proba : ndarray of shape (n_samples, n_genres)
        Out-of-fold probabilities.
    folds : list of (train, test)
        The folds that produced ``proba``; each test part is tuned on its own too,
        to show how much the thresholds move.
    scoring : {"macro_f1", "micro_f1", "samples_f1"} or callable
    strategy : {"per_genre", "global"}
    grid : ndarray
        Candidate thresholds, increasing.
    at_least_one : bool, default=False
        Score the rule that gives each empty row its closest genre (``"global"``).
    min_support : int, default=10
        Fewest positives and negatives a genre needs to be tuned.

    Returns
    -------
    Bunch
        ``thresholds``, ``scores``, ``cv_thresholds`` (one row per fold), ``floors``
        and ``fallback`` (bool per genre), as documented in
        :class:`GenreThresholdClassifier`.
    """
    prior = Y.mean(axis=0)
    floors = prior / (1 + prior)
    fallback = _untunable(Y, proba, folds, min_support)
    kind = "global" if strategy == "global" else _per_genre_kind(scoring)
    # A callable given per genre scores one genre's columns; the single threshold
    # that fallback genres share is scored by its mean over the genres.
    shared = _column_mean(scoring) if callable(scoring) and strategy != "global" else scoring
    settings = dict(grid=grid, at_least_one=at_least_one)
    tune = partial(_TUNERS[kind], scoring=scoring, **settings)
    common = partial(_global, scoring=shared, **settings)

    def run(rows):
        return _tuned(tune, common, Y[rows], proba[rows], grid, floors, fallback, prior,
                      per_genre_scores=kind != "global")

    thresholds, scores = run(slice(None))
    cv_thresholds = np.array([run(test)[0] for _, test in folds])
    return Bunch(thresholds=thresholds, scores=scores, cv_thresholds=cv_thresholds,
                 floors=floors, fallback=fallback)


def fallback_genres(names, fallback, min_support, stacklevel):
    """The names of the genres :func:`tune_thresholds` left untuned, warned about once.

    Parameters
    ----------
    names : array-like
        Genre names, one per column of the tuned target.
    fallback : ndarray of bool
        The ``fallback`` of :func:`tune_thresholds`.
    min_support : int
        The support they were measured against, for the message.
    stacklevel : int
        Stack level of the warning, as seen from the caller.

    Returns
    -------
    list
    """
    genres = np.asarray(names)[fallback].tolist()
    if genres:
        warnings.warn(
            f"genres {genres} have fewer than min_support={min_support} positives or "
            "negatives, or a constant probability in some inner fold; they get the "
            "threshold shared by the other genres, never below their training frequency.",
            UserWarning, stacklevel=stacklevel + 1)
    return genres


def _per_genre_kind(scoring):
    return scoring if scoring in ("micro_f1", "samples_f1") else "independent"


def _column_mean(metric):
    def mean_over_genres(Y, pred):
        return np.mean([metric(Y[:, k], pred[:, k].astype(int)) for k in range(Y.shape[1])])
    return mean_over_genres


def _untunable(Y, proba, folds, min_support):
    """Genres with too few positives or negatives, or a constant fold (a prior fallback)."""
    support = Y.sum(axis=0)
    few = np.minimum(support, len(Y) - support) < min_support
    constant = np.zeros(Y.shape[1], dtype=bool)
    for _, test in folds:
        constant |= np.ptp(proba[test], axis=0) == 0
    return few | constant


def _tuned(tune, common, Y, proba, grid, floors, fallback, prior, per_genre_scores):
    """Tune the tunable genres; fallback genres get the best single threshold.

    Every threshold ends strictly above its genre's floor, and a fallback genre's
    strictly above its prior too: a genre that fell back to predicting its training
    frequency must never be predicted at that probability.
    """
    keep = ~fallback
    thresholds = np.full(Y.shape[1], 0.5)
    scores = np.full((Y.shape[1], len(grid)) if per_genre_scores else len(grid), np.nan)
    if keep.any():
        allowed = grid[None, :] > floors[keep, None]
        thresholds[keep], kept_scores = tune(Y[:, keep], proba[:, keep], allowed)
        if per_genre_scores:
            scores[keep] = kept_scores
        else:
            scores = kept_scores
        if fallback.any():
            thresholds[fallback] = common(Y[:, keep], proba[:, keep], allowed)[0][0]
    thresholds[fallback] = np.maximum(thresholds[fallback], np.nextafter(prior[fallback], 1))
    return np.maximum(thresholds, np.nextafter(floors, 1)), scores


def _global(Y, proba, allowed, *, scoring, grid, at_least_one):
    """One threshold for every genre (floors are applied afterwards)."""
    metric = _matrix_metric(scoring)
    with warnings.catch_warnings():
        # A callable such as f1_score warns at every extreme candidate.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        scores = np.array([metric(Y, decide(proba, np.full(Y.shape[1], t), at_least_one))
                           for t in grid], dtype=float)
    return np.full(Y.shape[1], best_threshold(grid, scores)[0]), scores


def _independent(Y, proba, allowed, *, scoring, grid, at_least_one):
    """Each genre's own best threshold for a per-genre metric (F1 unless callable)."""
    scores = np.array([_column_scores(scoring, Y[:, k], proba[:, k], grid)
                       for k in range(Y.shape[1])])
    usable = np.where(allowed, _smooth(scores, grid), -np.inf)
    return best_threshold(grid, usable), scores


def _column_scores(scoring, y, p, grid):
    pred = p[:, None] >= grid[None, :]
    if callable(scoring):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            return np.array([scoring(y, pred[:, i].astype(int)) for i in range(len(grid))],
                            dtype=float)
    tp = (pred & (y == 1)[:, None]).sum(axis=0)
    return _f1(tp, pred.sum(axis=0) - tp, y.sum() - tp)


def _smooth(scores, grid):
    """Mean of each candidate's score over the candidates within ``_SMOOTHING``."""
    near = np.abs(grid[:, None] - grid[None, :]) <= _SMOOTHING + 1e-12
    return np.nan_to_num(scores, nan=-np.inf) @ near / near.sum(axis=0)


def _joint(Y, proba, allowed, *, scoring, grid, at_least_one):
    """Per-genre thresholds for a coupled metric, by coordinate ascent.

    Starting from the best single threshold, each genre in turn gets the threshold
    that maximises the metric with the other genres' thresholds fixed, until a pass
    changes nothing. Maximising each genre's own F1 instead is what gives weak or
    rare genres a threshold near 0 (Lipton, Elkan and Narayanaswamy, 2014); under
    micro-F1 a genre is only worth predicting where it is often right.
    """
    thresholds = _global(Y, proba, allowed, scoring=scoring, grid=grid, at_least_one=False)[0]
    thresholds = np.maximum(thresholds, _lowest_allowed(grid, allowed))
    pred = proba >= thresholds
    step = _micro_step if scoring == "micro_f1" else _samples_step
    order = np.argsort(-Y.sum(axis=0), kind="stable")
    scores = np.zeros((Y.shape[1], len(grid)))
    for _ in range(_MAX_PASSES):
        before = thresholds.copy()
        for k in order:
            candidates = proba[:, [k]] >= grid[None, :]
            scores[k] = step(Y, pred, k, candidates)
            choice = best_threshold(grid, np.where(allowed[k], scores[k], -np.inf))[0]
            thresholds[k] = choice
            pred[:, k] = proba[:, k] >= choice
        if np.array_equal(before, thresholds):
            break
    return thresholds, scores


def _lowest_allowed(grid, allowed):
    return np.array([grid[row][0] if row.any() else grid[-1] for row in allowed])


def _micro_step(Y, pred, k, candidates):
    """Micro-F1 of each candidate decision for genre ``k``, the others as in ``pred``."""
    others = np.delete(np.arange(Y.shape[1]), k)
    tp = (pred[:, others] & (Y[:, others] == 1)).sum()
    fp = pred[:, others].sum() - tp
    fn = Y[:, others].sum() - tp
    y = (Y[:, k] == 1)[:, None]
    tp_k = (candidates & y).sum(axis=0)
    return _f1(tp + tp_k, fp + candidates.sum(axis=0) - tp_k, fn + y.sum() - tp_k)


def _samples_step(Y, pred, k, candidates):
    """Samples-F1 of each candidate decision for genre ``k``, the others as in ``pred``."""
    others = np.delete(np.arange(Y.shape[1]), k)
    tp = (pred[:, others] & (Y[:, others] == 1)).sum(axis=1)[:, None]
    predicted = pred[:, others].sum(axis=1)[:, None]
    true = Y.sum(axis=1)[:, None]
    tp = tp + (candidates & (Y[:, [k]] == 1))
    return _f1(tp, predicted + candidates - tp, true - tp).mean(axis=0)


_TUNERS = {"global": _global, "independent": _independent, "micro_f1": _joint,
           "samples_f1": _joint}


def best_threshold(grid, scores):
    """Middle of the first run of best candidates, for each row of ``scores``.

    Discrete probabilities (trees, small folds) leave runs of candidates with equal
    scores; their middle is the threshold furthest from changing any decision.
    """
    best = []
    for row in np.nan_to_num(np.atleast_2d(scores), nan=-np.inf):
        top = row >= row.max()
        start = stop = int(np.argmax(top))
        while stop + 1 < len(row) and top[stop + 1]:
            stop += 1
        best.append((grid[start] + grid[stop]) / 2)
    return np.array(best)


def _matrix_metric(scoring):
    if callable(scoring):
        return scoring
    return {"macro_f1": _macro_f1, "micro_f1": _micro_f1, "samples_f1": _samples_f1}[scoring]


def _counts(Y, pred):
    tp = (pred & (Y == 1)).sum(axis=0)
    return tp, pred.sum(axis=0) - tp, Y.sum(axis=0) - tp


def _f1(tp, fp, fn):
    # No positives and none predicted scores 0, like zero_division=0 in genre_report.
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp)), where=denominator > 0)


def _macro_f1(Y, pred):
    return float(np.mean(_f1(*_counts(Y, pred))))


def _micro_f1(Y, pred):
    return float(_f1(*(c.sum() for c in _counts(Y, pred))))


def _samples_f1(Y, pred):
    return float(np.mean(_f1(*_counts(Y.T, pred.T))))

"""Scorers for model selection on a genre matrix, agreeing with genre_report."""

import numpy as np
from sklearn.metrics import f1_score, hamming_loss

from ._report import _mean_defined, _ranking, _summary


class GenreScorer:
    """Score a fitted genre model on ``(X, y)``, as ``GridSearchCV(scoring=...)`` expects.

    Probabilities come straight from ``predict_proba`` as one ``(n_samples,
    n_genres)`` array. scikit-learn's ``"average_precision"`` and ``"roc_auc"``
    scorers pass them through its binary/multiclass logic first, which fails for a
    model with exactly two named genres (``classes_`` then looks binary). Macro
    averages leave out genres without a positive in ``y_true``, as
    :func:`genre_report` does, where scikit-learn counts their average precision
    as 0 and their ROC AUC as NaN: small folds of rare genres would otherwise
    decide a search.

    Parameters
    ----------
    name : str
        A key of :data:`GENRE_SCORERS`.
    """

    def __init__(self, name):
        if name not in _METRICS:
            raise ValueError(f"unknown genre scorer {name!r}; choose from {sorted(_METRICS)}.")
        self.name = name

    def __call__(self, estimator, X, y_true):
        """Score ``estimator`` on ``X`` against the 0/1 genre matrix ``y_true``.

        Returns
        -------
        float
            Greater is better.
        """
        metric, needs = _METRICS[self.name]
        output = _genre_scores(estimator, X) if needs == "proba" else estimator.predict(X)
        return metric(np.asarray(y_true, dtype=int), np.asarray(output))

    def __repr__(self):
        return f"GenreScorer({self.name!r})"


def genre_summary_scorer(estimator, X, y_true):
    """Every summary score of :func:`genre_report` from one prediction of each kind.

    For multi-metric search, e.g. ``GridSearchCV(..., scoring=genre_summary_scorer,
    refit="macro_ap")``: it calls ``predict_proba`` and ``predict`` once, where a
    dict of single scorers predicts once per scorer (costly when every prediction
    decodes posters).

    Returns
    -------
    dict of str to float
        The keys of :data:`GENRE_SCORERS`; all greater-is-better, so Hamming loss
        is negated. The report's ``genres_per_poster`` is left out: more is not
        better.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_score = _genre_scores(estimator, X)
    scores = _summary(y_true, np.asarray(estimator.predict(X)), _ranking(y_true, y_score))
    scores["neg_hamming_loss"] = -scores.pop("hamming_loss")
    del scores["genres_per_poster"]
    return scores


def _genre_scores(estimator, X):
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):
        # scikit-learn's multi-output format: one (n_samples, 2) array per genre.
        return np.column_stack([p[:, -1] for p in proba])
    return np.asarray(proba)


def _macro_ap(y_true, y_score):
    return _mean_defined(_ranking(y_true, y_score)[:, 0])


def _macro_roc_auc(y_true, y_score):
    return _mean_defined(_ranking(y_true, y_score)[:, 1])


def _f1(average):
    def score(y_true, y_pred):
        return f1_score(y_true, y_pred, average=average, zero_division=0)
    return score


def _neg_hamming_loss(y_true, y_pred):
    return -hamming_loss(y_true, y_pred)


# Each metric with what it scores: probabilities or predicted genres.
_METRICS = {
    "macro_ap": (_macro_ap, "proba"),
    "macro_roc_auc": (_macro_roc_auc, "proba"),
    "micro_f1": (_f1("micro"), "predict"),
    "macro_f1": (_f1("macro"), "predict"),
    "weighted_f1": (_f1("weighted"), "predict"),
    "samples_f1": (_f1("samples"), "predict"),
    "neg_hamming_loss": (_neg_hamming_loss, "predict"),
}

#: One :class:`GenreScorer` per summary column of :func:`genre_report`, by name. Pass
#: one (``scoring=GENRE_SCORERS["macro_ap"]``) or all of them for multi-metric search.
GENRE_SCORERS = {name: GenreScorer(name) for name in _METRICS}

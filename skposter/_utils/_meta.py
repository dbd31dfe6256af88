"""What a meta-estimator takes over from the estimator it wraps (private)."""

#: Attributes describing the input a fitted estimator saw.
FEATURE_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


def copy_feature_names(source, target):
    """Give ``target`` the input description of the fitted ``source``.

    Copies ``n_features_in_`` and ``feature_names_in_`` where ``source`` has them, so
    a meta-estimator reports the input its inner estimator was fitted on.

    Parameters
    ----------
    source : estimator
        A fitted estimator (the inner one).
    target : estimator
        The estimator that wraps it; changed in place.

    Returns
    -------
    target : estimator
        The same object, for chaining.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> inner = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    >>> class Wrapper:
    ...     pass
    >>> copy_feature_names(inner, Wrapper()).n_features_in_
    4
    """
    for attr in FEATURE_ATTRIBUTES:
        if hasattr(source, attr):
            setattr(target, attr, getattr(source, attr))
    return target

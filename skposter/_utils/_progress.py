"""Progress bars of long fits, and the verbosity of a fitted model (private)."""

from sklearn.base import BaseEstimator
from sklearn.utils.parallel import Parallel
from tqdm.auto import tqdm


def progress_bar(verbose, *, total, desc, unit="fit", leave=True, delay=0.0):
    """A tqdm bar on ``sys.stderr``, disabled (drawing nothing) when ``verbose`` is 0.

    Parameters
    ----------
    verbose : int
        The estimator's ``verbose``.
    total : int
        Steps the bar counts.
    desc : str
        Label in front of the bar.
    unit : str, default="fit"
        What one step is.
    leave : bool, default=True
        Keep the finished bar on screen; ``False`` for bars nested in another
        estimator's, which would otherwise pile up one line per outer step.
    delay : float, default=0.0
        Seconds before the bar first shows, so that fast steps print nothing.

    Returns
    -------
    tqdm.tqdm
    """
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, delay=delay,
                disable=not verbose)


def run_parallel(tasks, *, n_jobs, progress=None):
    """``sklearn.utils.parallel.Parallel(n_jobs)(tasks)``, ticking ``progress`` per result.

    Results come back in the order of ``tasks``, as a list.
    """
    results = []
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
        results.append(result)
        if progress is not None:
            progress.update()
    return results


def set_verbosity(model, verbose):
    """Set ``verbose`` of every skposter estimator inside a (fitted) model, in place.

    A model saved by ``skposter train`` keeps the verbosity it was built with; the
    command loading it decides whether its feature extractor draws bars. Fitted
    inner estimators (``estimator_``, ``estimators_``, pipeline steps, fitted
    column transformers) are clones the parameters of the outer model no longer
    reach, so attributes are walked rather than ``set_params``. scikit-learn's own
    estimators keep theirs: their ``verbose`` prints solver logs, not progress.

    Parameters
    ----------
    model : estimator
    verbose : int

    Returns
    -------
    model : estimator
    """
    seen = set()

    def visit(value):
        if isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, BaseEstimator) and id(value) not in seen:
            seen.add(id(value))
            # Parameter names from the signature: a model saved before its class
            # took ``verbose`` has no such attribute for get_params to read.
            if (type(value).__module__.startswith("skposter.")
                    and "verbose" in value._get_param_names()):
                value.verbose = verbose
            for item in vars(value).values():
                visit(item)

    visit(model)
    return model

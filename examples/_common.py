"""Data, split and scoring shared by the example scripts (not part of the library)."""

import argparse
import time

from skposter import genre_report, load_posters, make_posters, split_by_id


def parse_args(doc):
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic posters, seconds")
    parser.add_argument("--data", default="../shared/posters", help="poster folder")
    return parser.parse_args()


def poster_split(args, min_train_positives=10):
    """Train and test posters with the genres that have enough training positives.

    ``--quick`` gives synthetic images; otherwise the folder's poster paths, which the
    Keras models stream from disk.

    Returns
    -------
    X_train, X_test, Y_train, Y_test, names
    """
    if args.quick:
        data = make_posters(240, n_genres=3, size=(48, 32), random_state=0)
        X = data.images
    else:
        data = load_posters(args.data)
        X = data.paths
    train, test = split_by_id(data.ids)
    keep = data.target[train].sum(axis=0) >= min_train_positives
    names = [n for n, k in zip(data.target_names, keep) if k]
    Y = data.target[:, keep]
    return X[train], X[test], Y[train], Y[test], names


def fit_and_report(name, model, split):
    """Fit ``model`` on the train part, print one line of held-out scores."""
    X_train, X_test, Y_train, Y_test, names = split
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    summary = genre_report(Y_test, model.predict_proba(X_test), target_names=names,
                           y_prior=Y_train).summary
    print(f"{name:<36} macro AP {summary.loc['model', 'macro_ap']:.3f}  "
          f"macro-F1 {summary.loc['model', 'macro_f1']:.3f}  "
          f"(prior AP {summary.loc['prior', 'macro_ap']:.3f})  fit {seconds:.0f} s")
    return model

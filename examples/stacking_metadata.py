"""Stack a poster model with metadata models on one DataFrame, then grid-search the stack.

    python examples/stacking_metadata.py --quick          # synthetic posters, seconds
    python examples/stacking_metadata.py --data ../shared/posters

The reference projects combined a poster CNN with metadata models (budget, runtime,
year, plot keywords) by hand. Here every model is a pipeline reading its own columns
of one table, GenreStackingClassifier learns from their out-of-fold probabilities, and
GridSearchCV tunes a base model's parameter through the nested name. The report
compares the stack with each of its bases on the held-out posters.
"""

import argparse
import tempfile

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter import (
    PerGenreClassifier, PosterLoader, RGBStatsExtractor, genre_report, load_posters,
    make_posters, split_by_id,
)
from skposter.ensemble import GenreStackingClassifier
from skposter.features import CNNFeatureExtractor
from skposter.metrics import GENRE_SCORERS
from skposter.preprocessing import make_metadata_preprocessor


def poster_model(quick):
    # Colour statistics keep --quick in seconds; the real run uses ImageNet features.
    if quick:
        features = make_pipeline(PosterLoader(column="poster"), RGBStatsExtractor())
        C = 1.0
    else:
        features, C = CNNFeatureExtractor("efficientnet_lite0", cache="~/.cache/skposter"), 0.003
    return make_pipeline(ColumnTransformer([("poster", features, ["poster"])]),
                         StandardScaler(),
                         PerGenreClassifier(LogisticRegression(C=C, max_iter=2000)))


def base_models(quick):
    numbers = make_metadata_preprocessor(keywords=None)
    keywords = make_metadata_preprocessor(numeric=(), categorical=(), keywords="plot_keywords",
                                          log=())
    return [
        ("poster", poster_model(quick)),
        ("metadata", make_pipeline(numbers, PerGenreClassifier(RandomForestClassifier(
            n_estimators=100 if quick else 300, min_samples_leaf=3, random_state=0)))),
        ("keywords", make_pipeline(keywords, PerGenreClassifier(LogisticRegression(
            C=0.1, max_iter=2000)))),
    ]


def table(data):
    """One row per poster with metadata: its path, then the metadata columns."""
    metadata = data.metadata.set_index("Id")
    keep = pd.Index(data.ids).isin(metadata.index)
    frame = metadata.reindex(data.ids[keep]).reset_index(drop=True)
    frame.insert(0, "poster", data.paths[keep])
    return frame, data.target[keep], data.ids[keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic posters")
    parser.add_argument("--data", default="../shared/posters", help="poster folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        if args.quick:
            make_posters(400, n_genres=4, size=(48, 32), metadata=True, directory=folder,
                         random_state=0)
        data = load_posters(folder if args.quick else args.data)
        X, Y, ids = table(data)
        train, test = split_by_id(ids)
        keep = Y[train].sum(axis=0) >= 10
        Y, names = Y[:, keep], [n for n, k in zip(data.target_names, keep) if k]

        stack = GenreStackingClassifier(base_models(args.quick), cv=3, random_state=0)
        search = GridSearchCV(stack, {"metadata__pergenreclassifier__estimator__max_depth":
                                      [None, 8]}, scoring=GENRE_SCORERS["macro_ap"], cv=3)
        search.fit(X.iloc[train], Y[train])
        print(f"best: {search.best_params_} (CV macro AP {search.best_score_:.3f})\n")

        best = search.best_estimator_
        rows = {name: model.predict_proba(X.iloc[test])
                for name, model in best.named_estimators_.items()}
        rows["stack"] = best.predict_proba(X.iloc[test])
        for name, proba in rows.items():
            report = genre_report(Y[test], proba, target_names=names, y_prior=Y[train])
            print(f"{name:>9}: macro AP {report.summary.loc['model', 'macro_ap']:.3f}")
        print(f"    prior: macro AP {report.summary.loc['prior', 'macro_ap']:.3f}\n")
        print(report)


if __name__ == "__main__":
    main()

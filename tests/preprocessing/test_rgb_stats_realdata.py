"""Colour statistics on the real posters must carry genre signal."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from skposter import (
    PerGenreClassifier, PosterLoader, RGBStatsExtractor, genre_report, load_posters, split_by_id,
)

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_rgb_stats_random_forest_beats_the_prior(shared_posters):
    data = load_posters(shared_posters)
    train, test = split_by_id(data.ids)
    X = RGBStatsExtractor().fit_transform(PosterLoader(n_jobs=2).fit_transform(data.paths))
    kept = data.target[train].sum(axis=0) >= 10  # as in shared/MEASURED.md
    Y = data.target[:, kept]
    model = PerGenreClassifier(RandomForestClassifier(
        n_estimators=100, min_samples_leaf=3, n_jobs=2, random_state=0,
    )).fit(X[train], Y[train])
    summary = genre_report(Y[test], model.predict_proba(X[test]), y_prior=Y[train]).summary
    assert summary.loc["prior", "macro_ap"] == pytest.approx(0.10, abs=0.02)
    assert summary.loc["model", "macro_ap"] > summary.loc["prior", "macro_ap"] + 0.04
    assert np.isfinite(summary.loc["model"]).all()

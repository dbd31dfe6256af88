import pickle
from functools import partial

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, fbeta_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skposter.metrics import GENRE_SCORERS
from skposter.multilabel import GenreThresholdClassifier, PerGenreClassifier
from skposter.multilabel._tuning import best_threshold as _best_threshold, genre_folds


def _imbalanced(n_samples, seed):
    """Three genres of falling frequency, each read noisily from its own feature."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 4))
    logits = X[:, :3] + rng.normal(size=(n_samples, 3)) + [0.0, -1.6, -2.2]
    Y = pd.DataFrame((logits > 0).astype(int), columns=["Drama", "Horror", "Western"])
    return X, Y


@pytest.fixture(scope="module")
def problem():
    X, Y = _imbalanced(1200, seed=0)
    return X[:600], Y[:600], X[600:], Y[600:]


def _unweighted():
    # Plain probabilities put rare genres far below 0.5: the case thresholds fix.
    # liblinear: lbfgs is ten times slower here when BLAS threads compete for cores.
    return PerGenreClassifier(LogisticRegression(solver="liblinear"), class_weight=None)


def test_tuned_thresholds_raise_macro_f1_on_imbalanced_genres(problem):
    X, Y, X_test, Y_test = problem
    assert Y.mean().round(2).tolist() == [0.48, 0.12, 0.06]
    plain = _unweighted().fit(X, Y)
    balanced = PerGenreClassifier(LogisticRegression(solver="liblinear")).fit(X, Y)
    tuned = GenreThresholdClassifier(_unweighted(), scoring="macro_f1", random_state=0).fit(X, Y)
    f1_plain, f1_balanced, f1_tuned = (
        f1_score(Y_test, model.predict(X_test), average="macro")
        for model in (plain, balanced, tuned)
    )
    # 0.49 and 0.50 at a threshold of 0.5, with or without balanced weights; 0.57 tuned.
    assert f1_tuned > max(f1_plain, f1_balanced) + 0.05
    # Rare genres get thresholds well below 0.5; the common one stays nearer to it.
    assert (tuned.thresholds_[1:] < 0.3).all() and 0.3 < tuned.thresholds_[0] < 0.6
    assert list(tuned.classes_) == ["Drama", "Horror", "Western"]
    np.testing.assert_allclose(tuned.predict_proba(X_test), tuned.estimator_.predict_proba(X_test))


def test_curves_are_out_of_fold_scores_of_each_candidate(problem):
    X, Y, _, _ = problem
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    oof = cross_val_predict(_unweighted(), X, Y.to_numpy(), cv=folds, method="predict_proba")
    per_genre = GenreThresholdClassifier(_unweighted(), scoring="macro_f1", cv=folds,
                                         threshold_grid=11).fit(X, Y)
    assert per_genre.scores_.shape == (3, 11) and per_genre.threshold_grid_[1] == 0.1
    for k in range(3):
        for i in (2, 5, 8):
            expected = f1_score(Y.iloc[:, k], oof[:, k] >= per_genre.threshold_grid_[i])
            assert per_genre.scores_[k, i] == pytest.approx(expected)
    for name, average in [("micro_f1", "micro"), ("samples_f1", "samples"), ("macro_f1", "macro")]:
        glob = GenreThresholdClassifier(_unweighted(), thresholds="global", scoring=name,
                                        cv=folds, threshold_grid=11).fit(X, Y)
        expected = [f1_score(Y, oof >= t, average=average, zero_division=0)
                    for t in glob.threshold_grid_]
        np.testing.assert_allclose(glob.scores_, expected)
        # One threshold, raised to a genre's floor where that is higher.
        best = glob.threshold_grid_[np.argmax(expected)]
        np.testing.assert_allclose(glob.thresholds_, np.maximum(best, glob.floors_),
                                   rtol=1e-12)


def test_callable_scoring_per_genre_and_global(problem):
    X, Y, _, _ = problem
    f2 = GenreThresholdClassifier(_unweighted(), scoring=partial(fbeta_score, beta=2),
                                  random_state=0).fit(X, Y)
    f1 = GenreThresholdClassifier(_unweighted(), scoring="macro_f1", random_state=0).fit(X, Y)
    # F2 values recall more than F1, so it settles on lower thresholds.
    assert (f2.thresholds_ <= f1.thresholds_).all() and f2.thresholds_.sum() < f1.thresholds_.sum()
    micro = partial(f1_score, average="micro")
    by_callable = GenreThresholdClassifier(_unweighted(), thresholds="global", scoring=micro,
                                           random_state=0).fit(X, Y)
    by_name = GenreThresholdClassifier(_unweighted(), thresholds="global", scoring="micro_f1",
                                       random_state=0).fit(X, Y)
    np.testing.assert_allclose(by_callable.scores_, by_name.scores_)
    np.testing.assert_array_equal(by_callable.thresholds_, by_name.thresholds_)


def test_micro_f1_tunes_the_genres_jointly(problem):
    X, Y, X_test, Y_test = problem
    joint = GenreThresholdClassifier(_unweighted(), scoring="micro_f1", random_state=0).fit(X, Y)
    common = GenreThresholdClassifier(_unweighted(), thresholds="global", scoring="micro_f1",
                                      random_state=0).fit(X, Y)
    own = GenreThresholdClassifier(_unweighted(), scoring="macro_f1", random_state=0).fit(X, Y)
    # Each genre's final curve is micro-F1 with the others at their thresholds, and
    # each threshold sits at its curve's best (the ascent has converged).
    best = joint.scores_.max(axis=1)
    assert best.max() - best.min() < 1e-12
    assert best[0] >= common.scores_.max() - 1e-12
    # Under micro-F1 rare genres are decided more strictly than for their own F1.
    assert (joint.thresholds_[1:] > own.thresholds_[1:]).all()
    micro = [f1_score(Y_test, m.predict(X_test), average="micro") for m in (joint, common, own)]
    assert micro[0] >= max(micro[1:]) - 0.005


def test_samples_f1_joint_curves_are_the_metric_itself(problem):
    X, Y, _, _ = problem
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    oof = cross_val_predict(_unweighted(), X, Y.to_numpy(), cv=folds, method="predict_proba")
    model = GenreThresholdClassifier(_unweighted(), scoring="samples_f1", cv=folds,
                                     threshold_grid=21).fit(X, Y)
    for k in range(3):
        for i in (4, 10, 16):
            thresholds = model.thresholds_.copy()
            thresholds[k] = model.threshold_grid_[i]
            expected = f1_score(Y, oof >= thresholds, average="samples", zero_division=0)
            assert model.scores_[k, i] == pytest.approx(expected)


def test_fixed_thresholds_skip_cross_validation(problem):
    X, Y, X_test, _ = problem
    model = GenreThresholdClassifier(_unweighted(), thresholds=[0.5, 0.2, 0.1]).fit(X, Y)
    assert not hasattr(model, "scores_")
    expected = (model.predict_proba(X_test) >= [0.5, 0.2, 0.1]).astype(int)
    np.testing.assert_array_equal(model.predict(X_test), expected)
    assert (GenreThresholdClassifier(thresholds=0.3).fit(X, Y).thresholds_ == 0.3).all()
    with pytest.raises(ValueError, match="2 values for 3 genres"):
        GenreThresholdClassifier(thresholds=[0.5, 0.2]).fit(X, Y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        GenreThresholdClassifier(thresholds=[0.5, 0.2, 1.5]).fit(X, Y)


def test_at_least_one_leaves_no_sample_without_a_genre(problem):
    X, Y, X_test, _ = problem
    plain = GenreThresholdClassifier(_unweighted(), thresholds=0.9).fit(X, Y)
    forced = clone(plain).set_params(at_least_one=True).fit(X, Y)
    before, after = plain.predict(X_test), forced.predict(X_test)
    empty = before.sum(axis=1) == 0
    assert empty.mean() > 0.3
    assert (after.sum(axis=1) >= 1).all()
    np.testing.assert_array_equal(after[~empty], before[~empty])
    # Each empty row gets exactly one genre: the one closest to its threshold.
    margin = forced.predict_proba(X_test) - forced.thresholds_
    assert (after[empty].sum(axis=1) == 1).all()
    np.testing.assert_array_equal(after[empty].argmax(axis=1), margin[empty].argmax(axis=1))


def test_global_tuning_scores_the_at_least_one_rule(problem):
    X, Y, _, _ = problem
    kwargs = dict(thresholds="global", scoring="samples_f1", random_state=0)
    free = GenreThresholdClassifier(_unweighted(), **kwargs).fit(X, Y)
    forced = GenreThresholdClassifier(_unweighted(), at_least_one=True, **kwargs).fit(X, Y)
    # Forcing a genre into empty rows only helps samples-F1 at high thresholds.
    assert (forced.scores_ >= free.scores_ - 1e-12).all()
    assert forced.scores_[-1] > free.scores_[-1] + 0.3


def test_best_threshold_is_the_middle_of_a_tied_run():
    grid = np.linspace(0, 1, 11)
    scores = np.array([0.1, 0.2, 0.5, 0.5, 0.5, 0.3, 0.5, 0.1, 0, 0, 0])
    assert _best_threshold(grid, scores) == pytest.approx([0.3])
    assert _best_threshold(grid, np.zeros((2, 11))) == pytest.approx([0.5, 0.5])


def test_binary_1d_target_gets_one_threshold(problem):
    X, Y, X_test, Y_test = problem
    y, y_test = Y["Horror"].to_numpy(), Y_test["Horror"].to_numpy()
    plain = _unweighted().fit(X, y)
    model = GenreThresholdClassifier(_unweighted(), random_state=0).fit(X, y)
    assert list(model.classes_) == [0, 1] and model.thresholds_.shape == (1,)
    # As in TunedThresholdClassifierCV, the threshold is on the second class.
    pred = model.predict(X_test)
    np.testing.assert_array_equal(pred, model.predict_proba(X_test)[:, 1] >= model.thresholds_[0])
    assert model.thresholds_[0] < 0.4
    assert f1_score(y_test, pred) > f1_score(y_test, plain.predict(X_test)) + 0.05


def test_grid_search_over_strategy_and_nested_params(problem):
    X, Y, _, _ = problem
    model = GenreThresholdClassifier(make_pipeline(StandardScaler(), _unweighted()), cv=3,
                                     random_state=0)
    search = GridSearchCV(model, {
        "thresholds": ["per_genre", "global", 0.5],
        "estimator__pergenreclassifier__estimator__C": [0.1, 1.0],
    }, scoring=GENRE_SCORERS["macro_f1"], cv=3).fit(X, Y)
    results = pd.DataFrame(search.cv_results_)
    by_strategy = results.groupby(results["param_thresholds"].astype(str))["mean_test_score"].max()
    assert by_strategy["per_genre"] > by_strategy["0.5"] + 0.03


def test_pickle_clone_parallel_and_names(problem):
    X, Y, X_test, _ = problem
    serial = GenreThresholdClassifier(_unweighted(), random_state=0).fit(X, Y)
    # Threads start at once; pickling, which processes would add, is checked below.
    with parallel_config(backend="threading"):
        parallel = GenreThresholdClassifier(_unweighted(), n_jobs=2, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(serial.thresholds_, parallel.thresholds_)
    restored = pickle.loads(pickle.dumps(serial))
    np.testing.assert_array_equal(restored.predict(X_test), serial.predict(X_test))
    assert serial.n_features_in_ == 4 and clone(serial).get_params()["random_state"] == 0
    assert repr(GenreThresholdClassifier(thresholds="global")) == (
        "GenreThresholdClassifier(thresholds='global')")


def test_native_multi_label_estimator(problem):
    X, Y, X_test, Y_test = problem
    # A forest fitted on a genre matrix returns one (n, 2) array per genre.
    forest = RandomForestClassifier(30, min_samples_leaf=5, random_state=0)
    model = GenreThresholdClassifier(forest, random_state=0).fit(X, Y)
    assert list(model.classes_) == ["Drama", "Horror", "Western"]
    assert model.predict_proba(X_test).shape == (600, 3)
    plain = f1_score(Y_test, clone(forest).fit(X, Y).predict(X_test), average="macro")
    assert f1_score(Y_test, model.predict(X_test), average="macro") > plain + 0.05


def test_fit_params_reach_the_estimator_in_every_fold(problem):
    X, Y, _, _ = problem
    plain = GenreThresholdClassifier(_unweighted(), random_state=0).fit(X, Y)
    ones = GenreThresholdClassifier(_unweighted(), random_state=0).fit(
        X, Y, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(ones.scores_, plain.scores_)
    # Weighing the Western rows up raises its probabilities, so its threshold.
    heavy = GenreThresholdClassifier(_unweighted(), random_state=0).fit(
        X, Y, sample_weight=np.where(Y["Western"] == 1, 10.0, 1.0))
    assert heavy.thresholds_[2] > plain.thresholds_[2] + 0.2


def test_bad_targets_and_parameters_are_named(problem):
    X, Y, _, _ = problem
    with pytest.raises(ValueError, match="Horror"):
        GenreThresholdClassifier().fit(X, Y.assign(Horror=Y["Horror"] * 2))
    with pytest.raises(ValueError, match="threshold_grid"):
        GenreThresholdClassifier(threshold_grid=[0.2, 1.2]).fit(X, Y)
    with pytest.raises(ValueError, match="scoring"):
        GenreThresholdClassifier(scoring="accuracy").fit(X, Y)


def _with_rare_genres(n_samples=600, seed=3):
    X, Y = _imbalanced(n_samples, seed)
    Y = Y.assign(News=0, Short=0)
    Y.loc[:5, "Short"] = 1  # 6 positives: some inner training fold keeps only 4
    return X, Y


def test_rare_genres_fall_back_with_one_warning_naming_them():
    X, Y = _with_rare_genres()
    base = PerGenreClassifier(LogisticRegression(solver="liblinear"))
    with pytest.warns(UserWarning) as caught:
        model = GenreThresholdClassifier(base, random_state=0).fit(X, Y)
    tuning = [str(w.message) for w in caught if "shared by the other genres" in str(w.message)]
    assert len(tuning) == 1 and "'News'" in tuning[0] and "'Short'" in tuning[0]
    assert model.fallback_genres_ == ["News", "Short"]
    assert np.isnan(model.scores_[3:]).all() and np.isfinite(model.scores_[:3]).all()
    # Never predicted at or below the training frequency, never at probability 0.
    prior = Y.mean().to_numpy()
    assert (model.thresholds_ > prior).all() and (model.thresholds_ > model.floors_).all()
    proba, pred = model.predict_proba(X), model.predict(X).astype(bool)
    assert not (pred & (proba <= prior)).any() and pred[:, 3].sum() == 0


def test_a_genre_falling_back_in_some_inner_fold_is_not_tuned():
    X, Y = _with_rare_genres()
    # min_support=1 lets the 6 Short posters through the count; a fold whose
    # training part has 4 of them predicts their prior: a constant probability.
    model = GenreThresholdClassifier(PerGenreClassifier(LogisticRegression(solver="liblinear")),
                                     min_support=1, random_state=0)
    # News also falls back to its prior in the final per-genre fit: both warn.
    with pytest.warns(UserWarning, match="constant probability in some inner fold"), \
            pytest.warns(UserWarning, match=r"genres \['News'\] have fewer than min_support="):
        model.fit(X, Y)
    assert "Short" in model.fallback_genres_


def test_int_cv_spreads_every_genre_over_the_folds():
    X, Y = _with_rare_genres()
    Y.loc[100:109, "News"] = 1
    model = GenreThresholdClassifier(_unweighted(), cv=5, random_state=0)
    folds = genre_folds(model.cv, X, Y, random_state=0)
    per_fold = np.array([Y.to_numpy()[test].sum(axis=0) for _, test in folds])
    assert per_fold[:, 3].tolist() == [2, 2, 2, 2, 2]
    assert per_fold.max(axis=0).tolist() == pytest.approx(
        np.ceil(Y.sum().to_numpy() / 5).tolist(), abs=1)
    # A splitter is used as given.
    given = KFold(4)
    assert [t.tolist() for _, t in genre_folds(given, X, Y, 0)] == [
        t.tolist() for _, t in given.split(X)]


def test_threshold_spread_across_folds_is_kept(problem):
    X, Y, _, _ = problem
    model = GenreThresholdClassifier(_unweighted(), cv=4, random_state=0).fit(X, Y)
    assert model.cv_thresholds_.shape == (4, 3)
    assert (model.cv_thresholds_ > model.floors_).all()
    # Fewer positives, noisier thresholds: Western's spread is Drama's or more.
    spread = model.cv_thresholds_.std(axis=0)
    assert spread[2] >= spread[0]

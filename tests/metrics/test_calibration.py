import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_multilabel_classification
from sklearn.naive_bayes import GaussianNB

from skposter.metrics import calibration_table, plot_calibration
from skposter.multilabel import PerGenreClassifier

BIN_COLUMNS = [f"n {k / 10:g}-{(k + 1) / 10:g}" for k in range(10)]


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _calibrated_by_construction():
    """20 posters at each of 0.05, 0.15 ... 0.95; in each group, a share p has the genre."""
    proba = np.repeat(np.arange(10) / 10 + 0.05, 20)
    y = np.concatenate([np.arange(20) < round(p * 20) for p in proba[::20]]).astype(int)
    return y, proba


def test_perfectly_calibrated_probabilities_have_no_calibration_error():
    y, proba = _calibrated_by_construction()
    table = calibration_table(y[:, None], proba[:, None], ["Drama"])
    assert list(table.columns) == [
        "support", "prevalence", "mean_predicted", "brier", "ece", "max_error", *BIN_COLUMNS,
    ]
    row = table.loc["Drama"]
    assert row["ece"] == pytest.approx(0, abs=1e-12)
    assert row["max_error"] == pytest.approx(0, abs=1e-12)
    assert row[BIN_COLUMNS].tolist() == [20] * 10
    assert row["brier"] == pytest.approx(np.mean((proba - y) ** 2))
    assert row["mean_predicted"] == pytest.approx(row["prevalence"]) == pytest.approx(0.5)


def test_overconfident_probabilities_and_bin_edges():
    # Half the posters have the genre, all are given 0.9: every one in the last bin.
    y = np.array([[1], [0]] * 50)
    table = calibration_table(y, np.full((100, 1), 0.9))
    row = table.loc["genre_0"]
    assert (row["ece"], row["max_error"]) == pytest.approx((0.4, 0.4))
    assert row["brier"] == pytest.approx(0.5 * 0.1 ** 2 + 0.5 * 0.9 ** 2)
    assert row[BIN_COLUMNS].tolist() == [0] * 9 + [100]
    # A probability on an edge belongs to the bin above it; 1 to the last bin.
    edges = calibration_table([[0], [0], [1], [1]], [[0.0], [0.3], [0.7], [1.0]], n_bins=10)
    assert np.flatnonzero(edges.loc["genre_0", BIN_COLUMNS].to_numpy()).tolist() == [0, 3, 7, 9]


def test_ece_weights_each_bins_gap_by_its_share_of_posters():
    # 30 posters at 0.2 of which 12 have the genre (gap 0.2), 10 at 0.8 all with it (gap 0.2
    # above), in a second genre 40 posters at 0.5 with 20 positives (no gap).
    proba = np.column_stack([np.r_[np.full(30, 0.2), np.full(10, 0.8)], np.full(40, 0.5)])
    y = np.column_stack([np.r_[np.ones(12), np.zeros(18), np.ones(10)], np.arange(40) < 20])
    table = calibration_table(y, proba, ["Horror", "Drama"], n_bins=4)
    assert table.loc["Horror", "ece"] == pytest.approx(30 / 40 * 0.2 + 10 / 40 * 0.2)
    assert table.loc["Horror", "max_error"] == pytest.approx(0.2)
    assert table.loc["Drama", "ece"] == pytest.approx(0)
    assert table.loc["Horror", ["n 0-0.25", "n 0.75-1"]].tolist() == [30, 10]


def test_calibration_input_errors():
    with pytest.raises(ValueError, match="genre 'Comedy' has 1 scores outside"):
        calibration_table([[0, 1], [1, 0]], [[0.2, 1.5], [0.9, 0.1]], ["Drama", "Comedy"])
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        calibration_table([[0], [1]], [[0.2], [0.9]], n_bins=0)
    with pytest.raises(ValueError, match="shape"):
        calibration_table([[0], [1]], [[0.2, 0.1], [0.9, 0.2]])


def test_calibrated_classifier_cv_lowers_the_calibration_error():
    # Balanced class weights (PerGenreClassifier's default) and naive Bayes' independence
    # assumption both push probabilities away from the observed frequencies.
    X, Y = make_multilabel_classification(600, n_features=20, n_classes=5, n_labels=1,
                                          random_state=0)
    train, test = slice(0, 400), slice(400, None)
    raw = PerGenreClassifier(GaussianNB()).fit(X[train], Y[train])
    # The calibrator must see the true frequencies: class weights off around it.
    calibrated = PerGenreClassifier(CalibratedClassifierCV(GaussianNB(), method="isotonic"),
                                    class_weight=None).fit(X[train], Y[train])
    before = calibration_table(Y[test], raw.predict_proba(X[test]))
    after = calibration_table(Y[test], calibrated.predict_proba(X[test]))
    assert after["ece"].mean() < 0.7 * before["ece"].mean()
    assert after["brier"].mean() < before["brier"].mean()


def test_reliability_panels_one_per_genre_by_prevalence(plt):
    y, proba = _calibrated_by_construction()
    rng = np.random.RandomState(0)
    rare = (rng.random_sample(200) < 0.1).astype(int)
    Y = np.column_stack([rare, y])
    P = np.column_stack([np.clip(rare * 0.5 + rng.random_sample(200) * 0.5, 0, 1), proba])
    axes = plot_calibration(Y, P, ["Western", "Drama"])
    assert len(axes) == 2 and len(plt.get_fignums()) == 1
    assert [ax.get_title() for ax in axes] == [
        "Drama (ECE 0.00)",
        f"Western (ECE {calibration_table(Y, P, ['Western', 'Drama']).loc['Western', 'ece']:.2f})",
    ]
    diagonal, curve = axes[0].get_lines()
    np.testing.assert_allclose(diagonal.get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(curve.get_xdata(), np.arange(10) / 10 + 0.05)
    np.testing.assert_allclose(curve.get_ydata(), np.arange(10) / 10 + 0.05)
    counts = axes[0].patches[0]  # the bin-count steps, equal for equal counts
    assert counts.get_fill() and len(axes[0].figure.legends) == 1


def test_reliability_compares_models_in_every_panel(plt):
    y, proba = _calibrated_by_construction()
    models = {"raw": proba[:, None] ** 0.5, "calibrated": proba[:, None]}
    (ax,) = plot_calibration(y[:, None], models, ["Drama"])
    assert [line.get_label() for line in ax.get_lines()[1:]] == ["raw", "calibrated"]
    texts = [text.get_text() for text in ax.texts]
    ece = calibration_table(y[:, None], models["raw"])["ece"].iloc[0]
    assert texts == [f"ECE {ece:.2f}", "ECE 0.00"] and ax.get_title() == "Drama"
    with pytest.raises(ValueError, match="empty dict"):
        plot_calibration(y[:, None], {})

"""Losses: values against references, per-genre weights, gradients, serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from skposter.models import FocalLoss, GenreBinaryCrossentropy, SoftF1Loss, balanced_genre_weights

Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
P = np.array([[0.9, 0.2, 0.1], [0.6, 0.7, 0.3], [0.2, 0.4, 0.2], [0.8, 0.1, 0.6]],
             dtype=np.float32)


def value(loss, y=Y, p=P, sample_weight=None):
    return float(loss(y, p, sample_weight=sample_weight))


def test_unweighted_bce_equals_keras():
    expected = value(keras.losses.BinaryCrossentropy())
    assert value(GenreBinaryCrossentropy()) == pytest.approx(expected, rel=1e-5)


def test_weighted_bce_weighs_each_genre_side():
    positive, negative = np.array([2.0, 1.0, 3.0]), np.array([0.5, 1.0, 0.25])
    terms = -(positive * Y * np.log(P) + negative * (1 - Y) * np.log(1 - P))
    loss = GenreBinaryCrossentropy(positive, negative)
    assert value(loss) == pytest.approx(terms.mean(), rel=1e-5)


def test_weights_need_both_sides():
    with pytest.raises(ValueError, match="both"):
        GenreBinaryCrossentropy(positive_weights=[1.0, 2.0])


def test_balanced_weights_equalise_positives_and_negatives():
    positive, negative = balanced_genre_weights(Y)
    n_pos = Y.sum(axis=0)
    np.testing.assert_allclose(positive * n_pos, len(Y) / 2)
    np.testing.assert_allclose(negative * (len(Y) - n_pos), len(Y) / 2)


def test_balanced_weights_of_a_genre_without_positives_are_zero():
    positive, negative = balanced_genre_weights([[0, 1], [0, 0]])
    assert positive[0] == 0 and negative[0] == 0.5


def test_balanced_weights_count_sample_weights_like_repeated_rows():
    weighted = balanced_genre_weights(Y, sample_weight=[2, 1, 1, 1])
    repeated = balanced_genre_weights(np.vstack([Y[:1], Y]))
    np.testing.assert_allclose(weighted, repeated)


def test_focal_with_gamma_zero_is_binary_crossentropy():
    assert value(FocalLoss(gamma=0)) == pytest.approx(value(GenreBinaryCrossentropy()), rel=1e-5)


def test_focal_discounts_easy_labels_more_than_hard_ones():
    y = np.array([[1.0, 1.0]], dtype=np.float32)
    per_label = [value(FocalLoss(gamma=2), y[:, :1], np.array([[p]], np.float32)) /
                 value(GenreBinaryCrossentropy(), y[:, :1], np.array([[p]], np.float32))
                 for p in (0.95, 0.3)]
    assert per_label[0] == pytest.approx(0.05**2, rel=1e-3)
    assert per_label[1] == pytest.approx(0.7**2, rel=1e-3)


def test_focal_alpha_weighs_positives():
    positives_only = np.ones((2, 2), np.float32)
    assert value(FocalLoss(alpha=0.25), positives_only, P[:2, :2]) == pytest.approx(
        0.25 * value(FocalLoss(), positives_only, P[:2, :2]), rel=1e-5)


@pytest.mark.parametrize("kwargs", [{"gamma": -1}, {"alpha": 1.5}])
def test_focal_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        FocalLoss(**kwargs)


def test_soft_f1_is_zero_when_perfect_and_one_when_all_wrong():
    assert value(SoftF1Loss(), Y, Y) == pytest.approx(0.0, abs=1e-6)
    assert value(SoftF1Loss(), Y, 1 - Y) == pytest.approx(1.0, abs=1e-6)


def test_soft_f1_is_one_minus_macro_f1_of_hard_predictions():
    from sklearn.metrics import f1_score

    hard = (P >= 0.5).astype(np.float32)
    assert value(SoftF1Loss(), Y, hard) == pytest.approx(
        1 - f1_score(Y, hard, average="macro"), abs=1e-5)


def test_soft_f1_sample_weight_counts_like_a_repeated_row():
    weighted = value(SoftF1Loss(), sample_weight=np.array([2, 1, 1, 1], np.float32))
    repeated = value(SoftF1Loss(), np.vstack([Y[:1], Y]), np.vstack([P[:1], P]))
    assert weighted == pytest.approx(repeated, rel=1e-5)


@pytest.mark.parametrize("loss", [GenreBinaryCrossentropy(), FocalLoss(), SoftF1Loss()])
def test_gradients_are_finite_even_at_saturated_outputs(loss):
    p = tf.Variable(np.where(Y > 0, 1.0, 0.0).astype(np.float32)[::-1].copy())
    with tf.GradientTape() as tape:
        result = loss(Y, p)
    gradient = tape.gradient(result, p).numpy()
    assert np.isfinite(float(result)) and np.isfinite(gradient).all()


@pytest.mark.parametrize("loss", [
    GenreBinaryCrossentropy([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]),
    FocalLoss(gamma=1.5, alpha=0.3, positive_weights=[1, 2, 3], negative_weights=[1, 1, 1]),
    SoftF1Loss(),
])
def test_losses_are_registered_serializable(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert value(restored) == pytest.approx(value(loss), rel=1e-6)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_a_saved_keras_model_with_a_custom_loss_loads(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid")(inputs))
    model.compile(optimizer="adam", loss=FocalLoss(positive_weights=[1, 2, 3],
                                                   negative_weights=[1, 1, 1]))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, FocalLoss)
    assert loaded.loss.positive_weights == [1.0, 2.0, 3.0]

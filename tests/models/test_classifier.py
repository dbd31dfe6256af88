"""KerasPosterClassifier: targets, inputs, streaming, training aids, persistence, devices."""

import copy
import io
import pickle
import pickletools
import subprocess
import sys
import textwrap

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline

import skposter
from skposter.datasets import make_posters
from skposter.exceptions import PosterReadError, PosterReadWarning
from skposter.io import PosterLoader
from skposter.models import (
    FocalLoss, GenreBinaryCrossentropy, KerasPosterClassifier, SoftF1Loss,
    balanced_genre_weights,
)
from skposter.models import _classifier, _training
from skposter.preprocessing import Resizer


# --- targets and outputs --------------------------------------------------------------


def test_genre_matrix_gives_sigmoid_probabilities(fitted, posters, assert_proba):
    proba = fitted.predict_proba(posters.images)
    assert_proba(proba, 48, 3)
    np.testing.assert_array_equal(fitted.predict(posters.images), (proba >= 0.5).astype(int))
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2])
    assert fitted.n_features_in_ == 1
    assert len(fitted.history_["loss"]) == 2


def test_one_poster_still_gives_a_2d_array(fitted, posters, assert_proba):
    assert_proba(fitted.predict_proba(posters.images[:1]), 1, 3)


def test_dataframe_target_names_the_classes(posters, tiny, assert_proba):
    frame = pd.DataFrame(posters.target, columns=posters.target_names)
    model = KerasPosterClassifier(**tiny).fit(posters.images, frame)
    assert list(model.classes_) == posters.target_names
    assert model.classes_.dtype == object
    assert_proba(model.predict_proba(posters.images), 48, 3)


def test_class_labels_give_a_softmax_over_sorted_classes(posters, tiny, assert_proba):
    labels = np.array(["western", "drama", "comedy"])[posters.target.argmax(axis=1)]
    model = KerasPosterClassifier(**tiny).fit(posters.images, labels)
    np.testing.assert_array_equal(model.classes_, ["comedy", "drama", "western"])
    proba = model.predict_proba(posters.images)
    assert_proba(proba, 48, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(posters.images),
                                  model.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("y, message", [
    (np.full((48, 3), 2), "other than 0 and 1"),
    (np.linspace(0, 1, 48), "Unknown label type"),
    (np.zeros((48, 2, 2)), "must be class labels"),
    (np.ones(48), "one class only"),
])
def test_bad_targets_are_refused_before_building(posters, tiny, y, message):
    with pytest.raises(ValueError, match=message):
        KerasPosterClassifier(**tiny).fit(posters.images, y)


def test_y_is_required(posters, tiny):
    with pytest.raises(ValueError, match="requires y"):
        KerasPosterClassifier(**tiny).fit(posters.images, None)


def test_unfitted_model_raises_not_fitted(posters):
    with pytest.raises(NotFittedError):
        KerasPosterClassifier().predict_proba(posters.images)


def test_synthetic_genres_beat_the_label_prior():
    data = make_posters(200, n_genres=4, size=(48, 32), random_state=1)
    train, test = slice(0, 150), slice(150, None)
    model = KerasPosterClassifier("seed_cnn", input_size=(48, 32), epochs=6,
                                  validation_split=0.0, class_weight="balanced",
                                  random_state=0)
    model.fit(data.images[train], data.target[train])
    prior = np.tile(data.target[train].mean(axis=0), (50, 1))
    score = average_precision_score(data.target[test], model.predict_proba(data.images[test]),
                                    average="macro")
    baseline = average_precision_score(data.target[test], prior, average="macro")
    assert score > baseline + 0.1


# --- inputs and streaming ----------------------------------------------------------------


def test_paths_stream_like_arrays(fitted, posters, poster_files):
    expected = fitted.predict_proba(posters.images)
    for X in (poster_files, np.asarray(poster_files), pd.Series(poster_files),
              pd.DataFrame({"poster": poster_files})):
        np.testing.assert_array_equal(fitted.predict_proba(X), expected)


def test_fit_on_paths_with_a_frame_column(posters, poster_files, tiny, fitted):
    frame = pd.DataFrame({"poster": poster_files})
    from_paths = KerasPosterClassifier(**tiny).fit(frame, posters.target)
    assert list(from_paths.feature_names_in_) == ["poster"]
    # Lossless files stream the same pixels the arrays hold: the same network results.
    np.testing.assert_array_equal(from_paths.predict_proba(posters.images),
                                  fitted.predict_proba(posters.images))


def test_images_of_other_sizes_are_resized_to_input_size(fitted, posters):
    mixed = [np.asarray(Image.fromarray(image).resize((48, 64))) for image in posters.images[:4]]
    proba = fitted.predict_proba(mixed)
    assert proba.shape == (4, 3)
    assert fitted.model_.input_shape == (None, 32, 24, 3)


def test_inside_a_pipeline_after_loader_and_resizer(posters, poster_files, tiny, assert_proba):
    model = make_pipeline(PosterLoader(), Resizer((32, 24), mode="stretch"),
                          KerasPosterClassifier(**tiny))
    model.fit(poster_files, posters.target)
    assert_proba(model.predict_proba(poster_files), 48, 3)


def test_unreadable_files_raise_or_become_blanks(fitted, poster_files, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    paths = poster_files[:3] + [str(broken)]
    with pytest.raises(PosterReadError, match="broken.jpg"):
        fitted.predict_proba(paths)
    blank = copy.deepcopy(fitted).set_params(on_error="blank")
    with pytest.warns(PosterReadWarning, match="broken.jpg"):
        assert blank.predict_proba(paths).shape == (4, 3)


def test_an_unreadable_file_stops_training(posters, poster_files, tiny, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(PosterReadError, match="broken.jpg"):
        KerasPosterClassifier(**tiny).fit(poster_files[:7] + [str(broken)], posters.target[:8])


# --- training aids ----------------------------------------------------------------------


def test_same_seed_same_predictions(posters, tiny, fitted):
    again = KerasPosterClassifier(**tiny).fit(posters.images, posters.target)
    np.testing.assert_array_equal(again.predict_proba(posters.images),
                                  fitted.predict_proba(posters.images))


def test_other_seed_other_initial_weights(posters, tiny):
    first, other = (KerasPosterClassifier(**{**tiny, "random_state": seed}).initialize(
        posters.images, posters.target).model_.get_weights() for seed in (0, 1))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def frozen_builder(input_shape, n_outputs, activation):
    """No batch norm, no dropout: with a zero learning rate the validation loss is flat."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=activation)(x))


def test_validation_split_of_training_rows_drives_early_stopping(posters, tiny, monkeypatch):
    seen = {}
    original = _training.evaluation_dataset

    def spy(stream, indices, *args):
        seen["validation"] = np.asarray(indices)
        return original(stream, indices, *args)

    monkeypatch.setattr(_training, "evaluation_dataset", spy)
    model = KerasPosterClassifier(**{**tiny, "architecture": frozen_builder, "epochs": 20,
                                     "validation_split": 0.25, "learning_rate": 1e-30},
                                  patience=2)
    model.fit(posters.images[:40], posters.target[:40])
    assert len(seen["validation"]) == 10 and seen["validation"].max() < 40
    # A flat validation loss stops training after `patience` epochs past the first...
    assert len(model.history_["loss"]) == 3
    assert len(model.history_["val_loss"]) == 3
    # ...and halves the learning rate after patience // 2 = 1 of them.
    assert model.history_["learning_rate"][-1] == pytest.approx(0.5e-30)


def test_no_validation_below_one_poster(posters, tiny):
    model = KerasPosterClassifier(**{**tiny, "validation_split": 0.01}).fit(
        posters.images[:20], posters.target[:20])
    assert "val_loss" not in model.history_


def test_balanced_class_weight_weighs_each_genre_in_the_loss(posters):
    model = KerasPosterClassifier("small_cnn", input_size=32, class_weight="balanced")
    model.initialize(posters.images, posters.target)
    assert isinstance(model.model_.loss, GenreBinaryCrossentropy)
    positive, negative = balanced_genre_weights(posters.target)
    np.testing.assert_allclose(model.model_.loss.positive_weights, positive)
    np.testing.assert_allclose(model.model_.loss.negative_weights, negative)


@pytest.mark.parametrize("loss, expected", [
    ("auto", GenreBinaryCrossentropy), ("focal", FocalLoss), ("soft_f1", SoftF1Loss),
    (FocalLoss(gamma=3.0), FocalLoss),
])
def test_losses_by_name_or_instance(posters, loss, expected):
    model = KerasPosterClassifier("small_cnn", input_size=32, loss=loss)
    assert isinstance(model.initialize(posters.images, posters.target).model_.loss, expected)


@pytest.mark.parametrize("params, message", [
    ({"loss": "soft_f1", "class_weight": "balanced"}, "class_weight=None"),
    ({"loss": FocalLoss(), "class_weight": "balanced"}, "class_weight=None"),
    ({"loss": "categorical_crossentropy"}, "exclusive classes"),
    ({"optimizer": "nonsense"}, "not a Keras optimizer"),
])
def test_meaningless_combinations_are_refused(posters, params, message):
    with pytest.raises(ValueError, match=message):
        KerasPosterClassifier("small_cnn", input_size=32, **params).initialize(
            posters.images, posters.target)


def test_balanced_class_labels_become_sample_weights(posters, tiny, monkeypatch):
    seen = {}
    original = _training.training_dataset

    def spy(stream, indices, targets, sample_weight, **kwargs):
        seen["weights"] = sample_weight
        return original(stream, indices, targets, sample_weight, **kwargs)

    monkeypatch.setattr(_training, "training_dataset", spy)
    labels = np.array([0] * 36 + [1] * 12)
    KerasPosterClassifier(**tiny, class_weight="balanced").fit(posters.images, labels)
    np.testing.assert_allclose(np.unique(seen["weights"]), [48 / (2 * 36), 48 / (2 * 12)],
                               rtol=1e-6)


def test_warm_start_and_partial_fit_continue_training(posters, tiny):
    model = KerasPosterClassifier(**{**tiny, "epochs": 1}, warm_start=True)
    model.fit(posters.images, posters.target)
    first = model.model_
    model.fit(posters.images, posters.target)
    assert model.model_ is first and model.current_epoch == 2
    model.partial_fit(posters.images, posters.target)
    assert model.current_epoch == 3 and len(model.history_["loss"]) == 3


def test_partial_fit_takes_all_classes_up_front(posters, tiny):
    model = KerasPosterClassifier(**tiny)
    model.partial_fit(posters.images[:10], np.zeros(10, int), classes=[0, 1, 2])
    assert model.predict_proba(posters.images[:2]).shape == (2, 3)
    model.partial_fit(posters.images[:10], np.full(10, 2))
    assert model.current_epoch == 2


def test_user_callbacks_are_copied_not_mutated(posters, tiny):
    class Count(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            type(self).epochs += 1

    callback = Count()
    KerasPosterClassifier(**tiny, callbacks=[callback]).fit(posters.images, posters.target)
    assert Count.epochs == 2
    assert getattr(callback, "model", None) is None


# --- persistence --------------------------------------------------------------------


def keras_objects_in(payload):
    """Names of keras classes a pickle would import."""
    return [arg for op, arg, _ in pickletools.genops(payload)
            if isinstance(arg, str) and arg.startswith("keras")]


def test_pickle_keeps_weights_not_keras_objects(fitted, posters):
    payload = pickle.dumps(fitted)
    assert keras_objects_in(payload) == []
    restored = pickle.loads(payload)
    assert restored.model_ is not fitted.model_
    np.testing.assert_array_equal(restored.predict_proba(posters.images),
                                  fitted.predict_proba(posters.images))
    assert "model_" in fitted.__dict__  # pickling did not strip the original


def test_joblib_deepcopy_and_skposter_save_round_trips(fitted, posters, tmp_path):
    expected = fitted.predict_proba(posters.images)
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    path = skposter.save(fitted, tmp_path / "model.skposter")
    for restored in (joblib.load(buffer), copy.deepcopy(fitted), skposter.load(path)):
        np.testing.assert_array_equal(restored.predict_proba(posters.images), expected)


def test_a_custom_loss_instance_survives_pickling(posters, tiny):
    model = KerasPosterClassifier(**tiny, loss=FocalLoss(gamma=1.0))
    model.fit(posters.images, posters.target)
    restored = pickle.loads(pickle.dumps(model))
    assert isinstance(restored.model_.loss, FocalLoss) and restored.model_.loss.gamma == 1.0
    np.testing.assert_array_equal(restored.predict_proba(posters.images),
                                  model.predict_proba(posters.images))


def test_clone_is_unfitted_with_equal_parameters(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    assert not hasattr(twin, "model_")


# --- devices ------------------------------------------------------------------------


def test_gpu_request_on_a_cpu_machine_fails_clearly(posters, tiny):
    with pytest.raises(RuntimeError, match="no GPU"):
        KerasPosterClassifier(**tiny, device="gpu").fit(posters.images, posters.target)


def test_network_is_built_under_the_plans_precision(posters, assert_proba):
    model = KerasPosterClassifier("small_cnn", input_size=32, precision="mixed_bfloat16")
    model.initialize(posters.images, posters.target)
    assert model.device_plan_.devices == ("/CPU:0",)
    network = model.model_
    assert network.get_layer("small_conv0").compute_dtype == "bfloat16"
    assert network.get_layer("genres").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # restored after the build
    assert_proba(model.predict_proba(posters.images[:4]), 4, 3)


def test_several_devices_build_under_the_plans_strategy(posters, tiny, monkeypatch):
    import tensorflow as tf

    from skposter.features import DevicePlan

    class TwoGPUs(DevicePlan):
        """Plans two GPUs; its strategy mirrors over the one CPU this machine has."""

        def strategy(self):
            self.made = tf.distribute.MirroredStrategy(["/CPU:0"])
            return self.made

    plan = TwoGPUs(devices=("/GPU:0", "/GPU:1"), dtype_policy="float32")
    monkeypatch.setattr(_classifier, "plan_devices", lambda device, precision: plan)
    model = KerasPosterClassifier(**tiny).initialize(posters.images, posters.target)
    assert model.model_.distribute_strategy is plan.made
    assert model.predict_proba(posters.images).shape == (48, 3)


@pytest.mark.slow
def test_two_logical_cpus_train_mirrored():
    script = textwrap.dedent("""
        import pickle, numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from skposter.datasets import make_posters
        from skposter.features import DevicePlan
        from skposter.models import KerasPosterClassifier, _classifier
        plan = DevicePlan(("/CPU:0", "/CPU:1"), "float32")
        _classifier.plan_devices = lambda device, precision: plan
        data = make_posters(40, n_genres=3, size=(32, 24), random_state=0)
        model = KerasPosterClassifier("small_cnn", input_size=(32, 24), epochs=2,
                                      random_state=0).fit(data.images, data.target)
        proba = model.predict_proba(data.images)
        assert proba.shape == (40, 3), proba.shape
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_allclose(restored.predict_proba(data.images), proba, rtol=1e-5)
        print("ok", type(model.model_.distribute_strategy).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok MirroredStrategy" in result.stdout


# --- transfer learning (slow: real backbones) -------------------------------------------


@pytest.mark.slow
def test_fine_tuning_opens_the_top_after_the_head(posters):
    model = KerasPosterClassifier(
        "transfer", backbone="mobilenet_v2", backbone_weights=None, input_size=32, epochs=2,
        fine_tune_layers="Conv_1", fine_tune_epochs=2, fine_tune_learning_rate=1e-5,
        validation_split=0.25, random_state=0)
    model.fit(posters.images, posters.target)
    assert model.fine_tune_start_ == 2 and model.current_epoch == 4
    assert model.history_["learning_rate"][2:] == pytest.approx([1e-5, 1e-5])
    trainable = {w.path.split("/")[0] for w in model.model_.trainable_weights}
    assert trainable == {"Conv_1", "dense0", "genres"}  # Conv_1_bn stays frozen
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(posters.images),
                                  model.predict_proba(posters.images))


@pytest.mark.slow
def test_frozen_lite0_head_trains_alone(posters):
    model = KerasPosterClassifier("transfer", input_size=64, epochs=1, validation_split=0,
                                  random_state=0).fit(posters.images, posters.target)
    assert {w.path.split("/")[0] for w in model.model_.trainable_weights} == {"dense0", "genres"}
    assert model.predict_proba(posters.images).shape == (48, 3)

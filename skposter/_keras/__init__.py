"""Keras plumbing shared by :mod:`skposter.features` and :mod:`skposter.models` (private).

Below both packages, so neither reaches into the other: the backbone registry
(:mod:`._backbones`, with the EfficientNet-Lite port and its PyTorch-free weight
reader) and device planning (:mod:`._device`).
"""

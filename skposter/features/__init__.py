"""Pretrained CNN features for posters: :class:`CNNFeatureExtractor` and its backbones."""

from .._keras._backbones import BACKBONES, Backbone, get_backbone
from .._keras._device import DevicePlan, plan_devices
from ._extractor import CNNFeatureExtractor

__all__ = ["BACKBONES", "Backbone", "CNNFeatureExtractor", "DevicePlan", "get_backbone",
           "plan_devices"]

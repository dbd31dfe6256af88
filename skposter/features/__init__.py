"""Poster features: pretrained CNN features (:class:`CNNFeatureExtractor` and its
backbones), the text printed on posters (:class:`PosterTextExtractor`) and the faces on
them (:class:`FaceFeatureExtractor`)."""

from .._keras._backbones import BACKBONES, Backbone, get_backbone
from .._keras._device import DevicePlan, plan_devices
from ._extractor import CNNFeatureExtractor
from ._faces import CASCADES as FACE_CASCADES
from ._faces import FaceFeatureExtractor
from ._text import PosterTextExtractor

__all__ = ["BACKBONES", "FACE_CASCADES", "Backbone", "CNNFeatureExtractor", "DevicePlan",
           "FaceFeatureExtractor", "PosterTextExtractor", "get_backbone", "plan_devices"]

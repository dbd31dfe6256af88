"""Old home of device planning, kept so pickles made before the move still load.

``KerasPosterClassifier`` pickles written by skposter before device planning moved to
:mod:`skposter._keras._device` name ``skposter.features._device.DevicePlan``; unpickling
replaces that plan with one for this machine. New code imports from ``skposter._keras``.
"""

from .._keras._device import DevicePlan

__all__ = ["DevicePlan"]

"""RGBStatsExtractor: colour statistics of each poster as a feature row."""

import numbers

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval

from .._utils._images import check_images
from ..base import DocLinkMixin

_CHANNELS = ("r", "g", "b")
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights


class RGBStatsExtractor(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Describe each image by its colour statistics.

    All values are on a 0-1 scale (pixels are divided by 255). Columns, in order:

    * ``{r,g,b}_mean``, ``{r,g,b}_std``: per-channel mean and standard deviation;
    * ``{r,g,b}_hist_{k}``: share of pixels in each of ``bins`` equal-width bins;
    * ``hue_sin``, ``hue_cos``: the dominant hue as a point on the unit circle, since
      hue is circular (red at 359 degrees is next to red at 1 degree). It is the
      peak of a ``hue_bins`` histogram weighted by chroma (saturation x value), so
      grey and dark pixels, whose hue is meaningless, do not vote; an image with no
      chromatic pixel gets ``(0, 0)``;
    * ``saturation_mean``, ``saturation_std``: HSV saturation;
    * ``brightness_mean``, ``brightness_std``: BT.601 luma, its spread being contrast;
    * ``colourfulness``: Hasler and Suesstrunk's (2003) opponent-colour measure.

    The extractor learns nothing: ``fit`` only validates parameters, and images of
    different sizes can be mixed.

    Parameters
    ----------
    bins : int, default=8
        Histogram bins per channel.
    hue_bins : int, default=36
        Bins of the hue histogram that picks the dominant hue (36 gives 10 degrees).

    Examples
    --------
    >>> import numpy as np
    >>> from skposter.preprocessing import RGBStatsExtractor
    >>> red = np.zeros((1, 4, 4, 3), np.uint8); red[..., 0] = 255
    >>> stats = RGBStatsExtractor(bins=2).fit(red)
    >>> features = dict(zip(stats.get_feature_names_out(), stats.transform(red)[0]))
    >>> round(float(features["hue_cos"]), 3)
    0.996
    """

    _parameter_constraints = {
        "bins": [Interval(numbers.Integral, 1, 256, closed="both")],
        "hue_bins": [Interval(numbers.Integral, 1, 256, closed="both")],
    }

    def __init__(self, bins=8, hue_bins=36):
        self.bins = bins
        self.hue_bins = hue_bins

    def fit(self, X=None, y=None):
        """Validate parameters; the extractor learns nothing.

        Returns
        -------
        self : object
        """
        self._validate_params()
        return self

    def transform(self, X):
        """Compute the colour statistics of each image.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) or list of ndarray
            uint8 images, e.g. from :class:`~skposter.io.PosterLoader`.

        Returns
        -------
        ndarray of shape (n, n_features_out), dtype float64
        """
        self._validate_params()
        images = check_images(X)
        return np.vstack([self._features(image) for image in images])

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : ignored
            Images have no input feature names.

        Returns
        -------
        ndarray of str
        """
        names = [f"{c}_mean" for c in _CHANNELS] + [f"{c}_std" for c in _CHANNELS]
        names += [f"{c}_hist_{k}" for c in _CHANNELS for k in range(self.bins)]
        names += ["hue_sin", "hue_cos", "saturation_mean", "saturation_std"]
        names += ["brightness_mean", "brightness_std", "colourfulness"]
        return np.asarray(names, dtype=object)

    def _features(self, image):
        # Channels-first rows make every reduction run over contiguous memory.
        channels = image.reshape(-1, 3).T
        rgb = np.ascontiguousarray(channels, dtype=np.float64) / 255.0
        hist = [
            np.bincount((channel.astype(np.uint16) * self.bins) >> 8, minlength=self.bins)
            for channel in channels
        ]
        hsv = np.asarray(Image.fromarray(image).convert("HSV")).reshape(-1, 3).T / 255.0
        saturation = hsv[1]
        luma = _LUMA @ rgb
        return np.concatenate(
            [
                rgb.mean(axis=1),
                rgb.std(axis=1),
                np.concatenate(hist) / channels.shape[1],
                self._dominant_hue(hsv),
                [saturation.mean(), saturation.std(), luma.mean(), luma.std()],
                [_colourfulness(rgb)],
            ]
        )

    def _dominant_hue(self, hsv):
        hue, chroma = hsv[0], hsv[1] * hsv[2]
        bins = np.minimum((hue * self.hue_bins).astype(np.int64), self.hue_bins - 1)
        votes = np.bincount(bins, weights=chroma, minlength=self.hue_bins)
        if votes.max() <= 0:
            return np.zeros(2)
        angle = 2 * np.pi * (votes.argmax() + 0.5) / self.hue_bins
        return np.array([np.sin(angle), np.cos(angle)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags


def _colourfulness(rgb):
    red, green, blue = rgb
    red_green = red - green
    yellow_blue = 0.5 * (red + green) - blue
    spread = np.hypot(red_green.std(), yellow_blue.std())
    offset = np.hypot(red_green.mean(), yellow_blue.mean())
    return spread + 0.3 * offset

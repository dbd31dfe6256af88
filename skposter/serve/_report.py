"""What the poster page shows for one upload: probabilities, thresholds, genres, heat maps.

The upload is decoded by skposter's own decoder first, so a file that is not an image or
a decompression bomb gets a clear :class:`UploadError` before the model sees it; the
model then reads it from a temporary file, exactly as ``skposter predict`` reads a path.
"""

import base64
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..cli._common import (decision_thresholds, genre_names, metadata_columns, model_input,
                           scores_and_genres)
from ..exceptions import ImageTooLargeError
from ..io import DEFAULT_MAX_PIXELS, decode_poster

#: Threshold marked for a model that decides at 0.5 (no tuned thresholds).
DEFAULT_THRESHOLD = 0.5

#: Longest side, in pixels, of the poster and heat-map images sent to the page.
PREVIEW_SIZE = 360


class UploadError(ValueError):
    """An upload the page cannot use; ``status`` is the HTTP status to answer with.

    Parameters
    ----------
    message : str
        What went wrong and what to do, shown on the page.
    status : int
        A 4xx HTTP status.
    """

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def model_info(model):
    """What the page shows before any upload: genre names, thresholds, metadata needs.

    Parameters
    ----------
    model : estimator
        A fitted model as ``skposter train`` saves it.

    Returns
    -------
    dict
        ``genres``, ``thresholds`` (0.5 for a model without tuned ones),
        ``metadata_columns`` (empty for a posters-only model) and ``model`` (the class
        name of the model).
    """
    names = genre_names(model, len(getattr(model, "classes_", ())))
    return {"model": type(model).__name__, "genres": names,
            "thresholds": genre_thresholds(model, len(names)).tolist(),
            "metadata_columns": metadata_columns(model)}


def genre_thresholds(model, n_genres):
    """The model's tuned per-genre thresholds, or 0.5 for each genre.

    Returns
    -------
    ndarray of shape (n_genres,)
    """
    thresholds = decision_thresholds(model).get("thresholds")
    if thresholds is None:
        return np.full(n_genres, DEFAULT_THRESHOLD)
    return np.broadcast_to(np.asarray(thresholds, dtype=float), (n_genres,))


def poster_report(model, data, *, max_pixels=DEFAULT_MAX_PIXELS, top=3):
    """Genre probabilities, thresholds, predicted genres and heat maps of one poster file.

    Parameters
    ----------
    model : estimator
        A fitted posters-only model as ``skposter train`` saves it: it reads a
        DataFrame with a ``poster`` column of paths.
    data : bytes
        The uploaded file.
    max_pixels : int, default=40_000_000
        Largest ``width * height`` accepted (decompression bomb guard).
    top : int, default=3
        Heat maps of this many most probable genres.

    Returns
    -------
    dict
        ``genres``: one entry per genre (``genre``, ``probability``, ``threshold``,
        ``predicted``), most probable first; ``predicted``: the genres the model
        predicts with its own thresholds; ``width``, ``height``; ``poster``: a PNG
        data URL of the poster; ``heatmaps``: ``genre``, ``probability``, ``method``
        and ``image`` (a PNG data URL of the map over the poster) per mapped genre;
        ``heatmap_note``: why there are no heat maps, or None.

    Raises
    ------
    UploadError
        The upload is empty, not an image, a decompression bomb or broken (4xx), or
        the model needs metadata the page cannot provide (422).
    """
    needed = metadata_columns(model)
    if needed:
        raise UploadError(
            f"this model was trained with metadata ({', '.join(needed)}), which the poster "
            "page cannot supply; serve a posters-only model, or use 'skposter predict "
            "--metadata CSV'.", 422)
    if not data:
        raise UploadError("the upload is empty: choose a poster image file.", 400)
    with tempfile.TemporaryDirectory(prefix="skposter-serve-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        image = _decode_upload(path, max_pixels)
        scores, chosen = scores_and_genres(model, model_input([path]))
    names = genre_names(model, scores.shape[1])
    thresholds = genre_thresholds(model, len(names))
    order = np.argsort(-scores[0], kind="stable")
    heatmaps, note = heatmap_images(model, image, top)
    return {
        "genres": [{"genre": names[k], "probability": float(scores[0, k]),
                    "threshold": float(thresholds[k]), "predicted": bool(chosen[0, k])}
                   for k in order],
        "predicted": [names[k] for k in order if chosen[0, k]],
        "width": image.shape[1], "height": image.shape[0],
        "poster": png_data_url(image),
        "heatmaps": heatmaps, "heatmap_note": note,
    }


def _decode_upload(path, max_pixels):
    """Decode the uploaded file, turning the decoder's errors into upload errors."""
    try:
        return decode_poster(path, max_pixels=max_pixels)
    except UnidentifiedImageError:
        raise UploadError("this file is not an image (Pillow cannot identify its format); "
                          "choose a JPEG, PNG, WebP or other image file.", 415) from None
    except ImageTooLargeError as exc:
        raise UploadError(f"the image is too large: {exc}", 422) from None
    except OSError as exc:
        raise UploadError(f"the image data is broken (a truncated or damaged file?): {exc}",
                          422) from None


def heatmap_images(model, image, top):
    """Heat maps of the ``top`` most probable genres, drawn over the poster.

    Returns
    -------
    heatmaps : list of dict
        ``genre``, ``probability``, ``method`` and ``image`` (PNG data URL) per genre.
    note : str or None
        Why there are none (a model :mod:`skposter.inspection` cannot map).
    """
    from ..inspection import genre_heatmaps, overlay_heatmap

    try:
        maps = genre_heatmaps(model, image, top=top)
    except (ValueError, TypeError) as exc:
        return [], f"no heat maps for this model: {exc}"
    return [{"genre": m.genre, "probability": float(m.probability), "method": m.method,
             "image": png_data_url(overlay_heatmap(image, m.heatmap))} for m in maps], None


def png_data_url(image):
    """A ``data:image/png`` URL of an RGB array, shrunk to :data:`PREVIEW_SIZE` at most."""
    picture = Image.fromarray(image)
    picture.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

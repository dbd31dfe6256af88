"""make_posters: synthetic posters whose genres are learnable from the image."""

import colorsys

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw
from sklearn.utils import Bunch, check_random_state

from ._posters import write_poster_folder

GENRE_NAMES = (
    "Drama", "Comedy", "Action", "Romance", "Thriller", "Crime", "Adventure", "Horror",
    "Mystery", "Sci-Fi", "Family", "Fantasy", "Biography", "Animation", "History",
    "Music", "War", "Sport", "Musical", "Western",
)
_SHAPES = ("disc", "box", "triangle", "ring", "bar", "diamond")
# Share of a poster's genres that leave no mark on it: real posters do not always
# show their genres either, and it keeps scores away from 1.
_HIDDEN = 0.15
_RATINGS = ("G", "PG", "PG-13", "R")
_WORDS = (
    "love", "murder", "police", "space", "alien", "war", "family", "friend", "school",
    "ghost", "robot", "heist", "wedding", "island", "dragon", "soldier", "detective",
    "vampire", "music", "band", "team", "coach", "horse", "ranch", "king", "queen",
    "magic", "monster", "secret", "escape", "revenge", "journey", "city", "village",
    "prison", "ship", "storm", "dream", "party", "dance",
)


def make_posters(
    n_samples=200,
    n_genres=5,
    size=(96, 64),
    *,
    metadata=False,
    directory=None,
    random_state=None,
):
    """Generate synthetic posters whose genres can be learned from the image.

    Each genre has a signature: a hue, a shape drawn in that hue and a stripe texture
    of its own period. A poster shows the signatures of its genres over a random
    background, with distractor shapes in random colours and pixel noise, so colour
    statistics beat the label prior but do not solve the task. Genre frequencies fall
    off like real genres (the first is the most common) and every poster has at least
    one genre.

    Parameters
    ----------
    n_samples : int, default=200
        Number of posters.
    n_genres : int, default=5
        Number of genres, at most 20; they are named after real genres.
    size : tuple of int, default=(96, 64)
        ``(height, width)`` of each poster.
    metadata : bool, default=False
        Also make a metadata table correlated with the genres, in the layout of the
        real collection: numbers with missing values (``duration``, ``budget``,
        ``title_year``, ``imdb_score``), categories (``content_rating``, ``country``)
        and ``|``-separated ``plot_keywords``.
    directory : str or path-like, default=None
        If given, also write the posters as JPEG files in the layout
        :func:`load_posters` reads (``images/<Id>.jpg``, ``genres.csv`` and, with
        ``metadata``, ``metadata.csv``). JPEG is lossy: pixels read back differ
        slightly from ``images``.
    random_state : int, RandomState instance or None, default=None
        Seed for repeatable posters.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (n, height, width, 3) uint8; ``target`` (n, n_genres) 0/1 int;
        ``target_names``; ``ids``; ``frame`` (``Id``, ``Genre`` and one column per
        genre); ``metadata`` (DataFrame with ``Id`` or None); ``paths`` (file paths
        or None).

    Examples
    --------
    >>> from skposter.datasets import make_posters
    >>> data = make_posters(n_samples=10, n_genres=3, random_state=0)
    >>> data.images.shape, data.target.shape, data.target_names
    ((10, 96, 64, 3), (10, 3), ['Drama', 'Comedy', 'Action'])
    """
    if not 1 <= n_genres <= len(GENRE_NAMES):
        raise ValueError(f"n_genres must be between 1 and {len(GENRE_NAMES)}, got {n_genres}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}.")
    height, width = size
    rng = check_random_state(random_state)
    names = list(GENRE_NAMES[:n_genres])
    target = _draw_labels(n_samples, n_genres, rng)
    images = np.stack([_draw_poster(row, (height, width), rng) for row in target])
    ids = np.array([f"syn{i:06d}" for i in range(n_samples)])
    frame = pd.DataFrame(target, columns=names)
    frame.insert(0, "Genre", [str([n for n, on in zip(names, row) if on]) for row in target])
    frame.insert(0, "Id", ids)
    meta = _make_metadata(ids, target, rng) if metadata else None
    paths = None
    if directory is not None:
        paths = write_poster_folder(directory, ids, images, frame, meta)
    return Bunch(
        images=images, target=target, target_names=names, ids=ids, frame=frame,
        metadata=meta, paths=paths,
    )


def _draw_labels(n_samples, n_genres, rng):
    prevalence = np.maximum(0.45 * 0.75 ** np.arange(n_genres), 0.08)
    target = (rng.random_sample((n_samples, n_genres)) < prevalence).astype(int)
    empty = np.flatnonzero(target.sum(axis=1) == 0)
    target[empty, rng.choice(n_genres, size=len(empty), p=prevalence / prevalence.sum())] = 1
    return target


def _genre_colour(genre, n_genres, rng):
    hue = (genre / n_genres + rng.normal(0, 0.03)) % 1.0
    return _rgb(hue, 0.85, 0.9)


def _rgb(hue, saturation, value):
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def _draw_poster(labels, size, rng):
    height, width = size
    base = rng.uniform(0, 1, 3)
    img = Image.new("RGB", (width, height), _rgb(*base * [1, 0.4, 0.6]))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 5)):
        _draw_shape(draw, _SHAPES[rng.randint(len(_SHAPES))], _rgb(rng.rand(), 0.85, 0.9),
                    size, rng)
    n_genres = len(labels)
    for genre in np.flatnonzero(labels):
        if rng.rand() < _HIDDEN:
            continue
        colour = _genre_colour(genre, n_genres, rng)
        _draw_stripes(draw, colour, period=3 + genre % 5, size=size, rng=rng)
        for _ in range(rng.randint(1, 3)):
            _draw_shape(draw, _SHAPES[genre % len(_SHAPES)], colour, size, rng)
    pixels = np.asarray(img, dtype=np.float64) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _draw_shape(draw, shape, colour, size, rng):
    height, width = size
    r = rng.uniform(0.1, 0.25) * min(height, width)
    x, y = rng.uniform(r, width - r), rng.uniform(r, height - r)
    box = (x - r, y - r, x + r, y + r)
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "box":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(1, int(r / 3)))
    elif shape == "bar":
        draw.rectangle((0, y - r / 3, width, y + r / 3), fill=colour)
    else:
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=colour)


def _draw_stripes(draw, colour, period, size, rng):
    height, width = size
    top = rng.randint(0, max(1, height // 2))
    bottom = min(height, top + height // 3)
    for x in range(rng.randint(period), width, period):
        draw.line((x, top, x, bottom), fill=colour, width=1)


def _make_metadata(ids, target, rng):
    n_samples, n_genres = target.shape
    effects = rng.normal(0, 1, (n_genres, 4))
    latent = target @ effects / np.maximum(target.sum(axis=1, keepdims=True), 1)
    noise = rng.normal(0, 0.5, latent.shape)
    z = latent + noise
    frame = pd.DataFrame(
        {
            "Id": ids,
            "duration": np.round(105 + 15 * z[:, 0]),
            "budget": np.round(np.exp(16.5 + 1.0 * z[:, 1]), -3),
            "title_year": np.clip(np.round(2000 + 8 * z[:, 2]), 1980, 2015),
            "imdb_score": np.clip(np.round(6.4 + 0.8 * z[:, 3], 1), 1, 10),
            "content_rating": [_RATINGS[int(np.clip(np.round(1.5 + 1.2 * v), 0, 3))]
                               for v in z[:, 3]],
            "country": rng.choice(["USA", "UK", "France", "Canada"], n_samples,
                                  p=[0.7, 0.12, 0.1, 0.08]),
            "plot_keywords": [_keywords(row, rng) for row in target],
        }
    )
    for column in ("duration", "budget", "title_year", "content_rating"):
        frame.loc[rng.random_sample(n_samples) < 0.05, column] = np.nan
    return frame


def _keywords(labels, rng):
    words = set()
    for genre in np.flatnonzero(labels):
        pool = _WORDS[(2 * genre) % len(_WORDS):][:2] + _WORDS[-1 - genre:][:1]
        words.update(rng.choice(pool, size=rng.randint(1, 3), replace=False))
    words.update(rng.choice(_WORDS, size=2, replace=False))
    return "|".join(sorted(words))

"""Reading poster files: :class:`PosterLoader`, :func:`scan_posters`, :func:`decode_poster`."""

from ._decode import DEFAULT_MAX_PIXELS, decode_poster
from ._loader import PosterLoader
from ._scan import scan_posters
from ._sources import BLANK_VALUE
from ._stream import PosterStream, prepare_poster

__all__ = [
    "BLANK_VALUE",
    "DEFAULT_MAX_PIXELS",
    "PosterLoader",
    "PosterStream",
    "decode_poster",
    "prepare_poster",
    "scan_posters",
]

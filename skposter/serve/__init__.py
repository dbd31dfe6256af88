"""The poster page: a small web app showing a poster's genre probabilities and heat maps.

``skposter serve --model FILE`` runs it; :func:`make_server` builds it in Python. It uses
the standard library's HTTP server only, and one HTML page without a build step.
"""

from ._page import PAGE
from ._report import UploadError, poster_report
from ._server import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_TIMEOUT, PosterServer, make_server

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_TIMEOUT",
    "PAGE",
    "PosterServer",
    "UploadError",
    "make_server",
    "poster_report",
]

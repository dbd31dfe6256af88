"""The poster page's HTTP server: the standard library's threading server, no framework.

The page posts the raw bytes of the chosen file (``application/octet-stream``), so
there is no multipart form to parse. Every answer of ``/api/...`` is JSON; a bad upload
gets a 4xx status and a message, anything unexpected a 500 with a generic message (the
traceback goes to the ``skposter.serve`` logger only), and the server keeps serving.
"""

import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from ..io import DEFAULT_MAX_PIXELS
from ._page import PAGE
from ._report import UploadError, model_info, poster_report

logger = logging.getLogger("skposter.serve")

#: Default bound on an upload's size: 10 MB, several times a large print poster JPEG.
DEFAULT_MAX_UPLOAD_BYTES = 10_000_000

#: Default bound, in seconds, on receiving one request (each read and the whole body).
DEFAULT_TIMEOUT = 30.0

_CHUNK = 64 * 1024


class PosterServer(ThreadingHTTPServer):
    """The poster page's server; build it with :func:`make_server`.

    Attributes
    ----------
    model : estimator
        The fitted model every upload goes through, one at a time.
    url : str
        Address of the page.
    """

    daemon_threads = True

    def __init__(self, address, model, *, max_upload_bytes, timeout, max_pixels, top):
        super().__init__(address, _Handler)
        self.model = model
        self.max_upload_bytes = max_upload_bytes
        self.request_timeout = timeout
        self.max_pixels = max_pixels
        self.top = top
        self.info = dict(model_info(model), max_upload_bytes=max_upload_bytes)
        # Models are not promised to be thread-safe (Keras, caches): one upload at a time.
        self.model_lock = threading.Lock()

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def make_server(model, *, host="127.0.0.1", port=8000, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES,
                timeout=DEFAULT_TIMEOUT, max_pixels=DEFAULT_MAX_PIXELS, top=3):
    """Build the poster page's server, bound but not yet serving.

    Call ``serve_forever()`` on the result (in a thread, or until Ctrl+C) and
    ``shutdown()`` then ``server_close()`` to stop it.

    Parameters
    ----------
    model : estimator
        A fitted model as ``skposter train`` saves it. A model trained with metadata
        is served too, but its page says it needs metadata and refuses uploads.
    host : str, default="127.0.0.1"
        Interface to listen on; ``"0.0.0.0"`` for every interface.
    port : int, default=8000
        Port; 0 picks a free one (read it from ``server.url``).
    max_upload_bytes : int, default=10_000_000
        Larger uploads get 413 without being read.
    timeout : float, default=30.0
        Seconds allowed for each read from a client and for receiving a whole upload;
        a slower client gets 408. The model's own computing time is not bounded.
    max_pixels : int, default=40_000_000
        Largest ``width * height`` of an uploaded image (decompression bomb guard).
    top : int, default=3
        Heat maps of this many most probable genres.

    Returns
    -------
    PosterServer
    """
    for name, value in {"max_upload_bytes": max_upload_bytes, "timeout": timeout,
                        "max_pixels": max_pixels, "top": top}.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")
    return PosterServer((host, port), model, max_upload_bytes=int(max_upload_bytes),
                        timeout=float(timeout), max_pixels=int(max_pixels), top=int(top))


class _Handler(BaseHTTPRequestHandler):
    server_version = "skposter"

    def setup(self):
        # StreamRequestHandler applies ``timeout`` to the socket: each read is bounded.
        self.timeout = self.server.request_timeout
        super().setup()

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/":
            self._send(HTTPStatus.OK, PAGE.encode("utf-8"), "text/html; charset=utf-8")
        elif path == "/api/model":
            self._send_json(HTTPStatus.OK, self.server.info)
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no page at {self.path}"})

    def do_POST(self):
        if urlsplit(self.path).path != "/api/predict":
            self.close_connection = True
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint at {self.path}"})
            return
        try:
            data = read_body(self.rfile, self.headers, self.server.max_upload_bytes,
                             self.server.request_timeout)
            with self.server.model_lock:
                report = poster_report(self.server.model, data,
                                       max_pixels=self.server.max_pixels, top=self.server.top)
        except UploadError as exc:
            self.close_connection = True  # the body may be unread: never parse it as a request
            self._send_json(exc.status, {"error": str(exc)})
            return
        except Exception:
            logger.exception("prediction failed")
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": "the server failed on this poster; see its log."})
            return
        self._send_json(HTTPStatus.OK, report)

    def _send_json(self, status, payload):
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        logger.info("%s %s", self.address_string(), format % args)


def read_body(stream, headers, max_bytes, timeout):
    """Read a request body of at most ``max_bytes`` bytes within ``timeout`` seconds.

    Parameters
    ----------
    stream : file-like
        The request's input stream, after the headers.
    headers : email.message.Message
        The request headers.
    max_bytes : int
        Larger bodies are refused before any byte is read.
    timeout : float
        Seconds allowed for the whole body.

    Returns
    -------
    bytes

    Raises
    ------
    UploadError
        411 without ``Content-Length``, 413 above ``max_bytes``, 408 when too slow,
        400 for a malformed length or a body shorter than announced.
    """
    length = headers.get("Content-Length")
    if length is None or "chunked" in headers.get("Transfer-Encoding", "").lower():
        raise UploadError("the upload needs a Content-Length header.", 411)
    try:
        length = int(length)
    except ValueError:
        length = -1
    if length < 0:
        raise UploadError("the Content-Length header is not a byte count.", 400)
    if length > max_bytes:
        raise UploadError(f"the file is {_size(length)}; the limit is {_size(max_bytes)}.",
                          413)
    deadline = time.monotonic() + timeout
    chunks, received = [], 0
    try:
        while received < length:
            chunk = stream.read1(min(_CHUNK, length - received))
            if not chunk:
                raise UploadError(f"the upload stopped after {received:,} of {length:,} "
                                  "bytes.", 400)
            chunks.append(chunk)
            received += len(chunk)
            if received < length and time.monotonic() > deadline:
                raise TimeoutError
    except TimeoutError:
        raise UploadError(f"the upload took longer than {timeout:g} s.", 408) from None
    return b"".join(chunks)


def _size(n_bytes):
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes:,} bytes"

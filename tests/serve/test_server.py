"""The poster page's server in-process: answers, limits, bad uploads, still serving after."""

import base64
import http.client
import io
import json
import logging
import socket
import struct
import urllib.parse
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skposter.cli._models import build_model
from skposter.datasets import make_posters
from skposter.serve import PAGE, UploadError, make_server, poster_report


def request(url, method="GET", path="/", body=None, headers=None):
    """Send one request; return ``(status, parsed JSON or text)``."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        content = answer.read().decode("utf-8")
        if answer.getheader("Content-Type") == "application/json":
            content = json.loads(content)
        return answer.status, content
    finally:
        connection.close()


def upload(url, data):
    return request(url, "POST", "/api/predict", body=data,
                   headers={"Content-Type": "application/octet-stream"})


def png_bytes(width, height, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width=100_000, height=100_000):
    """A tiny PNG whose header claims ``width x height`` pixels (CRC recomputed)."""
    data = bytearray(png_bytes(8, 8))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.fixture
def poster(synthetic_folder):
    """One synthetic poster file: its path and bytes."""
    path = synthetic_folder / "images" / "syn000003.jpg"
    return path, path.read_bytes()


def test_page_and_model_info(colour_model, serve):
    url = serve(colour_model, max_upload_bytes=123_456)
    for path in ["/", "/?from=bookmark"]:
        status, page = request(url, path=path)
        assert status == 200 and page == PAGE
    status, info = request(url, path="/api/model")
    assert status == 200
    assert info["genres"] == list(colour_model.classes_)
    np.testing.assert_allclose(info["thresholds"], colour_model.thresholds_)
    assert info["metadata_columns"] == [] and info["max_upload_bytes"] == 123_456


def test_a_poster_gets_every_genre_decided_like_predict(colour_model, serve, poster):
    path, data = poster
    status, report = upload(serve(colour_model), data)
    assert status == 200
    X = pd.DataFrame({"poster": [str(path)]})
    proba, chosen = colour_model.predict_proba(X)[0], colour_model.predict(X)[0]
    names = list(colour_model.classes_)
    assert sorted(g["genre"] for g in report["genres"]) == sorted(names)
    probabilities = [g["probability"] for g in report["genres"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for g in report["genres"]:
        k = names.index(g["genre"])
        assert g["probability"] == pytest.approx(proba[k])
        assert g["threshold"] == pytest.approx(colour_model.thresholds_[k])
        assert g["predicted"] == bool(chosen[k])
    assert set(report["predicted"]) == {n for n, c in zip(names, chosen) if c}
    with Image.open(path) as image:
        assert (report["width"], report["height"]) == image.size
    assert report["poster"].startswith("data:image/png;base64,")


def test_a_model_without_heat_maps_gets_bars_and_a_note(colour_model, poster):
    report = poster_report(colour_model, poster[1])
    assert report["heatmaps"] == []
    assert report["heatmap_note"].startswith("no heat maps for this model")


@pytest.mark.parametrize("data, status, message", [
    (b"this is not an image\n", 415, "not an image"),
    (b"", 400, "empty"),
    (bomb_png(), 422, "too large"),
    (png_bytes(64, 64)[:120], 422, "broken"),
], ids=["text", "empty", "bomb", "truncated"])
def test_bad_uploads_get_a_4xx_message_and_the_server_keeps_serving(
        colour_model, serve, poster, data, status, message):
    url = serve(colour_model)
    answer, report = upload(url, data)
    assert answer == status and message in report["error"]
    assert "Traceback" not in report["error"]
    assert upload(url, poster[1])[0] == 200


def test_an_oversize_upload_gets_413_unread(colour_model, serve, poster):
    url = serve(colour_model, max_upload_bytes=1000)
    status, report = upload(url, b"x" * 1001)
    assert status == 413
    assert report["error"] == "the file is 1,001 bytes; the limit is 1,000 bytes."
    status, report = upload(url, png_bytes(8, 8))
    assert status == 200


def test_a_body_without_length_gets_411(colour_model, serve):
    parts = urllib.parse.urlsplit(serve(colour_model))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("POST", "/api/predict")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"0\r\n\r\n")
    answer = connection.getresponse()
    assert answer.status == 411
    assert "Content-Length" in json.loads(answer.read())["error"]
    connection.close()


def test_a_stalled_upload_gets_408(colour_model, serve, poster):
    url = serve(colour_model, timeout=0.3)
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as client:
        client.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                       b"only ten b")
        answer = client.makefile("rb").read().decode()
    assert answer.startswith("HTTP/1.0 408") and "took longer than 0.3 s" in answer
    assert upload(url, poster[1])[0] == 200


def test_an_unexpected_failure_gets_a_generic_500_and_a_logged_traceback(
        colour_model, serve, poster, monkeypatch, caplog):
    url = serve(colour_model)
    from skposter.serve import _server

    def fail(*args, **kwargs):
        raise RuntimeError("secret internals")

    with monkeypatch.context() as patch:
        patch.setattr(_server, "poster_report", fail)
        with caplog.at_level(logging.ERROR, logger="skposter.serve"):
            status, report = upload(url, poster[1])
    assert status == 500 and "secret" not in report["error"]
    assert "secret internals" in caplog.text and "Traceback" in caplog.text
    assert upload(url, poster[1])[0] == 200


def test_unknown_paths_get_404(colour_model, serve):
    url = serve(colour_model)
    assert request(url, path="/nothing")[0] == 404
    assert upload(url, b"")[0] == 400
    assert request(url, "POST", "/nothing", body=b"x")[0] == 404


@pytest.fixture(scope="module")
def metadata_model(tmp_path_factory):
    """The colour model trained with a metadata column."""
    folder = tmp_path_factory.mktemp("with_metadata")
    data = make_posters(n_samples=40, n_genres=2, size=(32, 24), metadata=True,
                        directory=folder, random_state=1)
    X = pd.DataFrame({"poster": data.paths, "duration": data.metadata["duration"]})
    y = pd.DataFrame(data.target, columns=data.target_names)
    return build_model("colour", metadata_columns=["duration"], random_state=0).fit(X, y)


def test_a_metadata_model_is_served_but_refuses_uploads_saying_why(
        metadata_model, serve, poster):
    url = serve(metadata_model)
    assert request(url, path="/api/model")[1]["metadata_columns"] == ["duration"]
    status, report = upload(url, poster[1])
    assert status == 422 and "trained with metadata (duration)" in report["error"]


@pytest.mark.parametrize("option", ["max_upload_bytes", "timeout", "max_pixels", "top"])
def test_limits_must_be_positive(colour_model, option):
    with pytest.raises(ValueError, match=f"{option} must be positive"):
        make_server(colour_model, port=0, **{option: 0})


def test_upload_error_carries_its_status():
    assert UploadError("no", 415).status == 415


@pytest.mark.slow  # builds a small CNN with TensorFlow
def test_a_cnn_model_gets_heat_maps_of_its_top_genres(synthetic_folder, weights_file, poster):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skposter.datasets import load_posters
    from skposter.features import CNNFeatureExtractor
    from skposter.io import PosterLoader
    from skposter.multilabel import PerGenreClassifier

    data = load_posters(synthetic_folder, as_frame=True)
    model = make_pipeline(
        PosterLoader(column="poster"),
        CNNFeatureExtractor("mobilenet_v2", weights=weights_file, input_size=32),
        StandardScaler(), PerGenreClassifier(LogisticRegression(max_iter=500)),
    ).fit(pd.DataFrame({"poster": data.paths}), data.target)
    report = poster_report(model, poster[1], top=2)
    assert report["heatmap_note"] is None
    top = report["genres"][:2]
    assert [(m["genre"], m["probability"]) for m in report["heatmaps"]] == [
        (g["genre"], pytest.approx(g["probability"], abs=1e-5)) for g in top]
    assert all(g["threshold"] == 0.5 for g in report["genres"])
    for heatmap in report["heatmaps"]:
        assert heatmap["method"] == "cam"
        png = base64.b64decode(heatmap["image"].removeprefix("data:image/png;base64,"))
        assert Image.open(io.BytesIO(png)).size == (report["width"], report["height"])

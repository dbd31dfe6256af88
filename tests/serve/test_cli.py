"""``skposter serve`` as a command: starts, prints its URL, serves, stops on Ctrl+C."""

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

import skposter
from skposter.cli import main


@pytest.mark.slow  # a fresh interpreter imports skposter and loads the model
def test_serve_prints_its_url_serves_the_model_and_stops_on_ctrl_c(colour_model, tmp_path):
    path = tmp_path / "colour.skposter"
    skposter.save(colour_model, path, format="skops")
    process = subprocess.Popen(
        [sys.executable, "-m", "skposter", "serve", "--model", str(path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith(f"skposter serve: {path} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/model", timeout=30) as answer:
            assert json.load(answer)["genres"] == list(colour_model.classes_)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out == "skposter serve: stopped\n"
    assert "GET /api/model HTTP/1.1\" 200" in err


def test_serve_refuses_a_non_positive_upload_limit(colour_model, tmp_path, capsys):
    path = tmp_path / "colour.skposter"
    skposter.save(colour_model, path, format="skops")
    assert main(["serve", "--model", str(path), "--port", "0", "--max-upload-mb", "0"]) == 1
    assert "max_upload_bytes must be positive" in capsys.readouterr().err

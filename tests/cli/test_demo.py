import re
import subprocess
import sys

from skposter.cli import main
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
    assert main(["demo", "--data", str(tmp_path)]) == 0
    model, prior = _macro_ap(capsys.readouterr().out)
    assert model > prior


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

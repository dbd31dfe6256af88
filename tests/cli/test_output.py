"""--quiet, the default and --verbose: what each command prints, and TensorFlow's silence."""

import contextlib
import io
import os
import re
import subprocess
import sys
import textwrap

import pytest

import skposter
from skposter.cli import main
from skposter.datasets import make_posters


@pytest.fixture(scope="module")
def posters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posters")
    make_posters(n_samples=120, n_genres=3, size=(48, 32), directory=folder, random_state=0)
    return folder


@pytest.fixture(scope="module")
def model_file(posters, tmp_path_factory):
    """A model trained at the default verbosity: its loader would draw a decoding bar."""
    path = tmp_path_factory.mktemp("model") / "colour.skops"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--data", str(posters), "--model", "colour",
                     "--out", str(path)]) == 0
    return path


def _run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr()


def test_train_quiet_prints_only_the_saved_file(posters, tmp_path, capsys):
    path = tmp_path / "m.skops"
    out, err = _run(capsys, "train", "--quiet", "--data", str(posters), "--model", "colour",
                    "--out", str(path))
    assert re.fullmatch(rf"fitted in [\d.]+ s; saved to {re.escape(str(path))}\n", out)
    assert err == ""
    assert skposter.load(path).verbose == 0


def test_train_reports_every_stage_by_default(posters, tmp_path, capsys):
    path = tmp_path / "m.skops"
    out, err = _run(capsys, "train", "--data", str(posters), "--model", "colour",
                    "--out", str(path))
    assert out.startswith("skposter train: colour model") and "next: skposter evaluate" in out
    stages = ["reading the poster table", "fitting the colour model", "threshold tuning",
              "decoding posters", "final fit", "saving the model"]
    positions = [err.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), err
    assert re.search(r"threshold tuning: 100%.*\b4/4\b", err)


def test_train_verbose_builds_a_verbose_model(posters, tmp_path, capsys):
    path = tmp_path / "m.skops"
    _run(capsys, "train", "--verbose", "--data", str(posters), "--model", "colour",
         "--out", str(path))
    assert skposter.load(path).verbose == 2


def test_predict_quiet_prints_only_the_predictions(posters, model_file, capsys):
    image = str(posters / "images" / "syn000000.jpg")
    out, err = _run(capsys, "predict", "-q", "--model", str(model_file), image)
    assert out.splitlines()[0].startswith(f"{image}: ") and len(out.splitlines()) == 4
    assert err == ""  # nor the decoding bar of the verbose model's loader
    out_default, err = _run(capsys, "predict", "--model", str(model_file), image)
    assert out_default == out
    assert "loading the model" in err and "predicting the genres of 1 posters" in err
    assert "decoding posters" in err


def test_evaluate_quiet_prints_only_the_report(posters, model_file, tmp_path, capsys):
    argv = ["evaluate", "--model", str(model_file), "--data", str(posters),
            "--report-dir", str(tmp_path)]
    out, err = _run(capsys, *argv, "--quiet")
    assert out.startswith("Per genre") and "macro average precision" in out
    assert err == ""
    out, err = _run(capsys, *argv)
    assert out.startswith("skposter evaluate:")
    assert "predicting the genres of" in err and "writing the report to" in err


def test_demo_quiet_prints_only_the_report(capsys):
    out, err = _run(capsys, "demo", "--quiet", "--n-samples", "150")
    assert out.startswith("Per genre") and err == ""


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--quiet", "--verbose"])
    assert "not allowed with argument" in capsys.readouterr().err


# Inside main's output context at each verbosity: a native write to file descriptor 2
# (what TensorFlow's C++ logging does), a Python warning and a library log line.
_PROBE = textwrap.dedent("""
    import logging, os, warnings
    from skposter.cli._main import _output
    warnings.simplefilter("always")
    for verbosity in (0, 1, 2):
        with _output(verbosity):
            os.write(2, b"native log line\\n")
            warnings.warn("a python warning")
            logging.getLogger("some.library").info("a library log line")
        os.write(2, b"== descriptor 2 restored after %d\\n" % verbosity)
""")


def test_native_log_lines_show_only_with_verbose():
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                            check=True)
    parts = re.split(r"== descriptor 2 restored after \d\n", result.stderr)
    assert len(parts) == 4 and parts[-1] == ""
    for verbosity, printed in enumerate(parts[:3]):
        assert "a python warning" in printed
        assert ("native log line" in printed) is (verbosity == 2)
        assert ("a library log line" in printed) is (verbosity == 2)


@pytest.mark.slow
def test_cnn_features_train_prints_progress_and_no_tensorflow_line(tmp_path):
    make_posters(n_samples=60, n_genres=2, size=(64, 48), directory=tmp_path / "posters",
                 random_state=0)
    result = subprocess.run(
        [sys.executable, "-m", "skposter", "train", "--data", str(tmp_path / "posters"),
         "--model", "cnn-features", "--out", str(tmp_path / "m.skops")],
        capture_output=True, text=True, check=True,
        # Without the caller's TF_CPP_MIN_LOG_LEVEL, which would hide what is checked.
        env={**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
             "SKPOSTER_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert "efficientnet_lite0 features" in result.stderr
    assert "threshold tuning: 100%" in result.stderr
    for noise in ("cuInit", "tensorflow/", "absl::", "I0000", "E0000", "W0000"):
        assert noise not in result.stderr

"""``skposter extract`` fills the cache on a local cluster; ``train`` then reads it."""

import subprocess
import sys

import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

from skposter.cli import main  # noqa: E402
from skposter.datasets import make_posters  # noqa: E402


def test_help_lists_extract():
    result = subprocess.run([sys.executable, "-m", "skposter", "extract", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert "--scheduler" in result.stdout and "--n-workers" in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["--scheduler", "tcp://127.0.0.1:1", "--n-workers", "2"], "--n-workers"),
    (["--partition-size", "0"], "--partition-size"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["extract", "--data", str(tmp_path), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("skposter extract: error:") and message in err and "\n" not in err


@pytest.mark.slow
def test_extract_on_a_local_cluster_then_train_reads_the_cache(tmp_path, monkeypatch, capsys,
                                                                count_forward):
    # Workers inherit the environment: they and train use this cache folder.
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "posters"
    make_posters(40, n_genres=2, size=(48, 32), directory=data, random_state=0)
    assert main(["extract", "--data", str(data), "--n-workers", "2",
                 "--partition-size", "10"]) == 0
    out = capsys.readouterr().out
    assert "40 posters in" in out and "2 workers" in out
    assert len(list((tmp_path / "cache" / "cnn-features").rglob("*.feat"))) == 40

    before = count_forward()
    model = tmp_path / "model.skposter"
    assert main(["train", "--data", str(data), "--model", "cnn-features", "--all",
                 "--out", str(model)]) == 0
    assert model.is_file() and count_forward() == before

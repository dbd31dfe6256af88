"""Training from decoded posters (image_cache), whole-backbone fine-tuning and its schedule."""

import pickle
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skposter.exceptions import FeatureCacheWarning, PosterReadWarning
from skposter.io import PosterStream
from skposter.io import _stream
from skposter.models import KerasPosterClassifier
from skposter.models import _architectures, _classifier, _data
from skposter.models._fine_tuning import Phase, open_backbone_top

# --- decoded-image cache -----------------------------------------------------------------


@pytest.fixture
def count_decodes(monkeypatch):
    """Files opened for decoding so far (arrays are not counted); call for the count."""
    opened = []
    original = _stream.open_poster

    def counting(source, **kwargs):
        opened.append(source)
        return original(source, **kwargs)

    monkeypatch.setattr(_stream, "open_poster", counting)
    return lambda: len(opened)


def test_folder_cache_decodes_nothing_the_second_time(posters, poster_files, tiny, tmp_path,
                                                      count_decodes):
    folder = tmp_path / "cache"
    first = KerasPosterClassifier(**tiny, image_cache=folder).fit(poster_files, posters.target)
    assert count_decodes() == len(poster_files)
    second = KerasPosterClassifier(**tiny, image_cache=folder).fit(poster_files, posters.target)
    assert count_decodes() == len(poster_files)
    np.testing.assert_array_equal(second.predict_proba(posters.images),
                                  first.predict_proba(posters.images))
    entries = sorted(p.name for p in (folder / "decoded-posters").iterdir())
    assert len(entries) == 2 and entries[0].endswith(".json") and entries[1].endswith(".npy")


def test_memory_and_folder_train_like_streaming(posters, poster_files, tiny, tmp_path):
    streamed = KerasPosterClassifier(**tiny, image_cache=None).fit(poster_files, posters.target)
    expected = streamed.predict_proba(posters.images)
    for cache in ("memory", str(tmp_path)):
        model = KerasPosterClassifier(**tiny, image_cache=cache).fit(poster_files,
                                                                     posters.target)
        np.testing.assert_array_equal(model.predict_proba(posters.images), expected)


def test_cache_content_equals_a_fresh_decode(poster_files, tmp_path):
    size = (20, 30)  # another shape than the files': resized (and cropped) once
    stored, failures = _data.cached_decode(poster_files, size, tmp_path, mode="crop",
                                           batch_size=5)
    fresh = np.concatenate(list(PosterStream(poster_files, size, batch_size=7,
                                             mode="crop").batches()))
    assert failures == {} and isinstance(stored, np.memmap) and not stored.flags.writeable
    np.testing.assert_array_equal(stored, fresh)
    again, _ = _data.cached_decode(poster_files, size, tmp_path, mode="crop", batch_size=5)
    assert again.filename == stored.filename
    assert not list((tmp_path / "decoded-posters").glob(".tmp-*"))


def test_cache_key_follows_content_size_and_mode(poster_files, tmp_path, count_decodes):
    paths = poster_files[:4]
    _data.cached_decode(paths, (16, 12), tmp_path, mode="stretch", batch_size=4)
    for size, mode in (((16, 12), "pad"), ((12, 16), "stretch")):
        _data.cached_decode(paths, size, tmp_path, mode=mode, batch_size=4)
    assert count_decodes() == 12
    Path(paths[0]).write_bytes(Path(paths[1]).read_bytes())
    images, _ = _data.cached_decode(paths, (16, 12), tmp_path, mode="stretch", batch_size=4)
    assert count_decodes() == 16
    np.testing.assert_array_equal(images[0], images[1])


def test_a_damaged_entry_is_decoded_again(poster_files, tmp_path, count_decodes):
    paths = poster_files[:3]
    images, _ = _data.cached_decode(paths, (16, 12), tmp_path, mode="stretch", batch_size=4)
    expected = np.array(images)
    entry = next((tmp_path / "decoded-posters").glob("*.npy"))
    del images
    entry.write_bytes(entry.read_bytes()[:-10])  # truncated
    repaired, _ = _data.cached_decode(paths, (16, 12), tmp_path, mode="stretch", batch_size=4)
    assert count_decodes() == 6
    np.testing.assert_array_equal(repaired, expected)


def test_unreadable_files_are_reported_at_every_fit(posters, poster_files, tiny, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    paths = poster_files[:7] + [str(broken)]
    model = KerasPosterClassifier(**tiny, on_error="blank", image_cache=tmp_path / "cache")
    for _ in range(2):  # the second fit reads the failures stored with the posters
        with pytest.warns(PosterReadWarning, match="broken.jpg"):
            model.fit(paths, posters.target[:8])


def test_an_unwritable_folder_decodes_into_memory(poster_files, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(FeatureCacheWarning, match="cannot be written"):
        images, _ = _data.cached_decode(poster_files[:2], (8, 6), blocker, mode="stretch",
                                        batch_size=2)
    assert images.shape == (2, 8, 6, 3) and not isinstance(images, np.memmap)


def test_auto_streams_paths_past_the_memory_budget(posters, poster_files, monkeypatch):
    sources = _classifier.poster_sources(poster_files)
    kept, _ = _data.training_sources(sources, (32, 24), mode="stretch", batch_size=8,
                                     image_cache="auto")
    assert kept.shape == (48, 32, 24, 3)
    monkeypatch.setattr(_data, "MEMORY_BUDGET", 48 * 32 * 24 * 3 - 1)
    streamed, _ = _data.training_sources(sources, (32, 24), mode="stretch", batch_size=8,
                                         image_cache="auto")
    assert list(streamed) == poster_files


# --- fine-tuning: which layers open, and the schedule ----------------------------------


@dataclass(frozen=True)
class TinyBackbone:
    """Stands for a registry backbone: a stem and one block, each a conv and a batch norm."""

    default_size: int = 16
    min_size: int = 8

    @staticmethod
    def preprocess_input(images):
        return images / 127.5 - 1.0

    def build(self, input_shape, *, weights=None, pooling="avg"):
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for name in ("stem", "block1a"):
            x = layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return keras.Model(inputs, x, name="tiny_backbone")


@pytest.fixture
def tiny_transfer(monkeypatch):
    """Parameters of a "transfer" network on :class:`TinyBackbone`."""
    for module in (_architectures, _classifier):
        monkeypatch.setattr(module, "get_backbone", lambda name: TinyBackbone())
    return dict(architecture="transfer", input_size=(32, 24), dense_units=(8,), epochs=1,
                batch_size=16, validation_split=0.0, optimizer="sgd", random_state=0)


def trained_layers(model):
    return {w.path.split("/")[0] for w in model.model_.trainable_weights}


def test_all_opens_every_backbone_layer_but_batch_norms(posters, tiny_transfer):
    model = KerasPosterClassifier(**tiny_transfer, fine_tune_layers="all", fine_tune_epochs=1,
                                  warm_start=True).initialize(posters.images, posters.target)
    bn = model.model_.get_layer("tiny_backbone").get_layer("stem_bn")
    before = [w.copy() for w in bn.get_weights()]
    model.fit(posters.images, posters.target)
    assert trained_layers(model) == {"stem_conv", "block1a_conv", "dense0", "genres"}
    # Batch norms run in inference mode: training steps leave their statistics alone.
    for old, new in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_all_but_the_stem_by_its_first_block(posters, tiny_transfer):
    model = KerasPosterClassifier(**tiny_transfer, fine_tune_layers="block1a",
                                  fine_tune_epochs=1).fit(posters.images, posters.target)
    assert trained_layers(model) == {"block1a_conv", "dense0", "genres"}


def test_cosine_schedule_warms_up_then_reaches_zero(posters, tiny_transfer):
    model = KerasPosterClassifier(
        **tiny_transfer, fine_tune_layers="all", fine_tune_epochs=3,
        fine_tune_learning_rate=1e-3, fine_tune_schedule="cosine", fine_tune_warmup=0.2)
    model.fit(posters.images, posters.target)
    rates = model.history_["learning_rate"][model.fine_tune_start_:]
    assert len(rates) == 3 and rates[0] > rates[1] > rates[2] == pytest.approx(0.0)
    assert float(keras.ops.convert_to_numpy(model.model_.optimizer.learning_rate)) == 0.0
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(posters.images),
                                  model.predict_proba(posters.images))
    assert clone(model).get_params()["fine_tune_schedule"] == "cosine"


@pytest.mark.parametrize("schedule, end", [("cosine", 0.0), ("constant", 1e-3)])
def test_warmup_rises_linearly_to_the_peak(schedule, end):
    phase = Phase(2, 1e-3, schedule=schedule, warmup=0.25, fine_tune=True)
    rate = phase.learning_rate_at(steps_per_epoch=10)  # 20 steps, 5 of warm-up
    assert phase.scheduled
    steps = [0, 1, 5, 20]
    assert [float(rate(step)) for step in steps] == pytest.approx([0, 2e-4, 1e-3, end])


def test_a_constant_rate_without_warmup_is_a_number():
    phase = Phase(2, 1e-3)
    assert not phase.scheduled and phase.learning_rate_at(steps_per_epoch=10) == 1e-3


def test_open_backbone_top_reports_changes():
    inputs = keras.Input((8, 8, 3))
    backbone = TinyBackbone().build((8, 8, 3))
    model = keras.Model(inputs, layers.Dense(2)(backbone(inputs)))
    backbone.trainable = False
    assert open_backbone_top(model, "all") and not open_backbone_top(model, "all")
    assert open_backbone_top(model, 0)


@pytest.mark.parametrize("params", [{"fine_tune_schedule": "linear"},
                                    {"fine_tune_warmup": 1.0}, {"image_cache": 3}])
def test_bad_parameters_are_refused(posters, params):
    with pytest.raises(InvalidParameterError):
        KerasPosterClassifier(**params).fit(posters.images, posters.target)


@pytest.mark.slow
def test_lite0_fine_tunes_whole_on_a_cosine_schedule(posters):
    model = KerasPosterClassifier(
        "transfer", backbone_weights=None, input_size=32, epochs=1, fine_tune_layers="all",
        fine_tune_epochs=2, fine_tune_schedule="cosine", fine_tune_warmup=0.3,
        fine_tune_learning_rate=1e-3, validation_split=0.25, batch_size=8, random_state=0)
    model.fit(posters.images, posters.target)
    trained = trained_layers(model)
    backbone = model.model_.get_layer("efficientnet_lite0")
    convs = {layer.name for layer in backbone.layers if layer.weights
             and not isinstance(layer, layers.BatchNormalization)}
    assert convs <= trained and "stem_conv" in convs
    assert not any(name.endswith("bn") for name in trained)
    assert model.history_["learning_rate"][-1] == pytest.approx(0.0)

"""Grad-CAM of KerasPosterClassifier networks."""

import pickle

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.special import logit
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from skposter.cli._models import with_thresholds
from skposter.datasets import make_posters
from skposter.inspection import genre_heatmaps
from skposter.io import PosterLoader
from skposter.models import KerasPosterClassifier

TINY = dict(architecture="small_cnn", input_size=(32, 24), filters=(4, 8), epochs=2,
            validation_split=0, random_state=0)


@pytest.fixture(scope="module")
def posters():
    return make_posters(24, n_genres=3, size=(48, 32), random_state=0)


@pytest.fixture(scope="module")
def target(posters):
    return pd.DataFrame(posters.target, columns=posters.target_names)


@pytest.fixture(scope="module")
def gap_network(posters, target):
    # Conv blocks, global average pooling, then the output layer: no hidden dense layer.
    return KerasPosterClassifier(**TINY, dense_units=()).fit(posters.images, target)


def test_gradcam_maps_have_the_posters_shape_and_unit_range(gap_network, posters):
    proba = gap_network.predict_proba(posters.images[:1])[0]
    maps = genre_heatmaps(gap_network, posters.images[0], top=3)
    assert [m.probability for m in maps] == sorted(proba, reverse=True)
    for item in maps:
        assert item.method == "grad-cam" and item.offset is None
        # Two 2x2 poolings of a 32 x 24 input.
        assert item.raw.shape == (8, 6) and item.raw.dtype == np.float32
        assert item.heatmap.shape == (48, 32) and item.heatmap.dtype == np.float32
        assert item.heatmap.min() >= 0 and item.heatmap.max() <= 1
        assert item.probability == pytest.approx(proba[posters.target_names.index(item.genre)],
                                                 abs=1e-5)


def test_gradcam_of_pooling_then_dense_is_the_exact_map(gap_network, posters):
    # Pooling then one Dense layer: the logit's gradient is w_k / (h w) everywhere, so
    # Grad-CAM sums to the logit minus the output bias.
    bias = gap_network.model_.get_layer("genres").bias.numpy()
    proba = gap_network.predict_proba(posters.images[3:4])[0]
    for k, item in enumerate(genre_heatmaps(gap_network, posters.images[3],
                                            genres=posters.target_names)):
        assert item.raw.sum(dtype=float) + bias[k] == pytest.approx(logit(proba[k]), abs=1e-4)


def test_gradcam_through_a_loader_and_a_crop_from_paths(tmp_path, posters, target):
    paths = []
    for i, image in enumerate(posters.images):
        paths.append(str(tmp_path / f"p{i}.png"))
        Image.fromarray(image).save(paths[-1])
    model = make_pipeline(PosterLoader(), KerasPosterClassifier(
        **{**TINY, "input_size": (24, 24)}, resize_mode="crop")).fit(paths, target)
    (item,) = genre_heatmaps(model, paths[1], genres=["Comedy"])
    assert item.heatmap.shape == (48, 32) and item.raw.shape == (6, 6)
    # The crop kept rows 8 to 40 of the poster: nothing outside is explained.
    assert not item.heatmap[:7].any() and not item.heatmap[41:].any()


def test_a_network_without_a_sigmoid_or_softmax_output_is_refused(posters, target):
    def builder(input_shape, n_outputs, activation):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3)(inputs)
        x = keras.layers.Dense(n_outputs)(keras.layers.GlobalAveragePooling2D()(x))
        return keras.Model(inputs, keras.layers.Activation(activation)(x))

    model = KerasPosterClassifier(builder, input_size=(16, 16), epochs=1,
                                  validation_split=0).fit(posters.images, target)
    with pytest.raises(TypeError, match="Dense layer with a sigmoid or softmax"):
        genre_heatmaps(model, posters.images[0])


@pytest.mark.slow
def test_cli_keras_model_form(tmp_path, posters, target):
    # skposter train --model keras: the poster column passed through, thresholds tuned.
    columns = ColumnTransformer([("poster", "passthrough", ["poster"])])
    network = KerasPosterClassifier("transfer", backbone="mobilenet_v2",
                                    backbone_weights=None, input_size=32, dense_units=(8,),
                                    epochs=1, validation_split=0, random_state=0)
    paths = [str(tmp_path / f"p{i}.png") for i in range(len(posters.images))]
    for path, image in zip(paths, posters.images):
        Image.fromarray(image).save(path)
    frame = pd.DataFrame({"poster": paths})
    model = with_thresholds(make_pipeline(columns, network), random_state=0)
    model.fit(frame, target)
    maps = genre_heatmaps(model, frame.iloc[[0]], top=2)
    assert len(maps) == 2 and all(m.method == "grad-cam" for m in maps)
    assert genre_heatmaps(model, paths[0], top=2)[0].genre == maps[0].genre
    # MobileNetV2 at 32 px ends in a 1 x 1 map, inside the frozen backbone.
    assert maps[0].raw.shape == (1, 1) and maps[0].heatmap.shape == (48, 32)
    np.testing.assert_allclose([m.probability for m in maps],
                               np.sort(model.predict_proba(frame.iloc[[0]])[0])[::-1][:2],
                               atol=1e-5)


def test_an_unpickled_network_gives_the_same_maps(gap_network, posters):
    # Unpickling rebuilds the Keras network from its parameters and weights.
    reloaded = pickle.loads(pickle.dumps(gap_network))
    for before, after in zip(genre_heatmaps(gap_network, posters.images[2]),
                             genre_heatmaps(reloaded, posters.images[2])):
        assert before.genre == after.genre
        np.testing.assert_allclose(before.raw, after.raw, rtol=1e-5, atol=1e-6)

from pathlib import Path

import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

from skposter._utils._cache import user_cache_dir

#: The real poster collection, beside the project (never copied into it).
SHARED_POSTERS = Path(__file__).resolve().parents[1].parent / "shared" / "posters"


@pytest.fixture
def shared_posters():
    """Path of ../shared/posters; skips the test when the folder is absent."""
    if not (SHARED_POSTERS / "genres.csv").is_file():
        pytest.skip(f"real posters not found at {SHARED_POSTERS}")
    return SHARED_POSTERS


@pytest.fixture(autouse=True, scope="session")
def session_cache_dir(tmp_path_factory):
    """A fresh skposter cache folder per session, so tests never fill the user's cache.

    Each session's random weight files get new OpenVINO conversions (hundreds of MB
    over a few sessions). The converted Lite weights and the poster features of the
    real collection are keyed by content and expensive to redo, so they stay shared.
    """
    user_cache = user_cache_dir()
    session_cache = tmp_path_factory.mktemp("skposter-cache")
    for shared in ("efficientnet_lite", "cnn-features"):
        (user_cache / shared).mkdir(exist_ok=True)
        (session_cache / shared).symlink_to(user_cache / shared, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKPOSTER_CACHE_DIR", str(session_cache))
        yield session_cache


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Small fits spend more time waking BLAS threads than computing on 2 busy cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def poster_files(tmp_path, posters):
    """The module's ``posters`` fixture written as lossless PNG files; their paths."""
    paths = []
    for i, image in enumerate(posters.images):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def count_forward(monkeypatch):
    """Posters that go through the feature extractor's network; call for the count so far."""
    from skposter.features import _extractor

    counted = []
    original = _extractor._Runtime.run

    def run(self, dataset):
        for batch in original(self, dataset):
            counted.append(len(batch))
            yield batch

    monkeypatch.setattr(_extractor._Runtime, "run", run)
    return lambda: sum(counted)


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """A random 32-pixel MobileNetV2 saved once per session; its path as a string.

    Fixed weights in a file: the cache refuses random ones, and extractors planned
    or run differently then hold the same network.
    """
    from skposter.features import CNNFeatureExtractor

    extractor = CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32).fit()
    path = tmp_path_factory.mktemp("weights") / "mobilenet32.weights.h5"
    extractor._runtime().model.save_weights(path)
    return str(path)

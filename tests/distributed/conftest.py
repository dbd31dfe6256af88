"""Shared fixtures of the Dask tests: small synthetic poster files and a fixed-weights file.

Random initialisation differs in every process, so features from a cluster equal the
local ones only with fixed weights: a small MobileNetV2 (32x32 input) saved once.
"""

import pytest

from skposter.datasets import make_posters

#: Small and fast: MobileNetV2 on 32x32 posters, several batches per partition.
SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=4)


@pytest.fixture(scope="session")
def small():
    """Extractor settings of these tests."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def poster_dir(tmp_path_factory):
    """24 synthetic posters written as JPEG files; the Bunch make_posters returns."""
    return make_posters(24, n_genres=3, size=(48, 32), random_state=0,
                        directory=tmp_path_factory.mktemp("posters"))


@pytest.fixture(scope="session")
def paths(poster_dir):
    return [str(p) for p in poster_dir.paths]


@pytest.fixture(scope="session")
def local_features(weights_file, paths):
    """The features of ``paths`` computed in this process, the reference."""
    from skposter.features import CNNFeatureExtractor

    return CNNFeatureExtractor(weights=weights_file, **SMALL).fit().transform(paths)

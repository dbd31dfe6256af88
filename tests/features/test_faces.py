"""FaceFeatureExtractor: how many faces, how large and where, as fractions of the poster."""

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skposter.datasets import make_posters
from skposter.exceptions import FeatureCacheWarning, PosterReadError, PosterReadWarning
from skposter.features import FACE_CASCADES, FaceFeatureExtractor
from skposter.features import _faces

cv2 = pytest.importorskip("cv2")
if not hasattr(cv2, "CascadeClassifier"):
    pytest.skip("OpenCV without Haar cascades (OpenCV 5)", allow_module_level=True)

NAMES = ["n_faces", "face_area", "largest_face_area", "largest_face_x", "largest_face_y",
         "faces_top", "faces_middle", "faces_bottom"]


@pytest.fixture(scope="module")
def portrait():
    """Grace Hopper's portrait, shipped with matplotlib's sample data: a real face."""
    cbook = pytest.importorskip("matplotlib.cbook")
    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


def test_finds_the_face_of_a_portrait(portrait):
    row = dict(zip(NAMES, FaceFeatureExtractor().fit_transform([portrait])[0]))
    assert row["n_faces"] == 1
    # Her face fills the upper middle of the picture.
    assert 0.05 < row["largest_face_area"] < 0.5
    assert 0.35 < row["largest_face_x"] < 0.65 and 0.2 < row["largest_face_y"] < 0.5
    assert row["faces_top"] + row["faces_middle"] == 1 and row["faces_bottom"] == 0


def test_no_face_on_synthetic_posters():
    images = make_posters(3, size=(268, 182), random_state=0).images
    features = FaceFeatureExtractor().fit_transform(images)
    assert features.shape == (3, 8)
    np.testing.assert_array_equal(features[:, 0], 0)
    np.testing.assert_array_equal(features[:, 3:5], 0.5)


def test_geometry_of_the_features():
    # Two faces on a 100 x 200 (height x width) image: one large top-left, one small
    # bottom-right.
    boxes = [[10, 10, 40, 40], [150, 80, 10, 10]]
    row = dict(zip(NAMES, _faces.face_features(boxes, (100, 200))))
    assert row["n_faces"] == 2
    assert row["largest_face_area"] == pytest.approx(1600 / 20000)
    assert row["face_area"] == pytest.approx(1700 / 20000)
    assert row["largest_face_x"] == pytest.approx(30 / 200)
    assert row["largest_face_y"] == pytest.approx(30 / 100)
    assert (row["faces_top"], row["faces_middle"], row["faces_bottom"]) == (1, 0, 1)


def test_features_do_not_depend_on_resolution(monkeypatch):
    # A stubbed detector finding one face covering the same part of any image.
    def detect(grey, *args):
        height, width = grey.shape
        return np.array([[width / 4, height / 2, width / 2, height / 4]])

    monkeypatch.setattr(_faces, "_detect", detect)
    small, large = np.zeros((268, 182, 3), np.uint8), np.zeros((1000, 700, 3), np.uint8)
    extractor = FaceFeatureExtractor().fit()
    np.testing.assert_allclose(extractor.transform([small]), extractor.transform([large]),
                               rtol=0.01)
    assert extractor.transform([small])[0, 4] == pytest.approx(0.625, abs=0.01)


def test_small_posters_are_enlarged_before_the_search(monkeypatch):
    shapes = []
    monkeypatch.setattr(_faces, "_detect", lambda grey, *args: shapes.append(grey.shape)
                        or np.empty((0, 4)))
    FaceFeatureExtractor(min_height=600).fit().transform([np.zeros((268, 182, 3), np.uint8),
                                                         np.zeros((900, 600, 3), np.uint8)])
    assert shapes == [(600, 407), (900, 600)]


def test_paths_equal_images_and_the_cache_serves_them(portrait, tmp_path, monkeypatch):
    image = np.asarray(Image.open(portrait).convert("RGB"))
    extractor = FaceFeatureExtractor(cache=tmp_path).fit()
    from_path = extractor.transform([portrait])
    np.testing.assert_allclose(from_path, extractor.transform([image]))
    monkeypatch.setattr(_faces, "_detect", lambda *args: pytest.fail("searched again"))
    np.testing.assert_allclose(extractor.transform([portrait]), from_path)


def test_damaged_cache_entry_is_recomputed(portrait, tmp_path):
    extractor = FaceFeatureExtractor(cache=tmp_path).fit()
    first = extractor.transform([portrait])
    entry = next(tmp_path.glob("**/*.feat"))
    entry.write_bytes(entry.read_bytes()[:-4])
    with pytest.warns(FeatureCacheWarning, match="damaged"):
        np.testing.assert_allclose(extractor.transform([portrait]), first)


def test_unreadable_files_are_named(portrait, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    extractor = FaceFeatureExtractor().fit()
    with pytest.raises(PosterReadError, match="bad.png"):
        extractor.transform([portrait, str(bad)])
    with pytest.warns(PosterReadWarning, match="without faces.*bad.png"):
        features = extractor.set_params(on_error="blank").transform([portrait, str(bad)])
    assert features[0, 0] == 1 and features[1, 0] == 0


@pytest.mark.parametrize("cascade", FACE_CASCADES)
def test_every_cascade_loads(cascade):
    assert FaceFeatureExtractor(cascade=cascade).fit().transform(
        np.zeros((1, 60, 40, 3), np.uint8)).shape == (1, 8)


def test_missing_cascades_say_what_to_install(monkeypatch):
    monkeypatch.setattr(_faces, "_LOCAL", type(_faces._LOCAL)())
    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(ImportError, match=r"skposter\[faces\]"):
        FaceFeatureExtractor().fit()


def test_conventions():
    extractor = FaceFeatureExtractor(min_neighbors=3)
    with pytest.raises(NotFittedError):
        extractor.transform(np.zeros((1, 60, 40, 3), np.uint8))
    assert clone(extractor).get_params() == extractor.get_params()
    assert list(extractor.get_feature_names_out()) == NAMES
    with pytest.raises(ValueError, match="scale_factor"):
        FaceFeatureExtractor(scale_factor=1).fit()


@pytest.mark.realdata
@pytest.mark.slow
def test_counts_follow_the_recorded_faces_on_real_posters(shared_posters):
    import pandas as pd

    from skposter.datasets import load_posters

    data = load_posters(shared_posters)
    meta = pd.read_csv(shared_posters / "metadata.csv").drop_duplicates("Id").set_index("Id")
    # The first 150 posters whose face count the metadata records.
    rows = np.flatnonzero(np.isin(data.ids, meta.index[meta["facenumber_in_poster"].notna()]))
    rows = rows[:150]
    recorded = meta.loc[data.ids[rows], "facenumber_in_poster"].to_numpy()
    found = FaceFeatureExtractor(n_jobs=2).fit_transform(data.paths[rows])[:, 0]
    assert (found > 0).sum() >= 30
    assert np.corrcoef(found, recorded)[0, 1] > 0.3

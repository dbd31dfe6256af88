"""The feature cache serves only intact entries and never costs computed features.

Damaged entries (wrong shape, dtype, values, a flipped bit, a truncated file) are
recomputed and overwritten with one warning; a folder that cannot be written (tests
run as root, so read-only and full disks are simulated by failing writes) keeps what
it holds readable and the features computed.
"""

import errno
import hashlib
import json
import os
import pathlib
import stat
import tempfile
import warnings

import numpy as np
import pytest

from skposter.datasets import make_posters
from skposter.features import CNNFeatureExtractor
from skposter.features import _cache
from skposter.exceptions import FeatureCacheWarning
from skposter._utils._cache import content_key
from skposter.features._cache import FeatureCache

N_FEATURES = 6
SETTINGS = {"backbone": "test", "version": 1}
SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=4)


def features_of(seed):
    return np.random.default_rng(seed).normal(size=N_FEATURES).astype(np.float32)


def cache_warnings(record):
    return [w for w in record if issubclass(w.category, FeatureCacheWarning)]


def save_npy(path, array):
    with open(path, "wb") as file:  # np.save(path) would append .npy to the name
        np.save(file, array, allow_pickle=False)


def wrong_shape(path, key):
    save_npy(path, np.ones(1, np.float32))


def plain_npy(path, key):
    save_npy(path, features_of(0))


def float64_npy(path, key):
    save_npy(path, features_of(0).astype(np.float64))


def nan_with_valid_checksum(path, key):
    path.write_bytes(_cache._encode(key, np.full(N_FEATURES, np.nan, np.float32)))


def inf_with_valid_checksum(path, key):
    path.write_bytes(_cache._encode(key, np.full(N_FEATURES, np.inf, np.float32)))


def longer_with_valid_checksum(path, key):
    path.write_bytes(_cache._encode(key, np.ones(N_FEATURES + 1, np.float32)))


def flip_a_value_bit(path, key):
    blob = bytearray(path.read_bytes())
    blob[-2] ^= 0x40  # an exponent bit: a tiny feature becomes huge
    path.write_bytes(bytes(blob))


def flip_a_header_byte(path, key):
    blob = bytearray(path.read_bytes())
    blob[5] ^= 0x01  # the format version
    path.write_bytes(bytes(blob))


def flip_a_checksum_byte(path, key):
    blob = bytearray(path.read_bytes())
    blob[12] ^= 0xFF
    path.write_bytes(bytes(blob))


def empty(path, key):
    path.write_bytes(b"")


def truncated(path, key):
    path.write_bytes(path.read_bytes()[:-5])


def trailing_byte(path, key):
    path.write_bytes(path.read_bytes() + b"\0")


def another_posters_entry(path, key):
    path.write_bytes(_cache._encode("0" * 32, features_of(1)))


def a_folder(path, key):
    path.unlink()
    path.mkdir()


CORRUPTIONS = [wrong_shape, plain_npy, float64_npy, nan_with_valid_checksum,
               inf_with_valid_checksum, longer_with_valid_checksum, flip_a_value_bit,
               flip_a_header_byte, flip_a_checksum_byte, empty, truncated, trailing_byte,
               another_posters_entry, a_folder]


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path, SETTINGS, N_FEATURES)


def test_round_trip_keeps_float32_values(cache):
    cache.put("ab" * 16, features_of(0))
    stored = cache.get("ab" * 16)
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, features_of(0))
    assert cache.get("cd" * 16) is None and not cache.damaged


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_a_damaged_entry_is_refused_and_counted(cache, corrupt):
    key = "ab" * 16
    cache.put(key, features_of(0))
    corrupt(cache._path(key), key)
    assert cache.get(key) is None
    assert cache.damaged == {key}
    with pytest.warns(FeatureCacheWarning, match="1 damaged entry"):
        cache.warn_problems()


def test_a_huge_file_in_an_entrys_place_is_not_read(cache):
    key = "ab" * 16
    cache.put(key, features_of(0))
    with open(cache._path(key), "r+b") as file:
        file.truncate(1 << 30)  # sparse: no disk used
    assert cache.get(key) is None and cache.damaged == {key}


def test_a_damaged_entry_is_overwritten(cache):
    key = "ab" * 16
    cache.put(key, features_of(0))
    flip_a_value_bit(cache._path(key), key)
    cache.put(key, features_of(0))
    np.testing.assert_array_equal(cache.get(key), features_of(0))


def test_non_finite_features_are_not_stored(cache):
    cache.put("ab" * 16, np.full(N_FEATURES, np.nan, np.float32))
    assert cache.get("ab" * 16) is None and not cache.damaged


def test_entries_of_the_old_format_are_not_read(tmp_path):
    # The format version is part of the settings hash: old .npy entries live elsewhere.
    old = FeatureCache(tmp_path, SETTINGS, N_FEATURES).directory
    assert "cache_format" in (old / "settings.json").read_text()


def test_an_entry_is_synced_before_its_rename_and_its_folder_after(cache, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    def recording_replace(source, target):
        events.append("rename")
        replace(source, target)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    cache.put("ab" * 16, features_of(0))
    assert events == ["fsync file", "rename", "fsync folder"]


def test_a_full_disk_leaves_no_temporary_file_and_is_tallied(cache, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    cache.put("ab" * 16, features_of(0))
    assert cache.unstored == 1 and cache.get("ab" * 16) is None
    assert not list(cache.directory.rglob(".tmp-*"))
    with pytest.warns(FeatureCacheWarning, match="1 poster.*No space left"):
        cache.warn_problems()


def test_a_cache_under_a_regular_file_reads_nothing_and_stores_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = FeatureCache(blocker / "cache", SETTINGS, N_FEATURES)
    cache.put("ab" * 16, features_of(0))
    assert cache.get("ab" * 16) is None and not cache.damaged and cache.unstored == 1


# --- through the extractor ----------------------------------------------------------


@pytest.fixture(scope="module")
def posters():
    return make_posters(8, n_genres=3, size=(48, 32), random_state=0)


@pytest.fixture
def extractor(weights_file, tmp_path):
    return CNNFeatureExtractor(weights=weights_file, cache=tmp_path / "cache", **SMALL).fit()


@pytest.fixture
def expected(weights_file, poster_files):
    return CNNFeatureExtractor(weights=weights_file, **SMALL).fit().transform(poster_files)


def entry_of(root, path):
    """The file holding a poster's cached features, whatever the cache's layout."""
    key = content_key(path)
    (entry,) = [p for p in pathlib.Path(root).rglob(f"{key}.*") if p.is_file()]
    return entry, key


def transform_recording(extractor, files):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        features = extractor.transform(files)
    return features, cache_warnings(record)


def test_damaged_entries_are_recomputed_with_one_warning(extractor, poster_files, expected,
                                                         count_forward, tmp_path):
    extractor.transform(poster_files)
    for path, corrupt in zip(poster_files, [wrong_shape, flip_a_value_bit, empty,
                                            float64_npy]):
        corrupt(*entry_of(tmp_path / "cache", path))
    features, caught = transform_recording(extractor, poster_files)
    assert count_forward() == 8 + 4
    assert len(caught) == 1 and "4 damaged entries" in str(caught[0].message)
    np.testing.assert_array_equal(features, expected)
    # Overwritten: the next transform reads all eight, silently.
    features, caught = transform_recording(extractor, poster_files)
    assert count_forward() == 12 and not caught
    np.testing.assert_array_equal(features, expected)


def test_a_partly_filled_read_only_cache_keeps_the_features(extractor, poster_files, expected,
                                                            count_forward, monkeypatch):
    extractor.transform(poster_files[:4])

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    features, caught = transform_recording(extractor, poster_files)
    assert count_forward() == 4 + 4
    np.testing.assert_array_equal(features, expected)
    assert len(caught) == 1 and "4 poster(s) could not be stored" in str(caught[0].message)


def test_an_empty_read_only_cache_keeps_the_features(extractor, poster_files, expected,
                                                     tmp_path, monkeypatch):
    mkdir = pathlib.Path.mkdir

    def read_only_mkdir(self, *args, **kwargs):
        if (tmp_path / "cache") in (self, *self.parents):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only_mkdir)
    features, caught = transform_recording(extractor, poster_files)
    np.testing.assert_array_equal(features, expected)
    assert len(caught) == 1 and "8 poster(s) could not be stored" in str(caught[0].message)


def test_a_full_disk_keeps_the_features(extractor, poster_files, expected, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_cache, "atomic_write", full)
    features, caught = transform_recording(extractor, poster_files)
    np.testing.assert_array_equal(features, expected)
    assert len(caught) == 1 and "No space left" in str(caught[0].message)


def test_a_cache_path_under_a_regular_file_keeps_the_features(weights_file, poster_files,
                                                              expected, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    extractor = CNNFeatureExtractor(weights=weights_file, cache=blocker / "cache", **SMALL)
    features, caught = transform_recording(extractor.fit(), poster_files)
    np.testing.assert_array_equal(features, expected)
    assert len(caught) == 1 and "8 poster(s) could not be stored" in str(caught[0].message)


def test_entries_of_the_old_npy_format_are_recomputed(extractor, poster_files, expected,
                                                      count_forward):
    # A cache filled before entries were checked held plain .npy files under the hash
    # of the settings alone; here they hold zeros, which must not be served.
    manifest = extractor._feature_cache().directory / "settings.json"
    settings = json.loads(manifest.read_text())
    settings.pop("cache_format", None)
    name = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(),
                           digest_size=8).hexdigest()
    for path in poster_files:
        key = content_key(path)
        entry = manifest.parent.parent / name / key[:2] / f"{key}.npy"
        entry.parent.mkdir(parents=True, exist_ok=True)
        np.save(entry, np.zeros(extractor.n_features_out_, np.float32))
    np.testing.assert_array_equal(extractor.transform(poster_files), expected)
    assert count_forward() == 8

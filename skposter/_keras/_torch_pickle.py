"""Read PyTorch ``.pth`` state dicts into numpy arrays without importing torch.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file names.
The unpickler here resolves only the handful of globals a state dict of tensors needs
and refuses every other one before anything is called. Every size it allocates is
bounded by the file's size, so a small forged file cannot claim gigabytes of memory.
"""

import collections
import io
import math
import pickle
import reprlib
import struct
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

# Written by ``torch.save`` ahead of the pickled object in the legacy (pre-1.6) format.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
}

# The distinct arrays returned may total this many times the storage bytes in the file:
# room for overlapping views of one storage, none for a view repeated a thousand times.
_MAX_OUTPUT_RATIO = 2
# numpy's limit in 1.x; state dict tensors have at most 5 dimensions.
_MAX_DIMS = 32

# What a malformed pickle or zip makes the readers raise besides UnpicklingError
# (``pickle.Unpickler.load`` documents several; zipfile raises NotImplementedError for
# entries of a zip version it does not know); each becomes one UnpicklingError.
_MALFORMED = (AttributeError, EOFError, IndexError, KeyError, TypeError, ValueError,
              OverflowError, NotImplementedError, struct.error, zipfile.BadZipFile)


class _StorageType(NamedTuple):
    """What a ``torch.<X>Storage`` global resolves to: only its element type."""

    dtype: np.dtype


class _Tensor(NamedTuple):
    """A tensor as pickled: a view into a flat storage, materialised once data is read."""

    storage: np.ndarray
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _Tensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(np.dtype(dtype)) for name, dtype in _STORAGE_DTYPES.items()},
}


class _StateDictUnpickler(pickle._Unpickler):
    """Unpickler that resolves only state-dict globals and hands storages to a callback.

    The pure-Python unpickler, because its opcodes can be overridden (BUILD) and its
    memo is a dict: the C unpickler sizes its memo by the largest index a file names,
    so nine bytes can make it allocate gigabytes.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name}: only the globals of a PyTorch state "
                "dict of tensors are allowed"
            ) from None

    def persistent_load(self, pid):
        return self._load_storage(pid)

    def load_build(self):
        state_of = type(self.stack[-2]) if len(self.stack) > 1 else None
        # torch sets a state dict's ``_metadata`` (module versions) by BUILD on the
        # OrderedDict; it is dropped. BUILD on anything else could rewrite an allowed
        # function's attributes (its defaults) for the whole process.
        if state_of is not collections.OrderedDict:
            raise pickle.UnpicklingError(
                f"refused BUILD on {getattr(state_of, '__name__', 'nothing')}: only a "
                "state dict's metadata may be set"
            )
        self.stack.pop()

    dispatch[pickle.BUILD[0]] = load_build


def _unpickle(file, load_storage=None):
    def no_storage(pid):
        raise pickle.UnpicklingError(f"unexpected storage {reprlib.repr(pid)} in a header")

    return _StateDictUnpickler(file, load_storage or no_storage).load()


def _check_int(value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise pickle.UnpicklingError(f"invalid size or offset {reprlib.repr(value)}")
    return value


class _Storages:
    """The storages of one file by key, read once each, in total no larger than the file.

    Parameters
    ----------
    file_size : int
        Bytes in the file: the bound on all storages together.
    read : callable
        ``read(key, dtype, numel)`` returns the storage as a 1-D array.
    """

    def __init__(self, file_size, read):
        self._left = file_size
        self._read = read
        self.arrays = {}

    def load(self, pid):
        """The storage, or legacy storage view, that a persistent id names."""
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)):
            raise pickle.UnpicklingError(f"unsupported persistent id {reprlib.repr(pid)}")
        _, storage_type, key, _location, numel = pid[:5]
        if key not in self.arrays:
            nbytes = _check_int(numel) * storage_type.dtype.itemsize
            if nbytes > self._left:
                raise pickle.UnpicklingError("storages declared larger than the file")
            self._left -= nbytes
            self.arrays[key] = self._read(key, storage_type.dtype, numel)
        storage = self.arrays[key]
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        # Pre-1.0 files pickled storage views: (view key, element offset, size).
        _view_key, offset, size = view
        if _check_int(offset) + _check_int(size) > storage.size:
            raise pickle.UnpicklingError(f"storage view reaches past the end of storage {key}")
        return storage[offset:offset + size]

    @property
    def nbytes(self):
        return sum(array.nbytes for array in self.arrays.values())


def _load_legacy(data):
    """Read the pre-1.6 format: header pickles, object pickle, storage keys, raw storages."""
    f = io.BytesIO(data)
    if _unpickle(f) != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch file (bad magic number)")
    if _unpickle(f) != _LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("unsupported legacy protocol version")
    sys_info = _unpickle(f)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
        raise pickle.UnpicklingError("only little-endian files are supported")

    # The object pickle comes before the data, so storages are allocated here and
    # filled in place below; tensors keep references to them until materialised.
    storages = _Storages(len(data), lambda key, dtype, numel: np.empty(numel, dtype))
    obj = _unpickle(f, storages.load)
    keys = _unpickle(f)
    if not isinstance(keys, list):
        raise pickle.UnpicklingError("no list of storage keys after the object")
    filled = set()
    for key in keys:
        if key not in storages.arrays or key in filled:
            raise pickle.UnpicklingError(f"data for unknown storage {reprlib.repr(key)}")
        _read_legacy_storage(f, storages.arrays[key])
        filled.add(key)
    unfilled = storages.arrays.keys() - filled
    if unfilled:
        # np.empty: without its data a storage would hold whatever memory held before.
        raise pickle.UnpicklingError(f"no data for storages {sorted(unfilled)[:5]}")
    return obj, storages.nbytes


def _read_legacy_storage(f, storage):
    count = int.from_bytes(f.read(8), "little", signed=True)
    if count != storage.size:
        raise pickle.UnpicklingError(
            f"storage holds {count} elements, the tensor header said {storage.size}"
        )
    if f.readinto(memoryview(storage).cast("B")) != storage.nbytes:
        raise pickle.UnpicklingError("the file is truncated")


def _load_zip(data):
    """Read the zip format (torch >= 1.6): ``<archive>/data.pkl`` and ``<archive>/data/<key>``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(f"expected one data.pkl, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        big_endian = (f"{prefix}byteorder" in archive.namelist()
                      and _read_entry(archive, f"{prefix}byteorder").strip() == b"big")

        def read(key, dtype, numel):
            raw = _read_entry(archive, f"{prefix}data/{key}", numel * dtype.itemsize)
            return np.frombuffer(raw, dtype.newbyteorder(">" if big_endian else "<")).astype(dtype)

        storages = _Storages(len(data), read)
        obj = _unpickle(io.BytesIO(_read_entry(archive, pickles[0])), storages.load)
    return obj, storages.nbytes


def _read_entry(archive, name, nbytes=None):
    """The bytes of one zip entry, which must be stored (as torch writes them) and whole.

    A compressed entry could inflate far beyond the file; a stored one cannot.
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise pickle.UnpicklingError(f"missing entry {name}") from None
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise pickle.UnpicklingError(f"entry {name} is compressed or encrypted; torch "
                                     "writes stored entries")
    if nbytes is not None and info.file_size != nbytes:
        raise pickle.UnpicklingError(
            f"entry {name} holds {info.file_size} bytes, its tensors declare {nbytes}"
        )
    return archive.read(info)


def _state_dict(obj, storage_bytes):
    """Materialise a pickled mapping of names to tensors, each distinct view once."""
    if not (isinstance(obj, dict)
            and all(isinstance(k, str) and isinstance(v, _Tensor) for k, v in obj.items())):
        raise pickle.UnpicklingError("does not hold a state dict (names to tensors)")
    budget = _MAX_OUTPUT_RATIO * storage_bytes
    arrays, state = {}, {}
    for name, tensor in obj.items():
        storage, offset, size, strides = _checked_view(tensor)
        # Tied weights pickle one view under several names: they share one array.
        view = (id(storage), offset, size, strides)
        if view not in arrays:
            budget -= math.prod(size) * storage.itemsize
            if budget < 0:
                raise pickle.UnpicklingError(
                    f"tensors larger than {_MAX_OUTPUT_RATIO} times their storages: views "
                    "repeated over the same data"
                )
            arrays[view] = _materialise(storage, offset, size, strides)
        state[name] = arrays[view]
    return state


def _checked_view(tensor):
    """Storage, offset, size and element strides of a tensor that stays inside its storage.

    Strides of dimensions of length 1 are irrelevant and come back as 0.
    """
    storage, offset, size, stride = tensor
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("tensor without a storage")
    for n in (offset, *size, *stride):
        _check_int(n)
    if len(size) != len(stride) or len(size) > _MAX_DIMS:
        raise pickle.UnpicklingError(f"tensor size {size} and stride {stride} do not match")
    strides = tuple(s if n > 1 else 0 for n, s in zip(size, stride))
    numel = math.prod(size)
    if numel == 0:
        return storage, 0, size, strides
    if any(n > 1 and s == 0 for n, s in zip(size, strides)):
        raise pickle.UnpicklingError(f"tensor of size {size} repeats elements (stride 0)")
    # as_strided reads raw memory: an out-of-range view would read past the storage.
    if offset + sum((n - 1) * s for n, s in zip(size, strides)) >= storage.size:
        raise pickle.UnpicklingError("tensor reaches past the end of its storage")
    if numel > storage.size:
        raise pickle.UnpicklingError(
            f"tensor of {numel} elements is larger than its storage of {storage.size}"
        )
    return storage, offset, size, strides


def _materialise(storage, offset, size, strides):
    """Copy a checked strided view out of its storage into a new contiguous array."""
    if math.prod(size) == 0:
        return np.empty(size, storage.dtype)
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=[s * storage.itemsize for s in strides],
        writeable=False,
    )
    return np.array(view, order="C")


def load_state_dict(path):
    """Load a PyTorch state dict file as numpy arrays, without torch.

    Reads both the legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``)
    and the zip format. Only the globals of a state dict of tensors are resolved, and
    the arrays returned are bounded by the file: storages together no larger than it,
    each tensor inside its storage, repeated views read once.

    Parameters
    ----------
    path : str or path-like
        A ``.pth`` / ``.pt`` file holding a mapping from names to tensors.

    Returns
    -------
    dict of str to numpy.ndarray
        The tensors by name, in file order, as contiguous arrays with numpy dtypes.
        Names pickled with the same view of one storage (tied weights) share one array.

    Raises
    ------
    pickle.UnpicklingError
        If the file names any other global (such as ``os.system``), holds something
        other than a mapping of names to tensors, or is malformed: truncated, a
        storage without its data, a tensor outside its storage or repeating its
        elements (stride 0), sizes beyond the file's.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        is_zip = zipfile.is_zipfile(io.BytesIO(data))
        obj, storage_bytes = _load_zip(data) if is_zip else _load_legacy(data)
        return _state_dict(obj, storage_bytes)
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(f"{path}: {exc}") from None
    except _MALFORMED as exc:
        raise pickle.UnpicklingError(
            f"{path}: not a readable PyTorch state dict ({type(exc).__name__}: {exc})"
        ) from exc

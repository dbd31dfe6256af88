"""Read PyTorch ``.pth`` state dicts into numpy arrays without importing torch.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file names.
The unpickler here resolves only the handful of globals a state dict of tensors needs
and refuses every other one before anything is called.
"""

import collections
import pickle
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


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler that resolves only state-dict globals and hands storages to a callback."""

    def __init__(self, file, path, load_storage):
        super().__init__(file)
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global {module}.{name} in {self._path}: only the globals of a "
                "PyTorch state dict of tensors are allowed"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r} in {self._path}")
        return self._load_storage(pid)


def _unpickle(file, path, load_storage=None):
    def no_storage(pid):
        raise pickle.UnpicklingError(f"unexpected storage {pid!r} in the header of {path}")

    return _StateDictUnpickler(file, path, load_storage or no_storage).load()


def _load_legacy(path):
    """Read the pre-1.6 format: header pickles, object pickle, storage keys, raw storages."""
    with open(path, "rb") as f:
        if _unpickle(f, path) != _LEGACY_MAGIC:
            raise pickle.UnpicklingError(f"{path} is not a PyTorch file (bad magic number)")
        if _unpickle(f, path) != _LEGACY_PROTOCOL:
            raise pickle.UnpicklingError(f"{path}: unsupported legacy protocol version")
        sys_info = _unpickle(f, path)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
            raise pickle.UnpicklingError(f"{path}: only little-endian files are supported")

        # The object pickle comes before the data, so storages are allocated here and
        # filled in place below; tensors keep references to them until materialised.
        roots = {}
        file_size = path.stat().st_size

        def load_storage(pid):
            _, storage_type, key, _location, numel = pid[:5]
            view = pid[5] if len(pid) > 5 else None
            if key not in roots:
                # Bounded by the file, so a forged size cannot make us allocate terabytes.
                if _check_int(numel, path) * storage_type.dtype.itemsize > file_size:
                    raise pickle.UnpicklingError(f"{path}: storage larger than the file")
                roots[key] = np.empty(numel, storage_type.dtype)
            if view is None:
                return roots[key]
            # Pre-1.0 files pickled storage views: (view key, element offset, size).
            _view_key, offset, size = view
            return roots[key][_check_int(offset, path):offset + _check_int(size, path)]

        obj = _unpickle(f, path, load_storage)
        for key in _unpickle(f, path):
            if key not in roots:
                raise pickle.UnpicklingError(f"{path}: data for unknown storage {key!r}")
            _read_legacy_storage(f, roots[key], path)
    return obj


def _read_legacy_storage(f, storage, path):
    count = int.from_bytes(f.read(8), "little", signed=True)
    if count != storage.size:
        raise pickle.UnpicklingError(
            f"{path}: storage holds {count} elements, the tensor header said {storage.size}"
        )
    if f.readinto(memoryview(storage).cast("B")) != storage.nbytes:
        raise pickle.UnpicklingError(f"{path} is truncated")


def _load_zip(path):
    """Read the zip format (torch >= 1.6): ``<archive>/data.pkl`` and ``<archive>/data/<key>``."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(f"{path}: expected one data.pkl, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        big_endian = (f"{prefix}byteorder" in names
                      and archive.read(f"{prefix}byteorder").strip() == b"big")
        storages = {}

        def load_storage(pid):
            _, storage_type, key, _location, numel = pid[:5]
            if key not in storages:
                dtype = storage_type.dtype.newbyteorder(">" if big_endian else "<")
                data = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype)
                storages[key] = data[: _check_int(numel, path)].astype(storage_type.dtype)
            return storages[key]

        with archive.open(pickles[0]) as f:
            return _unpickle(f, path, load_storage)


def _check_int(value, path):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise pickle.UnpicklingError(f"{path}: invalid size or offset {value!r}")
    return value


def _materialise(tensor, path):
    """Copy a strided view out of its storage, after checking it stays inside it."""
    storage, offset, size, stride = tensor
    for n in (offset, *size, *stride):
        _check_int(n, path)
    if len(size) != len(stride):
        raise pickle.UnpicklingError(f"{path}: tensor size {size} and stride {stride} differ")
    if 0 not in size:
        # as_strided reads raw memory: an out-of-range view would read past the storage.
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise pickle.UnpicklingError(f"{path}: tensor reaches past the end of its storage")
    flat = storage[offset:] if 0 not in size else storage[:0]
    view = np.lib.stride_tricks.as_strided(
        flat, shape=size, strides=[s * storage.itemsize for s in stride], writeable=False
    )
    return np.array(view, order="C")


def load_state_dict(path):
    """Load a PyTorch state dict file as numpy arrays, without torch.

    Reads both the legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``)
    and the zip format. Only the globals of a state dict of tensors are resolved.

    Parameters
    ----------
    path : str or path-like
        A ``.pth`` / ``.pt`` file holding a mapping from names to tensors.

    Returns
    -------
    dict of str to numpy.ndarray
        The tensors by name, in file order, as contiguous arrays with numpy dtypes.

    Raises
    ------
    pickle.UnpicklingError
        If the file names any other global (such as ``os.system``), or is malformed.
    ValueError
        If the file holds something other than a mapping of tensors.
    """
    path = Path(path)
    obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if not isinstance(obj, dict) or not all(isinstance(v, _Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return {str(name): _materialise(tensor, path) for name, tensor in obj.items()}

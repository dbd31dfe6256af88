"""Where a backbone runs: device choice, precision and distribution strategy.

The choice is a pure function of the request and the devices TensorFlow lists, so its
logic is tested on a CPU-only machine with made-up GPU lists.
"""

import contextlib
import re
import warnings
from dataclasses import dataclass

from ..exceptions import DeviceFallbackWarning

_GPU_NAME = re.compile(r"^/?(?:physical_device:)?gpu:(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DevicePlan:
    """Devices a model runs on and the precision it computes in.

    Attributes
    ----------
    devices : tuple of str
        Logical device names, e.g. ``("/CPU:0",)`` or ``("/GPU:0", "/GPU:1")``.
    dtype_policy : str
        Keras dtype policy the model is built under.
    """

    devices: tuple
    dtype_policy: str

    @property
    def uses_gpu(self):
        return self.devices[0].startswith("/GPU")

    def strategy(self):
        """The ``tf.distribute`` strategy: mirrored across several GPUs, else one device."""
        import tensorflow as tf

        if len(self.devices) > 1:
            return tf.distribute.MirroredStrategy(devices=list(self.devices))
        return tf.distribute.OneDeviceStrategy(self.devices[0])

    def placement(self):
        """Context placing ops on the plan's device (several: the strategy's own)."""
        import tensorflow as tf

        if len(self.devices) == 1:
            return tf.device(self.devices[0])
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def building(self, strategy):
        """Context in which to build the model: ``strategy``'s scope and the dtype policy.

        Keras reads the dtype policy when layers are created, and only from a global
        setting, so it is set for the duration of the build and restored after.
        """
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.dtype_policy)
        try:
            with strategy.scope():
                yield
        finally:
            keras.config.set_dtype_policy(previous)


def plan_devices(device="auto", precision="auto", gpus=None):
    """Choose devices and precision for a model.

    Parameters
    ----------
    device : {"auto", "cpu", "gpu"} or str, default="auto"
        ``"auto"`` takes every GPU when there is one (several: mirrored), else the CPU;
        ``"gpu"`` takes every GPU and fails without one; ``"gpu:N"`` takes GPU N.
    precision : {"auto", "float32", "mixed_float16", "mixed_bfloat16"}, default="auto"
        ``"auto"`` is mixed float16 on GPUs (tensor cores, half the memory) and float32
        on the CPU, where mixed precision is no faster and drifts the features.
    gpus : list of str, default=None
        Names of the GPUs present; default asks TensorFlow.

    Returns
    -------
    DevicePlan
    """
    if gpus is None:
        gpus = _list_gpus()
    n_gpus = len(gpus)
    request = str(device).lower()
    if request == "cpu":
        devices = ("/CPU:0",)
    elif request == "auto":
        devices = _all_gpus(n_gpus) or ("/CPU:0",)
    elif request == "gpu":
        devices = _all_gpus(n_gpus)
        if not devices:
            raise RuntimeError("device='gpu' but TensorFlow sees no GPU; use device='auto' or 'cpu'.")
    else:
        devices = (_one_gpu(device, n_gpus),)
    if precision == "auto":
        precision = "mixed_float16" if devices[0].startswith("/GPU") else "float32"
    return DevicePlan(devices=devices, dtype_policy=precision)


def plan_for_this_machine(device="auto", precision="auto", gpus=None):
    """Plan for a fitted model arriving on this machine (unpickled, or sent to a worker).

    A plan describes a machine, not a model: kept from the machine that fitted, a
    two-GPU plan waits forever for GPUs that are not here, and a one-GPU plan keeps
    computing in float16 on a CPU. So the plan is made again from the model's
    ``device`` and ``precision`` settings and the devices listed here. A request
    this machine cannot meet (``"gpu"``, ``"gpu:N"``) falls back to ``"auto"`` with a
    warning, so a model file loads anywhere.

    Parameters
    ----------
    device, precision, gpus
        As in :func:`plan_devices`.

    Returns
    -------
    DevicePlan
    """
    if gpus is None:
        gpus = _list_gpus()
    try:
        return plan_devices(device, precision, gpus)
    except RuntimeError as error:
        plan = plan_devices("auto", precision, gpus)
        warnings.warn(f"{error} Running on {', '.join(plan.devices)} instead.",
                      DeviceFallbackWarning, stacklevel=3)
        return plan


def _all_gpus(n_gpus):
    return tuple(f"/GPU:{i}" for i in range(n_gpus))


def _one_gpu(device, n_gpus):
    match = _GPU_NAME.match(str(device))
    if match is None:
        raise ValueError(
            f"device={device!r} is not understood; use 'auto', 'cpu', 'gpu' or 'gpu:N'."
        )
    index = int(match.group(1))
    if index >= n_gpus:
        raise RuntimeError(f"device={device!r} but TensorFlow sees {n_gpus} GPU(s).")
    return f"/GPU:{index}"


def _list_gpus():
    import tensorflow as tf

    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]

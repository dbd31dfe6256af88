"""Device selection, tested with made-up GPU lists on a CPU-only machine."""

import subprocess
import sys
import textwrap

import pytest

from skposter.features import plan_devices
from skposter.exceptions import DeviceFallbackWarning
from skposter._keras._device import plan_for_this_machine

ONE_GPU = ["/physical_device:GPU:0"]
TWO_GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1"]


@pytest.mark.parametrize("gpus, devices, policy", [
    ([], ("/CPU:0",), "float32"),
    (ONE_GPU, ("/GPU:0",), "mixed_float16"),
    (TWO_GPUS, ("/GPU:0", "/GPU:1"), "mixed_float16"),
])
def test_auto_takes_every_gpu_with_mixed_precision(gpus, devices, policy):
    plan = plan_devices("auto", gpus=gpus)
    assert plan.devices == devices and plan.dtype_policy == policy


def test_cpu_request_ignores_gpus():
    plan = plan_devices("cpu", gpus=TWO_GPUS)
    assert plan.devices == ("/CPU:0",) and plan.dtype_policy == "float32"
    assert not plan.uses_gpu


@pytest.mark.parametrize("request_, devices", [("gpu", ("/GPU:0", "/GPU:1")),
                                               ("gpu:1", ("/GPU:1",)),
                                               ("/GPU:0", ("/GPU:0",))])
def test_explicit_gpu_requests(request_, devices):
    assert plan_devices(request_, gpus=TWO_GPUS).devices == devices


@pytest.mark.parametrize("request_, gpus, message", [("gpu", [], "sees no GPU"),
                                                     ("gpu:1", ONE_GPU, "sees 1 GPU"),
                                                     ("tpu", ONE_GPU, "not understood")])
def test_impossible_requests_fail_clearly(request_, gpus, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        plan_devices(request_, gpus=gpus)


def test_precision_can_be_forced():
    assert plan_devices("auto", "float32", gpus=ONE_GPU).dtype_policy == "float32"
    assert plan_devices("cpu", "mixed_bfloat16", gpus=[]).dtype_policy == "mixed_bfloat16"


def test_this_machine_is_planned_from_what_tensorflow_lists():
    import tensorflow as tf

    plan = plan_devices()
    assert plan.uses_gpu == bool(tf.config.list_physical_devices("GPU"))


@pytest.mark.slow
def test_mirrored_run_keeps_order_and_values():
    """The multi-device path (MirroredStrategy, gather) on two logical CPUs."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from skposter._keras._device import DevicePlan
        from skposter.features._extractor import _Runtime
        from skposter.features import get_backbone
        from skposter.io._stream import PosterStream
        images = list(np.random.default_rng(0).integers(0, 256, (13, 32, 32, 3), dtype=np.uint8))
        backbone = get_backbone("mobilenet_v2")
        plans = [DevicePlan(("/CPU:0",), "float32"), DevicePlan(("/CPU:0", "/CPU:1"), "float32")]
        tf.keras.utils.set_random_seed(0)
        one = _Runtime(backbone, None, (32, 32), "avg", plans[0])
        two = _Runtime(backbone, None, (32, 32), "avg", plans[1])
        two.model.set_weights(one.model.get_weights())
        stream = PosterStream(images, (32, 32), batch_size=4)
        a = np.concatenate(list(one.run(stream.batches())))
        b = np.concatenate(list(two.run(stream.batches())))
        assert a.shape == b.shape == (13, 1280), (a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        print("ok", type(two.engine.strategy).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok MirroredStrategy" in result.stdout


@pytest.mark.parametrize("gpus, devices, policy", [
    ([], ("/CPU:0",), "float32"),
    (ONE_GPU, ("/GPU:0",), "mixed_float16"),
    (TWO_GPUS, ("/GPU:0", "/GPU:1"), "mixed_float16"),
])
def test_a_loaded_model_is_planned_from_this_machines_gpus(gpus, devices, policy):
    plan = plan_for_this_machine("auto", "auto", gpus=gpus)
    assert plan.devices == devices and plan.dtype_policy == policy


@pytest.mark.parametrize("request_, gpus, devices", [("gpu", [], ("/CPU:0",)),
                                                     ("gpu:1", ONE_GPU, ("/GPU:0",))])
def test_a_loaded_model_asking_for_missing_gpus_falls_back_with_a_warning(request_, gpus,
                                                                         devices):
    with pytest.warns(DeviceFallbackWarning, match="Running on"):
        plan = plan_for_this_machine(request_, "auto", gpus=gpus)
    assert plan.devices == devices


def test_a_loaded_model_keeps_a_forced_precision():
    with pytest.warns(DeviceFallbackWarning):
        plan = plan_for_this_machine("gpu", "mixed_bfloat16", gpus=[])
    assert plan.dtype_policy == "mixed_bfloat16"

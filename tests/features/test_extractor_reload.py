"""A fitted CNNFeatureExtractor moved to another machine plans for that machine.

This machine has no GPU, so "fitted with GPUs" is simulated by giving a CPU-fitted
extractor the plan a GPU machine would have chosen, before pickling it. Every test
checks the restored plan before running the network: with a kept two-GPU plan the
mirrored forward pass waits forever.
"""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skposter.datasets import make_posters
from skposter.features import CNNFeatureExtractor, DevicePlan, plan_devices
from skposter.exceptions import DeviceFallbackWarning

SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=8)
TWO_GPU_PLAN = DevicePlan(("/GPU:0", "/GPU:1"), "mixed_float16")
ONE_GPU_PLAN = DevicePlan(("/GPU:0",), "mixed_float16")


@pytest.fixture(scope="module")
def posters():
    return make_posters(12, n_genres=3, size=(48, 32), random_state=0)


def fitted_on(plan, **params):
    """An extractor fitted here, carrying ``plan`` as if the fit had chosen it."""
    extractor = CNNFeatureExtractor(**{**SMALL, **params}).fit()
    extractor.device_plan_ = plan
    return extractor


def test_the_plan_is_not_in_the_pickle(weights_file):
    blob = pickle.dumps(fitted_on(TWO_GPU_PLAN, weights=weights_file))
    assert b"DevicePlan" not in blob and b"GPU:1" not in blob


@pytest.mark.parametrize("plan", [TWO_GPU_PLAN, ONE_GPU_PLAN], ids=["two_gpus", "one_gpu"])
def test_a_gpu_fitted_extractor_loaded_here_is_planned_for_here(plan, weights_file):
    restored = pickle.loads(pickle.dumps(fitted_on(plan, weights=weights_file)))
    assert restored.device_plan_ == plan_devices() == DevicePlan(("/CPU:0",), "float32")


def test_an_old_pickle_holding_a_two_gpu_plan_is_replanned(weights_file):
    # Pickles made before the fix hold the plan in their state.
    extractor = fitted_on(TWO_GPU_PLAN, weights=weights_file)
    restored = CNNFeatureExtractor.__new__(CNNFeatureExtractor)
    restored.__setstate__(dict(extractor.__dict__))
    assert restored.device_plan_ == plan_devices()


@pytest.mark.parametrize("plan", [TWO_GPU_PLAN, ONE_GPU_PLAN], ids=["two_gpus", "one_gpu"])
def test_a_gpu_fitted_extractor_gives_cpu_float32_features_here(plan, posters, weights_file):
    expected = CNNFeatureExtractor(weights=weights_file, **SMALL).fit().transform(posters.images)
    restored = pickle.loads(pickle.dumps(fitted_on(plan, weights=weights_file)))
    assert not restored.device_plan_.uses_gpu  # else transform would hang (two GPUs)
    features = restored.transform(posters.images)
    assert features.dtype == np.float32
    scale = np.abs(expected).max()
    np.testing.assert_allclose(features / scale, expected / scale, rtol=0, atol=1e-5)


def test_a_gpu_request_loads_here_with_a_warning(weights_file):
    extractor = fitted_on(ONE_GPU_PLAN, weights=weights_file)
    extractor.device = "gpu"  # what the GPU machine was asked for
    with pytest.warns(DeviceFallbackWarning, match="sees no GPU"):
        restored = pickle.loads(pickle.dumps(extractor))
    assert restored.device_plan_ == DevicePlan(("/CPU:0",), "float32")


def test_an_unfitted_extractor_round_trips_without_a_plan():
    restored = pickle.loads(pickle.dumps(CNNFeatureExtractor(**SMALL)))
    assert not hasattr(restored, "device_plan_")


@pytest.mark.slow
def test_a_two_gpu_pickle_transforms_here_in_bounded_time(tmp_path):
    """End to end in a subprocess: the hang this guards against would block the suite."""
    script = textwrap.dedent("""
        import pickle, sys
        import numpy as np
        from skposter.datasets import make_posters
        from skposter.features import CNNFeatureExtractor, DevicePlan
        extractor = CNNFeatureExtractor("mobilenet_v2", weights=None, input_size=32).fit()
        extractor.device_plan_ = DevicePlan(("/GPU:0", "/GPU:1"), "mixed_float16")
        restored = pickle.loads(pickle.dumps(extractor))
        features = restored.transform(make_posters(3, random_state=0).images)
        assert features.shape == (3, 1280) and np.isfinite(features).all()
        print("ok", restored.device_plan_.devices)
    """)
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("transform of an unpickled two-GPU extractor did not finish in 120 s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok ('/CPU:0',)" in result.stdout

"""Fault injection: cached extraction killed (SIGKILL) at random points, entries corrupted.

Each trial runs a cached extraction in a subprocess that reports every batch leaving
the network, kills it at a random point (hashing, mid-batch, mid-write...), damages one
random entry (truncated, a byte flipped, a wrong-shape ``.npy`` in its place), then
reruns the extraction here. The rerun must give the features of a clean run and
recompute at most what the kill lost (one batch) plus the damaged entry.
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from skposter.datasets import make_posters
from skposter.features import CNNFeatureExtractor
from skposter.exceptions import FeatureCacheWarning
from skposter._utils._cache import content_key

pytestmark = pytest.mark.slow

N_TRIALS = 20
N_POSTERS = 40
BATCH = 8
SMALL = dict(backbone="mobilenet_v2", input_size=32, batch_size=BATCH)

WORKER = textwrap.dedent("""
    import json, pathlib, sys
    from skposter.features import CNNFeatureExtractor, _extractor

    weights, cache = sys.argv[1], sys.argv[2]
    paths = json.loads(pathlib.Path(sys.argv[3]).read_text())
    run = _extractor._Runtime.run

    def reporting(self, dataset):
        for features in run(self, dataset):
            print("forward", len(features), flush=True)
            yield features

    _extractor._Runtime.run = reporting
    extractor = CNNFeatureExtractor("mobilenet_v2", weights=weights, input_size=32,
                                    batch_size=%d, cache=cache).fit()
    print("ready", flush=True)
    extractor.transform(paths)
    print("done", flush=True)
""" % BATCH)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Poster files, a weights file, and the features of a clean run."""
    folder = tmp_path_factory.mktemp("faults")
    paths = []
    for i, image in enumerate(make_posters(N_POSTERS, size=(48, 32), random_state=1).images):
        paths.append(str(folder / f"p{i}.png"))
        Image.fromarray(image).save(paths[-1])
    (folder / "paths.json").write_text(json.dumps(paths))
    weights = folder / "mobilenet32.weights.h5"
    CNNFeatureExtractor(weights=None, **SMALL).fit()._runtime().model.save_weights(weights)
    clean = CNNFeatureExtractor(weights=weights, **SMALL).fit().transform(paths)
    return folder, paths, weights, clean


def killed_extraction(folder, weights, cache, rng):
    """Run the worker, SIGKILL it at a random point; the posters it reported computing."""
    command = [sys.executable, "-c", WORKER, str(weights), str(cache), str(folder / "paths.json")]
    with tempfile.TemporaryFile() as stderr, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}) as worker:
        # Never hang the suite: a stuck worker is killed and the trial fails below.
        watchdog = threading.Timer(120, worker.kill)
        watchdog.start()
        try:
            lines = read_then_kill(worker, rng)
        finally:
            watchdog.cancel()
            worker.kill()
        lines += worker.stdout.read().splitlines()
        stderr.seek(0)
        assert "ready" in lines, stderr.read().decode()[-3000:]
    return sum(int(line.split()[1]) for line in lines if line.startswith("forward"))


def read_then_kill(worker, rng):
    """Lines up to "ready" and a random number of batches, then SIGKILL a moment later."""
    lines, batches = [], rng.randint(0, N_POSTERS // BATCH - 1)
    while line := worker.stdout.readline():
        lines.append(line.strip())
        if "ready" in lines and sum(entry.startswith("forward") for entry in lines) >= batches:
            break
    threading.Event().wait(rng.uniform(0, 0.1))
    worker.send_signal(signal.SIGKILL)
    return lines


def corrupt(entry, rng):
    """Damage an entry, or put a bad file where a missing one would be; say how."""
    how = rng.choice(["truncate", "flip", "npy"]) if entry.is_file() else "npy"
    if how == "truncate":
        blob = entry.read_bytes()
        entry.write_bytes(blob[:rng.randrange(len(blob))])
    elif how == "flip":
        blob = bytearray(entry.read_bytes())
        blob[rng.randrange(len(blob))] ^= rng.randint(1, 255)
        entry.write_bytes(bytes(blob))
    else:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with open(entry, "wb") as file:
            np.save(file, np.ones(rng.choice([1, 7, 1280]), np.float64))
    return how


def test_killed_and_corrupted_extractions_resume_to_clean_features(setup, tmp_path,
                                                                   count_forward):
    folder, paths, weights, clean = setup
    seeds = random.Random(0).sample(range(10**6), N_TRIALS)

    def killed(seed):
        cache = tmp_path / f"cache{seed}"
        return seed, cache, killed_extraction(folder, weights, cache, random.Random(seed))

    # Two workers at a time: most of a trial is a subprocess importing TensorFlow.
    with ThreadPoolExecutor(2) as pool:
        for seed, cache, forwarded in pool.map(killed, seeds):
            extractor = CNNFeatureExtractor(weights=weights, cache=cache, **SMALL).fit()
            key = content_key(random.Random(seed + 1).choice(paths))
            how = corrupt(extractor._feature_cache()._path(key), random.Random(seed + 2))
            before = count_forward()
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                features = extractor.transform(paths)
            context = f"seed {seed}: killed after {forwarded} posters, corrupted by {how}"
            scale = np.abs(clean).max()
            np.testing.assert_allclose(features / scale, clean / scale, rtol=0, atol=1e-5,
                                       err_msg=context)
            assert count_forward() - before <= N_POSTERS - forwarded + BATCH + 1, context
            caught = [w for w in record if issubclass(w.category, FeatureCacheWarning)]
            assert len(caught) == 1 and "1 damaged entry" in str(caught[0].message), context

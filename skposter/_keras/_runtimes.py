"""Where a frozen backbone's forward pass runs: TensorFlow, or OpenVINO on a CPU.

On a CPU, OpenVINO runs the same network about twice as fast as TensorFlow, with
features equal within float32 rounding (``INFERENCE_PRECISION_HINT="f32"``; OpenVINO's
own default on CPUs with bfloat16 units would be bfloat16, a few percent off, so
bfloat16 is only ever an explicit request). The network converted for OpenVINO is the
whole forward pass, uint8 pixels in (the backbone's preprocessing included) and pooled
features out, so both runtimes take the same batches.

A conversion takes seconds, so it is stored in the user cache (see
:func:`skposter._utils._cache.user_cache_dir`), keyed by everything that defines the
network, and reused by every later process: a worker then never builds the Keras
model. It is written to a temporary folder renamed into place, and checked when read
(size and checksum of the weights file): a damaged one is converted again.
"""

import collections
import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings

from .._utils._cache import user_cache_dir
from ..exceptions import RuntimeFallbackWarning

#: Values of a ``runtime`` parameter.
RUNTIMES = ("auto", "tensorflow", "openvino")

#: Bumped when the conversion changes, so stored conversions are not reused.
CONVERSION_VERSION = 2

_OPENVINO_PRECISION = {"float32": "f32", "mixed_bfloat16": "bf16"}
_WARNED = threading.Event()
_MISSING = "needs OpenVINO, which is not installed: pip install 'skposter[fast]'."


def openvino_available():
    """Whether OpenVINO (the ``fast`` extra) can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_runtime(runtime, plan, *, loading=False):
    """The runtime a backbone runs on: ``"tensorflow"`` or ``"openvino"``.

    Parameters
    ----------
    runtime : {"auto", "tensorflow", "openvino"}
        ``"auto"`` takes OpenVINO on a CPU when it is installed and can compute in the
        plan's precision, else TensorFlow (saying why once per process when OpenVINO
        is missing); a GPU plan always stays on TensorFlow.
    plan : DevicePlan
        Where the model runs and in what precision.
    loading : bool, default=False
        A fitted model arriving on this machine: an ``"openvino"`` request it cannot
        meet falls back to TensorFlow with a warning instead of raising, so a model
        file loads anywhere.

    Returns
    -------
    str
    """
    if runtime == "tensorflow":
        return "tensorflow"
    problem = _openvino_problem(plan)
    if problem is None:
        return "openvino"
    if runtime == "openvino" and not loading:
        if not openvino_available():
            raise ImportError(f"runtime='openvino' {problem}")
        raise ValueError(f"runtime='openvino' {problem}")
    # "auto" is silent about GPUs and float16, which OpenVINO is not for anyway.
    if runtime == "openvino" or (problem == _MISSING and not _WARNED.is_set()):
        _WARNED.set()
        warnings.warn(f"runtime={runtime!r}: {problem} The backbone runs on TensorFlow, "
                      "about half as fast on a CPU.", RuntimeFallbackWarning, stacklevel=3)
    return "tensorflow"


def _openvino_problem(plan):
    """Why OpenVINO cannot run ``plan``, or None."""
    if plan.uses_gpu:
        return "runs on the CPU, and this model is planned on a GPU."
    if plan.dtype_policy not in _OPENVINO_PRECISION:
        return (f"computes in float32 or bfloat16 (precision='mixed_bfloat16'), not "
                f"{plan.dtype_policy}.")
    if not openvino_available():
        return _MISSING
    return None


class TensorFlowForward:
    """A built backbone and its compiled TensorFlow forward pass over uint8 batches.

    The forward pass returns the pooled last feature map, followed, when ``model`` has
    several outputs (pooled depths), by each of them: one array per output.
    """

    def __init__(self, model, preprocess_input, size, plan, strategy, tta=None):
        import tensorflow as tf

        self.model = model
        self.plan = plan
        self.strategy = strategy
        self.widths = [int(shape[-1]) for shape in _output_shapes(model)]
        self.n_features = sum(self.widths)

        def forward(batch):
            images = preprocess_input(tf.cast(batch, tf.float32))
            if tta == "flip":
                # One pass over the posters and their mirror images, averaged after.
                both = model(tf.concat([images, tf.reverse(images, axis=[2])], 0),
                             training=False)
                n = tf.shape(images)[0]
                outputs = tf.nest.map_structure(
                    lambda out: (tf.cast(out[:n], tf.float32) + tf.cast(out[n:], tf.float32))
                    / 2, both)
            else:
                outputs = tf.nest.map_structure(lambda out: tf.cast(out, tf.float32),
                                                model(images, training=False))
            # A plain tensor for one output, as before depths existed: same conversion.
            return tuple(outputs) if isinstance(outputs, (list, tuple)) else outputs

        spec = tf.TensorSpec((None, *size, 3), tf.uint8)
        self.forward = tf.function(forward, input_signature=[spec], autograph=False)

        def distributed_forward(batch):
            # gather concatenates the replicas' shares in order: the batch's own order.
            # One output at a time: given the tuple of depths, it gathers one replica.
            return tf.nest.map_structure(lambda out: strategy.gather(out, axis=0),
                                         strategy.run(forward, args=(batch,)))

        # strategy.run must be traced in a tf.function to receive per-replica batches.
        self.distributed_forward = tf.function(distributed_forward, autograph=False)

    @classmethod
    def build(cls, backbone, weights, size, pooling, plan, *, depths=(), tta=None):
        """Build the backbone on ``plan``'s devices.

        ``depths`` are Keras layer names whose outputs are pooled like the last map
        and returned after it; ``tta="flip"`` averages each poster's features with
        those of its mirror image.
        """
        strategy = plan.strategy()
        with plan.building(strategy):
            model = _with_depths(backbone.build((*size, 3), weights=weights, pooling=pooling),
                                 backbone, depths, pooling)
        return cls(model, backbone.preprocess_input, size, plan, strategy, tta)

    def map(self, batches):
        """Yield the features of each batch, in order."""
        for batch in batches:
            yield self(batch)

    def __call__(self, batch):
        """Features of one uint8 batch, as a float32 numpy array."""
        import tensorflow as tf

        if len(self.plan.devices) == 1:
            with tf.device(self.plan.devices[0]):
                return _joined([out.numpy() for out in tf.nest.flatten(self.forward(batch))])
        outputs = tf.nest.flatten(self.distributed_forward(self._shard(batch)))
        return _joined([out[: len(batch)].numpy() for out in outputs])

    def _shard(self, batch):
        """Split a batch into equal contiguous parts, one per replica, in order.

        The batch is padded (its last poster repeated) to a multiple of the replica
        count: a replica given no rows makes some Keras layers fail.
        """
        import tensorflow as tf

        batch = tf.convert_to_tensor(batch)
        replicas = self.strategy.num_replicas_in_sync
        size = -(-len(batch) // replicas)
        padded = tf.concat([batch, tf.repeat(batch[-1:], size * replicas - len(batch), 0)], 0)
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: padded[context.replica_id_in_sync_group * size:][:size])


class OpenVINOForward:
    """The forward pass compiled by OpenVINO for the CPU, over uint8 batches.

    Parameters
    ----------
    network : openvino.Model
        The converted forward pass (uint8 batch in, features out).
    precision : {"float32", "mixed_bfloat16"}
        ``"float32"`` computes exactly in float32; ``"mixed_bfloat16"`` lets OpenVINO
        compute in bfloat16 where the CPU has bfloat16 units (faster, features a few
        percent off).
    model : keras.Model, default=None
        The Keras model converted in this process, if it was.
    """

    def __init__(self, network, precision, model=None):
        import openvino as ov

        self.model = model
        self.widths = [int(output.get_partial_shape()[-1].get_length())
                       for output in network.outputs]
        self.n_features = sum(self.widths)
        self.compiled = ov.Core().compile_model(network, "CPU", {
            "INFERENCE_PRECISION_HINT": _OPENVINO_PRECISION[precision],
            # Streams of one thread each, fed batches concurrently by map(): a core
            # taken by a decoding thread (or another process) then slows one stream,
            # where it would hold up every layer of a batch split across all cores.
            "PERFORMANCE_HINT": "THROUGHPUT",
            # Pinned threads stall whenever another process (or skposter's own decoding
            # threads) runs on their core: 30-40 % slower on a shared 2-core machine.
            "ENABLE_CPU_PINNING": False,
        })
        self.n_requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        # An infer request runs one batch at a time: one per thread sharing the model.
        self._requests = threading.local()

    @classmethod
    def build(cls, backbone, weights, size, pooling, plan, *, depths=(), tta=None, key=None):
        """Convert ``backbone`` (or read its stored conversion) and compile it.

        ``depths`` and ``tta`` as in :meth:`TensorFlowForward.build`. ``key`` names the
        stored conversion; None (random weights, which differ at every build) converts
        in memory without storing.
        """
        built = []

        def convert():
            built.append(_float32_forward(backbone, weights, size, pooling, depths, tta))
            return _convert(built[0])

        network = convert() if key is None else load_conversion(key, convert)
        return cls(network, plan.dtype_policy, built[0].model if built else None)

    def map(self, batches):
        """Yield the features of each batch, in order, computing several at once."""
        import numpy as np

        free = [self.compiled.create_infer_request() for _ in range(self.n_requests)]
        running = collections.deque()
        for batch in batches:
            if not free:
                free.append(_finished(running))
                yield self._outputs(free[-1])
            request = free.pop()
            request.start_async(np.asarray(batch))
            running.append(request)
        while running:
            yield self._outputs(_finished(running))

    def _outputs(self, request):
        # The output buffers belong to the request and are reused by its next batch.
        return _joined([request.get_output_tensor(i).data.copy()
                        for i in range(len(self.widths))])

    def __call__(self, batch):
        """Features of one uint8 batch, as a float32 numpy array."""
        import numpy as np

        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        request.infer(np.asarray(batch))
        return self._outputs(request)


def _finished(running):
    request = running.popleft()
    request.wait()
    return request


def _float32_forward(backbone, weights, size, pooling, depths=(), tta=None):
    from ._device import DevicePlan

    return TensorFlowForward.build(backbone, weights, size, pooling,
                                   DevicePlan(devices=("/CPU:0",), dtype_policy="float32"),
                                   depths=depths, tta=tta)


def _with_depths(model, backbone, depths, pooling):
    """``model`` with the pooled outputs of the layers ``depths`` added after its own."""
    if not depths:
        return model
    import keras

    known = [layer.name for layer in model.layers]
    unknown = [name for name in depths if name not in known]
    if unknown:
        raise ValueError(f"{backbone.name} has no layer {unknown}; its layers are {known}.")
    pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else (
        keras.layers.GlobalMaxPooling2D)
    pooled = [pool(name=f"{name}_pool")(model.get_layer(name).output) for name in depths]
    return keras.Model(model.inputs, [model.output, *pooled], name=model.name)


def _output_shapes(model):
    shapes = model.output_shape
    return shapes if isinstance(shapes, list) else [shapes]


def _joined(outputs):
    import numpy as np

    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=1)


def _convert(forward):
    import openvino as ov

    network = ov.convert_model(forward.forward)
    # OpenVINO's TensorFlow reader also exposes some inner activations as outputs
    # (every swish of Keras' EfficientNetB0: 49 feature maps); the forward's own
    # outputs are the pooled features, the only 2-D ones, in their order.
    features = [output for output in network.outputs
                if output.get_partial_shape().rank.get_length() == 2]
    if len(features) == len(network.outputs):
        return network
    return ov.Model(features, network.get_parameters(), network.get_friendly_name())


def conversion_key(backbone, weights_id, size, pooling, depths=(), tta=None):
    """Name of a stored conversion: a hash of everything that defines the network.

    Parameters
    ----------
    backbone : str
        Registry name.
    weights_id : str
        ``"imagenet"`` or ``"file:<content hash>"``.
    size : tuple of int
    pooling : str
    depths : tuple of str, default=()
        Keras layers whose pooled outputs the network adds.
    tta : str or None, default=None

    Returns
    -------
    str
    """
    import keras
    import openvino as ov

    if weights_id == "imagenet" and backbone.startswith("efficientnet_lite"):
        from ._efficientnet_lite import imagenet_weights_path

        # Named by the upstream file's hash and the weight conversion's version.
        weights_id = imagenet_weights_path(backbone).name
    fields = {"backbone": backbone, "weights": weights_id, "input_size": list(size),
              "pooling": pooling, "openvino": ov.get_version(), "keras": keras.__version__,
              "version": CONVERSION_VERSION}
    # Only when set: the networks converted before these existed keep their keys.
    if depths:
        fields["depths"] = list(depths)
    if tta is not None:
        fields["tta"] = tta
    text = json.dumps(fields, sort_keys=True)
    return f"{backbone}-{hashlib.blake2b(text.encode(), digest_size=12).hexdigest()}"


def load_conversion(key, convert):
    """The stored network named ``key``; converted with ``convert()`` and stored if absent.

    A stored conversion whose files are missing or fail their checks is converted
    again and replaces it. Two processes converting at once both succeed; one of
    the two results is kept.
    """
    import openvino as ov

    folder = user_cache_dir() / "openvino" / key
    network = _read_checked(folder)
    if network is not None:
        return network
    network = convert()
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent)
    try:
        # compress_to_fp16 would round the stored weights to float16.
        ov.save_model(network, os.path.join(temporary, "model.xml"), compress_to_fp16=False)
        _write_manifest(temporary)
        _replace_folder(temporary, folder)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return network


def _read_checked(folder):
    import openvino as ov

    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest != _manifest(folder):
            return None
        return ov.Core().read_model(str(folder / "model.xml"))
    except (OSError, ValueError, RuntimeError):
        return None


def _manifest(folder):
    files = {}
    for name in ("model.xml", "model.bin"):
        digest = hashlib.blake2b(digest_size=16)
        with open(os.path.join(folder, name), "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        files[name] = digest.hexdigest()
    return {"files": files}


def _write_manifest(folder):
    path = os.path.join(folder, "manifest.json")
    with open(path, "w") as file:
        json.dump(_manifest(folder), file)
        file.flush()
        os.fsync(file.fileno())


def _replace_folder(source, target):
    """Rename ``source`` to ``target``; a damaged ``target`` is moved aside first."""
    try:
        os.rename(source, target)
        return
    except OSError:
        if _read_checked(target) is not None:  # another process stored it meanwhile
            return
    aside = tempfile.mkdtemp(prefix=f".{target.name}-damaged-", dir=target.parent)
    try:
        os.replace(target, os.path.join(aside, "old"))
        os.rename(source, target)
    except OSError:
        pass  # a concurrent writer replaced it first: theirs is as good
    finally:
        shutil.rmtree(aside, ignore_errors=True)

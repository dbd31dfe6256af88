"""What a poster network is made of, by name, without importing Keras.

:class:`KerasPosterClassifier` validates its parameters against these before any
network exists, so importing the classifier loads no TensorFlow.
"""

from dataclasses import dataclass

#: Sizes used when a parameter is left at None, per architecture.
DEFAULTS = {
    "seed_cnn": {"input_size": (128, 85), "filters": (32, 32, 64, 64),
                 "kernel_sizes": (7, 5, 3, 3), "dense_units": (128, 64)},
    "small_cnn": {"input_size": (128, 85), "filters": (32, 64), "kernel_sizes": None,
                  "dense_units": (64,)},
    "transfer": {"input_size": None, "filters": None, "kernel_sizes": None,
                 "dense_units": (256,)},
}

ARCHITECTURES = tuple(DEFAULTS)


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that shapes the network, resolved from the estimator's parameters.

    Attributes
    ----------
    architecture : str or callable
        A name of :data:`ARCHITECTURES` or a user builder (see
        ``skposter.models._architectures.build_network``).
    input_size : tuple of int
        ``(height, width)``.
    n_outputs : int
        Genres, or classes of a 1-D target.
    activation : {"sigmoid", "softmax"}
        Output activation.
    filters, kernel_sizes, dense_units : tuple of int or None
        Convolution widths and kernels (CNNs), hidden fully connected widths.
    dropout : float
        Dropout rate after the convolutions and after each hidden dense layer.
    backbone, backbone_weights, pooling
        Pretrained network of ``transfer``, its weights and global pooling.
    flip : bool
        Random horizontal flips in training.
    shift, zoom : float
        Largest random shift and zoom in training, as fractions of the size.
    """

    architecture: object
    input_size: tuple
    n_outputs: int
    activation: str
    filters: tuple = None
    kernel_sizes: tuple = None
    dense_units: tuple = ()
    dropout: float = 0.0
    backbone: str = None
    backbone_weights: object = None
    pooling: str = "avg"
    flip: bool = False
    shift: float = 0.0
    zoom: float = 0.0

"""Fine-tuning a pretrained backbone: the phases of a fit and which layers train in each.

A ``"transfer"`` network first trains its head on a frozen backbone; with
``fine_tune_layers`` a second phase then opens the backbone's top layers and goes on
at ``fine_tune_learning_rate``, constant or on a cosine schedule, after an optional
linear warm-up. Each phase is a separate ``Model.fit`` with its own
callbacks (early stopping restores the head's best epoch before fine-tuning starts),
so the phases are data (:class:`Phase`), not branches in the training loop.
"""

from dataclasses import dataclass

import keras
from keras import layers


@dataclass(frozen=True)
class Phase:
    """One stretch of training, run as one ``Model.fit``.

    Attributes
    ----------
    epochs : int
        Most epochs (early stopping may end the phase sooner).
    learning_rate : float
    backbone_top : int, str or None
        Backbone layers that train: 0 none (frozen), else the top ``backbone_top``
        layers or those from the layer of that name up (see :func:`unfreeze_top`).
        None: not a transfer network, no layer's flag is touched.
    fresh_optimizer : bool
        Compile a new optimizer at ``learning_rate`` even when no trainable flag
        changed; otherwise the network is only recompiled when one did (flags take
        effect at compile time), and the optimizer of the previous fit goes on.
    fine_tune : bool
        Whether this is the fine-tuning phase, whose first epoch the estimator
        records as ``fine_tune_start_``.
    schedule : {"constant", "cosine"}, default="constant"
        The learning rate over the phase's steps after the warm-up: ``learning_rate``
        throughout, or decaying from it to 0 along a half cosine.
    warmup : float, default=0.0
        Share of the phase's steps over which the rate first rises linearly from 0.
    """

    epochs: int
    learning_rate: float
    backbone_top: object = None
    fresh_optimizer: bool = False
    fine_tune: bool = False
    schedule: str = "constant"
    warmup: float = 0.0

    @property
    def scheduled(self):
        """Whether the rate changes step by step (then nothing else may change it)."""
        return self.schedule != "constant" or self.warmup > 0

    def learning_rate_at(self, steps_per_epoch):
        """The optimizer's learning rate: a float, or a Keras schedule over the steps.

        Parameters
        ----------
        steps_per_epoch : int

        Returns
        -------
        float or keras.optimizers.schedules.LearningRateSchedule
        """
        if not self.scheduled:
            return self.learning_rate
        steps = self.epochs * steps_per_epoch
        warmup = int(round(self.warmup * steps))
        # alpha=1 holds the rate after the warm-up: a constant schedule with warm-up.
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else self.learning_rate, decay_steps=max(1, steps - warmup),
            alpha=0.0 if self.schedule == "cosine" else 1.0,
            warmup_target=self.learning_rate if warmup else None, warmup_steps=warmup)


def training_phases(estimator, epochs, *, incremental=False):
    """The phases of one fit of ``estimator``: the head, then fine-tuning if asked for.

    Parameters
    ----------
    estimator : KerasPosterClassifier
        Reads ``architecture``, ``learning_rate`` and the ``fine_tune_*`` parameters.
    epochs : int
        Most epochs of the head's phase.
    incremental : bool, default=False
        ``partial_fit``: one phase, never fine-tuning.

    Returns
    -------
    list of Phase
    """
    transfer = estimator.architecture == "transfer"
    phases = [Phase(epochs, estimator.learning_rate, backbone_top=0 if transfer else None)]
    if (not incremental and transfer and estimator.fine_tune_layers not in (0, "")
            and estimator.fine_tune_epochs > 0):
        phases.append(Phase(estimator.fine_tune_epochs, estimator.fine_tune_learning_rate,
                            backbone_top=estimator.fine_tune_layers, fresh_optimizer=True,
                            fine_tune=True, schedule=estimator.fine_tune_schedule,
                            warmup=estimator.fine_tune_warmup))
    return phases


def open_backbone_top(model, top):
    """Set which backbone layers of a transfer ``model`` train.

    Parameters
    ----------
    model : keras.Model
        A ``"transfer"`` network.
    top : int or str
        0 (or ``""``) freezes the whole backbone; else as for :func:`unfreeze_top`.

    Returns
    -------
    bool
        Whether any layer's trainable flag changed (then the network must be
        recompiled for it to take effect).
    """
    backbone = backbone_of(model)
    before = [layer.trainable for layer in backbone.layers]
    if top in (0, ""):
        backbone.trainable = False
    else:
        unfreeze_top(backbone, top)
    return before != [layer.trainable for layer in backbone.layers]


def backbone_of(model):
    """The pretrained backbone nested in a ``transfer`` model."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"{model.name} holds no single backbone to fine-tune.")
    return nested[0]


def unfreeze_top(backbone, top):
    """Make the top layers of ``backbone`` trainable, batch norms excepted.

    Batch norms stay frozen (and run in inference mode): with the small batches of
    fine-tuning their statistics would drift away from what the weights expect.

    Parameters
    ----------
    backbone : keras.Model
    top : int or str
        How many layers from the top, the name (or name prefix, e.g. ``"block7a"``)
        of the lowest layer to train, or ``"all"``.

    Returns
    -------
    list of str
        Names of the layers that became trainable (those with weights).
    """
    opened = set(_top_layers(backbone, top))
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = layer in opened and not isinstance(layer, layers.BatchNormalization)
    return [layer.name for layer in backbone.layers if layer.trainable and layer.weights]


def _top_layers(backbone, top):
    if top == "all":
        return backbone.layers
    if isinstance(top, str):
        names = [layer.name for layer in backbone.layers]
        starts = [i for i, name in enumerate(names) if name.startswith(top)]
        if not starts:
            raise ValueError(f"no layer of {backbone.name} is named {top!r} or starts so; "
                             f"its top layers are {names[-5:]}.")
        return backbone.layers[starts[0]:]
    return backbone.layers[-top:] if top else []

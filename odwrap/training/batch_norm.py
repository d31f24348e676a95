"""Batch-norm statistics measured again before a checkpoint of a model trained from scratch is
saved, while its moving averages are still mostly their initial values.

A batch norm trains with each batch's mean and variance, and keeps moving averages (momentum m)
that evaluation and every export normalize with instead. After N steps m**N of each average is
still its initial value (mean 0, variance 1). With the OD API's MobileNetV2 (m = 0.9997) that is
24 % after 4800 steps; the keypoint demo's checkpoints then detected nothing at evaluation, box
mAP 0, while the same weights normalizing with batch statistics found the squares.

So, when training started from no checkpoint and some layer still holds more than STALE of its
initial value, each saved checkpoint's averages are replaced by the plain mean of BATCHES
training batches' statistics, measured with the weights being saved (the model in training
mode, as a step runs it, without a gradient or an update of any weight). The training batches
come from an iterator of their own: the steps' batches stay what they were. The averages then
go on moving from there. One replica only: a distribution over several keeps its averages (a
line says so).
"""

from dataclasses import dataclass

STALE = 0.01  # a moving average holding more than this share of its initial value is remeasured
BATCHES = 50  # training batches averaged (the statistics of 800 images at batch 16)


@dataclass(frozen=True)
class Remeasured:
    layers: int
    batches: int
    stale: float  # the largest share of a layer's average still its initial value

    def line(self, step: int) -> str:
        return (f"batch norm: step {step}: {self.stale:.0%} of the moving averages were still "
                f"their initial values (training from scratch); {self.layers} layers' "
                f"statistics measured on {self.batches} training batches")


def batch_norm_layers(model) -> list:
    """MODEL's batch-norm layers that training moves, each once: Keras 2's v1 and v2
    BatchNormalization (the OD API's FreezableBatchNorm is a v1 one) and SyncBatchNormalization
    all keep a float momentum and the two averages. A frozen one (FreezableBatchNorm's
    training=False, the configs' `batch_norm_trainable: false`; or not trainable, which Keras
    runs in inference mode) keeps the averages it was given, and is left out."""
    found = {}
    for module in model.submodules:
        if all(hasattr(module, name) for name in ("moving_mean", "moving_variance", "momentum")) \
                and module.trainable and getattr(module, "_training", None) is not False:
            found[id(module)] = module
    return list(found.values())


def stale_share(layers, step: int) -> float:
    """The largest share of a layer's moving averages still its initial value after STEP steps
    from scratch."""
    return max((float(layer.momentum) ** step for layer in layers), default=0.0)


class Remeasure:
    """Sets LAYERS' moving averages to the mean of COUNT batches' statistics: FORWARD (a step's
    forward pass in training mode) runs on each batch with each layer's momentum 1 - 1/n at the
    n-th, a running mean. FORWARD is compiled once (a tf.function, 6 times faster than eager
    here) and reads the momentum from a variable, which the layers hold only meanwhile, past
    Keras' tracking: the checkpoint never sees it, and their own momenta are put back after."""

    def __init__(self, tf, layers, forward):
        self.layers = layers
        self.momentum = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.forward = tf.function(forward)

    def __call__(self, batches, count: int = BATCHES) -> int:
        """The batches run, COUNT from the iterator BATCHES."""
        momenta = [layer.momentum for layer in self.layers]
        try:
            for layer in self.layers:
                object.__setattr__(layer, "momentum", self.momentum)
            for number in range(1, count + 1):
                self.momentum.assign(1.0 - 1.0 / number)
                self.forward(next(batches))
        finally:
            for layer, momentum in zip(self.layers, momenta):
                object.__setattr__(layer, "momentum", momentum)
        return count


class Refresher:
    """Before each save of BUILT's (setup.Training) model: remeasure on BATCHES batches (0:
    never) when it trained from scratch and its averages are stale. FROM_SCRATCH: no fine-tune
    checkpoint gave the weights (a resumed run's first ones came from scratch too when its
    config has none)."""

    def __init__(self, built, from_scratch: bool, single_replica: bool,
                 batches: int = BATCHES):
        self.built = built
        self.on = from_scratch and batches > 0
        self.batches = batches
        self.single_replica = single_replica
        self._layers = None
        self._batches = self._remeasure = None
        self.skipped_note = False

    def layers(self) -> list:
        if self._layers is None:
            self._layers = batch_norm_layers(self.built.model)
        return self._layers

    def before_save(self, step: int) -> str | None:
        """Remeasure if it is due; the line to show (None when nothing was done or said)."""
        if not self.on or not self.layers():
            return None
        stale = stale_share(self.layers(), step)
        if stale <= STALE:
            return None
        if not self.single_replica:
            if self.skipped_note:
                return None
            self.skipped_note = True
            return (f"batch norm: step {step}: {stale:.0%} of the moving averages are still "
                    "their initial values (training from scratch), and are kept as trained: "
                    "remeasuring them runs on one replica only")
        if self._batches is None:
            self._batches = iter(self.built.dataset)
            self._remeasure = Remeasure(self.built.tf, self.layers(), self.built.statistics_pass)
        count = self._remeasure(self._batches, self.batches)
        return Remeasured(len(self.layers()), count, stale).line(step)

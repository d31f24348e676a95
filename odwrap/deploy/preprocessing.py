"""The input normalization of each SSD feature extractor family, as (x - mean) / std per RGB
channel: what the OD API's `preprocess` does before the network, which the TFLite export leaves
out of the graph, so that the model's metadata, odwrap's runtime and other consumers apply it.

Read from the installed OD API (object_detection/models/ssd_*_feature_extractor.py):
MobileNet V1/V2 (plain, FPN, PPN) `(2 / 255) * x - 1`; ResNet V1 FPN subtracts the VGG channel
means; EfficientNet BiFPN `(x / 255 - offset) / scale` with the ImageNet statistics.
A CenterNet TFLite graph preprocesses inside (CenterNetModule calls model.preprocess): it takes
the pixels as they are ("raw").
"""

from dataclasses import dataclass

from odwrap.errors import InputError


@dataclass(frozen=True)
class Normalization:
    mean: tuple[float, ...]  # one value for all channels, or one per RGB channel
    std: tuple[float, ...]

    def per_channel(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        def three(values):
            return tuple(values) * 3 if len(values) == 1 else tuple(values)

        return three(self.mean), three(self.std)

    def range(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(min, max) per channel of a normalized pixel of 0..255."""
        mean, std = self.per_channel()
        return (tuple((0.0 - m) / s for m, s in zip(mean, std)),
                tuple((255.0 - m) / s for m, s in zip(mean, std)))


MOBILENET = Normalization((127.5,), (127.5,))
RESNET = Normalization((123.68, 116.779, 103.939), (1.0,))
EFFICIENTNET = Normalization((0.485 * 255, 0.456 * 255, 0.406 * 255),
                             (0.229 * 255, 0.224 * 255, 0.225 * 255))

# By the start of `feature_extractor.type` (the TF2 Keras types of model_builder.py).
FAMILIES = (("ssd_mobilenet_", "mobilenet", MOBILENET), ("ssd_resnet", "resnet", RESNET),
            ("ssd_efficientnet", "efficientnet", EFFICIENTNET))
RAW = Normalization((0.0,), (1.0,))
KINDS = {kind: normalization for _, kind, normalization in FAMILIES} | {"raw": RAW}


def kind_of(feature_extractor_type: str) -> str:
    """'mobilenet', 'resnet' or 'efficientnet' for an SSD feature extractor type."""
    for prefix, kind, _ in FAMILIES:
        if feature_extractor_type.startswith(prefix):
            return kind
    raise InputError(f"no known input normalization for feature extractor "
                     f"'{feature_extractor_type}' (known: "
                     f"{', '.join(prefix + '*' for prefix, _, _ in FAMILIES)})")


def for_extractor(feature_extractor_type: str) -> Normalization:
    return KINDS[kind_of(feature_extractor_type)]


def kind_for(config) -> str:
    """The input a TFLite graph of the config's model takes: 'raw' pixels for CenterNet, else
    its SSD feature extractor's normalization."""
    if config.model.WhichOneof("model") == "center_net":
        return "raw"
    return kind_of(config.model.ssd.feature_extractor.type)

"""The shape of the architecture table: an Architecture holds one Sample per input size, each
the values of one official TF2 sample config (a model part per meta-architecture and a Training).
"""

from dataclasses import dataclass, field

# The spec's model keys that only some architectures take (spec.semantic_errors refuses the
# others); architecture, image_size, num_classes and max_detections are taken by all.
OPTIONAL_MODEL_KEYS = ("depth_multiplier", "min_depth", "fpn_levels", "fpn_depth",
                       "predictor_depth", "predictor_layers", "pad_to_multiple",
                       "score_threshold", "iou_threshold", "proposals", "mask_size")


def aug(name: str, **fields) -> tuple[str, dict]:
    """One data augmentation of a sample: the preprocessor step and the fields it sets."""
    return name, fields


FLIP = aug("random_horizontal_flip")
COLOR = (aug("random_adjust_hue"), aug("random_adjust_contrast"), aug("random_adjust_saturation"))


@dataclass(frozen=True)
class Hyperparams:
    """conv_hyperparams of an SSD-style extractor or predictor (activation, L2, initializer, BN)."""

    l2: float
    initializer: str  # random_normal_initializer | truncated_normal_initializer
    stddev: float
    bn_decay: float = 0.997
    bn_epsilon: float = 0.001
    bn_explicit_train_center: bool = False  # the classic SSD sample spells out train/center
    activation: str = "RELU_6"
    force_use_bias: bool = False  # EfficientDet


@dataclass(frozen=True)
class Training:
    """A sample's train_config: batch, schedule, optimizer, augmentations, input padding."""

    batch_size: int
    learning_rate: float
    warmup_learning_rate: float = 0.0
    warmup_steps: int = 0
    optimizer: str = "momentum"  # momentum | adam
    schedule: str = "cosine"  # cosine | step (manual_step_learning_rate)
    step_decays: tuple = ()  # step: (the sample's step, factor of the initial rate), in order
    adam_epsilon: float | None = None  # written with adam when set (the CenterNet samples)
    use_bfloat16: bool = False
    augmentations: tuple = (FLIP, aug("random_crop_image"))
    max_boxes: int | None = 100  # None: not written (the GPU samples keep the proto's 100)
    unpad_groundtruth_tensors: bool | None = False  # None: not written (the proto's true)
    gradient_clipping_by_norm: float | None = None


@dataclass(frozen=True)
class Sample:
    """One sample config: its name, num_steps, model part and train_config. `official`: False
    where no sample config exists and the values are derived (the table's comments say how)."""

    config: str
    steps: int
    model: object  # SsdModel | FasterRcnnModel | CenterNetModel
    training: Training
    official: bool = True


def size_key(size) -> int | tuple[int, int]:
    """A spec's image_size as a key of Architecture.samples: N for N or [N, N], else (a, b)."""
    first, second = (size, size) if isinstance(size, int) else size
    return first if first == second else (first, second)


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    meta: str  # the DetectionModel oneof: ssd | faster_rcnn | center_net
    image_size: int | tuple[int, int]  # the default size (a key of samples)
    samples: dict  # size_key -> Sample
    keys: frozenset = field(default_factory=frozenset)  # the OPTIONAL_MODEL_KEYS it takes
    # size_key -> Sample of its keypoint sample configs (CenterNet's *_kpts_*), for a spec with
    # model.keypoints; empty: the architecture takes no keypoints.
    keypoint_samples: dict = field(default_factory=dict)

    def _table(self, keypoints: bool) -> dict:
        return self.keypoint_samples if keypoints else self.samples

    def sample(self, size=None, keypoints: bool = False) -> Sample:
        """The sample of SIZE (KEYPOINTS: the keypoint sample's); for an unlisted size, a
        listed [min, max] pair's sample when SIZE is such a pair, else the default size's."""
        table = self._table(keypoints)
        key = size_key(self.image_size if size is None else size)
        if key in table:
            return table[key]
        pairs = [sample for listed, sample in table.items() if isinstance(listed, tuple)]
        if isinstance(key, tuple) and pairs:
            return pairs[0]
        return table[size_key(self.image_size)]

    def has_sample(self, size, keypoints: bool = False) -> bool:
        return size_key(size) in self._table(keypoints)

    def sizes_text(self, keypoints: bool = False) -> str:
        return ", ".join(f"{key[0]}x{key[1]}" if isinstance(key, tuple) else str(key)
                         for key in self._table(keypoints))

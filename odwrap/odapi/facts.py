"""Facts read from a parsed TrainEvalPipelineConfig: its meta-architecture, input size, label
map and TFRecords. Every module that needs one of these asks here, so each is read one way.
"""

from odwrap.fsutil import bounded_glob
from odwrap.odapi import exports


def meta_architecture(config) -> str | None:
    """'ssd', 'faster_rcnn', 'center_net', ... or None when the config has no model."""
    return config.model.WhichOneof("model")


def model_config(config):
    """The meta-architecture's own message (config.model.ssd, ...), or None."""
    arch = meta_architecture(config)
    return getattr(config.model, arch) if arch else None


def num_classes(config) -> int:
    model = model_config(config)
    return model.num_classes if model is not None else 0


def predicts_masks(config) -> bool:
    """A Mask R-CNN: a Faster R-CNN whose second-stage predictor predicts instance masks."""
    if meta_architecture(config) != "faster_rcnn":
        return False
    predictor = config.model.faster_rcnn.second_stage_box_predictor
    return predictor.mask_rcnn_box_predictor.predict_instance_masks


def label_map_fields(config) -> list[tuple[object, str]]:
    """(message, field name) of every label map path CONFIG names: each input reader's
    label_map_path and a CenterNet's keypoint_label_map_path."""
    fields = [(reader, "label_map_path")
              for reader in [config.train_input_reader, *config.eval_input_reader]]
    if meta_architecture(config) == "center_net":
        fields.append((config.model.center_net, "keypoint_label_map_path"))
    return fields


def predicts_keypoints(config) -> bool:
    """A CenterNet with a keypoint estimation task."""
    return meta_architecture(config) == "center_net" and \
        len(config.model.center_net.keypoint_estimation_task) > 0


def keypoint_refusal(config, fmt: str) -> str | None:
    """Why FMT cannot export CONFIG's keypoints (odapi.exports.keypoint_refusal); None when it
    can, or the model has none."""
    if not predicts_keypoints(config):
        return None
    return exports.keypoint_refusal(fmt, num_classes(config),
                                    len(config.model.center_net.keypoint_estimation_task))


def keypoint_edges(config) -> list[tuple[int, int]]:
    """The skeleton: eval_config's keypoint_edge pairs of keypoint ids."""
    return [(edge.start, edge.end) for edge in config.eval_config.keypoint_edge]


def fixed_input_size(config) -> tuple[int, int] | None:
    """(height, width) of a fixed_shape_resizer, else None."""
    model = model_config(config)
    if model is None or not hasattr(model, "image_resizer"):
        return None
    resizer = model.image_resizer
    if resizer.WhichOneof("image_resizer_oneof") != "fixed_shape_resizer":
        return None
    return resizer.fixed_shape_resizer.height, resizer.fixed_shape_resizer.width


def static_input_size(config) -> tuple[int, int] | None:
    """(height, width) that every image has after resizing: a fixed_shape_resizer's, or the
    max_dimension square of a keep_aspect_ratio_resizer that pads to it; None when it varies
    (config_util.get_spatial_image_size says -1 for it)."""
    fixed = fixed_input_size(config)
    if fixed is not None:
        return fixed
    model = model_config(config)
    if model is None or not hasattr(model, "image_resizer"):
        return None
    resizer = model.image_resizer
    if resizer.WhichOneof("image_resizer_oneof") == "keep_aspect_ratio_resizer" and \
            resizer.keep_aspect_ratio_resizer.pad_to_max_dimension:
        side = resizer.keep_aspect_ratio_resizer.max_dimension
        return side, side
    return None


def largest_input_size(config, default: int = 512) -> tuple[int, int]:
    """The fixed size, else the keep-aspect resizer's max_dimension squared, else default."""
    fixed = fixed_input_size(config)
    if fixed is not None:
        return fixed
    model = model_config(config)
    if model is not None and hasattr(model, "image_resizer"):
        resizer = model.image_resizer
        if resizer.WhichOneof("image_resizer_oneof") == "keep_aspect_ratio_resizer":
            side = resizer.keep_aspect_ratio_resizer.max_dimension
            return side, side
    return default, default


def label_map_path(config) -> str:
    """The train reader's label map, else the first eval reader's; '' when none is set."""
    readers = [config.train_input_reader, *config.eval_input_reader]
    return next((reader.label_map_path for reader in readers if reader.label_map_path), "")


def train_patterns(config) -> list[str]:
    return list(config.train_input_reader.tf_record_input_reader.input_path)


def eval_patterns(config) -> list[str]:
    """The TFRecord patterns of the first eval reader, the one the OD API evaluates."""
    if not config.eval_input_reader:
        return []
    return list(config.eval_input_reader[0].tf_record_input_reader.input_path)


def match_files(patterns) -> list[str]:
    """The sorted files that local glob patterns match, each once."""
    return sorted({path for pattern in patterns for path in bounded_glob(pattern)})


def fine_tune_checkpoint_type(config) -> str:
    """The type train_loop uses: the field, else the legacy from_detection_checkpoint's
    (config_util.update_fine_tune_checkpoint_type: 'detection' if true, else 'classification')."""
    train = config.train_config
    if train.fine_tune_checkpoint_type:
        return train.fine_tune_checkpoint_type
    return "detection" if train.from_detection_checkpoint else "classification"

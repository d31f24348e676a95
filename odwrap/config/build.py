"""`odwrap check --build`: build the model with the OD API's model_builder and run it once.

Catches what only the builder sees: unknown feature extractors, bad hyperparameter combinations,
and input sizes the network cannot take. Imports TensorFlow.
"""

from odwrap.config.checks import ERROR, Finding
from odwrap.config.findings import BUILD
from odwrap.odapi import compat, facts

# Lines of a TF error message that say what is wrong, beyond "calling layer X".
TELLING = ("Dimensions must be equal", "Incompatible shapes", "must be", "Unknown", "not found")


def build_findings(config, label_map=None) -> list[Finding]:
    """Build the detection model (training mode) and run one forward pass on a blank image.
    LABEL_MAP: a spec's inline label map, not written yet, that CenterNet's keypoint tasks
    read (from a temporary file here)."""
    if facts.meta_architecture(config) == "center_net" and label_map is not None and \
            config.model.center_net.keypoint_estimation_task:
        import tempfile

        from odwrap.odapi import labelmap

        with tempfile.TemporaryDirectory(prefix="odwrap-build-") as folder:
            model = type(config)()
            model.CopyFrom(config)
            model.model.center_net.keypoint_label_map_path = str(
                labelmap.write(label_map, f"{folder}/{labelmap.FILE_NAME}"))
            return _build(model)
    return _build(config)


def _build(config) -> list[Finding]:
    model_builder = compat.load("object_detection.builders.model_builder")
    import tensorflow as tf

    arch = facts.meta_architecture(config)
    if arch is None:
        return [Finding(BUILD, ERROR, "model", "the config has no model",
                        "add a model { ssd { ... } } block")]
    height, width = facts.largest_input_size(config)
    num_classes = getattr(config.model, arch).num_classes
    try:
        model = model_builder.build(config.model, is_training=True)
        # Two-stage models sample their proposals against the ground truth in training mode.
        model.provide_groundtruth(
            groundtruth_boxes_list=[tf.constant([[0.25, 0.25, 0.75, 0.75]], tf.float32)],
            groundtruth_classes_list=[tf.one_hot([0], max(num_classes, 1), dtype=tf.float32)],
            groundtruth_weights_list=[tf.ones([1], tf.float32)])
        images, shapes = model.preprocess(tf.zeros([1, height, width, 3], tf.float32))
        model.predict(images, shapes)
    except Exception as exc:  # any builder failure is the finding itself
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        telling = [line for line in lines if any(key in line for key in TELLING)]
        first = " ".join((lines[:1] + telling[:1]) if telling[:1] != lines[:1] else lines[:1])
        return [Finding(BUILD, ERROR, f"model.{arch}",
                        f"the OD API cannot build or run this model: {type(exc).__name__}: "
                        f"{first[:300]}",
                        f"compare model.{arch} with the official sample config of this "
                        "architecture (the message is the OD API's own)")]
    return []

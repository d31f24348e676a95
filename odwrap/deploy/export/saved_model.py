"""SavedModel through the OD API's exporter_lib_v2; input images, encoded images or
tf.Examples. Verified by one inference with the input type it was exported for."""

import io
import shutil
import time
from contextlib import contextmanager

import numpy as np

from odwrap import report
from odwrap.deploy.export import SAVED_MODEL_INPUTS
from odwrap.deploy.export.common import ExportResult, remove, tree_size
from odwrap.deploy.runtime import load_rgb
from odwrap.errors import InputError
from odwrap.odapi import compat
from odwrap.odapi.logs import captured_output
from odwrap.odapi.tfexample import decode_example, encode_example


def _sample_input(job, input_type):
    from PIL import Image

    record = next(job.eval_records(1), None)
    if record is None:  # no data configured: a blank image
        buffer = io.BytesIO()
        Image.fromarray(np.zeros((320, 320, 3), np.uint8)).save(buffer, "JPEG")
        record = encode_example({"image/encoded": ("bytes", [buffer.getvalue()]),
                                 "image/format": ("bytes", [b"jpeg"])})
    encoded = decode_example(record)["image/encoded"][0]
    if input_type == "tf_example":
        return record
    if input_type == "encoded_image_string_tensor":
        return encoded
    return load_rgb(io.BytesIO(encoded), "an eval example's image/encoded",
                    oriented=False)[None]


def _run_once(target, input_type, sample) -> str:
    tf = compat.import_tensorflow()

    function = tf.saved_model.load(str(target)).signatures["serving_default"]
    tensor = tf.constant(sample, tf.uint8) if input_type == "image_tensor" else \
        tf.constant([sample])
    start = time.perf_counter()
    output = function(input_tensor=tensor)
    elapsed = (time.perf_counter() - start) * 1000
    masks = output.get("detection_masks")
    shape = "" if masks is None else f" with {masks.shape[2]}x{masks.shape[3]} masks"
    return (f"{int(output['num_detections'][0])} detection(s){shape} on one {input_type} input "
            f"in {elapsed:.1f} ms (tensorflow)")


@contextmanager
def staged(job, input_type="image_tensor"):
    """The OD API exporter's SavedModel of the trained model in the output's staging area
    (removed afterwards): what export --format saved_model keeps, and what the ONNX and
    OpenVINO exports convert."""
    exporter = compat.load("object_detection.exporter_lib_v2")
    staging = job.temporary()
    try:
        with captured_output(not report.verbose()), compat.saving_signatures_only():
            exporter.export_inference_graph(input_type, job.config, str(job.checkpoint_dir),
                                            str(staging))
        yield staging / "saved_model"
    finally:
        remove(staging)


def export(job, input_type="image_tensor"):
    if input_type not in SAVED_MODEL_INPUTS:
        raise InputError(f"--input-type {input_type}: saved_model takes "
                         f"{', '.join(SAVED_MODEL_INPUTS)}")
    target = job.exports.saved_model
    with staged(job, input_type) as saved_model:
        remove(target)
        shutil.move(str(saved_model), str(target))
    verified = _run_once(target, input_type, _sample_input(job, input_type))
    job.write_config()
    threshold, threshold_note = job.write_threshold()
    return ExportResult(format="saved_model", path=target,
                        seconds=time.perf_counter() - job.started, size_bytes=tree_size(target),
                        verified=verified,
                        notes=[job.checkpoint_note, f"weights: {job.weights}", threshold_note],
                        files=[job.write_labels(),  # predict and verify name classes
                               *([threshold] if threshold else [])])

"""OpenVINO IR (.xml + .bin) through OpenVINO's TensorFlow front end from the OD API exporter's
SavedModel: the same input and outputs as the ONNX export (uint8 RGB [1, H, W, 3] of any size;
detection_boxes, detection_classes, detection_scores, num_detections, then the raw boxes and
scores before the non-maximum suppression). fp32; fp16 (weights
stored as fp16, OpenVINO's own default for IRs); int8 from NNCF, OpenVINO's post-training
quantizer, calibrated on eval images. The labels and the description go into the IR's rt_info.
"""

import os
from pathlib import Path

from odwrap import report
from odwrap.deploy.export.common import finish, remove
from odwrap.deploy.export import format_modes
from odwrap.deploy.export.onnx_model import description
from odwrap.deploy.export.saved_model import staged
from odwrap.deploy.exportdir import ExportDir
from odwrap.deploy.graph_runtimes import OUTPUTS, RAW_OUTPUTS
from odwrap.errors import InputError, RunError
from odwrap.odapi import compat
from odwrap.odapi.logs import captured_output


def convert(saved_model: Path):
    """The OpenVINO model of an OD API SavedModel, its detection outputs and the raw ones only
    where it has them (OUTPUTS, then RAW_OUTPUTS)."""
    import openvino

    with captured_output(not report.verbose()):
        model = openvino.convert_model(str(saved_model))
    ports = {name: port for port in model.outputs for name in port.names}
    wanted = OUTPUTS + tuple(name for name in RAW_OUTPUTS if name in ports)  # CenterNet: none
    missing = [name for name in OUTPUTS if name not in ports]
    if missing:
        raise RunError(f"OpenVINO's TensorFlow front end gave no {', '.join(missing)} output")
    return openvino.Model([ports[name] for name in wanted], model.get_parameters(),
                          model.get_friendly_name())


def with_metadata(model, info: dict):
    for key, value in info.items():
        model.set_rt_info(value, ["odwrap", key.removeprefix("odwrap.")])
    return model


def quantize_int8(job, model, representative: int):
    """MODEL with NNCF's int8 quantization, calibrated on REPRESENTATIVE eval images."""
    import nncf

    images = list(job.eval_images(representative))
    if not images:
        raise InputError("int8 needs representative images: the config's eval (or train) "
                         "TFRecords hold none")
    with captured_output(not report.verbose()):
        return nncf.quantize(model, nncf.Dataset(images, lambda image: image[None]),
                             subset_size=len(images))


def save(job, model, target: Path, compress: bool) -> Path:
    """MODEL as TARGET (.xml) and its .bin, each replaced whole: the .bin first, so that a
    reader of the new .xml never meets the old weights."""
    import openvino

    scratch = job.temporary()
    try:
        with captured_output(not report.verbose()):
            openvino.save_model(model, str(scratch / target.name), compress_to_fp16=compress)
        weights = ExportDir.weights(target)
        os.replace(scratch / weights.name, weights)
        os.replace(scratch / target.name, target)
    finally:
        remove(scratch)
    return target


def export(job, quantize="none", representative=100):
    compat.apply()
    modes = format_modes("openvino", quantize)
    if representative < 1:
        raise InputError("--representative must be at least 1")
    with staged(job) as saved_model:
        model = convert(saved_model)
    outputs = [name for port in model.outputs for name in sorted(port.names)[:1]]
    paths = {}
    for mode in modes:
        chosen = quantize_int8(job, model, representative) if mode == "int8" else model
        paths[mode] = save(job, with_metadata(chosen, description(job, mode, outputs)),
                           job.exports.openvino(mode), compress=mode == "fp16")
    return finish(job, "openvino", [paths[mode] for mode in modes],
                  files=[job.write_labels(),
                         *(ExportDir.weights(path) for path in paths.values())],
                  notes=[f"OpenVINO IR: input uint8 [1, H, W, 3] (any size); outputs "
                         f"{', '.join(outputs)}"])

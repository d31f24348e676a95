"""What the OD API exports, in one table: the formats, the quantization modes of each, and which
meta-architecture each format takes (ONNX and OpenVINO: what their converters were measured to
convert from the OD API's SavedModel). Read by the checks (ODW008, ODW025, ODW028, ODW031), the spec's
schema, the exporters and the CLI's choices; imports nothing heavy.
"""

FORMATS = ("saved_model", "tflite", "edgetpu", "onnx", "openvino")
QUANTIZE = ("none", "fp16", "dynamic", "int8")
# The quantize modes each format gives (what `--quantize all` means there). ONNX: int8 from ONNX
# Runtime's static quantization (QDQ, calibrated); its dynamic mode runs ConvInteger, 4.5x slower
# than fp32 on the demo model, and its fp16 converter's model fails in the batch loop
# (map/while_loop: "indices element out of data bounds"), so neither is offered (measured).
# OpenVINO: fp16 weights (compress_to_fp16) and int8 from NNCF, OpenVINO's own quantizer.
FORMAT_QUANTIZE = {"tflite": QUANTIZE, "edgetpu": ("int8",), "onnx": ("none", "int8"),
                   "openvino": ("none", "fp16", "int8")}
# export_tflite_graph_lib_tf2 builds TFLite graphs of SSD (EfficientDet included) and CenterNet
# only; odwrap's Edge TPU export is SSD's post-processing op compiled for the Edge TPU.
ARCHITECTURES = {
    "saved_model": ("ssd", "center_net", "faster_rcnn"),
    "tflite": ("ssd", "center_net"),
    "edgetpu": ("ssd",),
    # tf2onnx 1.17 converts the SavedModel of an SSD (measured: MobileNet V2 FPN); it leaves the
    # batch loop (map_fn: TensorListReserve, StatelessWhile) of CenterNet's unconverted, and
    # fails on Faster R-CNN's ("list index out of range" in its While handler), measured.
    "onnx": ("ssd",),
    # OpenVINO's TensorFlow front end converts SSD and CenterNet SavedModels with the same
    # detections (measured); Faster R-CNN converts and runs, but is not yet checked against
    # its SavedModel (a tiny test model detects nothing), and the IR keeps no masks.
    "openvino": ("ssd", "center_net"),
}
# Why a format refuses a meta-architecture, where the table above says more than "it does not
# build that graph"; each names the measured failure.
WHY = {("onnx", "center_net"): "tf2onnx 1.17 leaves the CenterNet SavedModel's batch loop "
                               "(TensorListReserve, StatelessWhile) unconverted",
       ("onnx", "faster_rcnn"): "tf2onnx 1.17 fails on the Faster R-CNN SavedModel's batch loop "
                                "(its While handler: list index out of range)",
       ("openvino", "faster_rcnn"): "odwrap has not yet checked OpenVINO's Faster R-CNN "
                                    "detections against the SavedModel's, and the IR keeps no "
                                    "masks"}
NAMES = {"ssd": "SSD", "center_net": "CenterNet", "faster_rcnn": "Faster R-CNN"}
WHO = {"tflite": "the OD API's TFLite export", "edgetpu": "odwrap's Edge TPU export",
       "saved_model": "the OD API's SavedModel export", "onnx": "odwrap's ONNX export",
       "openvino": "odwrap's OpenVINO export"}


def refusal(fmt: str, arch: str, kind: str) -> str | None:
    """Why FMT cannot export a model of meta-architecture ARCH (KIND: how to name it, e.g.
    'Mask R-CNN'), with the formats that can; None when it can."""
    takes = ARCHITECTURES[fmt]
    if arch in takes:
        return None
    others = [other for other in FORMATS if arch in ARCHITECTURES[other]]
    why = f" ({WHY[fmt, arch]})" if (fmt, arch) in WHY else ""
    return (f"{WHO[fmt]} takes {' and '.join(NAMES[a] for a in takes)} models, and this is a "
            f"{kind} model{why}; export --format {' or '.join(others)}")


def keypoint_refusal(fmt: str, classes: int, keypoint_classes: int) -> str | None:
    """Why FMT cannot export the keypoints of a CenterNet of CLASSES classes, KEYPOINT_CLASSES
    of them with keypoints ("reason; what to do instead"); None when it can."""
    if fmt != "tflite" or not keypoint_classes or (classes, keypoint_classes) == (1, 1):
        return None
    # meta_architectures/center_net_meta_arch.py: postprocess decodes keypoints TFLite-
    # compatibly only when one task and num_classes is 1 (_postprocess_keypoints_single_class);
    # the several-class decoding converts, and its TFLite model fails at its first inference
    # ("tflite/kernels/unpack.cc: NumElements(input) > 0 was not true", measured).
    return (f"{WHO[fmt]} decodes the keypoints of a one-class model only (the OD API's "
            f"several-class keypoint decoding is not TFLite-compatible: its model fails at the "
            f"first inference), and this model has {classes} classes, {keypoint_classes} with "
            "keypoints; train a one-class keypoint model for TFLite, or export --format "
            "saved_model, which keeps every class's keypoints")

"""What the OD API exports, in one table: the formats, the TFLite quantization modes, and which
meta-architecture each format takes. Read by the checks (ODW008, ODW025, ODW028), the spec's
schema, the exporters and the CLI's choices; imports nothing heavy.
"""

FORMATS = ("saved_model", "tflite", "edgetpu")
QUANTIZE = ("none", "fp16", "dynamic", "int8")
# export_tflite_graph_lib_tf2 builds TFLite graphs of SSD (EfficientDet included) and CenterNet
# only; odwrap's Edge TPU export is SSD's post-processing op compiled for the Edge TPU.
ARCHITECTURES = {
    "saved_model": ("ssd", "center_net", "faster_rcnn"),
    "tflite": ("ssd", "center_net"),
    "edgetpu": ("ssd",),
}
NAMES = {"ssd": "SSD", "center_net": "CenterNet", "faster_rcnn": "Faster R-CNN"}
WHO = {"tflite": "the OD API's TFLite export", "edgetpu": "odwrap's Edge TPU export",
       "saved_model": "the OD API's SavedModel export"}


def refusal(fmt: str, arch: str, kind: str) -> str | None:
    """Why FMT cannot export a model of meta-architecture ARCH (KIND: how to name it, e.g.
    'Mask R-CNN'), with the formats that can; None when it can."""
    takes = ARCHITECTURES[fmt]
    if arch in takes:
        return None
    others = [other for other in FORMATS if arch in ARCHITECTURES[other]]
    return (f"{WHO[fmt]} takes {' and '.join(NAMES[a] for a in takes)} models, and this is a "
            f"{kind} model; export --format {' or '.join(others)}")

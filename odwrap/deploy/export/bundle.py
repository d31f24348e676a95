"""README.txt of an export folder: what each .tflite in it takes and returns, the label file,
and the few lines that run it with LiteRT on a Raspberry Pi and with the Edge TPU delegate on a
Coral board; the same for its ONNX and OpenVINO models. Written from the models themselves
(their metadata), so it describes every model that is in the folder, whichever export wrote it.
"""

import json
from pathlib import Path

from odwrap.deploy import modelinfo
from odwrap.deploy.exportdir import ExportDir
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text

# The variable each post-processing output lands in, in the snippets below.
VARIABLES = ("boxes", "classes", "scores", "count", "keypoints", "keypoint_scores")
SHAPES = ("[1, N, 4] ymin, xmin, ymax, xmax as fractions of the image (0..1)",
          f"[1, N] class index: line index (from 0) of {ExportDir.LABELS}",
          "[1, N] score, 0..1, best first",
          "[1] how many of the N rows hold detections",
          f"[1, N, K, 2] y, x as fractions of the image; {ExportDir.KEYPOINTS_NAME} says which",
          "[1, N, K] each keypoint's score, 0..1")

# The name edgetpu_compiler gives the int8 model, as the README names it before it exists.
EDGETPU_MODEL = ExportDir.compiled(ExportDir(".").tflite("int8")).name


def describe_model(path: Path) -> dict:
    data = path.read_bytes()
    shape, dtype = modelinfo.input_signature(data, str(path))
    return {"path": path, "shape": shape, "dtype": dtype, "roles": modelinfo.output_roles(data),
            "info": modelinfo.read_info(data, str(path)), "size": len(data)}


def _input_line(model: dict) -> str:
    info, dtype = model["info"], model["dtype"]
    shape = "x".join(str(v) for v in model["shape"])
    if dtype == "uint8":
        how = "RGB pixels 0..255 as they are"
    elif info is not None and info.normalization is not None:
        mean, std = (", ".join(f"{v:g}" for v in values)
                     for values in info.normalization.per_channel())
        how = f"RGB, each channel (x - mean) / std, mean {mean}, std {std}"
        if dtype == "int8":
            how += ", then quantized with the input's scale and zero point"
    else:
        how = "RGB"
    return f"  {model['path'].name}: input {shape} {dtype} ({how}); {model['size'] / 1e6:.2f} MB"


def _snippet(model: dict, delegate: bool) -> list[str]:
    height, width = model["shape"][1:3]
    unpack = ", ".join(VARIABLES[role] for role in model["roles"])
    if model["dtype"] == "uint8":
        tensor = "pixels[None]"
    else:
        mean, std = model["info"].normalization.per_channel() if model["info"] else ((0,), (1,))
        tensor = (f"((pixels - np.float32({list(mean)})) / np.float32({list(std)}))"
                  "[None].astype(np.float32)")
    if delegate:
        opening = ["from tflite_runtime.interpreter import Interpreter, load_delegate",
                   f'interpreter = Interpreter("{model["path"].name}", experimental_delegates='
                   '[load_delegate("libedgetpu.so.1")])']
    else:
        opening = ["from ai_edge_litert.interpreter import Interpreter",
                   f'interpreter = Interpreter("{model["path"].name}", num_threads=4)']
    lines = ["import numpy as np", "from PIL import Image, ImageOps", *opening,
             "interpreter.allocate_tensors()",
             f'labels = open("{ExportDir.LABELS}").read().splitlines()',
             'photo = ImageOps.exif_transpose(Image.open("photo.jpg"))  # as viewers show it',
             f'pixels = np.asarray(photo.convert("RGB").resize(({width}, '
             f'{height})), np.{"uint8" if model["dtype"] == "uint8" else "float32"})',
             'interpreter.set_tensor(interpreter.get_input_details()[0]["index"], '
             f"{tensor})",
             "interpreter.invoke()",
             f"{unpack} = (interpreter.get_tensor(d[\"index\"]) for d in "
             "interpreter.get_output_details())",
             "for i in range(int(count[0])):",
             "    print(labels[int(classes[0][i])], float(scores[0][i]), boxes[0][i]"
             + (", keypoints[0][i], keypoint_scores[0][i])"
                if modelinfo.KEYPOINTS in model["roles"] else ")")]
    return ["    " + line for line in lines]


def readme_text(models: list[dict]) -> str:
    first = models[0]
    info = first["info"]
    lines = ["Exported by odwrap: SSD object detection models for TFLite.", ""]
    if info is not None and info.description:
        lines += [info.description, ""]
    lines += ["Models:", *(_input_line(model) for model in models), "",
              f"Labels: {ExportDir.LABELS}, one per line; line i (from 0) is class index i. Each "
              "model "
              "also carries", "it inside, with TFLite Model Metadata (name, version, input "
              "normalization, output", "names), so the TFLite Task Library and MediaPipe Tasks "
              "load a model file as it is.", "",
              "Outputs, in the order the model lists them (TF2 exports order them unlike TF1; "
              "their", "metadata names them: location, category, score, number of detections):"]
    for position, role in enumerate(first["roles"]):
        lines.append(f"  {position}: {modelinfo.OUTPUT_NAMES[role]:21} {SHAPES[role]}")
    cpu = next((m for m in models if "edgetpu" not in m["path"].name), first)
    lines += ["", "Raspberry Pi (LiteRT; pip install ai-edge-litert numpy pillow), "
              f"{cpu['path'].name}:",
              *_snippet(cpu, delegate=False)]
    tpu = next((m for m in models if "edgetpu" in m["path"].name), None)
    lines += ["", "Coral Edge TPU (Dev Board or USB Accelerator; the libedgetpu1-std and "
              "python3-tflite-runtime", "packages from Coral's apt repository), "
              + (f"{tpu['path'].name}:" if tpu else
                 f"the model compiled by edgetpu_compiler ({EDGETPU_MODEL}; "
                 "odwrap export --format edgetpu"
                 " compiles it when edgetpu_compiler is on PATH):")]
    target = tpu or {**(next((m for m in models if m["dtype"] == "uint8"), cpu)),
                     "path": Path(EDGETPU_MODEL)}
    lines += _snippet(target, delegate=True)
    return "\n".join(lines) + "\n"


# What the ONNX and OpenVINO models of a folder take and return (export/onnx_model.py).
GRAPH_IO = [
    "Input: input_tensor, uint8 RGB [1, H, W, 3] of any size (resizing and normalization are",
    "inside the model). Outputs, in this order: detection_boxes [1, N, 4] (ymin, xmin, ymax,",
    f"xmax, 0..1), detection_classes [1, N] (label map ids: id k is line k of {ExportDir.LABELS},",
    "from 1), detection_scores [1, N], num_detections [1]; then, before the non-maximum",
    "suppression, raw_detection_boxes [1, A, 4] and raw_detection_scores [1, A, classes + 1]."]


def _fp32_first(path: Path) -> tuple:
    return path.stem != ExportDir(".").tflite("none").stem, path.name


def graph_text(folder: Path) -> str:
    """The README's part for the folder's .onnx and OpenVINO .xml models ('' when none)."""
    found = sorted(folder.glob("*.onnx"), key=_fp32_first) + \
        sorted(folder.glob("model_*.xml"), key=_fp32_first)
    if not found:
        return ""
    lines = ["ONNX and OpenVINO models (exported from the SavedModel; the same detections):",
             *(f"  {path.name}" for path in found), *GRAPH_IO, ""]
    onnx = next((path for path in found if path.suffix == ".onnx"), None)
    if onnx:
        lines += [f"ONNX Runtime (pip install onnxruntime numpy pillow), {onnx.name}:",
                  "    import numpy as np, onnxruntime as ort", "    from PIL import Image",
                  f'    session = ort.InferenceSession("{onnx.name}")',
                  f'    labels = open("{ExportDir.LABELS}").read().splitlines()',
                  '    pixels = np.asarray(Image.open("photo.jpg").convert("RGB"))',
                  "    boxes, classes, scores, count = session.run(None, {\"input_tensor\": "
                  "pixels[None]})[:4]",
                  "    for i in range(int(count[0])):",
                  "        print(labels[int(classes[0][i]) - 1], float(scores[0][i]), "
                  "boxes[0][i])", ""]
    xml = next((path for path in found if path.suffix == ".xml"), None)
    if xml:
        lines += [f"OpenVINO (pip install openvino), {xml.name} with {xml.stem}.bin beside it: "
                  "the same, with", "    import openvino as ov",
                  f'    compiled = ov.Core().compile_model("{xml.name}", "CPU")',
                  "    boxes, classes, scores, count = compiled([pixels[None]]).to_tuple()[:4]",
                  ""]
    return "\n".join(lines)


def write_readme(folder: Path) -> Path | None:
    """FOLDER/README.txt for the detection .tflite, .onnx and OpenVINO models in it (None:
    there are none)."""
    models = []
    for path in ExportDir(folder).tflite_models():
        try:
            models.append(describe_model(path))
        except (InputError, OSError, ValueError, IndexError):  # no detector: left out
            continue
    graphs = graph_text(Path(folder))
    if not models and not graphs:
        return None
    models.sort(key=lambda model: ("edgetpu" in model["path"].name, model["dtype"] != "uint8"))
    text = (readme_text(models) + ("\n" if graphs else "") if models else "") + graphs
    threshold = ExportDir(folder).threshold
    try:  # written by this export (write_threshold), just before
        found = json.loads(threshold.read_text()) if threshold.is_file() else None
    except (OSError, ValueError):
        found = None
    if isinstance(found, dict) and {"threshold", "step"} <= set(found):
        text += (f"\nScore threshold: keep detections scoring {found['threshold']:g} or more: "
                 f"the best F1 of the evaluation of step {found['step']} ({ExportDir.THRESHOLD}"
                 "; odwrap predict uses it by default).\n")
    return atomic_write_text(ExportDir(folder).readme, text)

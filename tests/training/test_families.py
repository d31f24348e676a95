"""Every family beyond the SSD FPNs through odwrap's own commands, at tiny sizes: train 2 steps,
fine-tune 1 step from that checkpoint onto three classes (CenterNet and Faster R-CNN; the
report names the model parts), evaluate with COCO metrics, export a SavedModel, and a TFLite
model where the OD API's TFLite path takes the meta-architecture (SSD with EfficientDet,
CenterNet; both trained with a fixed-shape resizer, which that path needs) or refuse it in one
line (Faster/Mask R-CNN).

Each family runs in one child process (the commands through odwrap.cli.main), so that
TensorFlow starts once per family."""

import re

import pytest

from tests.conftest import run_python
from tests.tfdata import write_family_spec, write_shapes_tfrecord

pytestmark = [pytest.mark.tf, pytest.mark.slow]

FLOW = """
import sys
from odwrap import cli
spec, work, size, tune, formats = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], \
    sys.argv[5:]
def step(name, *argv):
    print(f"== {name}", flush=True)
    print(f"== {name} rc={cli.main(list(argv))}", flush=True)
step("train", "train", spec, "--model-dir", f"{work}/model")
if tune == "tune":
  step("finetune", "train", spec, "--model-dir", f"{work}/tuned", "--steps", "1",
       "--set", f"train.fine_tune_checkpoint={work}/model/ckpt-2",
       "--set", "train.fine_tune_checkpoint_type=detection",
       "--set", "data.classes=[square,circle,triangle]")
step("eval", "eval", f"{work}/model")
for fmt in formats:
    step(f"export {fmt}", "export", f"{work}/model", "--format", fmt, "-o", f"{work}/{fmt}")
if "tflite" in formats and "center_net" in open(f"{work}/model/pipeline.config").read():
    # The same decoding in both graphs (an SSD's TFLite_Detection_PostProcess suppresses
    # otherwise than the SavedModel's NMS): the TFLite model's detections are the SavedModel's.
    import numpy as np
    from odwrap.deploy.runtime import load_detector
    image = np.random.default_rng(0).integers(0, 80, (size, size, 3)).astype(np.uint8)
    image[size // 4:size // 2, size // 4:size // 2] = (220, 30, 30)
    lite = load_detector(f"{work}/tflite/model_fp32.tflite").detect(image)
    full = load_detector(f"{work}/saved_model").detect(image)
    flags = [any(c == d and abs(s - t) < 2e-3 and np.abs(b - e).max() < 2e-3
                 for d, t, e in zip(full.classes, full.scores, full.boxes))
             for c, s, b in zip(lite.classes, lite.scores, lite.boxes)]
    for flag, c, s, b in zip(flags, lite.classes, lite.scores, lite.boxes):
        if not flag:
            print("UNMATCHED", c, s, b.tolist())
    print(f"MATCHED {sum(flags)} of {len(flags)}; top {int(flags[0]) if flags else 0}")
"""

FAMILIES = [
    # No fine-tune: an SSD's report is test_train.py's (each command costs EfficientDet most of
    # a minute). BiFPN levels 3-6 of 16 channels at 192 (levels 3-5 would be cheaper, but the
    # OD API cannot build them: ODW027).
    pytest.param("efficientdet_d0", 192,
                 "  resizer: fixed\n  fpn_levels: [3, 6]\n  fpn_depth: 16\n",
                 ["saved_model", "tflite"], None, id="efficientdet-d0"),
    pytest.param("centernet_mobilenet_v2_fpn", 128,
                 "  depth_multiplier: 0.5\n  resizer: fixed\n", ["saved_model", "tflite"],
                 ("backbone", "FPN"), id="centernet-mobilenet-v2-fpn"),
    pytest.param("faster_rcnn_resnet50_v1", 128, "  proposals: 32\n",
                 ["saved_model", "tflite"], ("backbone",), id="faster-rcnn-resnet50"),
    # Mask R-CNN trains (from a Faster R-CNN zoo tarball), evaluates with mask metrics and
    # exports in tests/deploy/test_masks.py on the light ResNet50 backbone (Inception-ResNet-V2
    # cost 294 s here); the IRV2 model builds in tests/config/test_build_families.py.
]
NOT_RESTORED = {"centernet_mobilenet_v2_fpn": "class heatmap head and box size and offset heads",
                "faster_rcnn_resnet50_v1": "RPN, box regression head and class head"}


def sections(stdout: str) -> dict:
    """{step name: (exit code, its output)} of the FLOW's printout."""
    found = {}
    for match in re.finditer(r"^== (.+)\n(.*?)^== \1 rc=(\d+)$", stdout, re.S | re.M):
        found[match.group(1)] = (int(match.group(3)), match.group(2))
    return found


@pytest.mark.parametrize("architecture, size, model, formats, restored", FAMILIES)
def test_family_trains_fine_tunes_evaluates_and_exports(tmp_path, architecture, size, model,
                                                        formats, restored):
    train = write_shapes_tfrecord(tmp_path / "train.tfrecord", count=4, size=size,
                                  masks=architecture.startswith("mask"))
    spec = write_family_spec(tmp_path, architecture, size, model, steps=2, train=train)
    result = run_python(["-c", FLOW, str(spec), str(tmp_path), str(size),
                         "tune" if restored else "-", *formats], timeout=1200)
    steps = sections(result.stdout)
    assert result.returncode == 0 and "export " + formats[-1] in steps, \
        result.stdout[-3000:] + result.stderr[-3000:]

    code, out = steps["train"]
    assert code == 0 and "trained steps 0 -> 2" in out, out + result.stderr[-3000:]

    if restored:
        code, out = steps["finetune"]
        assert code == 0, out + result.stderr[-3000:]
        report = re.search(r"fine-tune checkpoint: restored the (.+?) \((\d+) of (\d+) "
                           r"trainable variables\); not restored: the (.+?) \(3 classes "
                           r"instead of 2\)", out)
        assert report, out
        for part in restored:
            assert part in report.group(1)
        assert 0 < int(report.group(2)) < int(report.group(3))
        assert report.group(4) == NOT_RESTORED[architecture]

    code, out = steps["eval"]
    assert code == 0 and "DetectionBoxes_Precision/mAP" in out, out + result.stderr[-3000:]
    if architecture.startswith("mask"):
        assert "DetectionMasks_Precision/mAP" in out, out

    code, out = steps["export saved_model"]
    assert code == 0 and "verified:" in out, out + result.stderr[-3000:]
    assert (tmp_path / "saved_model" / "saved_model" / "saved_model.pb").is_file()

    code, out = steps[f"export {formats[1]}"]
    if architecture.startswith(("faster", "mask")):
        assert code == 2, out
        assert (f"--format {formats[1]}: " in result.stderr and "export --format saved_model"
                in result.stderr), result.stderr[-2000:]
    else:
        assert code == 0 and "verified:" in out, out + result.stderr[-3000:]
        assert (tmp_path / "tflite" / "model_fp32.tflite").is_file()
    if architecture.startswith("centernet"):
        # A model trained 2 steps has a nearly flat heatmap: a cell one rounding apart from its
        # neighbour is a local maximum in one runtime and not in the other (CI saw 9 of 10).
        # A wrong input scale, coordinate order or output role matches none.
        matched, count, top = map(int, re.search(r"MATCHED (\d+) of (\d+); top (\d)",
                                                 result.stdout).groups())
        assert count > 0 and top == 1 and matched >= 0.8 * count, result.stdout[-2000:]

"""keypoints.json (issue 33), which predict reads from a model it is given: parsed under limits,
every value checked, each mistake one line; the skeleton drawn on annotated images; and the
TFLite keypoint export refused for a several-class model (check ODW031 and export), before
TensorFlow. Expected values are worked out here."""

import json

import numpy as np
import pytest

from odwrap import cli
from odwrap.config.checks import check_pipeline
from odwrap.config.findings import Target
from odwrap.deploy import keypoint_layout
from odwrap.deploy.annotate import KEYPOINT_THRESHOLD, Annotator, colour
from odwrap.errors import InputError
from odwrap.odapi.pipeline import read_pipeline

GOOD = {"classes": [{"id": 2, "name": "plate", "points": ["tl", "tr", "br", "bl"],
                     "keypoint_ids": [0, 1, 2, 3], "skeleton": [[0, 1], [1, 2], [2, 3], [3, 0]]}]}


def parse(value) -> dict:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return keypoint_layout.parse(data, "model/keypoints.json")


def test_a_layout_reads_back():
    layout = parse(GOOD)
    assert layout[2].points == ("tl", "tr", "br", "bl")
    assert layout[2].skeleton == ((0, 1), (1, 2), (2, 3), (3, 0))
    assert parse(json.loads(keypoint_layout.to_json(layout))) == layout


def with_class(**changes) -> dict:
    return {"classes": [{**GOOD["classes"][0], **changes}]}


@pytest.mark.parametrize("value, said", [
    pytest.param(b"\xff\xfe", "not a keypoints.json", id="not-utf8"),
    pytest.param([1, 2], "not a keypoints.json", id="a-list"),
    pytest.param({"classes": [{}]}, "not a keypoints.json", id="no-fields"),
    pytest.param(with_class(id=0), "classes[0]: expected id (> 0)", id="id-0"),
    pytest.param(with_class(id=True), "classes[0]: expected id (> 0)", id="id-bool"),
    pytest.param(with_class(keypoint_ids=[0, 1]), "classes[0]", id="lengths-differ"),
    pytest.param(with_class(keypoint_ids=[0, 1, 2, 5000]), "classes[0]", id="id-too-large"),
    pytest.param(with_class(keypoint_ids=[0, 1, 2, -1]), "classes[0]", id="id-negative"),
    pytest.param(with_class(skeleton=[[0, 4]]), "classes[0]", id="edge-past-the-points"),
    pytest.param(with_class(skeleton=[[0]]), "classes[0]", id="edge-of-one"),
    pytest.param({"classes": [GOOD["classes"][0]] * 2}, "class id 2 twice", id="twice"),
    pytest.param({"classes": [{"id": n + 1, "name": "x", "points": ["p"] * 1000,
                               "keypoint_ids": list(range(1000))} for n in range(5)]},
                 "over 4096 keypoints", id="too-many-points"),
    pytest.param(b" " * (keypoint_layout.LIMIT + 1), "over 4 MiB", id="too-large"),
    pytest.param(b"[" * 100000, "not a keypoints.json", id="deep"),
])
def test_a_bad_layout_is_one_line_naming_the_file(value, said):
    with pytest.raises(InputError) as caught:
        parse(value)
    message = str(caught.value)
    assert message.startswith("model/keypoints.json") and said in message
    assert "\n" not in message


def test_the_skeleton_joins_the_points_scored_above_the_threshold():
    layout = parse(GOOD)
    image = np.zeros((100, 100, 3), np.uint8)
    # tl, tr, br scored 0.9; bl below the threshold: drawn without it, or its two edges.
    low = KEYPOINT_THRESHOLD / 2
    detection = {"category_id": 2, "bbox": [10, 10, 80, 80], "score": 0.9,
                 "keypoints": [20, 20, 0.9, 80, 20, 0.9, 80, 80, 0.9, 20, 80, low]}
    drawn = Annotator(image, layout).pixels([detection], {2: "plate"})
    for x, y in ((20, 20), (80, 20), (80, 80)):
        assert tuple(drawn[y, x]) == (255, 255, 255)
    assert tuple(drawn[80, 20]) == (0, 0, 0)  # bl not drawn
    edge = colour(2)
    assert tuple(drawn[20, 50]) == edge  # tl-tr
    assert tuple(drawn[50, 80]) == edge  # tr-br
    assert tuple(drawn[50, 20]) == (0, 0, 0)  # bl-tl, an edge to the hidden point
    assert tuple(drawn[50, 50]) == (0, 0, 0)  # nothing drawn inside


SEVERAL = """
model:
  architecture: centernet_mobilenet_v2_fpn
  image_size: 128
  resizer: fixed
  keypoints:
    square:
      points: [a, b]
data:
  classes: [circle, square]
  train: records/train-*.tfrecord
export:
  targets: [{target}]
"""


def test_check_refuses_a_tflite_target_for_a_several_class_keypoint_model(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEVERAL.format(target="saved_model"))
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 0
    config = read_pipeline(tmp_path / "out" / "pipeline.config")
    assert "ODW031" not in {f.id for f in check_pipeline(config)}
    found = [f for f in check_pipeline(config, Target(export_targets=("tflite",))) if f.id == "ODW031"]
    assert len(found) == 1 and "one-class model only" in found[0].message
    assert "2 classes, 1 with keypoints" in found[0].message
    spec.write_text(SEVERAL.format(target="tflite"))
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "refused")]) == 1  # checks
    assert not (tmp_path / "refused" / "pipeline.config").exists()


def test_export_refuses_tflite_of_a_several_class_keypoint_model_before_tensorflow(tmp_path):
    from tests.conftest import run_odwrap

    spec = tmp_path / "spec.yaml"
    spec.write_text(SEVERAL.format(target="saved_model"))
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 0
    model = tmp_path / "model"
    model.mkdir()
    (model / "pipeline.config").write_text((tmp_path / "out" / "pipeline.config").read_text())
    ran = run_odwrap("export", model, "--format", "tflite", fresh=True)
    assert ran.returncode == 2, ran.stderr
    assert "one-class model only" in ran.stderr and "saved_model" in ran.stderr
    assert "Traceback" not in ran.stderr

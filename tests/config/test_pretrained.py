"""model.pretrained: the zoo model of the spec's architecture and size becomes the fine-tune
checkpoint (its place in the zoo cache, type detection); generate and check stay offline."""

import textwrap

import pytest

from odwrap import cli
from odwrap.odapi.pipeline import read_pipeline

SPEC = """\
model:
  architecture: {architecture}
  image_size: {size}
  pretrained: {pretrained}
data:
  classes: [a, b, c]
  train: train.tfrecord
{train}"""


def generate(tmp_path, capsys, architecture="ssd_mobilenet_v2_fpnlite", size=320,
             pretrained="coco", train=""):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(architecture=architecture, size=size, pretrained=pretrained,
                                train=textwrap.dedent(train)))
    code = cli.main(["generate", str(spec), "-o", str(tmp_path / "out")])
    return code, capsys.readouterr()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ODWRAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("architecture, size, name", [
    ("ssd_mobilenet_v2_fpnlite", 320, "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8"),
    ("efficientdet_d0", 512, "efficientdet_d0_coco17_tpu-32"),
    ("centernet_resnet50_v2", 512, "centernet_resnet50_v2_512x512_coco17_tpu-8"),
    ("faster_rcnn_resnet50_v1", "[800, 1333]", "faster_rcnn_resnet50_v1_800x1333_coco17_gpu-8"),
    ("mask_rcnn_resnet50_v1", 640, "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8"),
    ("mask_rcnn_resnet50_v1", 1024, "faster_rcnn_resnet50_v1_1024x1024_coco17_tpu-8"),
])
def test_coco_points_at_the_zoo_checkpoint_in_the_cache(tmp_path, capsys, cache, architecture,
                                                         size, name):
    code, out = generate(tmp_path, capsys, architecture, size)
    assert code == 0, out.err
    train = read_pipeline(tmp_path / "out" / "pipeline.config").train_config
    assert train.fine_tune_checkpoint == str(cache / "zoo" / name / "checkpoint" / "ckpt-0")
    assert train.fine_tune_checkpoint_type == "detection"
    assert f"starts from the zoo's {name}" in out.out
    # Not downloaded: a warning that train fetches it, not an error.
    assert f"warning: ODW004 train_config.fine_tune_checkpoint: zoo model {name} is not in " \
           "the zoo cache yet" in out.out
    assert "error:" not in out.out
    assert not (cache / "zoo").exists()  # generate never downloads


def test_a_cached_zoo_checkpoint_passes_the_check(tmp_path, capsys, cache):
    folder = cache / "zoo" / "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8" / "checkpoint"
    folder.mkdir(parents=True)
    (folder / "ckpt-0.index").write_bytes(b"")
    code, out = generate(tmp_path, capsys)
    assert code == 0 and "fine_tune_checkpoint" not in out.out.replace("model.pretrained", "")


def test_a_type_the_spec_gives_is_kept(tmp_path, capsys):
    code, out = generate(tmp_path, capsys, train="train:\n  fine_tune_checkpoint_type: full\n")
    assert code == 0, out.err
    config = read_pipeline(tmp_path / "out" / "pipeline.config")
    assert config.train_config.fine_tune_checkpoint_type == "full"


@pytest.mark.parametrize("pretrained, size, train, message", [
    ("coco", 512, "", "spec.yaml:4: model.pretrained: coco: no zoo model of "
                      "ssd_mobilenet_v2_fpnlite at 512; its zoo models are at 320x320, 640x640"),
    ("efficientdet_d0_coco17_tpu-32", 320, "", "spec.yaml:4: model.pretrained: zoo model "
     "'efficientdet_d0_coco17_tpu-32' is of architecture efficientdet_d0, not "
     "ssd_mobilenet_v2_fpnlite"),
    ("ssd_mobilenet_v2_fpnlite_320", 320, "",
     "unknown zoo model 'ssd_mobilenet_v2_fpnlite_320'; did you mean"),
    ("coco", 320, "train:\n  fine_tune_checkpoint: ckpt-5\n",
     "model.pretrained: give either model.pretrained or train.fine_tune_checkpoint, not both"),
])
def test_pretrained_errors_are_one_line_naming_the_field(tmp_path, capsys, pretrained, size,
                                                         train, message):
    code, out = generate(tmp_path, capsys, size=size, pretrained=pretrained, train=train)
    assert code == 2 and message in out.err, out.err
    assert len(out.err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_mask_rcnn_resnet50_says_its_mask_head_trains_anew(tmp_path, capsys):
    code, out = generate(tmp_path, capsys, "mask_rcnn_resnet50_v1", 640)
    assert code == 0, out.err
    assert "mask_rcnn_resnet50_v1 has no zoo model of its own and starts from a " \
           "faster_rcnn_resnet50_v1 checkpoint: type detection restores its feature extractor; " \
           "the RPN and box heads train anew, as from any detection checkpoint, and so does the " \
           "mask head" in " ".join(out.out.split())


@pytest.mark.parametrize("pretrained, size, train, message", [
    ("coco", 512, "", "spec.yaml:4: model.pretrained: coco: no zoo model of "
     "faster_rcnn_resnet50_v1 (which mask_rcnn_resnet50_v1 starts from) at 512; its zoo models "
     "are at 1024x1024, 640x640, 800x1333"),
    ("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8", 1024, "", "spec.yaml:4: "
     "model.pretrained: zoo model 'mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8' is of "
     "architecture mask_rcnn_inception_resnet_v2, not faster_rcnn_resnet50_v1 (which "
     "mask_rcnn_resnet50_v1 starts from)"),
    ("coco", 640, "train:\n  fine_tune_checkpoint_type: full\n", "spec.yaml:9: "
     "train.fine_tune_checkpoint_type: full needs every part of mask_rcnn_resnet50_v1 in the "
     "checkpoint, and faster_rcnn_resnet50_v1_640x640_coco17_tpu-8 is a "
     "faster_rcnn_resnet50_v1; use detection"),
])
def test_mask_rcnn_resnet50_pretrained_errors(tmp_path, capsys, pretrained, size, train,
                                              message):
    code, out = generate(tmp_path, capsys, "mask_rcnn_resnet50_v1", size, pretrained, train)
    assert code == 2 and message in out.err, out.err
    assert len(out.err.strip().splitlines()) == 1

"""The fine-tune report's sentence (training/parts.py), from parts counted by hand; the parts of
real models are in tests/training/test_families.py and test_train.py."""

from odwrap.training.parts import Restored, checkpoint_classes


def restored(parts, kind="detection", classes=3, checkpoint=90):
    return Restored(tuple(parts), kind, classes, checkpoint, ())


def test_detection_checkpoint_restores_the_feature_extractor_only():
    text = restored([("backbone", 160, 160), ("FPN", 18, 18), ("box regression head", 0, 13),
                     ("class head", 0, 13)]).summary()
    assert text == ("restored the backbone and FPN (178 of 204 trainable variables); not "
                    "restored: the box regression head and class head (3 classes instead of 90)"
                    ". A 'detection' checkpoint gives the feature extractor only; the heads "
                    "train anew")


def test_partly_restored_parts_and_the_same_classes():
    text = restored([("backbone", 150, 160), ("FPN", 18, 18), ("RPN", 4, 4),
                     ("class head", 0, 2)], kind="full", checkpoint=3).summary()
    assert text == ("restored part of the backbone (150 of 160), the FPN and the RPN (172 of "
                    "184 trainable variables); not restored: the class head")


def test_nothing_restored():
    text = restored([("backbone", 0, 5)], kind="classification", checkpoint=None).summary()
    assert text == "restored nothing (0 of 5 trainable variables); not restored: the backbone"


def test_checkpoint_classes_from_the_config_beside_it(tmp_path):
    zoo = tmp_path / "zoo_model"
    (zoo / "checkpoint").mkdir(parents=True)
    (zoo / "pipeline.config").write_text("model { ssd { num_classes: 90 } }")
    assert checkpoint_classes(str(zoo / "checkpoint" / "ckpt-0")) == 90
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "pipeline.config").write_text("model { center_net { num_classes: 2 } }")
    assert checkpoint_classes(str(tmp_path / "model" / "ckpt-7")) == 2
    (tmp_path / "bare").mkdir()
    assert checkpoint_classes(str(tmp_path / "bare" / "ckpt-1")) is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "pipeline.config").write_text("model {")
    assert checkpoint_classes(str(tmp_path / "bad" / "ckpt-1")) is None

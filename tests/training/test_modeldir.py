"""ModelDir.keep_config: what counts as "trained with another config" (no TensorFlow)."""

import shutil

import pytest

from odwrap.config.loader import load_config
from odwrap.errors import InputError
from odwrap.odapi import labelmap
from odwrap.training.modeldir import ModelDir
from tests.tfdata import TINY_SPEC


def kept(tmp_path, name="model", classes="[square, circle]"):
    """A model folder that keeps the tiny spec's config, as `train` writes it."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(size=64, train="train.tfrecord", steps=2)
                    .replace("[square, circle]", classes))
    (tmp_path / "train.tfrecord").write_bytes(b"")
    folder = ModelDir(tmp_path / name)
    loaded = load_config(spec, label_map_out=folder.label_map_path)
    folder.keep_config(loaded.config, loaded.label_map)
    return spec, folder


def keep_again(spec, folder, steps=None):
    loaded = load_config(spec, label_map_out=folder.label_map_path)
    if steps:  # as `train --steps` does: the schedule stays
        loaded.config.train_config.num_steps = steps
    folder.keep_config(loaded.config, loaded.label_map)


def test_same_spec_with_more_steps_is_the_same_config(tmp_path):
    spec, folder = kept(tmp_path)
    keep_again(spec, folder, steps=5)
    assert folder.config.train_config.num_steps == 5


@pytest.mark.parametrize("move", [shutil.copytree, shutil.move])
def test_a_copied_or_moved_folder_trains_on_with_its_spec(tmp_path, move):
    # The kept config names the label map by its absolute path in the old folder.
    spec, folder = kept(tmp_path)
    moved = ModelDir(move(folder.path, tmp_path / "elsewhere"))
    assert str(folder.path) in moved.config_label_map
    keep_again(spec, moved)
    assert moved.config_label_map == str(moved.label_map_path)


def test_renamed_class_in_an_inline_label_map_is_another_config(tmp_path):
    spec, folder = kept(tmp_path)
    spec.write_text(spec.read_text().replace("[square, circle]", "[square, disc]"))
    with pytest.raises(InputError, match="was trained with another pipeline.config"
                       ".*name: \"disc\""):
        keep_again(spec, folder)
    assert labelmap.names(folder.label_map_path) == {1: "square", 2: "circle"}

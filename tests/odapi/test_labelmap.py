import pytest

from odwrap.errors import InputError
from odwrap.odapi import labelmap


def test_shipped_coco_label_map():
    coco = labelmap.read(labelmap.builtin_path("coco"))
    assert len(coco.item) == 80
    assert labelmap.num_classes(coco) == 90
    names = {item.id: item.name for item in coco.item}
    assert names[1] == "person" and names[90] == "toothbrush" and 12 not in names
    assert [severity for severity, _ in labelmap.problems(coco)] == ["warning"]


def test_classes_round_trip(tmp_path):
    written = labelmap.write(labelmap.from_classes(["cat", "dog"]), tmp_path / "m.pbtxt")
    back = labelmap.read(written)
    assert [(item.id, item.name) for item in back.item] == [(1, "cat"), (2, "dog")]
    assert labelmap.problems(back) == []


def test_resolve_relative_to_the_spec_and_builtin(tmp_path):
    assert labelmap.resolve("maps/x.pbtxt", tmp_path) == tmp_path / "maps" / "x.pbtxt"
    assert labelmap.resolve("coco", tmp_path).name == "mscoco_label_map.pbtxt"


@pytest.mark.parametrize("text, message", [
    ('item { id: 1 name: "a" ', "m.pbtxt:1:"),
    ("item { id: 1 colour: 2 }", 'no field named "colour"'),
])
def test_bad_label_map_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "m.pbtxt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        labelmap.read(path)


def test_missing_label_map(tmp_path):
    with pytest.raises(InputError, match="no such label map"):
        labelmap.read(tmp_path / "none.pbtxt")


def test_names_refuses_what_read_checked_refuses(tmp_path):
    # export's labels.txt and exported_eval's class names come from names(): a label map with
    # one id for two classes would name one of them for both.
    path = tmp_path / "label_map.pbtxt"
    path.write_text("item { id: 1 name: 'square' }\nitem { id: 1 name: 'circle' }\n")
    with pytest.raises(InputError, match=f"^{path}: id 1 is used by 'square' and 'circle'$"):
        labelmap.names(path)
    path.write_text("item { id: 1 name: 'square' }\nitem { id: 3 name: 'circle' }\n")
    assert labelmap.names(path) == {1: "square", 3: "circle"}

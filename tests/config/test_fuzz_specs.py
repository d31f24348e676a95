"""Fuzzing the readers of specs, --set values, pipeline.config files and label maps (issue 12).

Generated input goes through the library calls the CLI makes (generate, check, load_spec,
labelmap.read). The properties: nothing raises but odwrap's own errors (odwrap.errors), and a
config that generate writes parses back with every float finite. Hypothesis profiles are in
tests/conftest.py (`./scripts/test.sh --fuzz` runs many more cases).
"""

import math
import tempfile
from pathlib import Path

import pytest
import yaml
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import event, given
from hypothesis import strategies as st

from odwrap import api
from odwrap.config.architectures import ARCHITECTURES
from odwrap.config.spec import defaults, load_spec
from odwrap.errors import OdwrapError
from odwrap.odapi import labelmap, protos
from odwrap.odapi.pipeline import read_pipeline

pytestmark = pytest.mark.fuzz

DEFAULTS = defaults()
KEYS = [(section, key) for section, keys in DEFAULTS.items() for key in keys]
BASE = {"model": {"architecture": "ssd_mobilenet_v2_fpnlite", "image_size": 320},
        "data": {"classes": ["cat", "dog"]}, "train": {"batch_size": 8, "steps": 1000}}
AUGMENTATIONS = ["random_horizontal_flip", "random_crop_image", "random_jpeg_quality",
                 "ssd_random_crop", "random_pad_image", "random_scale_crop_and_pad_to_square"]
WORDS = [*ARCHITECTURES, "coco", "cpu", "gpu", "tpu", "cosine", "constant", "momentum", "adam",
         "none", "int8", "fp16", "tflite", "edgetpu", "saved_model", "detection",
         "coco_detection_metrics", "data/*.tfrecord", "gs://bucket/x", "../../etc/passwd", ""]
NUMBERS = [0, 1, -1, 2, 7, 32, 300, 320, 4096, 4097, 2**31 - 1, 2**31, 2**32, 2**63, 2**64,
           1e-8, 0.5, 1.0, 1e39, -1e39, 3.4028234663852886e38, 1e308]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70), st.integers(min_value=-3, max_value=700),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(NUMBERS),
    st.text(max_size=12), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def shared_structure(levels: int, width: int, recursive: bool):
    """A list that safe_dump writes with anchors and aliases: WIDTH**LEVELS leaves when
    expanded (a billion-laughs bomb when large), or a list inside itself."""
    if recursive:
        node = []
        node.append(node)
        return node
    node = ["lol"] * width
    for _ in range(levels):
        node = [node] * width
    return node


aliased = st.builds(shared_structure, st.integers(1, 9), st.integers(1, 10), st.booleans())

augmentation = st.one_of(
    st.sampled_from(AUGMENTATIONS + ["random_horizontal_flop", ""]),
    st.builds(lambda name, fields: {name: fields}, st.sampled_from(AUGMENTATIONS),
              st.none() | st.dictionaries(
                  st.sampled_from(["min_area", "max_area", "probability", "min_jpeg_quality",
                                   "max_jpeg_quality", "min_object_covered", "output_size",
                                   "keypoint_flip_permutation", "bogus"]),
                  values, max_size=3)))


def plausible(default):
    """Values near a key's default, so that many generated specs get through to the writer."""
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(min_value=max(default // 4, 1), max_value=default * 4)
    if isinstance(default, float):
        return st.floats(min_value=default / 4, max_value=min(default * 2, 1.0))
    if default is None:
        return st.none() | st.integers(1, 64) | st.floats(0.001, 0.9) | st.booleans()
    return st.just(default)


@st.composite
def spec_documents(draw):
    """A spec as a dict: the valid base with real and bogus keys set to wild values."""
    spec = {section: dict(keys) for section, keys in BASE.items()}
    bogus = st.tuples(st.sampled_from([*DEFAULTS, "bogus"]), st.text(max_size=10))
    keys = st.sampled_from([st.sampled_from(KEYS)] * 4 + [bogus]).flatmap(lambda keys: keys)
    for section, key in draw(st.lists(keys, max_size=5)):
        spec.setdefault(section, {})
        if not isinstance(spec[section], dict):
            continue
        kind = draw(st.sampled_from(["plausible"] * 4 + ["wild", "aliased", "augmentations",
                                                          "section"]))
        if kind == "plausible" and (section, key) in KEYS:
            spec[section][key] = draw(plausible(DEFAULTS[section][key]))
        elif kind == "aliased":
            spec[section][key] = draw(aliased)
        elif kind == "augmentations":
            spec[section]["augmentations"] = draw(st.lists(augmentation, max_size=3))
        elif kind == "section":
            spec[section] = draw(values)
        else:
            spec[section][key] = draw(values)
    return spec


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Every case writes into a folder of its own under this one (module-scoped: Hypothesis
    runs many cases in one test call)."""
    return tmp_path_factory.mktemp("fuzz")


def scratch(workdir: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=workdir))


def non_finite(message, prefix="") -> list[str]:
    """The float fields of a proto message (recursively) that are NaN or infinite."""
    kinds = FieldDescriptor
    found = []
    for field, value in message.ListFields():
        items = value if protos.is_repeated(field) else [value]
        for item in items:
            if field.type == kinds.TYPE_MESSAGE:
                found += non_finite(item, f"{prefix}{field.name}.")
            elif field.type in (kinds.TYPE_FLOAT, kinds.TYPE_DOUBLE) and not math.isfinite(item):
                found.append(f"{prefix}{field.name}={item}")
    return found


def generate_or_refuse(spec_path: Path, overrides=()) -> str:
    """'written' (and the config parses back, every float finite) or 'refused: ErrorClass'."""
    out = spec_path.parent / "out"
    try:
        api.generate(spec_path, out, overrides=list(overrides), force=True)
    except OdwrapError as exc:
        assert "\n" not in str(exc), str(exc)
        return f"refused: {type(exc).__name__}"
    config = read_pipeline(out / "pipeline.config")
    assert non_finite(config) == []
    return "written"


@given(spec_documents())
def test_generated_specs_render_or_are_refused(workdir, document):
    path = scratch(workdir) / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    event(generate_or_refuse(path))  # --hypothesis-show-statistics shows how many were written


def test_the_spec_strategy_reaches_both_outcomes(workdir):
    """The property above is only worth its time when specs are both written and refused."""
    good = scratch(workdir) / "spec.yaml"
    good.write_text(yaml.safe_dump(BASE))
    assert generate_or_refuse(good) == "written"
    bad = scratch(workdir) / "spec.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "data": {"classes": shared_structure(8, 9, False)}}))
    assert generate_or_refuse(bad) == "refused: InputError"


YAML_ALPHABET = st.sampled_from(list("{}[]:,-&*!|>'\"#?\n\t .01ae") +
                                ["model:", "  ", "&a ", "*a", "<<: ", "!!str ", "!!python/",
                                 "\x00", "\ufeff", "1e400", ".nan", "9" * 20])


@given(st.lists(YAML_ALPHABET, max_size=60).map("".join))
def test_arbitrary_yaml_text_is_read_or_refused(workdir, text):
    path = scratch(workdir) / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path)
    except OdwrapError:
        pass


DOTTED = [f"{section}.{key}" for section, key in KEYS]


@given(st.lists(st.tuples(st.sampled_from(DOTTED) | st.text(max_size=10),
                          st.lists(YAML_ALPHABET, max_size=20).map("".join)), max_size=3))
def test_set_values_are_read_or_refused(workdir, pairs):
    path = scratch(workdir) / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE))
    event(generate_or_refuse(path, [f"{key}={value}" for key, value in pairs]))


# pipeline.config text from the proto's own fields, with values of every kind and range.
PROTO_SCALARS = {
    "float": st.sampled_from(["nan", "inf", "-inf", "1e39", "-1e39", "0.5", "-1", "1e-300",
                              "3.4e38", "0", "1", "300", "x"]),
    "int": st.sampled_from(["0", "1", "-1", "64", "320", "2147483647", "2147483648",
                            "4294967296", "-9223372036854775809", "18446744073709551616",
                            "1.5", "true"]),
    "string": st.text(max_size=10).map(lambda s: '"' + s.replace("\\", "\\\\")
                                       .replace('"', '\\"').replace("\n", "\\n") + '"')
    | st.sampled_from(['"ssd_mobilenet_v2_fpn_keras"', '"detection"', '"/tmp"',
                       '"a\\000b"', '"*"', '"gs://b/x"']),
    "bool": st.sampled_from(["true", "false", "2", "yes"]),
}


@st.composite
def proto_text(draw, descriptor, depth=0) -> str:
    fields = list(descriptor.fields)
    if not fields or depth >= 4:
        return ""
    chosen = draw(st.lists(st.sampled_from(fields), max_size=4))
    parts = []
    for field in chosen:
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                continue
            parts.append(f"{field.name} {{ {draw(proto_text(field.message_type, depth + 1))} }}")
        elif field.enum_type is not None:
            names = [value.name for value in field.enum_type.values]
            parts.append(f"{field.name}: {draw(st.sampled_from(names + ['BOGUS', '7']))}")
        else:
            kind = {field.TYPE_FLOAT: "float", field.TYPE_DOUBLE: "float",
                    field.TYPE_STRING: "string", field.TYPE_BYTES: "string",
                    field.TYPE_BOOL: "bool"}.get(field.type, "int")
            parts.append(f"{field.name}: {draw(PROTO_SCALARS[kind])}")
    return " ".join(parts)


PIPELINE = protos.pipeline_pb2().TrainEvalPipelineConfig.DESCRIPTOR
SSD_BASE = ('model { ssd { num_classes: 2 image_resizer { fixed_shape_resizer { height: 320 '
            'width: 320 } } feature_extractor { type: "ssd_mobilenet_v2_fpn_keras" fpn { '
            'min_level: 3 max_level: 7 } } } }\n')


@given(st.booleans(), proto_text(PIPELINE))
def test_pipeline_configs_are_checked_or_refused(workdir, with_model, text):
    path = scratch(workdir) / "pipeline.config"
    path.write_text((SSD_BASE if with_model else "") + text)
    try:
        findings = api.check(path)
    except OdwrapError as exc:
        assert "\n" not in str(exc), str(exc)
        event("refused")
        return
    event("checked")
    assert all(finding.severity in ("error", "warning") for finding in findings)


label_items = st.lists(st.fixed_dictionaries({
    "id": st.sampled_from(["0", "1", "2", "-1", "90", "2147483647", "2147483648", "1e3", "x"]),
    "name": PROTO_SCALARS["string"], "display_name": PROTO_SCALARS["string"]}), max_size=5)


@given(label_items, st.sampled_from(["check", "spec"]))
def test_label_maps_are_read_or_refused(workdir, items, reader):
    folder = scratch(workdir)
    path = folder / "label_map.pbtxt"
    path.write_text("".join("item { " + " ".join(f"{k}: {v}" for k, v in item.items()) + " }\n"
                            for item in items))
    try:
        labelmap.problems(labelmap.read(path))
    except OdwrapError:
        pass
    if reader == "check":
        config = folder / "pipeline.config"
        config.write_text(SSD_BASE + f'train_input_reader {{ label_map_path: "{path}" }}')
        try:
            api.check(config)
        except OdwrapError:
            pass
    else:
        spec = folder / "spec.yaml"
        spec.write_text(yaml.safe_dump({**BASE, "data": {"label_map": str(path)}}))
        event(generate_or_refuse(spec))

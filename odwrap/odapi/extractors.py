"""The feature extractor types that the installed OD API builds in TF2, read from the source of
its `builders/model_builder.py` (the maps under `if tf_version.is_tf2():`), without importing
it or TensorFlow, so that `check` can name an unknown type in a second, not a traceback."""

import ast
import functools
import importlib.util
from pathlib import Path

# The meta-architecture whose `feature_extractor.type` each TF2 map of model_builder.py keys.
MAPS = {
    "ssd": "SSD_KERAS_FEATURE_EXTRACTOR_CLASS_MAP",
    "faster_rcnn": "FASTER_RCNN_KERAS_FEATURE_EXTRACTOR_CLASS_MAP",
    "center_net": "CENTER_NET_EXTRACTOR_FUNCTION_MAP",
}


def _is_tf2_test(test) -> bool:
    return (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute)
            and test.func.attr == "is_tf2")


def types_in_source(source: str) -> dict[str, frozenset[str]]:
    """{meta-architecture: the keys of its TF2 map} found in model_builder.py's source."""
    found = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_tf2_test(node.test)):
            continue
        for statement in node.body:
            if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Dict)):
                continue
            names = {target.id for target in statement.targets if isinstance(target, ast.Name)}
            for arch, map_name in MAPS.items():
                if map_name in names:
                    found[arch] = frozenset(key.value for key in statement.value.keys
                                            if isinstance(key, ast.Constant))
    return found


@functools.cache
def known_types() -> dict[str, frozenset[str]] | None:
    """The installed OD API's TF2 types by meta-architecture; None when they cannot be read
    (no OD API, or a model_builder.py of another shape): then nothing is checked."""
    spec = importlib.util.find_spec("object_detection")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(list(spec.submodule_search_locations)[0]) / "builders" / "model_builder.py"
    try:
        found = types_in_source(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    return found if set(found) == set(MAPS) else None

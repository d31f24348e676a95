"""The OD API's generated protos, imported without TensorFlow (they need protobuf only)."""

import importlib

from odwrap.errors import InputError, StackError


def _module(name: str):
    from odwrap.odapi import compat

    compat.apply(tensorflow=False)  # the protobuf >= 4 import hook, before the first proto
    try:
        return importlib.import_module(f"object_detection.protos.{name}")
    except ImportError as exc:
        raise StackError(f"the OD API protos cannot be imported ({exc}); run scripts/setup.sh "
                         "or 'odwrap doctor'") from None
    except TypeError as exc:  # protobuf >= 4 refuses the old generated files (fix disabled)
        raise StackError(f"the OD API protos cannot be imported ({str(exc).splitlines()[0]}); "
                         "run 'odwrap doctor'") from None


def parse_text(message, text: str, source: str):
    """Fill MESSAGE from proto text with text_format.Parse (unknown fields and repeated scalars
    are errors); InputError 'SOURCE:line:column : what' when the text does not parse."""
    from google.protobuf import text_format

    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise InputError(f"{source}:{_explained(exc)}") from None
    return message


def _explained(error) -> str:
    """The parser's 'line:column : what', in one sentence where the cause is known."""
    if "google_input_reader" in str(error):
        # Three official TF2 samples read data through Google's internal reader extension.
        return (f"{error.GetLine()}:{error.GetColumn()} : this input reader uses Google's "
                "internal google_input_reader, which the open-source OD API does not have; put "
                'tf_record_input_reader { input_path: "..." } in place of external_input_reader')
    return str(error)


def pipeline_pb2():
    return _module("pipeline_pb2")


def label_map_pb2():
    return _module("string_int_label_map_pb2")


def preprocessor_pb2():
    return _module("preprocessor_pb2")


def is_repeated(field) -> bool:
    """Whether a FieldDescriptor is repeated (protobuf 7 removed `label` for `is_repeated`)."""
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == field.LABEL_REPEATED

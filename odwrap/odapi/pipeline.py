"""pipeline.config text <-> the OD API's TrainEvalPipelineConfig, strictly."""

from pathlib import Path

from google.protobuf import text_format

from odwrap.errors import InputError, RenderedConfigError
from odwrap.fsutil import MiB, atomic_write_text, read_text
from odwrap.odapi import protos

CONFIG_NAME = "pipeline.config"  # the OD API's name for it, in model and export folders
CONFIG_LIMIT = 1 * MiB  # the official samples are 3-10 KB; text_format reads about 2 MB/s


def parse_pipeline(text: str, source: str):
    """Parse strictly: unknown fields and repeated scalars are errors."""
    return protos.parse_text(protos.pipeline_pb2().TrainEvalPipelineConfig(), text, source)


def read_pipeline(path):
    text = read_text(path, "file", limit=CONFIG_LIMIT, limit_for="a pipeline.config")
    return parse_pipeline(text, str(path))


def pipeline_text(config) -> str:
    """The canonical text form: field order of the proto, one field a line."""
    return text_format.MessageToString(config)


def write_pipeline(config, path) -> Path:
    return atomic_write_text(path, pipeline_text(config))


def parse_rendered(text: str, template: str):
    try:
        return parse_pipeline(text, f"<rendered {template}>")
    except InputError as exc:
        raise RenderedConfigError(f"odwrap rendered a config the OD API refuses ({exc}); "
                                  "please report this") from None

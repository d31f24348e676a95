"""The config a model directory is trained with: from a spec or a pipeline.config, checked,
and kept in DIR/pipeline.config so that a later run cannot silently use another one."""

import copy
from pathlib import Path

from odwrap import labelmap
from odwrap.check import SPEC_SUFFIXES
from odwrap.checks import ERROR, Target, check_pipeline
from odwrap.errors import InputError
from odwrap.generate import ChecksFailed, render_spec
from odwrap.pipeline import pipeline_text, read_pipeline, write_pipeline
from odwrap.spec import load_spec

CONFIG_NAME = "pipeline.config"


def _comparable(config) -> str:
    """Canonical text without what a rerun may change: the number of steps to train."""
    config = copy.deepcopy(config)
    config.train_config.ClearField("num_steps")
    return pipeline_text(config)


def load_source(source, model_dir: Path, overrides=None):
    """(config, inline label map or None, checks target) of a spec or a pipeline.config."""
    source = Path(source)
    if source.suffix.lower() in SPEC_SUFFIXES:
        rendered = render_spec(load_spec(source, overrides),
                               label_map_out=(model_dir / "label_map.pbtxt").resolve())
        return rendered.config, rendered.label_map, rendered.target
    if overrides:
        raise InputError("--set applies to a spec, not to a pipeline.config")
    return read_pipeline(source), None, Target()


def prepare_model_dir(source, model_dir, overrides=None, force=False):
    """Check the config, compare it with the one DIR was trained with, and keep it there."""
    model_dir = Path(model_dir)
    if model_dir.exists() and not model_dir.is_dir():
        raise InputError(f"{model_dir}: exists and is not a folder")
    config, inline_map, target = load_source(source, model_dir, overrides)
    findings = check_pipeline(config, target)
    errors = [finding for finding in findings if finding.severity == ERROR]
    if errors:
        raise ChecksFailed(f"{source}: {len(errors)} check error(s); not training", findings)
    kept = model_dir / CONFIG_NAME
    if kept.exists() and not force:
        from odwrap.train import config_diff

        old = read_pipeline(kept)
        if _comparable(old) != _comparable(config):
            raise InputError(f"{model_dir}: was trained with another pipeline.config "
                             f"({config_diff(_comparable(old), _comparable(config))}); use "
                             "--force to train on with this one, or a new --model-dir")
    if inline_map is not None:
        labelmap.write(inline_map, model_dir / "label_map.pbtxt")
    write_pipeline(config, kept)
    return config

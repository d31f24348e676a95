"""The one way every command reads its config: a YAML spec (rendered and parsed) or a
pipeline.config (parsed), with the checks target it will run on, the one refusal on errors, and
the one refusal of training records that are not there.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from odwrap.config.checks import ERROR, Finding, Target
from odwrap.config.context import build_context
from odwrap.config.render import render_pipeline
from odwrap.config.spec import LoadedSpec, load_spec
from odwrap.errors import ChecksFailed, InputError
from odwrap.odapi import facts
from odwrap.odapi.pipeline import parse_rendered, read_pipeline

SPEC_SUFFIXES = (".yaml", ".yml")
TPU_CORES = 8  # a v2-8 or v3-8, what the sample configs were tuned on


@dataclass
class LoadedConfig:
    """A parsed TrainEvalPipelineConfig and what odwrap knows about where it came from."""

    config: object
    source: Path
    target: Target = field(default_factory=Target)
    notes: list[str] = field(default_factory=list)  # what rendering decided for the user
    label_map: object = None  # a spec's inline classes, to be written beside the config


def is_spec(path) -> bool:
    return Path(path).suffix.lower() in SPEC_SUFFIXES


def target_of(loaded: LoadedSpec, label_map=None, inline=False) -> Target:
    train, export = loaded.spec.train, loaded.spec.export
    devices = train.num_devices or (TPU_CORES if train.device == "tpu" else 1)
    return Target(device=train.device, num_devices=devices,
                  export_targets=tuple(export.targets), export_batch_size=export.batch_size,
                  label_map=label_map, label_map_inline=inline, xla=train.xla,
                  mixed_precision=train.mixed_precision)


def render_spec(loaded: LoadedSpec, label_map_out: Path | None = None) -> LoadedConfig:
    """A validated spec rendered and parsed; `label_map_out`: where inline classes will go."""
    context = build_context(loaded, label_map_out=label_map_out)
    config = parse_rendered(render_pipeline(context.values), "pipeline.config.j2")
    inline = context.label_map_inline
    return LoadedConfig(config=config, source=Path(loaded.source), notes=context.notes,
                        label_map=context.label_map if inline else None,
                        target=target_of(loaded, context.label_map, inline))


def load_config(source, overrides=None, label_map_out: Path | None = None) -> LoadedConfig:
    """A spec (.yaml, with --set overrides) or a pipeline.config, parsed strictly."""
    source = Path(source)
    if is_spec(source):
        return render_spec(load_spec(source, overrides), label_map_out=label_map_out)
    if overrides:
        raise InputError("--set applies to a spec, not to a pipeline.config")
    return LoadedConfig(config=read_pipeline(source), source=source)


def retarget(target: Target, device=None, num_devices=None, export_targets=None) -> Target:
    """The target with what the command line says about devices and exports."""
    changes = {key: value for key, value in (("device", device), ("num_devices", num_devices),
                                             ("export_targets", export_targets)) if value}
    if "export_targets" in changes:
        changes["export_targets"] = tuple(changes["export_targets"])
    if device == "tpu" and not num_devices:
        changes["num_devices"] = TPU_CORES
    return replace(target, **changes)


def errors_in(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == ERROR]


def refuse_on_errors(findings: list[Finding], source, consequence: str) -> None:
    """ChecksFailed naming the source and what is not done, when any finding is an error."""
    found = errors_in(findings)
    if found:
        raise ChecksFailed(f"{source}: {len(found)} check error(s); {consequence}", findings)


def require_training_records(config, workers: int = 1) -> None:
    """InputError naming the field when no training TFRecords are configured or a local pattern
    matches nothing (the OD API would fail after building the model, in a traceback), or when
    WORKERS workers would share fewer local files than there are of them: the OD API gives each
    worker a share of the files, and a worker with none ends in OutOfRangeError."""
    field = "train_input_reader.tf_record_input_reader.input_path"
    patterns = facts.train_patterns(config)
    if not patterns:
        raise InputError(f"{field} is empty: no training TFRecords are configured")
    files = set()
    for index, pattern in enumerate(patterns):
        matched = facts.match_files([pattern]) if "://" not in pattern else None
        if matched == []:
            raise InputError(f"{field}[{index}]: no file matches {pattern} (create the TFRecords "
                             "with odwrap convert, or fix the path)")
        files.update(matched or ())
    if workers > 1 and all("://" not in pattern for pattern in patterns) and \
            len(files) < workers:
        raise InputError(f"{field}: {len(files)} file(s) for {workers} workers, which each read "
                         "a share of the files: write at least one shard per worker (odwrap "
                         "convert --shards N)")

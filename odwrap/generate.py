"""`odwrap generate`: spec -> context -> rendered text -> parsed config -> checks -> files."""

from dataclasses import dataclass, field
from pathlib import Path

from odwrap import labelmap
from odwrap.checks import ERROR, Finding, Target, check_pipeline
from odwrap.context import build_context
from odwrap.errors import InputError, OdwrapError
from odwrap.pipeline import parse_rendered, write_pipeline
from odwrap.render import render_pipeline
from odwrap.spec import LoadedSpec, load_spec


TPU_CORES = 8  # a v2-8 or v3-8, what the sample configs were tuned on


class ChecksFailed(OdwrapError):
    """The checks found errors; `findings` says which."""

    def __init__(self, message: str, findings: list[Finding]):
        super().__init__(message)
        self.findings = findings


@dataclass
class Rendered:
    config: object
    notes: list[str]
    label_map: object  # to be written next to the config (a spec's inline classes), or None
    target: Target


@dataclass
class Generated:
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def target_of(loaded: LoadedSpec, label_map=None, inline=False) -> Target:
    train, export = loaded.spec.train, loaded.spec.export
    devices = train.num_devices or (TPU_CORES if train.device == "tpu" else 1)
    return Target(device=train.device, num_devices=devices,
                  export_targets=tuple(export.targets), export_batch_size=export.batch_size,
                  label_map=label_map, label_map_inline=inline)


def render_spec(loaded: LoadedSpec, label_map_out: Path | None = None) -> Rendered:
    context = build_context(loaded, label_map_out=label_map_out)
    config = parse_rendered(render_pipeline(context.values), "pipeline.config.j2")
    return Rendered(config=config, notes=context.notes,
                    label_map=context.label_map if context.label_map_inline else None,
                    target=target_of(loaded, context.label_map, context.label_map_inline))


def generate(spec_path, output_dir, overrides=None, force=False) -> Generated:
    """Write OUTPUT/pipeline.config (and OUTPUT/label_map.pbtxt for inline classes)."""
    loaded = load_spec(spec_path, overrides)
    output_dir = Path(output_dir).resolve()
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"{output_dir}: exists and is not a folder")
    map_out = output_dir / "label_map.pbtxt"
    rendered = render_spec(loaded, label_map_out=map_out)
    findings = check_pipeline(rendered.config, rendered.target)
    errors = [finding for finding in findings if finding.severity == ERROR]
    if errors and not force:
        raise ChecksFailed(f"{spec_path}: {len(errors)} check error(s); nothing written "
                           "(--force writes anyway)", findings)
    result = Generated(notes=rendered.notes, findings=findings)
    try:
        if rendered.label_map is not None:
            result.files.append(labelmap.write(rendered.label_map, map_out))
        result.files.append(write_pipeline(rendered.config, output_dir / "pipeline.config"))
    except OSError as exc:
        raise InputError(f"{output_dir}: cannot write: {exc}") from None
    return result

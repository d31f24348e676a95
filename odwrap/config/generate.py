"""`generate`: a spec rendered, parsed and checked, written as DIR/pipeline.config (and
DIR/label_map.pbtxt for a spec that lists its classes), atomically and only when it passes."""

from dataclasses import dataclass, field
from pathlib import Path

from odwrap.config.checks import Finding, check_pipeline
from odwrap.config.loader import is_spec, load_config, refuse_on_errors
from odwrap.errors import InputError
from odwrap.odapi import labelmap
from odwrap.odapi.pipeline import CONFIG_NAME, write_pipeline


@dataclass
class Generated:
    """What `generate` wrote, what it decided for the user, and what the checks found."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def generate(spec_path, output_dir, overrides=None, force=False) -> Generated:
    """Write OUTPUT/pipeline.config (and OUTPUT/label_map.pbtxt for inline classes)."""
    if not is_spec(spec_path):
        raise InputError(f"{spec_path}: generate renders a .yaml spec; check a pipeline.config "
                         "with 'odwrap check'")
    output_dir = Path(output_dir).resolve()
    map_out = output_dir / labelmap.FILE_NAME
    loaded = load_config(spec_path, overrides, label_map_out=map_out)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(f"{output_dir}: exists and is not a folder")
    findings = check_pipeline(loaded.config, loaded.target)
    if not force:
        refuse_on_errors(findings, spec_path, "nothing written (--force writes anyway)")
    result = Generated(notes=loaded.notes, findings=findings)
    try:
        if loaded.label_map is not None:
            result.files.append(labelmap.write(loaded.label_map, map_out))
        result.files.append(write_pipeline(loaded.config, output_dir / CONFIG_NAME))
    except OSError as exc:
        raise InputError(f"{output_dir}: cannot write: {exc}") from None
    return result

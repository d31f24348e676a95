"""`odwrap check`: findings for a pipeline.config or a spec, optionally building the model."""

from dataclasses import replace
from pathlib import Path

from odwrap.checks import Finding, Target, check_pipeline
from odwrap.errors import InputError
from odwrap.generate import TPU_CORES, render_spec
from odwrap.pipeline import read_pipeline
from odwrap.spec import load_spec

SPEC_SUFFIXES = (".yaml", ".yml")


def load_for_check(path, overrides=None):
    """(config, target) of a spec or a pipeline.config file."""
    path = Path(path)
    if path.suffix.lower() in SPEC_SUFFIXES:
        rendered = render_spec(load_spec(path, overrides))
        return rendered.config, rendered.target
    if overrides:
        raise InputError("--set applies to a spec, not to a pipeline.config")
    return read_pipeline(path), Target()


def check_file(path, overrides=None, build=False, device=None, num_devices=None,
               export_targets=None) -> list[Finding]:
    config, target = load_for_check(path, overrides)
    changes = {key: value for key, value in (("device", device), ("num_devices", num_devices),
                                             ("export_targets", export_targets)) if value}
    if "export_targets" in changes:
        changes["export_targets"] = tuple(changes["export_targets"])
    if device == "tpu" and not num_devices:
        changes["num_devices"] = TPU_CORES
    target = replace(target, **changes)
    findings = check_pipeline(config, target)
    if build:
        from odwrap.build import build_findings

        findings.extend(build_findings(config))
    return findings

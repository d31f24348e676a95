"""The layout of a model directory, owned by one type, with its refusal messages.

    DIR/pipeline.config     the config the checkpoints were trained with (kept by `train`)
    DIR/label_map.pbtxt     a spec's inline classes
    DIR/ckpt-N.index, ...   checkpoints, N = the step; DIR/checkpoint names the latest
    DIR/train/, DIR/eval/   TensorBoard event files of training and evaluation
    DIR/metrics.json        the latest evaluation and every evaluation by step
    DIR/training.png        `plot`'s curves
    DIR/export/             exports, unless -o says otherwise
"""

import copy
import difflib
import functools
import re
import shutil
from pathlib import Path

from odwrap.errors import InputError
from odwrap.odapi import facts, labelmap
from odwrap.odapi.pipeline import (
    CONFIG_NAME,
    pipeline_text,
    read_pipeline,
    write_pipeline,
)

CHECKPOINT = re.compile(r"ckpt-(\d+)\.index")
CHECKPOINT_FILE = re.compile(r"ckpt-\d+\.(index|data-\d+-of-\d+)")
PARTIAL = re.compile(r"ckpt-\d+_temp(_[0-9a-f]+)?")


class ModelDir:
    """A folder that `odwrap train` writes, and the facts of the config it holds."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    config_path = property(lambda self: self.path / CONFIG_NAME)
    label_map_path = property(lambda self: self.path / labelmap.FILE_NAME)
    train_events = property(lambda self: self.path / "train")
    eval_events = property(lambda self: self.path / "eval")
    metrics_path = property(lambda self: self.path / "metrics.json")
    analysis_dir = property(lambda self: self.path / "analysis")  # the latest evaluation's plots
    best_dir = property(lambda self: self.path / "best")  # the best checkpoint (training.best)
    plot_path = property(lambda self: self.path / "training.png")
    export_dir = property(lambda self: self.path / "export")

    @functools.cached_property
    def config(self):
        """The kept pipeline.config; InputError when the folder holds none."""
        if not self.config_path.is_file():
            raise InputError(f"{self.path}: no {CONFIG_NAME} (train with odwrap train first)")
        return read_pipeline(self.config_path)

    def checkpoint_steps(self) -> list[int]:
        """The steps of the checkpoints in the folder, oldest first."""
        if not self.path.is_dir():
            return []
        found = (CHECKPOINT.fullmatch(item.name) for item in self.path.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def checkpoint(self, step: int) -> str:
        return str(self.path / f"ckpt-{step}")

    def require_checkpoint(self, purpose: str) -> str:
        """The latest checkpoint's prefix; InputError naming the purpose when there is none."""
        steps = self.checkpoint_steps()
        if not steps:
            raise InputError(f"{self.path}: no checkpoint to {purpose} (train first)")
        return self.checkpoint(steps[-1])

    # Facts of the kept config, read one way (odwrap.odapi.facts).
    @property
    def input_size(self) -> tuple[int, int] | None:
        return facts.fixed_input_size(self.config)

    @property
    def eval_patterns(self) -> list[str]:
        return facts.eval_patterns(self.config)

    @property
    def config_label_map(self) -> str:
        """The label map path the config names (not necessarily inside the folder)."""
        return facts.label_map_path(self.config)

    def accept_config(self, config, label_map=None, force: bool = False) -> None:
        """InputError unless CONFIG may be kept here: the folder is new, or was trained with
        the same config (the number of steps aside), or `force` is given. Writes nothing."""
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: exists and is not a folder")
        if self.config_path.exists() and not force:
            kept = self._read_own_map()
            new_map = labelmap.to_text(label_map) if label_map is not None else kept
            old = self._comparable(read_pipeline(self.config_path), kept)
            new = self._comparable(config, new_map)
            if old != new:
                raise InputError(f"{self.path}: was trained with another {CONFIG_NAME} "
                                 f"({config_diff(old, new)}); use --force to train on with "
                                 "this one, or a new --model-dir")

    def keep_config(self, config, label_map=None, force: bool = False) -> None:
        """Write CONFIG (and an inline label map) into the folder, once `accept_config` has
        accepted it."""
        self.accept_config(config, label_map, force)
        if label_map is not None:
            labelmap.write(label_map, self.label_map_path)
        write_pipeline(config, self.config_path)
        self.__dict__.pop("config", None)

    def remove_partial_checkpoints(self) -> list[str]:
        """Remove what a save that did not finish left (TensorFlow writes ckpt-N_temp/ first);
        the names removed. Only for the one process that holds the folder's lock."""
        removed = []
        for item in sorted(self.path.glob("ckpt-*_temp*")) if self.path.is_dir() else []:
            if PARTIAL.fullmatch(item.name) and item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
                removed.append(item.name)
        return removed

    def remove_checkpoint(self, step: int) -> None:
        """Remove every file of checkpoint STEP (a save that failed half-way)."""
        for item in self.path.glob(f"ckpt-{step}.*"):
            if CHECKPOINT_FILE.fullmatch(item.name) and item.is_file():
                item.unlink()

    def _read_own_map(self) -> str | None:
        return self.label_map_path.read_text() if self.label_map_path.is_file() else None

    def _is_own_map(self, path: str) -> bool:
        """Whether PATH names the folder's inline label map: as kept here, or as kept where
        the folder was before it was copied or moved (the config holds absolute paths)."""
        path = Path(path)
        if path.name != labelmap.FILE_NAME:
            return False
        if path == self.label_map_path or not path.is_file():
            return True
        return path.read_text() == self._read_own_map()

    def _comparable(self, config, own_map: str | None) -> str:
        """Canonical text without what a rerun may change (the number of steps to train, the
        folder's own path), with the content of the folder's inline label map."""
        config = copy.deepcopy(config)
        config.train_config.ClearField("num_steps")
        inline = False
        for message, name in facts.label_map_fields(config):
            if getattr(message, name) and self._is_own_map(getattr(message, name)):
                setattr(message, name, f"<model dir>/{labelmap.FILE_NAME}")
                inline = True
        text = pipeline_text(config)
        return text + f"# {labelmap.FILE_NAME}\n{own_map}" if inline and own_map else text


def config_diff(old_text: str, new_text: str, limit: int = 4) -> str:
    """A one-line summary of what differs between two canonical pipeline.config texts."""
    changed = [line.strip() for line in difflib.unified_diff(
        old_text.splitlines(), new_text.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    shown = "; ".join(changed[:limit])
    more = f"; and {len(changed) - limit} more" if len(changed) > limit else ""
    return f"{len(changed)} line(s) differ: {shown}{more}"

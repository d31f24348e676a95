"""What every export shares: the trained model directory, labels, representative images,
verification by one inference, and the time/size report."""

import io
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from odwrap.deploy import keypoint_layout
from odwrap.deploy.export import CHECKPOINTS
from odwrap.deploy.export.bundle import write_readme
from odwrap.deploy.exportdir import UNNAMED_CLASS, ExportDir
from odwrap.deploy.runtime import load_detector, load_rgb
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes, atomic_write_text, read_text
from odwrap.odapi import exports, facts, labelmap
from odwrap.odapi.tfexample import decode_example, read_records
from odwrap.training import averages, checkpoints
from odwrap.training.best import Best, require_best
from odwrap.training.modeldir import ModelDir




@dataclass
class ExportResult:
    format: str
    path: Path
    seconds: float
    size_bytes: int
    verified: str  # what the one inference gave
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)


def _refuse_format(config, arch: str, fmt: str) -> None:
    """One line for a format that cannot give the model (odapi.exports.refusal), or a TFLite
    path that needs a fixed-size resizer."""
    kind = "Mask R-CNN" if facts.predicts_masks(config) else exports.NAMES.get(arch, arch)
    refused = exports.refusal(fmt, arch, kind)
    if refused:
        raise InputError(f"--format {fmt}: {refused}")
    keypoints = facts.keypoint_refusal(config, fmt)
    if keypoints:
        raise InputError(f"--format {fmt}: {keypoints}")
    if fmt in ("saved_model", "onnx", "openvino"):  # the SavedModel resizes inside
        return
    if facts.fixed_input_size(config) is None:
        kind = facts.model_config(config).image_resizer.WhichOneof("image_resizer_oneof")
        raise InputError(f"--format {fmt}: the TFLite export takes only a fixed_shape_resizer, "
                         f"and this model's is {kind} (export_tflite_graph_tf2 refuses it); "
                         "train with model.resizer: fixed, or export --format saved_model")


@dataclass
class ExportJob:
    folder: ModelDir
    output: Path
    started: float
    weights: str = averages.TRAINED  # or averages.AVERAGES
    _checkpoint_dir: Path | None = None
    _verified: bool = False  # the latest checkpoint was read in full
    _created: bool = False  # whether open() made the output folder
    upsampling_note: str = ""  # what the FPN's upsampling was and how it was checked
    best: Best | None = None  # exporting the best checkpoint evaluated (else the latest)

    @property
    def model_dir(self) -> Path:
        return self.folder.path

    @property
    def config(self):
        return self.folder.config

    @property
    def step(self) -> int:
        """The step of the checkpoint exported."""
        return self.best.step if self.best else self.folder.checkpoint_steps()[-1]

    @property
    def checkpoint(self) -> str:
        """The prefix of the checkpoint exported."""
        return self.best.checkpoint if self.best else self.folder.require_checkpoint("export")

    @property
    def checkpoint_note(self) -> str:
        if self.best is None:
            return f"checkpoint: step {self.step}, the latest"
        return (f"checkpoint: step {self.step}, the best evaluated ({self.best.metric} "
                f"{self.best.value:.4f})")

    @classmethod
    def open(cls, model_dir, fmt, output=None, weights=None, checkpoint="latest"):
        folder = ModelDir(model_dir)
        arch = facts.meta_architecture(folder.config)
        _refuse_format(folder.config, arch, fmt)  # the model's config says it: before training
        folder.require_checkpoint("export")
        if checkpoint not in CHECKPOINTS:
            raise InputError(f"--checkpoint {checkpoint}: {' or '.join(CHECKPOINTS)}")
        chosen = require_best(folder) if checkpoint == "best" else None
        weights = averages.choose(folder, weights)
        output = Path(output) if output else folder.export_dir
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: exists and is not a folder; -o names the folder the "
                             "export goes into")
        created = not output.exists()
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{output}: cannot create the export folder: {exc}") from None
        return cls(folder, output, time.perf_counter(), weights, _created=created, best=chosen)

    @property
    def checkpoint_dir(self) -> Path:
        """The folder whose latest checkpoint the OD API's exporters restore: the model folder,
        or one holding the moving averages as the model's weights."""
        if not self._verified:  # read in full once, when an exporter first needs it
            checkpoints.verified(self.checkpoint)
            self._verified = True
        if self.weights == averages.TRAINED:  # best/ has a checkpoint state file of its own
            return self.folder.best_dir if self.best else self.model_dir
        if self._checkpoint_dir is None:
            self._checkpoint_dir = self.temporary()
            averages.write_averaged_checkpoint(self.folder, self._checkpoint_dir,
                                               self.checkpoint)
        return self._checkpoint_dir

    def close(self) -> None:
        if self._checkpoint_dir is not None:
            remove(self._checkpoint_dir)
            self._checkpoint_dir = None
        if self._created and not any(self.output.iterdir()):
            self.output.rmdir()  # an export refused by its options leaves no empty folder

    @property
    def input_size(self) -> tuple[int, int]:
        size = self.folder.input_size
        if size is None:
            raise InputError("TFLite export needs a fixed_shape_resizer (check ODW008)")
        return size

    def eval_records(self, limit: int):
        """Up to `limit` serialized examples of the eval TFRecords (else the training ones)."""
        patterns = self.folder.eval_patterns + facts.train_patterns(self.config)
        count = 0
        for pattern in patterns:
            for path in facts.match_files([pattern]):
                for record in read_records(path):
                    yield record
                    count += 1
                    if count >= limit:
                        return

    def eval_images(self, limit: int):
        """Up to `limit` decoded RGB images of the eval (else train) TFRecords."""
        for record in self.eval_records(limit):
            encoded = decode_example(record)["image/encoded"][0]
            yield load_rgb(io.BytesIO(encoded), "an eval example's image/encoded",
                           oriented=False)

    def label_lines(self) -> list[str]:
        """Line i names class id i + 1 (the TFLite model's 0-based classes)."""
        names = labelmap.names(self.folder.config_label_map)
        total = facts.num_classes(self.config)
        return [names.get(index, UNNAMED_CLASS) for index in range(1, total + 1)]

    @property
    def exports(self) -> ExportDir:
        """The export folder's layout (its file names)."""
        return ExportDir(self.output)

    def write_labels(self) -> Path:
        """The folder's labels.txt, as the models pack it too."""
        return atomic_write_text(self.exports.labels, "\n".join(self.label_lines()) + "\n")

    def keypoint_layout(self) -> dict:
        """A keypoint model's {class id: ClassPoints}; {} for others."""
        return keypoint_layout.from_config(self.config)

    def write_keypoints(self) -> Path | None:
        """The folder's keypoints.json of a keypoint model, as its .tflite packs it (predict
        reads it for a SavedModel, ONNX or OpenVINO model); an older one removed otherwise."""
        layout = self.keypoint_layout()
        target = self.exports.keypoints
        if not layout:
            target.unlink(missing_ok=True)
            return None
        return atomic_write_bytes(target, keypoint_layout.to_json(layout))

    def write_threshold(self) -> tuple[Path | None, str]:
        """(the folder's threshold.json, a note): the best-F1 score threshold of the model
        folder's latest evaluation (metrics.json), which predict then takes as its default for
        these models; none (and an older one removed) when there is no such evaluation."""
        target = self.exports.threshold
        try:
            latest = json.loads(read_text(self.folder.metrics_path, "metrics file")) \
                if self.best is None else {"threshold": self.best.threshold,
                                           "step": self.best.step}
            found = latest["threshold"]["best_f1_threshold"]
            step = int(latest["step"])
        except (InputError, ValueError, KeyError, TypeError, RecursionError):
            found = step = None
        if not isinstance(found, (int, float)) or not 0 < found <= 1:
            target.unlink(missing_ok=True)
            return None, "threshold: none yet (odwrap eval finds the best-F1 one)"
        exported = self.step
        record = {"threshold": found, "f1": latest["threshold"].get("f1"), "step": step,
                  "exported_step": exported, "from": str(self.folder.metrics_path)}
        other = f"; the export is of step {exported}" if step != exported else ""
        return (atomic_write_text(target, json.dumps(record, indent=1)),
                f"threshold: {found:.2f} (best F1 of step {step}'s evaluation{other}), "
                "predict's default for these models")

    def write_config(self) -> Path:
        """A copy of pipeline.config beside the exports: `eval --model` finds its data there."""
        return atomic_write_text(self.exports.config, self.folder.config_path.read_text())

    def temporary(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=ExportDir.STAGING_PREFIX, dir=self.output))

    def remove_stale_staging(self) -> None:
        """Remove the staging folders of an export that was killed (-9) in this folder; only
        for the process that holds the folder's lock."""
        for item in self.exports.staging():
            if item.is_dir() and not item.is_symlink():
                remove(item)


def write_model(path: Path, data: bytes, info: dict) -> Path:
    atomic_write_text(path.with_suffix(".json"), json.dumps(info, indent=1))
    return atomic_write_bytes(path, data)


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def verify(path: Path, image) -> str:
    detector = load_detector(path)
    detections = detector.detect(image)
    return (f"{len(detections.scores)} detection(s) on one image in "
            f"{detections.milliseconds:.1f} ms ({detector.runtime})")


def finish(job: ExportJob, fmt: str, paths, notes=(), files=()) -> ExportResult:
    """Verify each exported model (PATHS: one path or several) with one inference on an eval
    image and time the whole job. The result's path is the model, or the output folder when
    there are several."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    image = next(job.eval_images(1), None)
    if image is None:  # no data configured: a blank image of the input size (or 320)
        image = np.zeros((*(job.folder.input_size or (320, 320)), 3), np.uint8)
    verified = [verify(path, image) for path in paths]
    job.write_config()
    keypoints = job.write_keypoints()
    threshold, threshold_note = job.write_threshold()
    readme = write_readme(job.output)  # describes every .tflite in the folder
    files = [*(paths if len(paths) > 1 else ()), *files,
             *([keypoints] if keypoints else []), *([threshold] if threshold else []),
             *([readme] if readme else [])]
    path = paths[0] if len(paths) == 1 else job.output
    return ExportResult(format=fmt, path=path, seconds=time.perf_counter() - job.started,
                        size_bytes=sum(tree_size(path) for path in paths),
                        verified=verified[0] if len(paths) == 1 else "; ".join(
                            f"{path.name}: {said}" for path, said in zip(paths, verified)),
                        notes=[job.checkpoint_note, f"weights: {job.weights}",
                               *([job.upsampling_note] if job.upsampling_note else []),
                               threshold_note, *notes],
                        files=list(files))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

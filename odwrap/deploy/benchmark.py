"""`odwrap benchmark`: export a model folder's checkpoint to every format this machine can
produce, evaluate each export on the eval records and time it, and write one table: a row per
format and quantization with its status, size, COCO mAP and mAP@.50, median and p90 inference
time per image and the runtime that ran it. A format that fails is a row with its one-line
reason; the others go on.

Each format is exported once into OUTPUT with all its quantize modes (the TFLite modes from one
graph export, as `export --quantize all`), then each model is loaded, run once to warm up, and
evaluated with `eval --model`'s evaluation (odwrap.deploy.exported_eval).
"""

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.deploy.exportdir import TFLITE_NAMES, ExportDir
from odwrap.errors import InputError, Interrupted, OdwrapError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi.exports import FORMAT_QUANTIZE

# What `benchmark` runs unless --formats says otherwise: every format with a model this
# machine's CPU runs (the Edge TPU's needs the device; its int8 model is tflite:int8).
DEFAULT_FORMATS = ("saved_model", "tflite", "onnx", "openvino")
MODE_NAMES = {name: mode for mode, name in TFLITE_NAMES.items()}  # fp32 -> none, ...
MAP, MAP50 = "DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU"


@dataclass
class Row:
    format: str
    quantize: str  # fp32, fp16, dynamic, int8 (TFLITE_NAMES' values)
    status: str = "ok"  # ok, or "failed: <one line>"
    model: str = ""
    size_mb: float | None = None
    map: float | None = None
    map50: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    runtime: str = ""
    images: int = 0

    @property
    def name(self) -> str:
        return self.format if self.format == "saved_model" else f"{self.format} {self.quantize}"


@dataclass
class BenchmarkResult:
    rows: list
    machine: str
    output: Path
    seconds: float = 0.0
    files: list = field(default_factory=list)


def parse_formats(value) -> list[tuple[str, str]]:
    """[(format, quantize mode)] of --formats: FORMAT (all its modes) or FORMAT:MODE items
    (comma-separated, or a sequence), e.g. 'saved_model,tflite:int8,onnx'."""
    items = value.split(",") if isinstance(value, str) else list(value or DEFAULT_FORMATS)
    chosen = []
    for item in (item.strip() for item in items if item.strip()):
        fmt, _, mode = item.partition(":")
        if fmt == "saved_model" and not mode:
            chosen.append(("saved_model", "fp32"))
            continue
        if fmt not in FORMAT_QUANTIZE or fmt == "edgetpu":
            raise InputError(f"--formats {item}: one of saved_model, "
                             f"{', '.join(f for f in FORMAT_QUANTIZE if f != 'edgetpu')}, "
                             "each alone or as FORMAT:MODE (tflite:int8)")
        modes = [TFLITE_NAMES[m] for m in FORMAT_QUANTIZE[fmt]]
        if mode and mode not in modes:
            raise InputError(f"--formats {item}: {fmt} gives {', '.join(modes)}")
        chosen += [(fmt, m) for m in ([mode] if mode else modes)]
    if not chosen:
        raise InputError("--formats: name at least one format")
    return list(dict.fromkeys(chosen))


def machine() -> str:
    """The CPU model, its cores and the OS, as a benchmark names the machine it ran on."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):  # other jobs on the machine move the latencies
        load = f", load average {os.getloadavg()[0]:.1f} at the start"
    return f"{name}, {os.cpu_count()} cores, {platform.system()} {platform.release()}{load}"


def _one_line(exc: BaseException, explain) -> str:
    if isinstance(exc, OdwrapError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return explain(exc) if explain else f"{type(exc).__name__}: {exc}".splitlines()[0]


def _export(model_dir, fmt, modes, output, representative, weights, checkpoint):
    """Export FMT with MODES into OUTPUT: {mode name: model path}."""
    from odwrap.deploy.export import export

    options = {}
    if fmt != "saved_model":
        options["quantize"] = ",".join(MODE_NAMES[mode] for mode in modes)
        options["representative"] = representative
    export(model_dir, fmt, output, weights=weights, checkpoint=checkpoint, **options)
    exports = ExportDir(output)
    place = {"saved_model": lambda m: exports.saved_model, "tflite": exports.tflite,
             "onnx": exports.onnx, "openvino": exports.openvino}[fmt]
    return {mode: place(MODE_NAMES[mode]) for mode in modes}


def versioned(runtime: str) -> str:
    """RUNTIME with its version where the runtime names none (the TFLite runtimes, TensorFlow)."""
    from odwrap.odapi.compat import TENSORFLOW_DISTRIBUTIONS, installed_version

    if runtime not in ("ai-edge-litert", "tflite-runtime", "tensorflow"):
        return runtime
    version = installed_version(TENSORFLOW_DISTRIBUTIONS if runtime == "tensorflow"
                                else (runtime,))
    return f"{runtime} {version}" if version else runtime


def _measure(row: Row, path: Path, config, records, max_images, threads) -> None:
    import numpy as np

    from odwrap.deploy.export.common import tree_size
    from odwrap.deploy.exported_eval import evaluate_model
    from odwrap.deploy.runtime import load_detector

    detector = load_detector(path, threads=threads)
    detector.detect(np.zeros((64, 64, 3), np.uint8))  # the first run pays one-off costs
    result = evaluate_model(path, records=records, config=config, max_images=max_images,
                            detector=detector)
    size = tree_size(path) + (tree_size(path.with_suffix(".bin")) if path.suffix == ".xml"
                              else 0)
    row.model, row.size_mb, row.runtime, row.images = str(path), size / 1e6, \
        versioned(result.runtime), result.images
    row.map, row.map50 = result.metrics.get(MAP), result.metrics.get(MAP50)
    row.median_ms, row.p90_ms = result.milliseconds, result.p90_milliseconds


def benchmark(model_dir, output=None, formats=None, records=None, max_images=None,
              representative=100, threads=2, weights=None, checkpoint="latest",
              explain=None) -> BenchmarkResult:
    """Every format of FORMATS (parse_formats; default DEFAULT_FORMATS) exported into OUTPUT
    (default MODEL_DIR/benchmark), evaluated and timed; EXPLAIN: exception -> one line, for
    failures that are not odwrap's own (the API passes the error boundary's)."""
    from odwrap.deploy.exported_eval import eval_source
    from odwrap.training.modeldir import ModelDir

    chosen = parse_formats(formats)
    if max_images is not None and max_images < 1:
        raise InputError(f"--max-images {max_images}: must be at least 1")
    folder = ModelDir(model_dir)
    folder.require_checkpoint("benchmark")
    config = folder.config_path
    eval_source(folder.path, records, config)  # no eval data: refused before any export
    output = Path(output) if output else folder.path / "benchmark"
    started, rows = time.perf_counter(), []
    by_format = {}
    for fmt, mode in chosen:
        by_format.setdefault(fmt, []).append(mode)
    for fmt, modes in by_format.items():
        report.message(f"benchmark: exporting {fmt} ({', '.join(modes)})")
        try:
            paths = _export(folder.path, fmt, modes, output, representative, weights,
                            checkpoint)
        except Interrupted:
            raise
        except Exception as exc:  # a row with the reason; the other formats go on
            reason = _one_line(exc, explain)
            rows += [Row(fmt, mode, status=f"failed: export: {reason}") for mode in modes]
            report.message(f"benchmark: {fmt} failed: {reason}")
            continue
        for mode in modes:
            row = Row(fmt, mode)
            try:
                _measure(row, paths[mode], config, records, max_images, threads)
            except Interrupted:
                raise
            except Exception as exc:
                row.status = f"failed: {_one_line(exc, explain)}"
            rows.append(row)
            report.message(f"benchmark: {row.name}: {row.status}")
    result = BenchmarkResult(rows=rows, machine=machine(), output=output,
                             seconds=time.perf_counter() - started)
    result.files = write(result, threads)
    return result


def table(result: BenchmarkResult) -> str:
    """The rows as a Markdown table."""
    lines = ["| format | status | size (MB) | mAP | mAP@.50 | median ms | p90 ms | runtime |",
             "|---|---|---|---|---|---|---|---|"]

    def number(value, digits):
        return "" if value is None or value < 0 else f"{value:.{digits}f}"

    for row in result.rows:
        lines.append(f"| {row.name} | {row.status} | {number(row.size_mb, 2)} | "
                     f"{number(row.map, 4)} | {number(row.map50, 4)} | "
                     f"{number(row.median_ms, 2)} | {number(row.p90_ms, 2)} | {row.runtime} |")
    return "\n".join(lines)


def write(result: BenchmarkResult, threads: int) -> list[Path]:
    """OUTPUT/benchmark.json and OUTPUT/benchmark.md."""
    images = max((row.images for row in result.rows), default=0)
    heading = (f"Machine: {result.machine}; {threads} inference thread(s); {images} eval "
               "image(s); latency: inference alone, per image, after one warm-up run.")
    record = {"machine": result.machine, "threads": threads, "images": images,
              "seconds": round(result.seconds, 1), "rows": [asdict(row) for row in result.rows]}
    result.output.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(result.output / "benchmark.json", json.dumps(record, indent=1)),
            atomic_write_text(result.output / "benchmark.md",
                              f"{heading}\n\n{table(result)}\n")]

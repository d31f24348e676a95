"""`batch-size`: the largest training batch that fits the device, and the learning rate for it.

Each try is a child process that builds the config's model and input pipeline at one batch size
and runs two training steps (odwrap.training.trial), so that a failed allocation cannot harm
the caller and each try starts from an empty device.
- GPU: batch sizes double from `start` until a step runs out of memory
  (ResourceExhaustedError), then bisect between the last that fit and the first that did not.
- CPU: memory is the try's peak RSS (VmHWM). Two tries (`start` and 4 x `start`) give the memory per
  example and the rest; the batch is the largest whose predicted peak fits in `fraction` of the
  memory available now (MemAvailable, or the cgroup's limit when lower).
The learning rate scales linearly with the batch, as odwrap's specs scale a sample's (Adam's is
kept: its step hardly depends on the batch).
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from odwrap import report
from odwrap.errors import InputError, RunError

MAX_BATCH = 1 << 16
CHILD = """
import json, resource, sys
from odwrap.training.trial import trial
source, batch, overrides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
import tensorflow as tf
gpu = bool(tf.config.list_physical_devices("GPU"))
try:
    with trial(source, overrides, batch_size=batch) as run:
        for _ in range(2):
            run.time(run.combined, 1)
except tf.errors.ResourceExhaustedError:
    print(json.dumps({"gpu": gpu, "fits": False}))
    sys.exit(0)
def peak():
    # VmHWM: this program's own peak. ru_maxrss is not: Linux keeps it across exec, so a try
    # started from a large process (a notebook, a worker with TensorFlow loaded) would report
    # that process's size at every batch.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"gpu": gpu, "fits": True, "peak": peak()}))
"""


@dataclass
class BatchSizeResult:
    device: str  # gpu | cpu
    batch_size: int  # the largest that fits (found or predicted)
    recommended: int  # a multiple of 8 at most batch_size (batch_size when under 8)
    config_batch: int
    learning_rate: tuple | None  # (field, the config's rate, the rate for `recommended`)
    tried: list  # (batch, fits, peak bytes or None)
    available: int | None = None  # CPU: bytes available to a run
    per_example: float | None = None  # CPU: bytes per example of the batch

    def spec_lines(self, spec: bool) -> list[str]:
        if spec:
            line = [f"train.batch_size: {self.recommended}"]
            if self.learning_rate and self.learning_rate[1] != self.learning_rate[2]:
                line.append("(odwrap scales the learning rate with it; with train.learning_rate "
                            f"set, make it {self.learning_rate[2]:.6g})")
            return [" ".join(line)]
        lines = [f"train_config.batch_size: {self.recommended}"]
        if self.learning_rate:
            lines.append(f"{self.learning_rate[0]}: {self.learning_rate[2]:.6g}")
        return lines


def learning_rate(config) -> tuple[str, float, bool] | None:
    """(field, value, scales) of the config's base learning rate; None when it has none."""
    optimizer = config.train_config.optimizer
    kind = optimizer.WhichOneof("optimizer")
    if kind is None:
        return None
    rate = getattr(optimizer, kind).learning_rate
    which = rate.WhichOneof("learning_rate")
    name = {"constant_learning_rate": "learning_rate",
            "exponential_decay_learning_rate": "initial_learning_rate",
            "manual_step_learning_rate": "initial_learning_rate",
            "cosine_decay_learning_rate": "learning_rate_base"}.get(which)
    if name is None:
        return None
    return (f"train_config.optimizer.{kind}.learning_rate.{which}.{name}",
            getattr(getattr(rate, which), name), kind != "adam_optimizer")


def available_memory() -> int:
    """Bytes a new process may use now: MemAvailable, or the cgroup's limit when lower."""
    available = None
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    for limit, used in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                         "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            free = int(Path(limit).read_text()) - int(Path(used).read_text())
        except (OSError, ValueError):
            continue
        available = free if available is None else min(available, free)
    if available is None:
        raise InputError("batch-size: cannot read the memory available (/proc/meminfo)")
    return available


def _try(source, batch: int, overrides) -> dict:
    """{"gpu", "fits", "peak"} of one child run at BATCH; RunError (its log named) when the run
    fails otherwise than by running out of memory."""
    result = subprocess.run([sys.executable, "-c", CHILD, str(source), str(batch), *overrides],
                            capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode == 0 and lines:
        return json.loads(lines[-1])
    if "ResourceExhausted" in result.stderr or "out of memory" in result.stderr.lower():
        return {"gpu": True, "fits": False}
    import tempfile

    log = Path(tempfile.gettempdir()) / f"odwrap-batch-size-{os.getpid()}-{batch}.log"
    log.write_text(result.stderr)
    last = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
    raise RunError(f"batch-size: the try at batch {batch} failed ({last}); its output: {log}")


def largest_fitting(fits, start: int, limit: int = MAX_BATCH) -> int:
    """The largest batch B in [start, limit] with FITS(B), FITS monotone; 0 when start does not
    fit. Doubling, then bisection: about 2 log2(B / start) tries."""
    if not fits(start):
        return 0
    good, bad = start, None
    while bad is None and good < limit:
        trial = min(good * 2, limit)
        if fits(trial):
            good = trial
        else:
            bad = trial
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good


def batch_size(source, overrides, *, start: int, fraction: float) -> BatchSizeResult:
    """The largest batch of SOURCE's training that fits this machine's device."""
    from contextlib import ExitStack

    from odwrap.training.trial import load

    if start < 1 or not 0 < fraction <= 1:
        raise InputError("--start must be at least 1 and --fraction in (0, 1]")
    with ExitStack() as stack:
        config = load(source, overrides, None, stack)  # bad input fails here, not in a child
    tried = []
    seen = {}

    def fits(batch: int) -> bool:
        if batch not in seen:
            seen[batch] = _try(source, batch, list(overrides))
            tried.append((batch, seen[batch]["fits"], seen[batch].get("peak")))
            progress.advance()
        return seen[batch]["fits"]

    with report.tracking("batch-size", None, "try") as progress:
        fits(start)
        if seen[start]["gpu"]:
            found = largest_fitting(fits, start)
            if not found:
                raise InputError(f"batch-size: batch {start} does not fit the GPU; try --start 1 "
                                 "or a smaller model.image_size")
            return _result("gpu", found, config, tried)
        if not seen[start]["fits"] or not fits(start * 4):
            raise InputError(f"batch-size: batch {start * (1 if not seen[start]['fits'] else 4)} "
                             "runs out of memory on this CPU; try a smaller --start")
        first, second = seen[start], seen[start * 4]
    per = (second["peak"] - first["peak"]) / (3 * start)
    if per <= 0:
        raise RunError(f"batch-size: the peak memory did not grow from batch {start} to "
                       f"{start * 4} ({first['peak'] >> 20} MiB, {second['peak'] >> 20} MiB); "
                       "try a larger --start")
    rest = first["peak"] - per * start
    available = available_memory()
    found = max(0, min(MAX_BATCH, int((available * fraction - rest) // per)))
    if not found:
        raise InputError(f"batch-size: even batch 1 needs about {(rest + per) / 2**20:.0f} MiB; "
                         f"{available / 2**20:.0f} MiB are available")
    result = _result("cpu", found, config, tried)
    result.available, result.per_example = available, per
    return result


def _result(device, found, config, tried) -> BatchSizeResult:
    recommended = found - found % 8 if found >= 8 else found
    rate = learning_rate(config)
    configured = config.train_config.batch_size
    scaled = None
    if rate is not None:
        field, value, scales = rate
        scaled = (field, value, value * recommended / configured if scales else value)
    return BatchSizeResult(device=device, batch_size=found, recommended=recommended,
                           config_batch=configured, learning_rate=scaled, tried=tried)

"""`profile`: is training input-bound on this machine, and by how much?

Three rates of the config's own training, each after warm-up (tracing, the first batches):
- the input pipeline alone: batches of `train_input` (decoding, augmentations, batching) taken
  and dropped;
- the training step alone: the step run again and again on one batch already in memory;
- both together: batches from the pipeline into the step, as `train` runs.
Training is input-bound when together runs well under the step alone and close to the input
alone. The advice names the input reader's fields and the records and augmentations, as they
stand in the config. `trace` writes a TensorBoard profiler trace of a few combined steps.
"""

from dataclasses import dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.errors import InputError
from odwrap.odapi import facts

BOUND = 0.8  # together under this fraction of the step alone: something else holds it back
# Preprocessing steps that cost the CPU most per image (crops search boxes, JPEG re-encodes)
EXPENSIVE = ("ssd_random_crop", "random_crop_image", "random_pad_image", "random_jpeg_quality",
             "random_square_crop_by_scale", "random_scale_crop_and_pad_to_square",
             "random_patch_gaussian", "random_self_concat_image", "autoaugment_image",
             "random_distort_color", "ssd_random_crop_pad_fixed_aspect_ratio")


@dataclass
class ProfileResult:
    batch_size: int
    steps: int
    input_rate: float  # batches/s of the input pipeline alone
    step_rate: float  # steps/s on a batch in memory
    together_rate: float  # steps/s of both
    advice: list = field(default_factory=list)
    trace: Path | None = None

    @property
    def input_bound(self) -> bool:
        return self.together_rate < BOUND * self.step_rate and self.input_rate < self.step_rate

    @property
    def verdict(self) -> str:
        share = self.together_rate / self.step_rate
        if self.input_bound:
            return (f"input-bound: training runs at {share:.0%} of what the step allows; the "
                    f"input pipeline gives {self.input_rate:.2f} batches/s for a step that "
                    f"takes {self.step_rate:.2f}/s")
        return (f"not input-bound: training runs at {share:.0%} of what the step allows (the "
                f"input pipeline could feed {self.input_rate / self.step_rate:.1f} times as "
                "many batches)")


def _advice(config, result: ProfileResult) -> list[str]:
    reader = config.train_input_reader
    files = facts.match_files(facts.train_patterns(config))
    steps = [option.WhichOneof("preprocessing_step")
             for option in config.train_config.data_augmentation_options]
    costly = [step for step in steps if step in EXPENSIVE]
    tips = []
    if len(files) < 2 * reader.num_readers and len(files) < 16:
        tips.append(f"the records are {len(files)} file(s): shard them (odwrap convert --shards "
                    "N) so that the reader's num_readers "
                    f"({reader.num_readers}) read in parallel")
    if reader.num_parallel_batches < 8:
        tips.append(f"train_input_reader.num_parallel_batches is {reader.num_parallel_batches}: "
                    "8 or more decodes and augments batches in parallel")
    if reader.num_prefetch_batches < 2:
        tips.append(f"train_input_reader.num_prefetch_batches is {reader.num_prefetch_batches}: "
                    "2 or more (or -1, autotune) keeps batches ready while the step runs")
    if costly:
        tips.append(f"augmentations that cost the CPU most: {', '.join(costly)} (of "
                    f"{len(steps)}): fewer or cheaper ones feed faster")
    if result.input_bound and not tips:
        tips.append("the CPU decodes and augments too slowly for this accelerator: more CPU "
                    "cores, smaller images in the records, or fewer augmentations")
    return tips


def profile(source, overrides, *, steps: int, warmup: int, trace, trace_steps: int
            ) -> ProfileResult:
    """Rates of SOURCE's training on this machine and the verdict; TRACE: a folder for a
    TensorBoard profiler trace of TRACE_STEPS combined steps."""
    if steps < 1 or warmup < 1 or trace_steps < 1:
        raise InputError("--steps, --warmup and --trace-steps must be at least 1")
    from odwrap.training.trial import trial

    with trial(source, overrides) as run:
        kept = run.next_batch()  # the step alone runs on this batch, held in memory
        measures = (run.next_batch, lambda: run.train_step(*kept), run.combined)
        with report.tracking("profile: warm-up", 3 * warmup, "step") as progress:
            for function in measures:
                for _ in range(warmup):
                    function()
                    progress.advance()
        seconds = []
        with report.tracking("profile", 3 * steps, "step") as progress:
            for function in measures:
                seconds.append(run.time(function, steps))
                progress.advance(steps)
        input_seconds, step_seconds, together_seconds = seconds
        result = ProfileResult(batch_size=run.batch_size, steps=steps,
                               input_rate=steps / input_seconds, step_rate=steps / step_seconds,
                               together_rate=steps / together_seconds)
        if trace is not None:
            trace = Path(trace)
            trace.mkdir(parents=True, exist_ok=True)
            run.tf.profiler.experimental.start(str(trace))
            try:
                run.time(run.combined, trace_steps)
            finally:
                run.tf.profiler.experimental.stop()
            result.trace = trace
        result.advice = _advice(run.config, result)
    return result

"""The Apache Beam pipeline of `convert --runner beam` (odwrap.data.beam writes its spec).

1. Plan: every image's class names, gathered in one place, give the stratified split and the
   shards (the default converter's split_images and shard_plan); the plan is a side input.
2. Group: each sample line is keyed by its shard, with its place in the shard; lines, not
   image bytes, are shuffled. Every planned shard gets a group, an empty one too.
3. Encode: a worker reads and encodes a shard's images in plan order (encode_sample, as the
   default converter does) into a temporary file, which is then renamed into place (with
   --strict, only when nothing was wrong anywhere).
4. Count: the per-reason counts combined per reason, with the example of the first image in
   plan order.
The shards' counts and the combined problems end in a result file that the driver reads.
"""

import base64
import contextlib
import io
import json
import sys
import typing
import uuid
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from odwrap.data import remote
from odwrap.data.convert import shard_plan
from odwrap.data.records import encode_sample
from odwrap.data.dataset import NOTES, Problems, Sample, inside_root
from odwrap.data.keypoints import Layout
from odwrap.data.splits import split_images
from odwrap.odapi.tfexample import frame_parts

UNCOMPRESSED = CompressionTypes.UNCOMPRESSED  # never guessed from a file's name


def decode_sample(line) -> Sample:
    import msgspec

    return msgspec.msgpack.decode(base64.b64decode(line), type=Sample)


def classes_of(line):
    sample = decode_sample(line)
    return sample.image, sorted({obj.name for obj in sample.objects}), sample.split


def make_plan(entries, fractions, seed, shards):
    """{'place': {image: (shard, shard index, position)}, 'shards': [names in order]}."""
    splits = split_images(entries, fractions, seed)
    place, names = {}, []
    for index, (name, members) in enumerate(shard_plan(splits, shards)):
        names.append(name)
        for position, image in enumerate(members):
            place[image] = (name, index, position)
    return {"place": place, "shards": names}


def by_shard(line, plan):
    """A sample line -> (its shard, (its place in the shard, the line))."""
    shard, _, position = plan["place"][decode_sample(line).image]
    return shard, (position, line)


class FirstExample(beam.CombineFn):
    """(place, count, example)s of one reason -> (first place, total count, its example)."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, element):
        return self.merge_accumulators([accumulator, element])

    def merge_accumulators(self, accumulators):
        present = [acc for acc in accumulators if acc is not None]
        if not present:
            return None
        first = min(present, key=lambda acc: tuple(acc[0]))
        return tuple(first[0]), sum(acc[1] for acc in present), first[2]

    def extract_output(self, accumulator):
        return accumulator


@beam.typehints.with_output_types(typing.Dict[str, typing.Any])
class WriteShard(beam.DoFn):
    """(shard, its sample lines) -> the shard, encoded in plan order into a temporary file
    ({name, index, tmp, images, boxes}); each image's problems, tagged."""

    def __init__(self, output: str, images_root: str, ids: dict, keypoints=None):
        self.output = output
        self.images_root = images_root
        self.ids = ids
        self.keypoints = None if keypoints is None else Layout.from_json(keypoints)

    def setup(self):
        if remote.is_url(self.images_root):  # read through Beam's FileSystems
            self.root, self.locate = self.images_root, remote.locate
        else:
            self.root, self.locate = Path(self.images_root), inside_root

    def process(self, item, plan):
        name, entries = item
        index = plan["shards"].index(name)
        rows = sorted((entry for entry in entries if entry is not None),
                      key=lambda entry: entry[0])
        tmp = FileSystems.join(self.output, f".{name}.beam-{uuid.uuid4().hex}.tmp")
        images = boxes = 0
        handle = FileSystems.create(tmp, compression_type=UNCOMPRESSED)
        try:
            for position, line in rows:
                problems = Problems()
                encoded = encode_sample(decode_sample(line), self.root, self.ids, problems,
                                        self.locate, self.keypoints)
                if encoded is not None:
                    handle.write(b"".join(frame_parts(encoded[0])))
                    images += 1
                    boxes += encoded[1]
                for reason, count in problems.counts.items():
                    yield beam.pvalue.TaggedOutput("problems", (reason, (
                        (index, position), count, problems.examples[reason])))
        finally:
            handle.close()
        yield {"name": name, "index": index, "tmp": tmp, "samples": len(rows),
               "images": images, "boxes": boxes}


def commit(written: dict, output: str, blocked=0) -> dict:
    """A shard's temporary file renamed into place; removed instead when BLOCKED (--strict
    and something was wrong anywhere)."""
    if blocked:
        FileSystems.delete([written["tmp"]])
    else:
        FileSystems.rename([written["tmp"]], [FileSystems.join(output, written["name"])])
    return {key: value for key, value in written.items() if key != "tmp"}


def write_result(parts, path: str) -> None:
    shards = [part for kind, part in parts if kind == "shard"]
    problems = [{"reason": reason, "first": list(first), "count": count, "example": example}
                for kind, (reason, (first, count, example)) in
                ((kind, part) for kind, part in parts if kind == "problem")]
    handle = FileSystems.create(path, compression_type=UNCOMPRESSED)
    try:
        handle.write(json.dumps({"shards": shards, "problems": problems}).encode())
    finally:
        handle.close()


def build(pipeline, spec: dict) -> None:
    lines = pipeline | "Read samples" >> beam.io.ReadFromText(
        spec["samples"], compression_type=UNCOMPRESSED)
    plan = (lines
            | "Classes" >> beam.Map(classes_of)
            | "Gather" >> beam.combiners.ToList()
            | "Plan" >> beam.Map(make_plan, spec["fractions"], spec["seed"], spec["shards"]))
    plan_side = beam.pvalue.AsSingleton(plan)
    keyed = lines | "By shard" >> beam.Map(by_shard, plan_side).with_output_types(
        typing.Tuple[str, typing.Any])
    planned = plan | "Planned shards" >> beam.FlatMap(
        lambda plan: [(name, None) for name in plan["shards"]])
    encoded = ((keyed, planned)
               | "Every shard" >> beam.Flatten()
               | "Group" >> beam.GroupByKey()
               | "Encode" >> beam.ParDo(WriteShard(spec["output"], spec["images_root"],
                                                   spec["ids"], spec.get("keypoints")),
                                        plan=plan_side)
               .with_outputs("problems", main="shards"))
    problems = encoded.problems | "Count problems" >> beam.CombinePerKey(FirstExample())
    blocked = {}
    if spec["strict"]:  # the shards wait for the counts, and none is kept if there are any
        blocked["blocked"] = beam.pvalue.AsSingleton(
            problems
            | "Not notes" >> beam.Filter(lambda part: part[0] not in NOTES)
            | "Any problem" >> beam.combiners.Count.Globally())
    written = encoded.shards | "Commit" >> beam.Map(commit, spec["output"], **blocked)
    ((written | "Tag shards" >> beam.Map(lambda part: ("shard", part)),
      problems | "Tag problems" >> beam.Map(lambda part: ("problem", part)))
     | "All" >> beam.Flatten()
     | "Collect" >> beam.combiners.ToList()
     | "Result" >> beam.Map(write_result, spec["result"]))


BAD_OPTIONS = "bad pipeline options: "  # how main() tells the driver that the input is wrong


class BadOptions(Exception):
    """Pipeline options that Beam refuses before it runs anything."""


def make_pipeline(args: list[str]):
    """A Pipeline with ARGS; BadOptions with Beam's reason when it refuses them."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):  # argparse says why, then exits
            options = PipelineOptions(args)
            options.get_all_options()
            return beam.Pipeline(options=options)
    except SystemExit:
        lines = [line for line in captured.getvalue().splitlines() if "error: " in line]
        reason = lines[-1].split("error: ", 1)[1] if lines else "refused"
        raise BadOptions(reason) from None
    except ValueError as exc:  # e.g. an unknown runner
        raise BadOptions(str(exc).splitlines()[0]) from None


def run(spec: dict) -> None:
    """Run the pipeline of SPEC to the end; Beam's exception when it fails."""
    with make_pipeline(spec["args"]) as pipeline:
        build(pipeline, spec)


def main(spec_path: str, run_spec=None) -> int:
    """The Beam venv's entry: run the spec in SPEC_PATH with RUN_SPEC (this pipeline's run by
    default; tracebacks go to the caller's log); 2 for options Beam refuses, with the reason
    on a line of its own."""
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        (run_spec or run)(spec)
    except BadOptions as exc:
        print(f"{BAD_OPTIONS}{exc}", flush=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover (odwrap.data.beam runs it with -c)
    sys.exit(main(sys.argv[1]))

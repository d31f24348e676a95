"""merge and trim through files (issue 16): the Open Images submission format round-trips,
class-group files join per image, several models merge with Soft-NMS or box fusion whatever
the partitions, and trim keeps exactly the N best of a file of millions of rows in little
memory."""

import json

import numpy as np
import pytest

from odwrap import api, cli
from odwrap.errors import InputError
from odwrap.results import rows
from tests.conftest import run_python

SUBMISSION = """ImageId,PredictionString
img1,/m/01 0.9 0.1 0.2 0.3 0.4 /m/02 0.5 0 0 1 1
img2,
img3,/m/01 0.25 0.5 0.5 0.75 0.75
"""


def odwrap(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_open_images_submission_round_trips(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(SUBMISSION)
    code, out, _ = odwrap(capsys, "trim", source, "-o", tmp_path / "out.csv")
    assert code == 0 and "kept 3 of 3 detection(s)" in out
    assert (tmp_path / "out.csv").read_text() == SUBMISSION  # img2 keeps its empty line
    found = [row for row in rows.read(source) if row.label is not None]
    assert [(r.image, r.label, r.score, r.box) for r in found][0] == \
        ("img1", "/m/01", 0.9, (0.1, 0.2, 0.3, 0.4))


def test_coco_and_json_lines_convert_into_each_other(tmp_path, capsys):
    items = [{"image_id": 1, "category_id": 3, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.5,
              "segmentation": {"size": [2, 2], "counts": "04"}},
             {"image_id": 2, "category_id": 1, "bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.25}]
    (tmp_path / "a.json").write_text(json.dumps(items))
    assert odwrap(capsys, "trim", tmp_path / "a.json", "-o", tmp_path / "b.jsonl")[0] == 0
    lines = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert lines == items
    assert odwrap(capsys, "trim", tmp_path / "b.jsonl", "-o", tmp_path / "c.json")[0] == 0
    assert json.loads((tmp_path / "c.json").read_text()) == items
    code, _, err = odwrap(capsys, "trim", tmp_path / "a.json", "-o", tmp_path / "d.csv")
    assert code == 2 and "do not mix" in err and not (tmp_path / "d.csv").exists()


@pytest.mark.parametrize("text, message", [
    ("ImageId,Labels\n", "in.csv:1: not an Open Images submission (the header must be "
                         "ImageId,PredictionString)"),
    ("ImageId,PredictionString\nimg1,/m/01 0.9 0.1 0.2 0.3\n",
     "in.csv:2: 5 values in the prediction string, not groups of 6"),
    ("ImageId,PredictionString\nimg1,/m/01 nan 0.1 0.2 0.3 0.4\n",
     "in.csv:2: score 'nan' is not a finite number of at least 0"),
    ("ImageId,PredictionString\nimg1,/m/01 0.9 0.1 x 0.3 0.4\n",
     "in.csv:2: box 0.1 x 0.3 0.4 is not 4 numbers"),
])
def test_a_bad_submission_line_is_one_line_naming_it(tmp_path, capsys, text, message):
    (tmp_path / "in.csv").write_text(text)
    code, _, err = odwrap(capsys, "trim", tmp_path / "in.csv", "-o", tmp_path / "out.csv")
    assert code == 2 and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("command", ["trim", "merge"])
@pytest.mark.parametrize("last", [True, False])
def test_an_image_id_a_submission_cannot_hold_leaves_nothing(tmp_path, command, last):
    """An ImageId with a quote reads from a quoted CSV field but cannot be written unquoted: a
    refusal, whether on the last line (written at close) or before it, leaves no temporary
    file beside the output, checked while the refused writer is still alive (the traceback
    holds it), as a notebook holds it."""
    lines = ['"a""b",/m/01 0.9 0.1 0.2 0.3 0.4']
    lines.insert(0 if last else 1, "img1,/m/01 0.5 0 0 1 1")
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("ImageId,PredictionString\n" + "\n".join(lines) + "\n")
    with pytest.raises(InputError, match="ImageId 'a\"b': not writable in a submission CSV") as refused:
        if command == "trim":
            api.trim(source, output)
        else:
            api.merge(output, [source])
    assert refused.tb is not None and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_join_puts_class_groups_of_one_image_on_one_line(tmp_path, capsys):
    (tmp_path / "g1.csv").write_text("ImageId,PredictionString\n"
                                     "img1,/m/a 0.5 0 0 1 1\nimg2,/m/a 0.25 0 0 0.5 0.5\n")
    (tmp_path / "g2.csv").write_text("ImageId,PredictionString\n"
                                     "img2,/m/b 0.75 0 0 1 1\nimg1,\n")
    code, out, _ = odwrap(capsys, "merge", tmp_path / "all.csv", tmp_path / "g1.csv",
                          tmp_path / "g2.csv", "--join")
    assert code == 0 and "merged 3 detection(s) of 2 file(s) (join) into 3 of 2 image(s)" in out
    lines = (tmp_path / "all.csv").read_text().splitlines()
    assert sorted(lines[1:]) == ["img1,/m/a 0.5 0 0 1 1",
                                 "img2,/m/a 0.25 0 0 0.5 0.5 /m/b 0.75 0 0 1 1"]


def model_file(path, boxes_scores):
    items = [{"image_id": image, "category_id": 1, "score": score,
              "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]}
             for image, box, score in boxes_scores]
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


@pytest.mark.parametrize("partition_bytes", [16 * 1024 * 1024, 200], ids=["one", "many"])
def test_merge_fuses_models_per_image_and_class(tmp_path, capsys, monkeypatch,
                                                partition_bytes):
    from odwrap.results import merge

    monkeypatch.setattr(merge, "PARTITION_BYTES", partition_bytes)
    # the worked WBF case of test_fusion on image 7, and a lone box on image 8
    first = model_file(tmp_path / "m1.jsonl", [(7, (0, 0, 10, 10), 0.9),
                                               (8, (5, 5, 9, 9), 0.5)])
    second = model_file(tmp_path / "m2.jsonl", [(7, (1, 1, 11, 11), 0.6),
                                                (7, (50, 50, 60, 60), 0.8)])
    code, out, _ = odwrap(capsys, "merge", tmp_path / "wbf.json", first, second,
                          "--method", "wbf")
    assert code == 0, out
    fused = {(item["image_id"], tuple(item["bbox"]), item["score"])
             for item in json.loads((tmp_path / "wbf.json").read_text())}
    assert fused == {(7, (0.4, 0.4, 10.0, 10.0), 0.75), (7, (50.0, 50.0, 10.0, 10.0), 0.4),
                     (8, (5.0, 5.0, 4.0, 4.0), 0.25)}

    code, out, _ = odwrap(capsys, "merge", tmp_path / "soft.jsonl", first, second,
                          "--decay", "linear", "--iou", "0.3")
    assert code == 0, out
    kept = [json.loads(line) for line in (tmp_path / "soft.jsonl").read_text().splitlines()]
    # image 7: P 0.9 kept, R 0.8 apart, Q 0.6 * (1 - 81/119) decayed and kept
    assert [(k["image_id"], round(k["score"], 6)) for k in kept if k["image_id"] == 7] == \
        [(7, 0.9), (7, 0.8), (7, round(0.6 * (1 - 81 / 119), 6))]
    assert not list(tmp_path.glob(".*merge*"))  # the partitions are gone


def test_trim_by_score_and_count_keeps_exactly_the_best_with_ties(tmp_path, capsys):
    scores = [0.9, 0.5, 0.5, 0.7, 0.5, 0.1]
    items = [{"image_id": i, "category_id": 1, "bbox": [0, 0, 1, 1], "score": s}
             for i, s in enumerate(scores)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    code, out, _ = odwrap(capsys, "trim", tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl",
                          "--max-total", 4, "--min-score", 0.2)
    assert code == 0 and "kept 4 of 6 detection(s); lowest score kept 0.5" in out
    kept = [json.loads(line)["image_id"] for line in
            (tmp_path / "out.jsonl").read_text().splitlines()]
    assert kept == [0, 1, 2, 3]  # 0.9, 0.7 and the first two of the three 0.5s, in file order


TRIM_CHILD = """
import resource, sys
from odwrap import api, cli
from odwrap.errors import InputError
code = cli.main(sys.argv[1:])
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def submission(path, scores: np.ndarray, per_line: int) -> None:
    with open(path, "w") as handle:
        handle.write("ImageId,PredictionString\n")
        for start in range(0, len(scores), per_line):
            groups = " ".join(f"/m/{i % 7} {s:.3f} 0.1 0.1 0.5 0.5"
                              for i, s in enumerate(scores[start:start + per_line]))
            handle.write(f"img{start // per_line},{groups}\n")


def test_trim_by_count_over_millions_of_rows_holds_no_rows(tmp_path):
    """2,000,000 detections (scores with 3 decimals, so many ties): exactly the N best are
    kept, and the peak memory over a 20-row file's run grows far less than the file."""
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(2_000_000), 3)
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    submission(big, scores, 100)
    submission(small, scores[:20], 10)
    peak = {}
    for name, path in (("small", small), ("big", big)):
        result = run_python(["-c", TRIM_CHILD, "trim", str(path), "-o",
                             str(tmp_path / f"{name}-out.csv"), "--max-total", "5000"],
                            timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        peak[name] = int(result.stdout.split("PEAK")[-1]) * 1024  # bytes
    kept = [float(value) for line in (tmp_path / "big-out.csv").read_text().splitlines()[1:]
            for value in line.split(",")[1].split()[1::6]]
    expected = np.sort(scores.astype(np.float32))[::-1][:5000]
    assert len(kept) == 5000 and sorted(kept, reverse=True) == pytest.approx(expected.tolist())
    assert peak["big"] - peak["small"] < big.stat().st_size / 10, (peak, big.stat().st_size)


MERGE_CHILD = """
import sys, tracemalloc
from odwrap import api, cli
from odwrap.errors import InputError
from odwrap.results import fusion, merge
merge.PARTITION_BYTES = int(sys.argv[1])
tracemalloc.start()  # the merge's own peak (numpy's arrays included), not the imports'
code = cli.main(sys.argv[2:])
print("PEAK", tracemalloc.get_traced_memory()[1])
sys.exit(code)
"""


def test_merge_holds_a_partition_in_about_a_hundred_bytes_a_row(tmp_path):
    """Two models' 60,000 detections each, merged with partitions of 1/4 MiB of input and in
    one partition: the merge's peak memory grows with the rows of a partition by far less than
    a Row object of each (about 400 bytes; a row cost 900 when partitions were held as Rows)."""
    import math

    rng = np.random.default_rng(1)
    inputs = [tmp_path / "m1.csv", tmp_path / "m2.csv"]
    for path in inputs:
        submission(path, np.round(rng.random(60_000), 4), 50)
    size = sum(path.stat().st_size for path in inputs)
    peak, per_partition = {}, {}
    for bytes_ in (2**18, 2**25):
        result = run_python(["-c", MERGE_CHILD, str(bytes_), "merge",
                             str(tmp_path / f"out-{bytes_}.csv"), *map(str, inputs), "--join"],
                            timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        peak[bytes_] = int(result.stdout.split("PEAK")[-1])
        per_partition[bytes_] = 120_000 / math.ceil(size / bytes_)
    outputs = [sorted((tmp_path / f"out-{b}.csv").read_text().splitlines()) for b in peak]
    assert outputs[0] == outputs[1]  # images in partition order: the same lines
    grown = (peak[2**25] - peak[2**18]) / (per_partition[2**25] - per_partition[2**18])
    assert grown < 250, (grown, peak, per_partition)  # bytes a row

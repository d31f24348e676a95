"""`predict` of videos (issue 29): a clip written here with OpenCV's writer gives a line in
images.jsonl per kept frame (--stride), with its index in the video and its time, the same on
its detection lines, and an annotated video OpenCV reads back with the kept frame count. A run
killed in the middle of the video resumes at the next frame and draws the video again whole.
The clip served over HTTP on the loopback interface is read as a stream, which is not resumed.
A file that is no video, a stream that cannot be opened and a stride of 0 are refused in one
line."""

import json
import math
import os
import re

import numpy as np
import pytest

from tests.conftest import run_odwrap

pytestmark = pytest.mark.tf

FRAMES, FPS, STRIDE = 13, 10.0, 3
WIDTH, HEIGHT = 96, 64
KEPT = list(range(0, FRAMES, STRIDE))  # 0, 3, 6, 9, 12


def read_back(path) -> list:
    """Every frame OpenCV decodes of the video at PATH (BGR arrays)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def clip(tflite_export, tmp_path_factory):
    """(model, clip.mp4, an image, the folder of a whole run over both at STRIDE, its
    runtime): a square crossing a grey background, 13 frames at 10 per second."""
    import cv2
    from PIL import Image

    model, _ = tflite_export("none")
    work = tmp_path_factory.mktemp("video")
    path = work / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for index in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
        cv2.rectangle(frame, (4 + 5 * index, 16), (36 + 5 * index, 48), (40, 200, 240), -1)
        writer.write(frame)
    writer.release()
    assert len(read_back(path)) == FRAMES  # the clip is what the test means
    image = work / "still.png"
    Image.fromarray(np.full((40, 50, 3), 200, np.uint8)).save(image)
    out = work / "whole"
    result = run_odwrap("predict", model, path, image, "-o", out, "--jsonl", "--threshold", 0,
                        "--stride", STRIDE, "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    runtime = re.search(r"^(\S+): median", result.stdout, re.M).group(1)
    return model, path, image, out, runtime


def test_a_line_per_kept_frame_with_its_index_and_time(clip):
    _, path, image, out, _ = clip
    log = [json.loads(line) for line in (out / "images.jsonl").read_text().splitlines()]
    frames, still = log[:-1], log[-1]
    assert [entry["frame"] for entry in frames] == KEPT
    assert [entry["time"] for entry in frames] == pytest.approx(
        [index / FPS for index in KEPT], abs=1e-3)
    assert [entry["image_id"] for entry in log] == list(range(1, len(KEPT) + 2))
    assert {entry["filename"] for entry in frames} == {str(path)}
    assert all((entry["width"], entry["height"]) == (WIDTH, HEIGHT) for entry in frames)
    assert {entry["annotated"] for entry in frames} == {"clip.annotated.mp4"}
    assert still["filename"] == str(image) and "frame" not in still
    assert still["annotated"] == "still.annotated.png"
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    by_id = {entry["image_id"]: entry for entry in log}
    assert lines, "threshold 0 keeps every detection"
    for line in lines:
        entry = by_id[line["image_id"]]
        assert (line.get("frame"), line.get("time")) == (entry.get("frame"), entry.get("time"))
    assert [line["id"] for line in lines] == list(range(1, len(lines) + 1))


def test_the_annotated_video_reads_back_with_the_kept_frames(clip):
    _, _, _, out, _ = clip
    frames = read_back(out / "clip.annotated.mp4")
    assert len(frames) == len(KEPT)
    assert all(frame.shape == (HEIGHT, WIDTH, 3) for frame in frames)
    assert not [name for name in os.listdir(out) if name.startswith(".")]  # no temporary left


def test_a_killed_run_resumes_at_the_next_frame_and_draws_the_video_whole(clip, tmp_path):
    """The killed run had logged frames 0 and 3 and left its temporary video folder (its
    process gone): the resumed run predicts from frame 6 on, removes the leftover, and its
    annotated video has every kept frame, as the whole run's."""
    model, path, image, whole, runtime = clip
    out = tmp_path / "out"
    out.mkdir()
    log = (whole / "images.jsonl").read_bytes().splitlines(keepends=True)
    done = sum(json.loads(line)["detections"] for line in log[:2])
    lines = (whole / "detections.jsonl").read_bytes().splitlines(keepends=True)
    (out / "images.jsonl.part").write_bytes(b"".join(log[:2]))
    (out / "detections.jsonl.part").write_bytes(b"".join(lines[:done]))
    (out / "predict.run.json").write_text(json.dumps(
        {"model": str(model.resolve()), "threshold": 0.0, "runtime": runtime,
         "stride": STRIDE}))
    leftover = out / ".clip.annotated.mp4.999999999.x.tmp"  # pid 999999999: no such process
    leftover.mkdir()
    (leftover / "video.mp4").write_bytes(b"half a video, no index")
    result = run_odwrap("predict", model, path, image, "-o", out, "--jsonl", "--threshold", 0,
                        "--stride", STRIDE, "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"predicted {len(KEPT) - 1} image(s) ({len(KEPT) - 2} of them video frames) after " \
           "the 2 of the interrupted run" in result.stdout
    assert (out / "detections.jsonl").read_bytes() == (whole / "detections.jsonl").read_bytes()
    blank = re.compile(rb'"milliseconds": [0-9.e-]+')
    assert blank.sub(b"", (out / "images.jsonl").read_bytes()) == \
        blank.sub(b"", (whole / "images.jsonl").read_bytes())
    assert not leftover.exists()
    redrawn, drawn = read_back(out / "clip.annotated.mp4"), read_back(whole / "clip.annotated.mp4")
    assert len(redrawn) == len(KEPT)
    assert all(np.array_equal(a, b) for a, b in zip(redrawn, drawn))


def test_stride_one_keeps_every_frame_and_max_images_counts_frames(clip, tmp_path):
    model, path, _, _, _ = clip
    out = tmp_path / "out"
    result = run_odwrap("predict", model, path, "-o", out, "--jsonl", "--no-annotate",
                        "--max-images", 4, "--workers", 1)
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (out / "images.jsonl").read_text().splitlines()]
    assert [entry["frame"] for entry in log] == [0, 1, 2, 3]
    assert not list(out.glob("*.mp4")) and "annotated" not in log[0]


@pytest.fixture
def served(clip):
    """The clip's URL on an HTTP server on the loopback interface, for the test's length."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(clip[1].parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{clip[1].name}"
    server.shutdown()
    server.server_close()


def test_a_stream_url_is_read_and_an_interrupted_run_over_it_not_resumed(clip, served,
                                                                         tmp_path):
    model, _, _, _, runtime = clip
    out = tmp_path / "out"
    result = run_odwrap("predict", model, served, "-o", out, "--jsonl", "--threshold", 0,
                        "--max-images", 3, "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (out / "images.jsonl").read_text().splitlines()]
    assert [(entry["filename"], entry["frame"]) for entry in log] == \
        [(served, index) for index in range(3)]
    assert len(read_back(out / "clip.annotated.mp4")) == 3
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "images.jsonl.part").write_text((out / "images.jsonl").read_text().splitlines()[0]
                                           + "\n")
    (cut / "detections.jsonl.part").write_text("".join(
        line + "\n" for line in (out / "detections.jsonl").read_text().splitlines()
        if json.loads(line)["image_id"] == 1))
    (cut / "predict.run.json").write_text(json.dumps(
        {"model": str(model.resolve()), "threshold": 0.0, "runtime": runtime}))
    again = run_odwrap("predict", model, served, "-o", cut, "--jsonl", "--threshold", 0)
    assert again.returncode == 2, again.stdout + again.stderr
    assert f"holds an interrupted run over the stream {served}, which cannot go on where it " \
           "stopped; pass --restart" in again.stderr
    unreachable = run_odwrap("predict", model, "rtsp://127.0.0.1:9/live", "-o", tmp_path / "x")
    assert unreachable.returncode == 2
    assert unreachable.stderr == "odwrap: error: rtsp://127.0.0.1:9/live: cannot open the " \
                                 "stream (unreachable, or no video in it)\n"
    assert not (tmp_path / "x").exists()


def test_a_file_that_is_not_a_video_is_one_line(clip, tmp_path):
    model = clip[0]
    fake = tmp_path / "dashcam.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42 but nothing after it")
    result = run_odwrap("predict", model, fake, "-o", tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"odwrap: error: {fake}: not a video OpenCV can read (no video " \
                            "stream found)\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--stride", "0"], "argument --stride: 0 is not in 1.."),
    (["--stride", "2"], "--stride 2: keeps a video's frames"),
    (["--format", "yolo"], "is a video; its frames are no files a labelling tool can open"),
])
def test_bad_video_options_are_refused(clip, tmp_path, argv, message):
    model, path, image, _, _ = clip
    given = [image] if argv[:2] == ["--stride", "2"] else [path]
    result = run_odwrap("predict", model, *given, "-o", tmp_path / "out", *argv)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_a_videos_kept_frames_are_counted_from_its_header(clip):
    from odwrap.deploy import video

    _, path, _, _, _ = clip
    assert video.kept_frames(str(path), STRIDE) == math.ceil(FRAMES / STRIDE)


def test_an_annotated_video_of_odd_sides_keeps_every_pixel(tmp_path):
    """MPEG-4's encoder drops an odd last row and column; the annotated video adds a black
    one instead, so that nothing drawn is lost."""
    from odwrap.deploy.video import AnnotatedVideo

    video = AnnotatedVideo(tmp_path / "odd.annotated.mp4", 5.0)
    frame = np.full((63, 95, 3), 220, np.uint8)
    frame[-1, :] = frame[:, -1] = (0, 0, 255)  # the edges that would go
    for _ in range(3):
        video.write(frame)
    assert video.close() == tmp_path / "odd.annotated.mp4"
    frames = read_back(tmp_path / "odd.annotated.mp4")
    assert len(frames) == 3 and frames[0].shape == (64, 96, 3)
    bluer = frames[0][..., 0].astype(int) - frames[0][..., 2]  # BGR: blue over red
    assert bluer[62, 10:80].mean() > 60 and bluer[10:55, 94].mean() > 60  # the edges are there
    assert abs(bluer[20:40, 20:60]).mean() < 20  # the grey is grey
    assert frames[0][63, 10:80, 1].mean() < 60  # the added row: no grey (its green is gone)
    assert os.listdir(tmp_path) == ["odd.annotated.mp4"]

"""Run in the consumers venv (.venv-consumers, scripts/setup-consumers.sh), not in odwrap's:
what the TFLite Task Library and MediaPipe Tasks make of a .tflite. Prints one JSON document.

    consumer_detect.py metadata MODEL             tflite-support's own reading of the metadata
    consumer_detect.py task|mediapipe MODEL IMAGE...   detections: [x, y, w, h] pixels, label,
                                                  score, best first (threshold 0)
    consumer_detect.py time task|mediapipe MODEL RUNS WARMUP THREADS   milliseconds of each
                                                  detect() of one decoded image of the input size
"""

import json
import sys
import time



def read_metadata(model: str) -> dict:
    from tensorflow_lite_support.metadata.cc.python import _pywrap_metadata_version
    from tflite_support import metadata

    displayer = metadata.MetadataDisplayer.with_model_file(model)
    buffer = displayer.get_metadata_buffer()
    return {"metadata": json.loads(displayer.get_metadata_json()),
            "packed_files": displayer.get_packed_associated_file_list(),
            "labels": displayer.get_associated_file_buffer("labels.txt").decode(),
            "min_parser_version":
                _pywrap_metadata_version.GetMinimumMetadataParserVersion(buffer)}


def task_detector(model: str, threads: int = 2):
    from tflite_support.task import core, processor, vision

    options = vision.ObjectDetectorOptions(
        base_options=core.BaseOptions(file_name=model, num_threads=threads),
        detection_options=processor.DetectionOptions(score_threshold=0.0))
    detector = vision.ObjectDetector.create_from_options(options)
    return (vision.TensorImage.create_from_file,
            lambda image: detector.detect(image).detections)


def mediapipe_detector(model: str, threads: int = 2):
    import mediapipe
    from mediapipe.tasks.python import BaseOptions, vision

    del threads  # MediaPipe Tasks' Python API sets no thread count
    options = vision.ObjectDetectorOptions(base_options=BaseOptions(model_asset_path=model),
                                           score_threshold=0.0)
    detector = vision.ObjectDetector.create_from_options(options)
    return mediapipe.Image.create_from_file, lambda image: detector.detect(image).detections


DETECTORS = {"task": task_detector, "mediapipe": mediapipe_detector}


def as_dicts(detections) -> list:
    found = []
    for detection in detections:
        box, best = detection.bounding_box, detection.categories[0]
        found.append({"bbox": [box.origin_x, box.origin_y, box.width, box.height],
                      "label": best.category_name, "index": best.index,
                      "score": float(best.score)})
    return sorted(found, key=lambda item: -item["score"])


def timings(api, model, runs, warmup, threads) -> list:
    import tempfile

    import numpy as np
    from PIL import Image
    from tflite_support import metadata

    size = json.loads(metadata.MetadataDisplayer.with_model_file(model).get_metadata_json())
    shape = size["subgraph_metadata"][0]["input_tensor_metadata"][0]["content"][
        "content_properties"]["default_size"]
    pixels = np.random.default_rng(0).integers(0, 256, (shape["height"], shape["width"], 3),
                                               dtype=np.uint8)
    with tempfile.NamedTemporaryFile(suffix=".png") as image:
        Image.fromarray(pixels).save(image.name)
        load, detect = DETECTORS[api](model, threads)
        loaded = load(image.name)
        for _ in range(warmup):
            detect(loaded)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            detect(loaded)
            times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv) -> int:
    if argv[0] == "metadata":
        result = read_metadata(argv[1])
    elif argv[0] == "time":
        api, model, runs, warmup, threads = argv[1:6]
        result = timings(api, model, int(runs), int(warmup), int(threads))
    else:
        load, detect = DETECTORS[argv[0]](argv[1])
        result = {path: as_dicts(detect(load(path))) for path in argv[2:]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run in the converters venv (.venv-converters, scripts/setup-converters.sh), not in odwrap's:
two converter libraries that no one here wrote turn one COCO file into the formats of labelling
tools, each through its own public API, with its own defaults.

    third_party_export.py COCO_JSON OUT

OUT/globox: yolo/labels/*.txt and yolo/classes.txt, labelme/*.json, cvat.xml;
OUT/supervision: yolo/labels/*.txt and yolo/data.yaml, labelme/*.json, createml.json.
The images are not copied: the test lays them where each format looks for them. Prints the
versions as one JSON line.
"""

import json
import sys
import warnings
from pathlib import Path


def with_globox(coco: Path, out: Path) -> str:
    import globox

    annotations = globox.AnnotationSet.from_coco(coco)
    # globox writes class ids, not names: the ids are this mapping's, and classes.txt (the
    # file LabelImg writes beside YOLO labels) names them, a name a line from id 0.
    names = sorted({box.label for box in annotations.all_boxes})
    annotations.save_yolo_darknet(out / "yolo" / "labels",
                                  label_to_id={name: index for index, name in enumerate(names)})
    (out / "yolo" / "classes.txt").write_text("".join(f"{name}\n" for name in names))
    annotations.save_labelme(out / "labelme")
    annotations.save_cvat(out / "cvat.xml")
    return version("globox")


def with_supervision(coco: Path, out: Path) -> str:
    with warnings.catch_warnings():  # without OpenCV it reads images through its NumPy backend
        warnings.simplefilter("ignore")
        import supervision

    dataset = supervision.DetectionDataset.from_coco(images_directory_path=str(coco.parent),
                                                     annotations_path=str(coco))
    dataset.as_yolo(annotations_directory_path=str(out / "yolo" / "labels"),
                    data_yaml_path=str(out / "yolo" / "data.yaml"))
    dataset.as_labelme(annotations_directory_path=str(out / "labelme"))
    dataset.as_createml(annotations_path=str(out / "createml.json"))
    return version("supervision")


def version(name: str) -> str:
    from importlib.metadata import version as installed

    return installed(name)


def main(argv) -> int:
    coco, out = Path(argv[0]), Path(argv[1])
    for library in ("globox", "supervision"):
        (out / library / "yolo").mkdir(parents=True, exist_ok=True)
    print(json.dumps({"globox": with_globox(coco, out / "globox"),
                      "supervision": with_supervision(coco, out / "supervision")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

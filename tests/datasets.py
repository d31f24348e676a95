"""Small datasets in each annotation format, built from the demo shapes, for convert tests."""

import csv
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

from odwrap.data.demo import write_demo_dataset


def voc(root: Path, images: int = 12, seed: int = 0) -> Path:
    return write_demo_dataset(root, images=images, size=64, seed=seed, min_side=12,
                              max_side=24)


def voc_boxes(root: Path) -> dict[str, list]:
    """{image file name: [(class, xmin, ymin, xmax, ymax) in pixels]} read from the XML."""
    boxes = {}
    for xml in sorted((root / "Annotations").glob("*.xml")):
        tree = ElementTree.parse(xml)
        boxes[tree.findtext("filename")] = [
            (obj.findtext("name"), *(float(obj.find("bndbox").findtext(key))
                                     for key in ("xmin", "ymin", "xmax", "ymax")))
            for obj in tree.iter("object")]
    return boxes


def coco(root: Path, images: int = 8) -> Path:
    """A COCO JSON beside its images: boxes, a polygon mask, an RLE mask and a crowd box."""
    source = voc(root / "voc", images=images)
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    data = {"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "square"}, {"id": 2, "name": "circle"}]}
    ids = {"square": 1, "circle": 2}
    for index, (name, boxes) in enumerate(sorted(voc_boxes(source).items()), start=1):
        shutil.copy(source / "JPEGImages" / name, image_dir / name)
        data["images"].append({"id": index, "file_name": name, "width": 64, "height": 64})
        for cls, xmin, ymin, xmax, ymax in boxes:
            polygon = [xmin, ymin, xmax, ymin, xmax, ymax, xmin, ymax]
            data["annotations"].append({
                "id": len(data["annotations"]) + 1, "image_id": index,
                "category_id": ids[cls], "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                "iscrowd": 0, "segmentation": [polygon]})
    # An uncompressed-RLE crowd annotation on the first image: rows 0-9 of every column (COCO
    # runs are column-major and start with zeros).
    data["annotations"].append({
        "id": len(data["annotations"]) + 1, "image_id": 1, "category_id": 1,
        "bbox": [0, 0, 64, 10], "iscrowd": 1,
        "segmentation": {"size": [64, 64], "counts": [0] + [10, 54] * 64}})
    path = image_dir / "instances.json"
    path.write_text(json.dumps(data))
    return path


def csv_boxes(root: Path, images: int = 8) -> Path:
    source = voc(root / "voc", images=images)
    path = source / "JPEGImages" / "boxes.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"])
        for name, boxes in sorted(voc_boxes(source).items()):
            for cls, *box in boxes:
                writer.writerow([name, 64, 64, cls, *box])
    return path


def oid(root: Path, images: int = 8) -> tuple[Path, Path]:
    """Open Images CSV (normalized boxes, MIDs, one group-of box) and its class names CSV."""
    source = voc(root / "voc", images=images)
    images_dir = source / "JPEGImages"
    mids = {"square": "/m/0sq", "circle": "/m/0ci"}
    path = root / "oid-boxes.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax",
                         "YMin", "YMax", "IsOccluded", "IsTruncated", "IsGroupOf",
                         "IsDepiction", "IsInside"])
        for index, (name, boxes) in enumerate(sorted(voc_boxes(source).items())):
            for cls, xmin, ymin, xmax, ymax in boxes:
                writer.writerow([Path(name).stem, "xclick", mids[cls], 1, xmin / 64, xmax / 64,
                                 ymin / 64, ymax / 64, 0, 0, 0, 0, 0])
            if index == 0:
                writer.writerow([Path(name).stem, "xclick", mids["square"], 1, 0.0, 1.0, 0.0,
                                 1.0, 0, 0, 1, 0, 0])
    names = root / "class-descriptions.csv"
    names.write_text("".join(f"{mid},{cls}\n" for cls, mid in mids.items()))
    return path, images_dir


def yolo_images(folder: Path, images: dict) -> None:
    """IMAGES {file name: (width, height, label text or None)} as YOLO: FOLDER/images/NAME (a
    plain grey image) and, unless the text is None, FOLDER/labels/STEM.txt."""
    from PIL import Image

    for name, (width, height, label) in images.items():
        path = folder / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (width, height), (90, 90, 90)).save(path)
        if label is not None:
            label_file = (folder / "labels" / name).with_suffix(".txt")
            label_file.parent.mkdir(parents=True, exist_ok=True)
            label_file.write_text(label)


def yolo(root: Path) -> Path:
    """A YOLO folder (images/, labels/, data.yaml naming cat and dog): a.jpg 80x60 with a cat
    at pixels (8, 6)-(40, 30) and a dog at (40, 30)-(80, 60); b.png 40x100 with a dog at
    (10, 20)-(30, 70); c.jpg 32x32 without a label file (a background image)."""
    yolo_images(root, {"a.jpg": (80, 60, "0 0.3 0.3 0.4 0.4\n1 0.75 0.75 0.5 0.5\n"),
                       "b.png": (40, 100, "1 0.5 0.45 0.5 0.5\n"),
                       "c.jpg": (32, 32, None)})
    (root / "data.yaml").write_text("names: [cat, dog]\n")
    return root

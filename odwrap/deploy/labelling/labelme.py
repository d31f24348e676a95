"""LabelMe: OUTPUT/labelme/NAME.json per image, as LabelMe 5 writes them: `imagePath` relative
to the JSON file, leading to the image where predict read it (no copy, `imageData` null),
`imageWidth`/`imageHeight` the size predict saw (EXIF orientation applied, as LabelMe shows
the image), a `rectangle` per detection (a mask model: a `polygon`, its mask's outline) with
the class as `label` and the score as `score`, a key LabelMe keeps when it saves the file
(X-AnyLabeling reads it). NAME is the image's name without its suffix (NAME.2 ... for later
images of the same name), which `labelme IMAGES --output OUTPUT/labelme` looks for.
"""

import json
from pathlib import Path

from odwrap.deploy.labelling.run import Predicted, Run, Stems, corners, outlines

VERSION = "5.5.0"  # the file format of LabelMe 5; later LabelMe versions read it as it is


def shape(line: dict, image: Predicted, run: Run) -> dict:
    if "segmentation" in line:
        (polygon, *_) = outlines(line, image.width, image.height)
        kind, points = "polygon", [[x, y] for x, y in polygon]
    else:
        xmin, ymin, xmax, ymax = corners(line, image.width, image.height)
        kind, points = "rectangle", [[xmin, ymin], [xmax, ymax]]
    return {"label": run.label(line["category_id"]), "points": points, "group_id": None,
            "description": "", "shape_type": kind, "flags": {}, "mask": None,
            "score": line["score"]}


def write(folder: Path, run: Run) -> list[str]:
    stems = Stems()
    for image in run.images():
        document = {"version": VERSION, "flags": {},
                    "shapes": [shape(line, image, run) for line in image.detections],
                    "imagePath": run.path_from_folder(image), "imageData": None,
                    "imageHeight": image.height, "imageWidth": image.width}
        # A file name that is not UTF-8 keeps its bytes as \udcXX escapes, which JSON reads.
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        (folder / f"{stems(image.filename)}.json").write_bytes(
            text.encode("utf-8", "backslashreplace"))
    return ["imagePath: relative to each JSON file, leading to the images where they are"]

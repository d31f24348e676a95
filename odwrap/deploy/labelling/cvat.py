"""CVAT for images 1.1: OUTPUT/cvat/annotations.xml, to upload into a task that holds the
images (Actions > Upload annotations > CVAT 1.1).

<meta> lists the classes as the task's labels, each with a text attribute `score`; an <image>
per predicted image (id in run order, name relative to the images' common folder, its size as
predict saw it: EXIF orientation applied, as CVAT shows it since 2022), holding a <box> per
detection (a mask model: a <polygon>, its mask's outline) with source="auto", occluded="0"
and the score as <attribute name="score">. CVAT keeps an attribute only where the task's label
has one of that name: give the labels a `score` text attribute to keep the scores, or the
upload drops them. Names are escaped by ElementTree; characters XML 1.0 cannot hold (control
characters, unpaired surrogates of a file name that is not UTF-8) become U+FFFD.
"""

import re
from pathlib import Path
from xml.etree import ElementTree

from odwrap.deploy.annotate import PALETTE
from odwrap.deploy.labelling.run import Run, corners, number, outlines

NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
INDENT = "  "


def xml_text(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def _colour(class_id: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*PALETTE[class_id % len(PALETTE)])  # annotate's colour


def meta(run: Run) -> ElementTree.Element:
    top = ElementTree.Element("meta")
    task = ElementTree.SubElement(top, "task")
    for key, value in (("name", "odwrap predict"), ("size", str(run.count)),
                       ("mode", "annotation")):
        ElementTree.SubElement(task, key).text = value
    labels = ElementTree.SubElement(task, "labels")
    for class_id, name in run.classes().items():
        label = ElementTree.SubElement(labels, "label")
        for key, value in (("name", xml_text(name)), ("color", _colour(class_id)),
                           ("type", "any")):
            ElementTree.SubElement(label, key).text = value
        attribute = ElementTree.SubElement(ElementTree.SubElement(label, "attributes"),
                                           "attribute")
        for key, value in (("name", "score"), ("mutable", "False"), ("input_type", "text"),
                           ("default_value", ""), ("values", "")):
            ElementTree.SubElement(attribute, key).text = value
    ElementTree.indent(top, INDENT, level=1)
    return top


def image_element(index: int, image, run: Run) -> ElementTree.Element:
    element = ElementTree.Element("image", id=str(index),
                                  name=xml_text(run.relative_name(image)),
                                  width=str(image.width), height=str(image.height))
    for line in image.detections:
        common = {"label": xml_text(run.label(line["category_id"])), "source": "auto",
                  "occluded": "0"}
        if "segmentation" in line:
            (polygon, *_) = outlines(line, image.width, image.height)
            shape = ElementTree.SubElement(element, "polygon", common, points=";".join(
                f"{number(x)},{number(y)}" for x, y in polygon), z_order="0")
        else:
            xmin, ymin, xmax, ymax = corners(line, image.width, image.height)
            shape = ElementTree.SubElement(element, "box", common, xtl=number(xmin),
                                           ytl=number(ymin), xbr=number(xmax),
                                           ybr=number(ymax), z_order="0")
        ElementTree.SubElement(shape, "attribute", name="score").text = f"{line['score']:g}"
    ElementTree.indent(element, INDENT, level=1)
    return element


def write(folder: Path, run: Run) -> list[str]:
    with open(folder / "annotations.xml", "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n'
                  f"{INDENT}<version>1.1</version>\n")
        out.write(INDENT + ElementTree.tostring(meta(run), encoding="unicode") + "\n")
        for index, image in enumerate(run.images()):  # one <image> in memory at a time
            out.write(INDENT + ElementTree.tostring(image_element(index, image, run),
                                                    encoding="unicode") + "\n")
        out.write("</annotations>\n")
    return [f"image names: relative to {run.images_root}"]

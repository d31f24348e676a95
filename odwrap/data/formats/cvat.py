"""CVAT for images 1.1: one XML file, an <image id name width height> per image holding its
shapes.

Read: <box> (xtl, ytl, xbr, ybr), <polygon> (points "x,y;x,y;...", 3 or more: its box is the
box around it) and <ellipse> (cx, cy, rx, ry: the box around it). A `rotation` (degrees,
clockwise about the centre) is not dropped: a rotated box or ellipse becomes the upright box
around it, and a rotated box is counted (rotated_box) so that the report says so. With
--masks each object's mask is its shape as a COCO polygon (a box's is its 4 corners, turned;
an ellipse's a polygon of 64 corners on it). A <mask> is read as its box (left, top, width,
height); its pixels are not, so with --masks it is left out (counted). <points>, <polyline>,
<tag> (a label of the whole image), <cuboid>, <skeleton> and others are counted
(unsupported_shape) and left out. Attributes (occluded, z_order, source, <attribute>) and the
image's subset are not read.

Images are relative to --images, else to an images/ folder beside the XML file when there is
one (as CVAT's export has it), else to the XML file's folder. The XML is parsed with
defusedxml, DTDs refused, image by image: any size of file is read in bounded memory.
"""

from pathlib import Path

import defusedxml
from defusedxml import ElementTree

from odwrap.data import dataset, segmentations
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.data.formats import shapes
from odwrap.errors import InputError

MAX_XML_BYTES = 4 * 1024 ** 3  # parsed image by image; the time is what it bounds
MAX_SHAPES = 100_000  # in one image
READ = ("box", "polygon", "ellipse", "mask")


def _number(element, key: str, what: str) -> float:
    value = element.get(key)
    if value is None:
        raise BadValue("bad_annotation", f"{what}: no {key}")
    return dataset.coordinate(value, f"{what} {key}")


def _polygon(element, what: str) -> list:
    text = element.get("points") or ""
    pairs = [pair.split(",") for pair in text.split(";")] if text.strip() else []
    if any(len(pair) != 2 for pair in pairs):
        raise BadValue("bad_annotation", f"{what}: points {dataset.shown(text)} are not "
                                         "x,y;x,y;...")
    return shapes.polygon([shapes.point(x, y, f"{what} points[{index}]")
                           for index, (x, y) in enumerate(pairs)], what)


def _object(element, where: str, sample: Sample, masks: bool, problems) -> Obj:
    """One shape as an Obj; BadValue for a shape left out (its reason says why)."""
    kind = element.tag
    label = dataset.text(element.get("label"), f"{where}: <{kind}> label")
    what = f"{where}: <{kind}> {label}"
    if kind not in READ:
        raise BadValue("unsupported_shape", f"{what}: not a box or a region odwrap reads" if
                       kind != "tag" else f"{what}: a label of the whole image, no box")
    rotation = dataset.coordinate(element.get("rotation") or 0, f"{what} rotation") % 360
    if kind == "box":
        corners = shapes.rectangle(*(_number(element, key, what)
                                     for key in ("xtl", "ytl", "xbr", "ybr")), rotation)
        box = shapes.bounds(corners)
    elif kind == "polygon":
        corners = _polygon(element, what)
        box = shapes.bounds(corners)
    elif kind == "ellipse":
        box, corners = shapes.ellipse(*(_number(element, key, what)
                                        for key in ("cx", "cy", "rx", "ry")), rotation)
    elif masks:  # a <mask>: a run-length patch, read as its box only
        raise BadValue("unsupported_shape", f"{what}: the pixels of a <mask> are not read "
                                            "(left out with --masks)")
    else:
        left, top, width, height = (_number(element, key, what)
                                    for key in ("left", "top", "width", "height"))
        return Obj(label, left, top, left + width, top + height)
    mask = shapes.coco(corners) if masks else None
    found = segmentations.problem(mask, sample.width, sample.height) if mask else None
    if found:
        raise BadValue("bad_mask", f"{what}: {found}")
    if kind == "box" and rotation:
        problems.add("rotated_box", f"{what}: rotation {rotation:g}")
    return Obj(label, *box, mask=mask)


def _sample(element, where: str, masks: bool, problems) -> Sample:
    """The Sample of one <image>; BadValue when it is left out."""
    for key in ("name", "width", "height"):
        if element.get(key) is None:
            raise BadValue("bad_annotation", f"{where}: needs name, width and height")
    name = dataset.text(element.get("name"), f"{where}: name")
    width = dataset.side(element.get("width"), f"{where}: width")
    height = dataset.side(element.get("height"), f"{where}: height")
    sample = Sample(image=name, width=width, height=height, source=f"{where}: {name}")
    if len(element) > MAX_SHAPES:
        raise BadValue("bad_annotation", f"{where}: over {MAX_SHAPES} shapes in one image")
    for child in element:
        try:
            sample.objects.append(_object(child, sample.source, sample, masks, problems))
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
    return sample


def _images_root(path: Path, images) -> Path:
    if images:
        return Path(images)
    beside = path.parent / "images"
    return beside if beside.is_dir() else path.parent


def read(source, options, problems):
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such CVAT XML file" if not path.exists() else
                         f"{path}: not a regular file")
    size = path.stat().st_size
    if size > MAX_XML_BYTES:
        raise InputError(f"{path}: {size} bytes, over the limit of {MAX_XML_BYTES} bytes for a "
                         "CVAT XML file")
    samples, count, top = [], 0, None
    try:
        for event, element in ElementTree.iterparse(str(path), events=("start", "end"),
                                                    forbid_dtd=True):
            if top is None:
                top = element.tag
                if top != "annotations":
                    raise InputError(f"{path}: <{top}> is not CVAT for images 1.1 "
                                     "(<annotations>)")
            if event == "end" and element.tag == "image":
                where = f"{path.name}: <image> {count}"  # the name may be what is wrong
                count += 1
                try:
                    samples.append(_sample(element, where, options.masks, problems))
                except BadValue as exc:
                    problems.add(exc.reason, str(exc))
                element.clear()
            elif event == "end" and element.tag in ("track", "meta"):
                element.clear()
    except defusedxml.DefusedXmlException as exc:
        raise InputError(f"{path}: refused ({type(exc).__name__}: {exc})") from None
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}:{exc.position[0]}: not well-formed XML ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not count:
        raise InputError(f"{path}: no <image>; a CVAT for video export (<track>) is not read: "
                         "export as CVAT for images 1.1")
    return samples, _images_root(path, options.images)

"""Pascal VOC: a folder of XML annotations (LabelImg, CVAT) and their images.

Images are looked up, in order, in --images, the dataset's JPEGImages/, beside the XML file and
at the dataset root; every candidate must stay inside the dataset root (or --images).
XML is parsed with defusedxml and DTDs refused: no entities, no external resources.
"""

from pathlib import Path

import defusedxml
from defusedxml import ElementTree

from odwrap.data.dataset import Obj, Sample
from odwrap.errors import InputError


def _number(element, tag, where):
    text = element.findtext(tag)
    if text is None:
        raise ValueError(f"{where}: no <{tag}>")
    return float(text.strip())


def _parse(path: Path, root: Path):
    data = path.read_bytes()
    tree = ElementTree.fromstring(data, forbid_dtd=True)
    where = str(path.relative_to(root))
    filename = (tree.findtext("filename") or "").strip()
    if not filename:
        raise ValueError(f"{where}: no <filename>")
    size = tree.find("size")
    width = height = None
    if size is not None and size.findtext("width") and size.findtext("height"):
        width, height = int(_number(size, "width", where)), int(_number(size, "height", where))
    objects = []
    for element in tree.iter("object"):
        name = (element.findtext("name") or "").strip()
        box = element.find("bndbox")
        if not name or box is None:
            raise ValueError(f"{where}: <object> without <name> or <bndbox>")
        objects.append(Obj(name, _number(box, "xmin", where), _number(box, "ymin", where),
                           _number(box, "xmax", where), _number(box, "ymax", where),
                           difficult=int((element.findtext("difficult") or "0").strip() or 0)))
    return filename, width, height, objects


def _find_image(filename: str, xml: Path, root: Path, images: Path | None):
    """(images root, path relative to it) of the first candidate that exists, or of the first."""
    if images is not None:
        return images, filename
    rel_dir = xml.parent.relative_to(root)
    candidates = [Path("JPEGImages") / filename, rel_dir / filename, Path(filename)]
    for candidate in candidates:
        # Only existence here; the converter refuses a path that escapes the root.
        if (root / candidate).is_file():
            return root, candidate.as_posix()
    return root, candidates[0].as_posix()


def read(source, options, problems):
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"{root}: a Pascal VOC dataset is a folder of XML annotations")
    xml_files = sorted(root.rglob("*.xml"))
    if not xml_files:
        raise InputError(f"{root}: no .xml annotation found")
    images_root = Path(options.images) if options.images else root
    samples = []
    for xml in xml_files:
        where = str(xml.relative_to(root))
        try:
            filename, width, height, objects = _parse(xml, root)
        except defusedxml.DefusedXmlException as exc:
            problems.add("bad_annotation", f"{where}: refused ({type(exc).__name__})")
            continue
        except (ValueError, ElementTree.ParseError, OSError) as exc:
            problems.add("bad_annotation", f"{where}: {exc}")
            continue
        images_root, image = _find_image(filename, xml, root, options.images)
        samples.append(Sample(image=image, width=width, height=height, objects=objects,
                              source=where))
    return samples, images_root

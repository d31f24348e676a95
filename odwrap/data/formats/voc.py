"""Pascal VOC: a folder of XML annotations (LabelImg, CVAT) and their images.

Images are looked up, in order, in --images, the dataset's JPEGImages/, its images/ (Model
Maker's layout: images/ and Annotations/), beside the XML file and at the dataset root; every
candidate must stay inside the dataset root (or --images).
XML is parsed with DTDs refused: no entities, no external resources. A plain annotation (no
"<!", "&", "xmlns" or NUL; UTF-8, ASCII or Latin-1) holds no DTD and no entity, so
ElementTree's C parser reads it (_plain_tree): the same tree, and the same errors, as
defusedxml's parser, which calls back into Python for every tag (about 11 us against 48 a
file); any other annotation goes through defusedxml.
"""

import errno
import itertools
import math
import multiprocessing
import os
import re
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as CElementTree

import defusedxml
from defusedxml import ElementTree

from odwrap.data import dataset
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.errors import InputError


MAX_XML_BYTES = 10 * 1024 * 1024  # one annotation file; real ones are a few KB
PARALLEL_FILES = 1000  # fewer files are parsed here: the workers' start would cost more


def _text(element, tag, where) -> str:
    text = element.findtext(tag)
    if text is None:
        raise ValueError(f"{where}: no <{tag}>")
    return text


def _object(element, where) -> tuple:
    """One <object> as Obj's arguments; BadValue for a value out of range (the box is dropped), ValueError for a
    missing part (the file is)."""
    name = (element.findtext("name") or "").strip()
    box = element.find("bndbox")
    if not name or box is None:
        raise ValueError(f"{where}: <object> without <name> or <bndbox>")
    try:
        what = f"{where}: <object> {dataset.text(name, '<name>')}"
    except BadValue as exc:
        raise ValueError(str(exc)) from None
    xmin, ymin, xmax, ymax = (dataset.coordinate(_text(box, tag, where), f"{what} <{tag}>")
                              for tag in ("xmin", "ymin", "xmax", "ymax"))
    difficult = dataset.flag(element.findtext("difficult") or "0", f"{what} <difficult>")
    return name, xmin, ymin, xmax, ymax, difficult  # Obj's first fields


# The encoding an XML declaration names; the plain ones keep ASCII's bytes for "<", "&" and names.
_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")
_PLAIN_ENCODINGS = (b"utf-8", b"us-ascii", b"iso-8859-1")


def _plain_tree(data: bytes):
    """The root element of DATA when it is plain XML (see the module's docstring), else None;
    ParseError, with the same message as defusedxml's, when it is malformed."""
    if b"<!" in data or b"&" in data or b"xmlns" in data or b"\0" in data:
        return None
    declared = _ENCODING.match(data)
    if declared and declared[1].lower() not in _PLAIN_ENCODINGS:
        return None
    parser = CElementTree.XMLParser()  # no "<!": no DTD, so nothing to refuse
    parser.feed(data)
    return parser.close()


def _read_xml(path: Path, where: str) -> bytes:
    """The bytes of one annotation file; ValueError past MAX_XML_BYTES."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_XML_BYTES:
            raise ValueError(f"{where}: {size} bytes, over the limit of {MAX_XML_BYTES} bytes "
                             "for one annotation file")
        return handle.read()


def _parse(path, where: str):
    """(filename, width, height, [object tuples], [(reason, message) of each box dropped]);
    an exception for a file that cannot be read at all."""
    data = _read_xml(path, where)
    tree = _plain_tree(data)
    if tree is None:
        tree = ElementTree.fromstring(data, forbid_dtd=True)
    filename = dataset.text((tree.findtext("filename") or "").strip(), f"{where}: <filename>")
    size = tree.find("size")
    width = height = None
    if size is not None and size.findtext("width") and size.findtext("height"):
        width = dataset.side(size.findtext("width"), f"{where}: <width>")
        height = dataset.side(size.findtext("height"), f"{where}: <height>")
    objects, dropped = [], []
    for element in tree.iter("object"):
        try:
            objects.append(_object(element, where))
        except BadValue as exc:  # counted once the file as a whole is known to be readable
            dropped.append(exc)
    return filename, width, height, objects, [(exc.reason, str(exc)) for exc in dropped]


# The errors for which pathlib's Path.is_file() answers False; it raises the others.
_NOT_A_FILE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _is_file(path: str) -> bool:
    """Path(PATH).is_file(), without making a Path."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError as exc:
        if exc.errno not in _NOT_A_FILE:
            raise
        return False
    except ValueError:
        return False


def _find_image(filename: str, where: str, xml, root: Path, images: Path | None):
    """_find_image_path's answer, without pathlib for a FILENAME that pathlib would not
    normalize (no "/", not "." or ".."); WHERE is XML relative to ROOT."""
    if images is not None:
        return images, filename
    if "/" in filename or filename in (".", ".."):
        return _find_image_path(filename, Path(xml), root, images)
    folder = os.path.dirname(where)
    candidates = ["JPEGImages/" + filename, "images/" + filename,
                  f"{folder}/{filename}" if folder else filename, filename]
    for candidate in candidates:
        if _is_file(os.path.join(root, candidate)):
            return root, candidate
    model_maker = (root / "images").is_dir() and not (root / "JPEGImages").is_dir()
    return root, candidates[1 if model_maker else 0]


def _find_image_path(filename: str, xml: Path, root: Path, images: Path | None):
    """(images root, path relative to it) of the first candidate that exists, or of the first
    (images/ in Model Maker's layout, which has no JPEGImages/)."""
    if images is not None:
        return images, filename
    rel_dir = xml.parent.relative_to(root)
    candidates = [Path("JPEGImages") / filename, Path("images") / filename, rel_dir / filename,
                  Path(filename)]
    for candidate in candidates:
        # Only existence here; the converter refuses a path that escapes the root.
        if (root / candidate).is_file():
            return root, candidate.as_posix()
    model_maker = (root / "images").is_dir() and not (root / "JPEGImages").is_dir()
    return root, candidates[1 if model_maker else 0].as_posix()


def _read_one(xml, where: str, root: Path, images: Path | None) -> tuple:
    """What one annotation file gives: ("sample", images root, image, width, height, [object
    tuples], [(reason, message) of its dropped boxes]) or ("dropped", reason, message)."""
    try:
        filename, width, height, objects, dropped = _parse(xml, where)
    except defusedxml.DefusedXmlException as exc:
        return "dropped", "bad_annotation", f"{where}: refused ({type(exc).__name__})"
    except BadValue as exc:
        return "dropped", exc.reason, str(exc)
    except (ValueError, ElementTree.ParseError, OSError) as exc:
        return "dropped", "bad_annotation", f"{where}: {exc}"
    images_root, image = _find_image(filename, where, xml, root, images)
    return "sample", images_root, image, width, height, objects, dropped


def _read_chunk(files, root: Path, images: Path | None) -> list:
    return [_read_one(xml, where, root, images) for xml, where in files]


def _read_in_workers(files, root: Path, images: Path | None, workers: int):
    """_read_one of each of FILES ((path, where) pairs), in order, parsed by WORKERS forked
    processes in chunks."""
    size = math.ceil(len(files) / (workers * 8))
    chunks = [files[start:start + size] for start in range(0, len(files), size)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for outcomes in pool.map(_read_chunk, chunks, itertools.repeat(root),
                                 itertools.repeat(images)):
            yield from outcomes


def read(source, options, problems, workers: int = 1):
    """The samples of the VOC folder SOURCE, and their images root. With WORKERS > 1 and at
    least PARALLEL_FILES files, the files are parsed in that many processes (the parse is
    most of the main process's time before the shards are written); the problems are counted
    here, in the files' order, as one process counts them."""
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"{root}: a Pascal VOC dataset is a folder of XML annotations")
    # Sorted as Paths sort, by their parts; compared as tuples, not by Path.__lt__ in Python
    # (0.5 s of 30,000 files).
    xml_files = sorted(root.rglob("*.xml"), key=lambda path: path.parts)
    if not xml_files:
        raise InputError(f"{root}: no .xml annotation found")
    images_root = Path(options.images) if options.images else root
    prefix = str(root).rstrip("/") + "/"
    files = []
    for xml in xml_files:
        where = str(xml)
        files.append((where, where[len(prefix):] if where.startswith(prefix)
                      else str(xml.relative_to(root))))
    if workers > 1 and len(files) >= PARALLEL_FILES:
        outcomes = _read_in_workers(files, root, options.images, workers)
    else:  # one at a time: --strict stops at the first problem
        outcomes = (_read_one(xml, where, root, options.images) for xml, where in files)
    samples = []
    for (_, where), outcome in zip(files, outcomes):
        if outcome[0] == "dropped":
            problems.add(outcome[1], outcome[2])
            continue
        _, images_root, image, width, height, objects, dropped = outcome
        for reason, message in dropped:
            problems.add(reason, message)
        samples.append(Sample(image=image, width=width, height=height,
                              objects=[Obj(*found) for found in objects], source=where))
    return samples, images_root

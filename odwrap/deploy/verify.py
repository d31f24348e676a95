"""`verify`: a golden-mask regression check of a mask model.

A golden folder holds, per image, a folder named after the image with the image itself
(`image.png`, the pixels the model saw) and one expected mask per instance: `CLASS.png` (nonzero
pixels are the mask) or `CLASS.npy` (a [H, W] array, nonzero is the mask; read without pickles),
`CLASS.2.png` and so on for more instances of one class. CLASS is a label of the model (as
labels.txt spells it, characters other than letters, digits, '_' and '-' written as '_') or a
class id. Each expected mask passes when a predicted mask of its class (score at least the
threshold) overlaps it with IoU at least `iou`; the best IoU is taken per expected mask, so one
prediction may match several. `record` writes such a folder from a trusted model.
"""

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from odwrap.deploy import predicted_masks as mask_ops
from odwrap.deploy import sources
from odwrap.deploy.annotate import Annotator
from odwrap.deploy.model_files import model_labels
from odwrap.deploy.runtime import load_detector, load_rgb
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes

IMAGE_NAME = "image.png"
MASK_SUFFIXES = (".png", ".npy")


@dataclass
class Check:
    """One expected mask: its file (relative to the golden folder) and its best match."""

    file: str
    passed: bool
    iou: float  # the best IoU with a predicted mask of its class (passed) or of any class
    matched: str | None  # the class of that predicted mask; None when none overlaps it


@dataclass
class VerifyResult:
    checks: list = field(default_factory=list)
    iou: float = 0.5
    images: int = 0

    @property
    def failed(self) -> list:
        return [check for check in self.checks if not check.passed]


@dataclass
class RecordResult:
    folder: Path
    images: int = 0
    masks: int = 0
    empty: list = field(default_factory=list)  # images with no mask above the threshold


def file_label(name: str) -> str:
    """NAME as it may appear in a golden file's name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "_"


def _predicted(detector, image, threshold) -> list[tuple[int, mask_ops.ImageMask]]:
    found = detector.detect(image)
    if found.masks is None:
        raise InputError(f"{getattr(detector, 'path', 'the model')}: predicts no masks; "
                         "verify needs a mask model (Mask R-CNN)")
    height, width = image.shape[:2]
    return [(int(label), mask_ops.paste(found.masks[index], box, height, width))
            for index, (box, label, score) in enumerate(zip(found.boxes, found.classes,
                                                            found.scores))
            if score >= threshold]


def _png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGB image, or of a bool mask (255 inside)."""
    import io

    from PIL import Image

    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def record(model, folder, images, *, threshold, labels, runtime="auto") -> RecordResult:
    """Write the golden folder FOLDER from MODEL's masks on IMAGES; FOLDER is replaced whole
    at the end (a staging folder beside it until then)."""
    model, folder = Path(model), Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--record-golden {folder}: is a file")
    detector = load_detector(model, runtime=runtime)
    names = {index: file_label(name) for index, name in
             model_labels(detector, model, labels).items()}
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    result = RecordResult(folder=folder)
    try:
        for source in sources.iterate(images):
            image = source.read()
            stem = file_label(Path(source.filename).stem)
            place = staging / stem
            for number in range(2, 10**6):
                if not place.exists():
                    break
                place = staging / f"{stem}-{number}"
            atomic_write_bytes(place / IMAGE_NAME, _png(image))
            seen: dict[str, int] = {}
            for label, pasted in _predicted(detector, image, threshold):
                if not pasted.mask.any():  # nothing to match: an empty mask is no golden mask
                    continue
                name = names.get(label, str(label))
                seen[name] = seen.get(name, 0) + 1
                suffix = "" if seen[name] == 1 else f".{seen[name]}"
                atomic_write_bytes(place / f"{name}{suffix}.png", _png(pasted.mask))
                result.masks += 1
            if not seen:
                result.empty.append(source.filename)
            result.images += 1
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _read_mask(path: Path, shape) -> np.ndarray:
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the mask ({exc})") from None
    else:
        from PIL import Image

        try:
            with Image.open(path) as picture:
                array = np.asarray(picture.convert("L"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(f"{path}: cannot read the mask ({exc})") from None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.shape != tuple(shape):
        raise InputError(f"{path}: a {'x'.join(map(str, array.shape))} mask for a "
                         f"{shape[0]}x{shape[1]} image (masks are [height, width])")
    return array != 0


def _class_of(path: Path, ids: dict[str, int]) -> int:
    token = path.name.split(".")[0]
    if token in ids:
        return ids[token]
    if token.isdigit():
        return int(token)
    raise InputError(f"{path}: class '{token}' is none of the model's "
                     f"({', '.join(sorted(ids)) or 'no labels.txt'}); name the file CLASS.png "
                     "or CLASS.N.png")


def _golden_images(folder: Path):
    if not folder.is_dir():
        raise InputError(f"--golden {folder}: no such folder")
    found = False
    for place in sorted(folder.iterdir()):
        if not place.is_dir() or place.is_symlink():
            continue
        files = sorted(p for p in place.iterdir() if p.suffix in MASK_SUFFIXES
                       and p.name != IMAGE_NAME and p.is_file() and not p.is_symlink())
        if not (place / IMAGE_NAME).is_file():
            raise InputError(f"{place}: no {IMAGE_NAME} (a golden image folder holds the image "
                             "and its masks)")
        found = True
        yield place, files
    if not found:
        raise InputError(f"--golden {folder}: no image folders (record one with "
                         "--record-golden)")


def verify(model, folder, *, iou, threshold, out_qual, labels, runtime="auto") -> VerifyResult:
    """Every expected mask under FOLDER against MODEL's masks; OUT_QUAL: where to write
    expected_*.png and actual_*.png, the masks over the image, to look at side by side."""
    if not 0.0 < iou <= 1.0:
        raise InputError(f"--iou {iou}: must be in (0, 1]")
    model, folder = Path(model), Path(folder)
    golden = list(_golden_images(folder))  # bad golden folders fail before the model loads
    detector = load_detector(model, runtime=runtime)
    names = model_labels(detector, model, labels)
    ids = {file_label(name): index for index, name in names.items()}
    result = VerifyResult(iou=iou)
    for place, files in golden:
        image = load_rgb(place / IMAGE_NAME)
        predicted = _predicted(detector, image, threshold)
        result.images += 1
        for path in files:
            category = _class_of(path, ids)
            expected = _read_mask(path, image.shape[:2])
            scored = [(mask_ops.iou(expected, pasted.mask), label, pasted)
                      for label, pasted in predicted]
            own = max((entry for entry in scored if entry[1] == category),
                      default=None, key=lambda entry: entry[0])
            best = max(scored, default=None, key=lambda entry: entry[0])
            passed = own is not None and own[0] >= iou
            shown = own if passed else best
            result.checks.append(Check(
                file=str(path.relative_to(folder)), passed=passed,
                iou=shown[0] if shown else 0.0,
                matched=names.get(shown[1], str(shown[1])) if shown and shown[0] > 0 else None))
            if out_qual is not None:
                _write_qual(Path(out_qual), place.name, path, image, expected, category,
                            shown[2].mask if shown else None, shown[1] if shown else category)
    return result


def _write_qual(out: Path, stem: str, path: Path, image, expected, category, actual,
                actual_category) -> None:
    name = f"{stem}_{path.stem.replace('.', '_')}.png"
    drawn = Annotator(image)
    drawn.add_mask(expected, category)
    atomic_write_bytes(out / f"expected_{name}", drawn.png([], {}))
    drawn = Annotator(image)
    if actual is not None:
        drawn.add_mask(actual, actual_category)
    atomic_write_bytes(out / f"actual_{name}", drawn.png([], {}))

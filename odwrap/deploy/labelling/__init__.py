"""Predictions as a labelling tool's files (model-assisted labelling): `predict --format`
writes OUTPUT/FORMAT/, which the user imports into the tool to correct instead of drawing every
box, and which `odwrap convert FORMAT` reads back.

The files are made when the run finishes, from its image log and detection lines (as
detections.json is), into a temporary folder that then takes the name OUTPUT/FORMAT: a run
that is killed leaves no half-written folder, and a resumed run writes the same folder as an
uninterrupted one. A fresh run refuses an OUTPUT/FORMAT that is already there, since the user
may have corrected it in the tool since (LabelMe saves into it); a resumed run replaces the
one its own finish made before it was killed.

The table of formats imports no writer: the CLI offers them without loading numpy.
"""

import importlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import remove_leftovers, remove_path

# name: module. yolo: data.yaml, classes.txt, images/, labels/; labelme: a JSON per image;
# cvat: annotations.xml (CVAT for images 1.1); coco: annotations.json.
FORMATS = {"yolo": "yolo", "labelme": "labelme", "cvat": "cvat", "coco": "coco"}


@dataclass
class Written:
    """What `predict --format` wrote: the folder, and lines for the user (where image names
    are relative to, how images were placed)."""

    format: str
    folder: Path
    notes: list = field(default_factory=list)


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise InputError(f"--format {format}: not a labelling tool's format; one of: "
                         f"{', '.join(FORMATS)}")


def refuse_existing(output, format: str) -> None:
    """A fresh run's check, before the model loads: OUTPUT/FORMAT must not be there yet."""
    folder = Path(output) / format
    if folder.exists() or folder.is_symlink():
        raise InputError(f"{folder}: already there (an earlier run's, perhaps corrected in the "
                         "tool since); move or remove it, or give another --output")


def write(format: str, output, log, lines, names: dict, arguments, layout=None) -> Written:
    """OUTPUT/FORMAT from the run's image LOG and detection LINES (predict's part files), the
    classes NAMES ({id: name}), the IMAGES ARGUMENTS predict was given and a keypoint model's
    LAYOUT ({class id: keypoint_layout.ClassPoints})."""
    from odwrap.deploy.labelling.run import Run

    check_format(format)
    output = Path(output)
    folder = output / format
    remove_leftovers(folder)  # a killed finish's temporary folder
    temporary = Path(tempfile.mkdtemp(prefix=f".{format}.{os.getpid()}.", suffix=".tmp",
                                      dir=output))
    try:
        os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes 0700; give what mkdir would
        run = Run(log=Path(log), lines=Path(lines), names=names, arguments=list(arguments),
                  folder=folder, keypoints=layout or {})
        module = importlib.import_module(f"odwrap.deploy.labelling.{FORMATS[format]}")
        notes = module.write(temporary, run)
        remove_path(folder)  # a link is removed, never followed; see refuse_existing
        os.replace(temporary, folder)
    except BaseException:
        remove_path(temporary)
        raise
    return Written(format=format, folder=folder, notes=notes)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

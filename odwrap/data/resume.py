"""What a rerun of `convert` may keep or remove in its output folder.

The manifest (.odwrap-convert.json) names the plan and the shards of the last run; each shard
has a sidecar (.NAME.json) with its counts. Both are data, never instructions: only names that
odwrap itself writes, directly inside the output folder, are ever removed, and a manifest that
lists anything else refuses the resume. A shard is kept only when every record's framing (its
length and masked CRC32C) is whole and the records are as many as its sidecar says.
"""

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from odwrap.data.dataset import REASONS
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi.tfexample import read_records

MANIFEST = ".odwrap-convert.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# What convert names a shard: SPLIT-INDEX-of-TOTAL.tfrecord (splits.SPLIT_NAME, or "data").
SHARD_NAME = re.compile(r"[a-z][a-z0-9_]*-[0-9]{5,}-of-[0-9]{5,}\.tfrecord")


@dataclass(frozen=True)
class Manifest:
    plan: str
    shards: tuple[str, ...]


def shard_name(split: str, index: int, total: int) -> str:
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"


def sidecar(shard: Path) -> Path:
    """Where a shard's counts live, so that a resumed run reports what the first run saw."""
    return shard.with_name(f".{shard.name}.json")


def _refuse(path: Path, what: str) -> InputError:
    return InputError(f"{path}: {what}; refusing to resume (nothing removed): remove the "
                      "manifest, or convert into another folder")


def read_manifest(output: Path) -> Manifest | None:
    """The manifest in OUTPUT, None without one; InputError naming the manifest (and the
    entry) when it is not one odwrap would have written."""
    path = output / MANIFEST
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(mode):
        raise _refuse(path, "not a regular file")
    if os.path.getsize(path) > MAX_MANIFEST_BYTES:
        raise _refuse(path, f"over the limit of {MAX_MANIFEST_BYTES} bytes for a manifest")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise _refuse(path, "not a manifest odwrap wrote (unreadable JSON)") from None
    return parse_manifest(text, path, output)


def parse_manifest(text: str, path, output: Path | None = None) -> Manifest:
    """The manifest in TEXT (read from PATH); with OUTPUT, a local folder, each entry that
    exists there must be a file."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise _refuse(path, "not a manifest odwrap wrote (unreadable JSON)") from None
    if not (isinstance(data, dict) and isinstance(data.get("plan"), str)
            and isinstance(data.get("shards"), list)):
        raise _refuse(path, "not a manifest odwrap wrote (needs 'plan' and 'shards')")
    for entry in data["shards"]:
        if not isinstance(entry, str) or not SHARD_NAME.fullmatch(entry):
            raise _refuse(path, f"entry {entry!r} is not the name of a shard odwrap writes")
        if output is None:
            continue
        try:
            kind = os.lstat(output / entry).st_mode
        except FileNotFoundError:
            continue
        if not (stat.S_ISREG(kind) or stat.S_ISLNK(kind)):
            raise _refuse(path, f"entry {entry!r} is not a file")
    return Manifest(data["plan"], tuple(data["shards"]))


def manifest_text(plan: str, shards) -> str:
    return json.dumps({"plan": plan, "shards": list(shards)}, indent=1)


def write_manifest(output: Path, plan: str, shards) -> None:
    atomic_write_text(output / MANIFEST, manifest_text(plan, shards))


def remove_shards(output: Path, names) -> None:
    """Remove the shards NAMES (checked by read_manifest) and their sidecars from OUTPUT."""
    for name in names:
        for path in (output / name, sidecar(output / name)):
            if path.is_symlink() or path.is_file():
                path.unlink()


def read_sidecar(shard: Path) -> dict | None:
    """A shard's counts {images, boxes, counts, examples}, or None when missing or not odwrap's."""
    try:
        saved = json.loads(sidecar(shard).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(saved, dict):
        return None
    numbers = [saved.get("images"), saved.get("boxes")]
    counts, examples = saved.get("counts"), saved.get("examples")
    if not (all(type(n) is int and n >= 0 for n in numbers)
            and isinstance(counts, dict) and isinstance(examples, dict)
            and all(k in REASONS and type(v) is int and v >= 0 for k, v in counts.items())
            and all(k in REASONS and isinstance(v, str) for k, v in examples.items())):
        return None
    return saved


def intact(shard: Path) -> dict | None:
    """The sidecar of SHARD when the shard is a regular file of whole records, as many as the
    sidecar says; None when it must be written again."""
    saved = read_sidecar(shard)
    if saved is None or shard.is_symlink() or not shard.is_file():
        return None
    try:
        count = sum(1 for _ in read_records(shard))
    except (InputError, OSError):
        return None
    return saved if count == saved["images"] else None

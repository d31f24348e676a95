"""`model.pretrained`: the TF2 Detection Zoo model a spec starts from, and where its checkpoint
will be in the zoo cache. Nothing is downloaded here: `odwrap train` (or `odwrap zoo pull`)
fetches it; generate and check stay offline."""

from odwrap.errors import InputError, shown
from odwrap.zoo import ZooModel, checkpoint_architecture, find, for_architecture
from odwrap.zoo.catalog import CHECKPOINT

COCO = "coco"  # the zoo model of the spec's architecture and input size (all are COCO-trained)


def _size_text(size) -> str:
    return str(size) if isinstance(size, int) else f"{size[0]}x{size[1]}"


def _of(architecture: str, source: str) -> str:
    """ARCHITECTURE, and the architecture SOURCE whose zoo models it takes when they differ."""
    return architecture if source == architecture else \
        f"{source} (which {architecture} starts from)"


def zoo_model(value: str, architecture: str, size, keypoints: bool = False) -> ZooModel:
    """The zoo model that `model.pretrained: VALUE` names for ARCHITECTURE at SIZE (or of the
    architecture it starts from, odwrap.zoo.STARTS_FROM), for `coco` a keypoint model's first
    when the spec has KEYPOINTS (its backbone learned COCO's person keypoints); InputError
    (without the file's name) when there is none or it is another architecture's."""
    source = checkpoint_architecture(architecture)
    if value == COCO:
        found = for_architecture(source, size)
        if keypoints:  # stable: boxes-only and current first among the rest
            found.sort(key=lambda model: "keypoints" not in model.outputs)
        if found:
            return found[0]
        sizes = sorted({model.size_text for model in for_architecture_any(source)})
        where = (f"its zoo models are at {', '.join(sizes)} (set model.image_size to one)"
                 if sizes else "the zoo has no model of this architecture")
        raise InputError(f"model.pretrained: coco: no zoo model of {_of(architecture, source)} "
                         f"at {_size_text(size)}; {where}")
    model = find(value)
    if model.architecture != source:
        raise InputError(f"model.pretrained: zoo model '{shown(value)}' is of architecture "
                         f"{model.architecture}, not {_of(architecture, source)}")
    return model


def other_checkpoint_note(architecture: str, kind: str) -> str | None:
    """None for an architecture with zoo models of its own; else generate's note: whose
    checkpoint it starts from and, with fine_tune_checkpoint_type KIND detection, what restores
    and what trains anew."""
    source = checkpoint_architecture(architecture)
    if source == architecture:
        return None
    text = (f"model.pretrained: {architecture} has no zoo model of its own and starts from a "
            f"{source} checkpoint")
    if kind != "detection":
        return text
    return (f"{text}: type detection restores its feature extractor; the RPN and box heads "
            "train anew, as from any detection checkpoint, and so does the mask head, which the "
            "checkpoint lacks")


def for_architecture_any(architecture: str) -> list[ZooModel]:
    from odwrap.zoo import MODELS

    return [model for model in MODELS if model.architecture == architecture]


def checkpoint_prefix(model: ZooModel) -> str:
    """Where MODEL's checkpoint is (or will be) in the zoo cache: .../checkpoint/ckpt-0."""
    from odwrap.zoo.cache import entry

    return str(entry(model).folder / CHECKPOINT)


def zoo_model_of_checkpoint(checkpoint: str) -> ZooModel | None:
    """The zoo model whose cached checkpoint CHECKPOINT is (downloaded or not), else None."""
    from pathlib import Path

    path = Path(checkpoint)
    if path.parent.name != "checkpoint" or path.name != "ckpt-0":
        return None
    folder = path.parent.parent
    try:
        model = find(folder.name)
    except InputError:
        return None
    return model if checkpoint == checkpoint_prefix(model) else None


def spec_errors(spec, arch) -> list[tuple[tuple, str]]:
    """(field path, message) when model.pretrained names no zoo model of the architecture and
    size, or clashes with an explicit fine_tune_checkpoint."""
    if spec.train.fine_tune_checkpoint is not None:
        return [(("model", "pretrained"), "give either model.pretrained or "
                 "train.fine_tune_checkpoint, not both")]
    size = spec.model.image_size if spec.model.image_size is not None else arch.image_size
    try:
        model = zoo_model(spec.model.pretrained, arch.name, size, bool(spec.model.keypoints))
    except InputError as exc:
        return [(("model", "pretrained"), str(exc).removeprefix("model.pretrained: "))]
    if model.architecture != arch.name and spec.train.fine_tune_checkpoint_type == "full":
        # load_fine_tune_checkpoint asserts that every part of the model is in the checkpoint.
        return [(("train", "fine_tune_checkpoint_type"), f"full needs every part of {arch.name} "
                 f"in the checkpoint, and {model.name} is a {model.architecture}; use detection")]
    return []


def pull_if_missing(config) -> None:
    """Download the zoo model whose cached checkpoint CONFIG fine-tunes from (what
    model.pretrained writes) when the zoo cache does not hold it yet."""
    from pathlib import Path

    from odwrap import report

    checkpoint = config.train_config.fine_tune_checkpoint
    model = zoo_model_of_checkpoint(checkpoint) if checkpoint else None
    if model is not None and not Path(checkpoint + ".index").is_file():
        from odwrap.zoo.pull import pull

        report.message(f"fine-tune checkpoint: zoo model {model.name} is not cached; pulling it")
        pull(model)

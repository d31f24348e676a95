"""`plot`: losses, learning rate and eval mAP over steps, from the event files."""

import io
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes
from odwrap.training.modeldir import ModelDir

MAP_KEYS = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
            "PascalBoxes_Precision/mAP@0.5IOU")


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of every event file under `folder` (TF2 summaries are tensors)."""
    from odwrap.odapi import compat

    compat.apply(tensorflow=False)  # tensorboard imports TensorFlow when it is installed
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    series: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        accumulator = event_accumulator.EventAccumulator(
            str(events), size_guidance={event_accumulator.TENSORS: 0,
                                        event_accumulator.SCALARS: 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        for tag in tags.get("tensors", []):
            for event in accumulator.Tensors(tag):
                value = tensor_util.make_ndarray(event.tensor_proto)
                if value.size == 1:
                    series.setdefault(tag, []).append((event.step, float(value)))
        for tag in tags.get("scalars", []):
            for event in accumulator.Scalars(tag):
                series.setdefault(tag, []).append((event.step, float(event.value)))
    return {tag: sorted(dict(points).items()) for tag, points in series.items()}


def plot(model_dir, output=None) -> Path:
    folder = ModelDir(model_dir)
    train = read_scalars(folder.train_events)
    evaluation = read_scalars(folder.eval_events)
    if not train and not evaluation:
        raise InputError(f"{folder.path}: no TensorBoard event files in train/ or eval/ (train "
                         "with odwrap train first)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses = sorted(tag for tag in train if tag.startswith("Loss/"))
    figure, (loss_axis, lr_axis, map_axis) = plt.subplots(1, 3, figsize=(15, 4))
    for tag in losses:
        steps, values = zip(*train[tag])
        loss_axis.plot(steps, values, label=tag.removeprefix("Loss/"))
    loss_axis.set(title="training losses", xlabel="step", yscale="log")
    if losses:
        loss_axis.legend(fontsize=8)
    if "learning_rate" in train:
        steps, values = zip(*train["learning_rate"])
        lr_axis.plot(steps, values, color="#aa3377")
    lr_axis.set(title="learning rate", xlabel="step")
    for tag in MAP_KEYS:
        if tag in evaluation:
            steps, values = zip(*evaluation[tag])
            map_axis.plot(steps, values, marker="o", label=tag.split("/")[-1])
    map_axis.set(title="eval mAP", xlabel="step", ylim=(0, 1))
    if any(tag in evaluation for tag in MAP_KEYS):
        map_axis.legend(fontsize=8)
    else:
        map_axis.text(0.5, 0.5, "no evaluation yet\n(odwrap eval)", ha="center", va="center",
                      transform=map_axis.transAxes)
    figure.suptitle(str(folder.path))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return atomic_write_bytes(Path(output) if output else folder.plot_path,
                              buffer.getvalue())

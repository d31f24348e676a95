"""One evaluation's insight: the per-class analysis, the confusion matrix at the F1-best
threshold, the worst images and the plots, from the ground truth and detections the COCO
evaluation used; what `eval` adds to metrics.json and prints as a table, worst class first."""

from dataclasses import dataclass
from pathlib import Path

from odwrap.evaluation.analysis import Analysis, analyze
from odwrap.evaluation.confusion import Confusion, confusion
from odwrap.evaluation.page import write_page
from odwrap.evaluation.plots import write_all
from odwrap.evaluation.worst import WORST_PNG, draw_worst

DEFAULT_THRESHOLD = 0.5  # the confusion matrix's when nothing was detected
WORST_IMAGES = 16
REPORT = "report.html"
SHOWN_CLASSES = 10  # per-class lines of a comparison (the JSON has every class)
MASK_KEYS = ("ground_truth", "detections", "AP", "AP@.50", "AP@.75", "AR@100")


@dataclass(frozen=True)
class Insight:
    analysis: Analysis
    confusion: Confusion
    folder: Path  # the plots and the report
    plots: list[Path]
    report: Path  # the self-contained HTML page
    masks: Analysis | None = None  # per class by mask overlap, for a mask model

    def as_json(self) -> dict:
        """What metrics.json holds of it: per class, the threshold, the confusion matrix and
        the ids of the worst images."""
        return {**self.analysis.as_json(), "confusion_matrix": self.confusion.as_json(),
                "worst_images": [{"image_id": _json_id(image), **self.confusion.per_image[image]}
                                 for image in self.confusion.worst_images(WORST_IMAGES)],
                "plots": [str(path) for path in self.plots], "report": str(self.report),
                **({"per_class_masks": {name: {key: values[key] for key in MASK_KEYS}
                                        for name, values in
                                        self.masks.as_json()["per_class"].items()}}
                   if self.masks else {})}

    def table(self) -> list[str]:
        """The per-class lines, worst AP first, and the threshold line."""
        width = max([len(c.name) for c in self.analysis.classes] + [5])
        header = " ".join(f"{name:>6}" for name in ("AP", "AP@.50", "AP@.75", "AR@100",
                                                     "boxes", "found"))
        lines = ["per class, worst first:",
                 f"  {'class':<{width}}  {header}  best F1 (threshold)"]
        for item in self.analysis.classes:
            metrics = " ".join(f"{value:6.3f}" if value >= 0 else f"{'-':>6}"
                               for value in (item.ap, item.ap50, item.ap75, item.ar100))
            best = (f"{item.best.f1:.3f} ({item.best.threshold:.2f})"
                    if item.best.threshold is not None else "-")
            lines.append(f"  {item.name:<{width}}  {metrics} {item.ground_truth:>6} "
                         f"{item.detections:>6}  {best}")
        if self.masks is not None:
            lines.append("per class by mask overlap (AP, AP@.50, AP@.75, AR@100), worst first:")
            for item in self.masks.classes:
                lines.append(f"  {item.name:<{width}}  " + " ".join(
                    f"{value:6.3f}" if value >= 0 else f"{'-':>6}"
                    for value in (item.ap, item.ap50, item.ap75, item.ar100)))
        best = self.analysis.best
        if best.threshold is None:
            lines.append("threshold: nothing detected")
        else:
            lines.append(f"threshold: F1 {best.f1:.3f} at score >= {best.threshold:.2f} "
                         f"(precision {best.precision:.3f}, recall {best.recall:.3f}, "
                         "all classes, IoU 0.5)")
        return lines


def _json_id(image):
    """An image id as JSON holds it (the OD API keys eval images by a numpy hash of their
    source_id)."""
    if isinstance(image, bytes):
        return image.decode("utf-8", "replace")
    return image.item() if hasattr(image, "item") else image


def insight(groundtruth: dict, detections: list[dict], folder: Path, metrics: dict,
            title: str, pictures=None, masks: tuple | None = None) -> Insight:
    """The Insight of DETECTIONS against GROUNDTRUTH (COCO dicts), its plots and its report
    (METRICS, the COCO metrics, under TITLE) in FOLDER. PICTURES: (image ids) -> the
    (id, caption, RGB pixels) of those it finds, for the grid of the worst images. MASKS: the
    (ground truth, detections) of a mask evaluation, for the classes' mask metrics."""
    folder = Path(folder)
    analysis = analyze(groundtruth, detections)
    threshold = analysis.best.threshold
    matrix = confusion(groundtruth, detections,
                       DEFAULT_THRESHOLD if threshold is None else threshold)
    plots = write_all(analysis, matrix, folder)
    worst = matrix.worst_images(WORST_IMAGES)
    (folder / WORST_PNG).unlink(missing_ok=True)  # an older evaluation's
    if pictures is not None and worst:
        found = {item[0]: item for item in pictures(worst)}
        drawn = draw_worst([found[image] for image in worst if image in found], groundtruth,
                           detections, matrix.threshold, folder / WORST_PNG)
        plots += [drawn] if drawn else []
    seen = Insight(analysis=analysis, confusion=matrix, folder=folder, plots=plots,
                   report=folder / REPORT,
                   masks=analyze(*masks, iou_type="segm") if masks else None)
    write_page(seen, metrics, title, seen.report)
    return seen


def against(base: dict, seen: Insight | None) -> dict:
    """{class: {"fp32": AP, "quantized": AP, "difference": AP change}} of SEEN's classes against
    BASE ({class: the fp32 model's AP}), for the classes with ground truth in both."""
    if seen is None:
        return {}
    after = {c.name: c.ap for c in seen.analysis.classes if c.ap >= 0}
    return {name: {"fp32": base[name], "quantized": after[name],
                   "difference": after[name] - base[name]}
            for name in after if isinstance(base.get(name), (int, float)) and base[name] >= 0}


def against_lines(label: str, per_class: dict) -> list[str]:
    """The classes that LABEL (a quantization) hurts most first, AP against fp32."""
    ranked = sorted(per_class.items(), key=lambda item: (item[1]["difference"], item[0]))
    lines = [f"    {name}: AP {values['fp32']:.4f} -> {values['quantized']:.4f} "
             f"({values['difference']:+.4f})" for name, values in ranked[:SHOWN_CLASSES]]
    more = len(ranked) - SHOWN_CLASSES
    return ([f"  {label} per class, most hurt first:", *lines] +
            ([f"    ... and {more} more"] if more > 0 else [])) if ranked else []

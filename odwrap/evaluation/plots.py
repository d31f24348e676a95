"""The evaluation's pictures, as PNG files in one folder: precision-recall per class at IoU
0.5, F1 against the score threshold (each class and all), and the confusion matrix (counts and
row-normalized). Each is written to a temporary name and renamed."""

import io
from pathlib import Path

from odwrap.evaluation.analysis import Analysis
from odwrap.evaluation.confusion import Confusion
from odwrap.fsutil import atomic_write_bytes

PR_CURVES = "pr_curves.png"
F1_CURVES = "f1_curves.png"
CONFUSION = "confusion_matrix.png"
MOST_CLASSES = 20  # curves of more classes than this: the 20 worst (the table has them all)
PNG_LEVEL = 1  # zlib's fastest


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path: Path, fitted: bool = True) -> Path:
    """FIGURE as a PNG at PATH; FITTED: its margins fitted to the labels (tight_layout, which
    draws it once more), else as set. The fastest zlib level: most of the cost otherwise, for
    files about a third larger."""
    buffer = io.BytesIO()
    if fitted:
        figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100, pil_kwargs={"compress_level": PNG_LEVEL})
    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())


def _curve_figure(plt):
    """A figure for curves, with fixed margins (its labels are fixed too)."""
    figure, axis = plt.subplots(figsize=(7, 5))
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.1, top=0.94)
    return figure, axis


def _shown(analysis: Analysis):
    return [c for c in analysis.classes if c.ground_truth][:MOST_CLASSES]


def pr_curves(analysis: Analysis, path: Path) -> Path:
    plt = _pyplot()
    figure, axis = _curve_figure(plt)
    for item in _shown(analysis):
        axis.plot(item.pr_curve.x, item.pr_curve.y, label=f"{item.name} (AP@.50 {item.ap50:.3f})")
    axis.set(title="precision-recall at IoU 0.5", xlabel="recall", ylabel="precision",
             xlim=(0, 1), ylim=(0, 1.02))
    axis.legend(fontsize=7, loc="lower left")
    return _save(plt, figure, path, fitted=False)


def f1_curves(analysis: Analysis, path: Path) -> Path:
    plt = _pyplot()
    figure, axis = _curve_figure(plt)
    for item in _shown(analysis):
        axis.plot(item.f1_curve.x, item.f1_curve.y, linewidth=0.8, alpha=0.7, label=item.name)
    best = analysis.best
    label = "all classes" + (f" (best {best.f1:.3f} at {best.threshold:.2f})"
                             if best.threshold is not None else "")
    axis.plot(analysis.f1_curve.x, analysis.f1_curve.y, color="black", linewidth=2.5, label=label)
    if best.threshold is not None:
        axis.axvline(best.threshold, color="black", linestyle=":")
    axis.set(title="F1 against the score threshold (IoU 0.5)", xlabel="score threshold",
             ylabel="F1", xlim=(0, 1), ylim=(0, 1.02))
    axis.legend(fontsize=7)
    return _save(plt, figure, path, fitted=False)


def confusion_matrix(matrix: Confusion, path: Path) -> Path:
    plt = _pyplot()
    size = len(matrix.names)
    side = min(4 + 0.45 * size, 24)
    figure, axes = plt.subplots(1, 2, figsize=(2 * side, side))
    for axis, values, title, form in ((axes[0], matrix.counts, "boxes", "d"),
                                      (axes[1], matrix.normalized(), "share of each true class",
                                       ".2f")):
        axis.imshow(values, cmap="Blues")
        axis.set(title=title, xlabel="predicted", ylabel="true", xticks=range(size),
                 yticks=range(size))
        axis.set_xticklabels(matrix.names, rotation=90, fontsize=7)
        axis.set_yticklabels(matrix.names, fontsize=7)
        if size <= 30:
            top = max(max(row) for row in values) or 1
            for i, row in enumerate(values):
                for j, value in enumerate(row):
                    if value:
                        axis.text(j, i, format(value, form), ha="center", va="center",
                                  fontsize=7, color="white" if value > top / 2 else "black")
    figure.suptitle(f"confusion matrix at IoU 0.5, score >= {matrix.threshold:.2f}")
    return _save(plt, figure, path)


def write_all(analysis: Analysis, matrix: Confusion, folder: Path) -> list[Path]:
    """The three PNGs in FOLDER (made when missing; a link there replaced by a folder)."""
    folder = Path(folder)
    if folder.is_symlink():  # never written through: a link there is not ours
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return [pr_curves(analysis, folder / PR_CURVES), f1_curves(analysis, folder / F1_CURVES),
            confusion_matrix(matrix, folder / CONFUSION)]

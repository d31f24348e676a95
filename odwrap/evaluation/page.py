"""The evaluation as one self-contained HTML page: the COCO metrics, the per-class table worst
first, the threshold, the confusion matrix and the plots inside the file (data: URIs), so that
it opens from anywhere with no server and no network. Every text from the data (class names,
paths) is escaped."""

import base64
import html
from pathlib import Path

from odwrap.fsutil import atomic_write_text

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1300px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right}th{background:#eee}img{max-width:100%;display:block;margin:1em 0}"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f'<td class="n">{"-" if value < 0 else f"{value:.3f}"}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


def write_page(insight, metrics: dict, title: str, path: Path) -> Path:
    """INSIGHT (an evaluation.insight.Insight) and METRICS (the COCO metrics) as PATH."""
    analysis, matrix = insight.analysis, insight.confusion
    best = analysis.best
    threshold = ("nothing detected" if best.threshold is None else
                 f"F1 {best.f1:.3f} at score &ge; {best.threshold:.2f} (precision "
                 f"{best.precision:.3f}, recall {best.recall:.3f}; all classes, IoU 0.5)")
    classes = [[c.name, c.ap, c.ap50, c.ap75, c.ar100, c.ground_truth, c.detections,
                c.best.f1 if c.best.threshold is not None else -1.0,
                c.best.threshold if c.best.threshold is not None else -1.0]
               for c in analysis.classes]
    worst = [[str(image), *insight.confusion.per_image[image].values()]
             for image in matrix.worst_images(16)]
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>COCO metrics</h2>", _table(["metric", "value"], sorted(metrics.items())),
        f"<h2>Per class, worst first</h2><p>Best threshold: {threshold}</p>",
        _table(["class", "AP", "AP@.50", "AP@.75", "AR@100", "boxes", "detections", "best F1",
                "at score"], classes),
        *(["<h2>Per class by mask overlap</h2>",
           _table(["class", "AP", "AP@.50", "AP@.75", "AR@100", "masks", "detections"],
                  [[c.name, c.ap, c.ap50, c.ap75, c.ar100, c.ground_truth, c.detections]
                   for c in insight.masks.classes])] if insight.masks else []),
        f"<h2>Confusion matrix</h2><p>Rows: the true class; columns: the predicted one; "
        f"background: missed (last column) and false (last row) boxes; IoU 0.5, score &ge; "
        f"{matrix.threshold:.2f}.</p>",
        _table(["true \\ predicted", *matrix.names],
               [[name, *row] for name, row in zip(matrix.names, matrix.counts)]),
        "<h2>Images with the most errors</h2>",
        _table(["image", "missed", "false", "confused"], worst) if worst else
        "<p>None: every box found, nothing false.</p>",
        "<h2>Plots</h2>", *(_image(plot) for plot in insight.plots),
        "</body></html>"]
    return atomic_write_text(path, "\n".join(parts))

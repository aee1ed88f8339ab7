"""`wandb.plot`: W&B's preset charts, each a Table plus a Vega spec id (charts.py stores them).

Invariant: the tables have W&B's columns and rows for the same input (same rounding, same
spec ids), so a chart logged here reads like one logged by W&B.
"""
from __future__ import annotations

from typing import Any, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.media.charts import CustomChart, plot_table
from wandb_cli.media.table import Table

__all__ = ["line", "scatter", "bar", "histogram", "line_series", "confusion_matrix",
           "pr_curve", "roc_curve", "plot_table", "CustomChart"]


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> CustomChart:
    return plot_table("wandb/line/v0", table, {"x": x, "y": y, "stroke": stroke},
                      {"title": title}, split_table)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    return plot_table("wandb/scatter/v0", table, {"x": x, "y": y}, {"title": title}, split_table)


def bar(table: Table, label: str, value: str, title: str = "",
        split_table: bool = False) -> CustomChart:
    return plot_table("wandb/bar/v0", table, {"label": label, "value": value},
                      {"title": title}, split_table)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    return plot_table("wandb/histogram/v0", table, {"value": value}, {"title": title}, split_table)


def line_series(xs: Any, ys: Any, keys: Sequence[str] | None = None, title: str = "",
                xname: str = "x", split_table: bool = False) -> CustomChart:
    """Several lines in one chart: `xs` one x sequence for all, or one per line."""
    ys = [list(y) for y in ys]
    xs = list(xs)
    if not xs or not _is_sequence(xs[0]):
        xs = [xs] * len(ys)
    if len(xs) != len(ys):
        raise UsageError(f"Number of x-series ({len(xs)}) must match y-series ({len(ys)}).")
    keys = list(keys) if keys is not None else [f"line_{i}" for i in range(len(ys))]
    if len(keys) != len(ys):
        raise UsageError(f"Number of keys ({len(keys)}) must match y-series ({len(ys)}).")
    data = [[x, keys[i], y] for i, (xx, yy) in enumerate(zip(xs, ys)) for x, y in zip(xx, yy)]
    table = Table(data=data, columns=["step", "lineKey", "lineVal"])
    return plot_table("wandb/lineseries/v0", table,
                      {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
                      {"title": title, "xname": xname}, split_table)


def _is_sequence(value: Any) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes))


def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None,
                     class_names: Sequence[str] | None = None,
                     title: str = "Confusion Matrix Curve", split_table: bool = False) -> CustomChart:
    """Counts of (actual, predicted) pairs; `probs` (N, classes) or `preds` (N,)."""
    import numpy as np

    if probs is not None and preds is not None:
        raise UsageError("Only one of `probs` or `preds` should be provided, not both.")
    if probs is not None:
        preds = np.argmax(probs, axis=1).tolist()
    preds, y_true = _plain_list(preds), _plain_list(y_true)
    if len(preds) != len(y_true):
        raise UsageError("The number of predictions and true labels must be equal.")
    if class_names is not None:
        class_idx: Any = list(range(len(class_names)))
        for what, values in (("predicted classes", preds), ("true labels", y_true)):
            if len(set(values)) > len(class_names):
                raise UsageError(f"The number of unique {what} exceeds the number of class names.")
    else:
        class_idx = set(preds).union(set(y_true))
        class_names = [f"Class_{i + 1}" for i in range(len(class_idx))]
    n = len(class_names)
    index = {value: i for i, value in enumerate(sorted(class_idx))}
    counts = np.zeros((n, n))
    for actual, predicted in zip(y_true, preds):
        counts[index[actual], index[predicted]] += 1
    data = [[class_names[i], class_names[j], counts[i, j]] for i in range(n) for j in range(n)]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=data)
    return plot_table("wandb/confusion_matrix/v1", table,
                      {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
                      {"title": title}, split_table)


def _plain_list(values: Any) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def pr_curve(y_true: Any = None, y_probas: Any = None, labels: list | None = None,
             classes_to_plot: list | None = None, interp_size: int = 21,
             title: str = "Precision-Recall Curve", split_table: bool = False) -> CustomChart:
    """Per class, precision interpolated at `interp_size` recall points (needs scikit-learn)."""
    import numpy as np

    metrics = _sklearn_metrics("pr_curve")
    y_true, y_probas = np.asarray(y_true), np.asarray(y_probas)
    recall_grid = np.linspace(0, 1, interp_size)[::-1]
    rows = []
    for i, label in _classes(y_true, labels, classes_to_plot):
        precision, recall, _ = metrics.precision_recall_curve(
            y_true, y_probas[:, i], pos_label=np.unique(y_true)[i])
        precision = np.maximum.accumulate(precision)[::-1]
        at = np.searchsorted(recall[::-1], recall_grid, side="left")
        rows += [[label, round(float(p), 3), round(float(r), 3)]
                 for p, r in zip(precision[at], recall_grid)]
    table = Table(columns=["class", "precision", "recall"], data=rows)
    return plot_table("wandb/area-under-curve/v0", table,
                      {"x": "recall", "y": "precision", "class": "class"},
                      {"title": title, "x-axis-title": "Recall", "y-axis-title": "Precision"},
                      split_table)


def roc_curve(y_true: Any = None, y_probas: Any = None, labels: list | None = None,
              classes_to_plot: list | None = None, title: str = "ROC Curve",
              split_table: bool = False) -> CustomChart:
    """Per class, the ROC curve's (fpr, tpr) points (needs scikit-learn)."""
    import numpy as np

    metrics = _sklearn_metrics("roc_curve")
    y_true, y_probas = np.asarray(y_true), np.asarray(y_probas)
    rows = []
    for i, label in _classes(y_true, labels, classes_to_plot):
        fpr, tpr, _ = metrics.roc_curve(y_true, y_probas[..., i], pos_label=np.unique(y_true)[i])
        rows += [[label, round(float(f), 3), round(float(t), 3)] for f, t in zip(fpr, tpr)]
    table = Table(columns=["class", "fpr", "tpr"], data=rows)
    return plot_table("wandb/area-under-curve/v0", table, {"x": "fpr", "y": "tpr", "class": "class"},
                      {"title": title, "x-axis-title": "False positive rate",
                       "y-axis-title": "True positive rate"}, split_table)


def _classes(y_true: Any, labels: list | None, classes_to_plot: list | None) -> list[tuple[int, Any]]:
    """(column index, label) of each class to plot, labels mapped as W&B maps them."""
    import numpy as np

    classes = np.unique(y_true)
    wanted = classes if classes_to_plot is None else classes_to_plot
    out = []
    for i in np.where(np.isin(classes, wanted))[0]:
        value = classes[i]
        if labels is not None and isinstance(value, (int, np.integer)):
            out.append((int(i), labels[int(value)]))
        else:
            out.append((int(i), value.item() if hasattr(value, "item") else value))
    return out


def _sklearn_metrics(what: str):
    try:
        from sklearn import metrics
    except ImportError:
        raise UsageError(f"wandb.plot.{what} needs scikit-learn; install it with: "
                         "pip install scikit-learn") from None
    return metrics

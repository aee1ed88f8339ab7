"""`wandb.sklearn`: W&B's scikit-learn plots, each logged to the current run as the table
and preset chart W&B logs for it (`wandb/roc/...`, `wandb/confusion_matrix/v1`...).

The current run comes from `wandb_cli.media.current_run()` (the SDK registers itself
there), so this wing never imports the SDK.  scikit-learn is imported only when a plot is
made; without it the call says what to install.

Invariants: the tables have W&B's columns and W&B's rounding and limits (1,000 rows per
chart, 100 points per dataset for residuals), and the keys are W&B's (`roc`,
`confusion_matrix`, `summary_metrics`...); a plot whose input is unusable is skipped with
one line on stderr, as W&B does, never an exception in the training program.
"""
from __future__ import annotations

import sys
from typing import Any

from wandb_cli.errors import UsageError
from wandb_cli.media.charts import Visualize
from wandb_cli.media.table import Table

CHART_LIMIT = 1000


def _sk():
    try:
        import sklearn
    except ImportError:
        raise UsageError("wandb.sklearn needs scikit-learn; install it with: "
                         "pip install scikit-learn") from None
    import sklearn.base
    import sklearn.metrics
    import sklearn.model_selection

    return sklearn


def _log(data: dict) -> None:
    from wandb_cli.media import current_run

    run = current_run()
    if run is None:
        raise UsageError("wandb.sklearn plots log to the current run: call wandb.init() first")
    run.log(data)


def _note(message: str) -> None:
    print(f"wbrun: {message}", file=sys.stderr)


def _r(value: Any, digits: int) -> float:
    return round(float(value), digits)


# --- shared ----------------------------------------------------------------------------
def plot_summary_metrics(model: Any = None, X: Any = None, y: Any = None, X_test: Any = None,
                         y_test: Any = None) -> None:
    """Accuracy/precision/recall/F1 (classifier) or MAE/MSE/R² (regressor) on the test set."""
    sk = _sk()
    y_pred = model.predict(X_test)
    metrics: dict[str, float] = {}
    if sk.base.is_classifier(model):
        metrics["accuracy_score"] = sk.metrics.accuracy_score(y_test, y_pred)
        for name in ("precision", "recall", "f1_score"):
            scorer = getattr(sk.metrics, name if name == "f1_score" else f"{name}_score")
            metrics[name] = scorer(y_test, y_pred, average="weighted")
    elif sk.base.is_regressor(model):
        metrics["mae"] = sk.metrics.mean_absolute_error(y_test, y_pred)
        metrics["mse"] = sk.metrics.mean_squared_error(y_test, y_pred)
        metrics["r2_score"] = sk.metrics.r2_score(y_test, y_pred)
    name = type(model).__name__
    table = Table(columns=["metric_name", "metric_value", "model_name"],
                  data=[[k, _r(v, 2), name] for k, v in metrics.items()])
    _log({"summary_metrics": Visualize("wandb/metrics/v1", table)})


def plot_learning_curve(model: Any = None, X: Any = None, y: Any = None, cv: Any = None,
                        shuffle: bool = False, random_state: Any = None, train_sizes: Any = None,
                        n_jobs: int = 1, scoring: Any = None) -> None:
    """Mean train and cross-validation scores against the training-set size."""
    import numpy as np

    sk = _sk()
    sizes, train, test = sk.model_selection.learning_curve(
        model, X, np.asarray(y), cv=cv, n_jobs=n_jobs, scoring=scoring, shuffle=shuffle,
        random_state=random_state,
        train_sizes=np.linspace(0.1, 1.0, 5) if train_sizes is None else train_sizes)
    data = []
    for i, size in enumerate(sizes[: CHART_LIMIT // 2]):
        data += [["train", _r(train[i].mean(), 2), int(size)], ["test", _r(test[i].mean(), 2), int(size)]]
    table = Table(columns=["dataset", "score", "train_size"], data=data)
    _log({"learning_curve": Visualize("wandb/learning_curve/v1", table)})


# --- classifiers -------------------------------------------------------------------------
def plot_classifier(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any,
                    y_pred: Any, y_probas: Any, labels: Any, is_binary: bool = False,
                    model_name: str = "Classifier", feature_names: Any = None,
                    log_learning_curve: bool = False) -> None:
    """All of W&B's classifier plots at once (as `wandb.sklearn.plot_classifier`)."""
    from sklearn import naive_bayes

    multinomial = isinstance(model, naive_bayes.MultinomialNB)
    if not multinomial:
        plot_feature_importances(model, feature_names)
    if log_learning_curve:
        plot_learning_curve(model, X_train, y_train)
    plot_confusion_matrix(y_test, y_pred, labels)
    plot_summary_metrics(model, X=X_train, y=y_train, X_test=X_test, y_test=y_test)
    plot_class_proportions(y_train, y_test, labels)
    if not multinomial:
        plot_calibration_curve(model, X_train, y_train, model_name)
    plot_roc(y_test, y_probas, labels)
    plot_precision_recall(y_test, y_probas, labels)


def plot_roc(y_true: Any = None, y_probas: Any = None, labels: Any = None,
             plot_micro: bool = True, plot_macro: bool = True, classes_to_plot: Any = None) -> None:
    from wandb_cli.media import plot

    _log({"roc": plot.roc_curve(y_true, y_probas, labels, classes_to_plot)})


def plot_precision_recall(y_true: Any = None, y_probas: Any = None, labels: Any = None,
                          plot_micro: bool = True, classes_to_plot: Any = None) -> None:
    from wandb_cli.media import plot

    _log({"precision_recall": plot.pr_curve(y_true, y_probas, labels, classes_to_plot)})


def plot_confusion_matrix(y_true: Any = None, y_pred: Any = None, labels: Any = None,
                          true_labels: Any = None, pred_labels: Any = None,
                          normalize: bool = False) -> None:
    """Counts (or row-normalised rates) of each (predicted, actual) pair."""
    import numpy as np

    sk = _sk()
    from sklearn.utils.multiclass import unique_labels

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    matrix = sk.metrics.confusion_matrix(y_true, y_pred)
    classes = unique_labels(y_true, y_pred) if labels is None else np.asarray(labels)
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.around(matrix.astype(float) / matrix.sum(axis=1)[:, None], 2)
        matrix[np.isnan(matrix)] = 0.0
    true_classes, pred_classes = classes, classes
    if true_labels is not None:
        keep = np.isin(classes, true_labels)
        true_classes, matrix = classes[keep], matrix[keep]
    if pred_labels is not None:
        keep = np.isin(classes, pred_labels)
        pred_classes, matrix = classes[keep], matrix[:, keep]
    data = []
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            pred, true = pred_classes[i], true_classes[j]
            if labels is not None and isinstance(pred_classes[0], (int, np.integer)):
                pred, true = labels[pred_classes[i]], labels[true_classes[j]]
            data.append([_item(pred), _item(true), _item(matrix[i, j])])
    table = Table(columns=["Predicted", "Actual", "Count"], data=data[:CHART_LIMIT + 1])
    _log({"confusion_matrix": Visualize("wandb/confusion_matrix/v1", table)})


def _item(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def plot_feature_importances(model: Any = None, feature_names: Any = None,
                             title: str = "Feature Importance", max_num_features: int = 50) -> None:
    """The model's feature_importances_ (or coef_, feature_log_prob_), largest first."""
    import numpy as np

    attribute = next((a for a in ("feature_importances_", "feature_log_prob_", "coef_")
                      if hasattr(model, a)), None)
    if attribute is None:
        _note("could not find feature_importances_, feature_log_prob_ or coef_ on the model; "
              "feature importances not plotted")
        return
    importances = np.asarray(getattr(model, attribute))
    if importances.ndim > 1:
        if sum(dim > 1 for dim in importances.shape) > 1:
            _note(f"{importances.ndim}-dimensional feature importances are not plotted")
            return
        importances = np.squeeze(importances)
    order = np.argsort(importances)[::-1]
    names = order if feature_names is None else np.asarray(feature_names)[order]
    table = Table(columns=["feature_names", "importances"],
                  data=[[_item(n), _item(v)] for n, v in zip(names, importances[order])])
    _log({"feature_importances": Visualize("wandb/feature_importances/v1", table)})


def plot_class_proportions(y_train: Any = None, y_test: Any = None, labels: Any = None) -> None:
    """How many examples of each class the train and test sets hold."""
    import numpy as np
    from sklearn.utils.multiclass import unique_labels

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    data = []
    for i, class_id in enumerate(unique_labels(y_train, y_test)):
        name = labels[class_id] if labels is not None and isinstance(class_id, (int, np.integer)) else class_id
        data += [[_item(name), "train", int((y_train == class_id).sum())],
                 [_item(name), "test", int((y_test == class_id).sum())]]
        if i > CHART_LIMIT:
            break
    table = Table(columns=["class", "dataset", "count"], data=data)
    _log({"class_proportions": Visualize("wandb/class_proportions/v1", table)})


def plot_calibration_curve(clf: Any = None, X: Any = None, y: Any = None,
                           clf_name: str = "Classifier") -> None:
    """Reliability curves of the model calibrated two ways and of a logistic regression
    (binary labels only, as in W&B)."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV, calibration_curve
    from sklearn.linear_model import LogisticRegression

    sk = _sk()
    y = np.asarray(y)
    if y.dtype.char == "U" or not ((y == 0) | (y == 1)).all():
        _note("the calibration curve needs binary (0/1) labels; skipped")
        return
    rows = [["Perfectly calibrated", 0, 0, 0, 0], ["Perfectly calibrated", 1, 1, 0, 0]]
    x_train, x_test, y_train, y_test = sk.model_selection.train_test_split(
        X, y, test_size=0.9, random_state=42)
    models = [(LogisticRegression(C=1.0), "Logistic"),
              (CalibratedClassifierCV(clf, cv=2, method="isotonic"), f"{clf_name} Isotonic"),
              (CalibratedClassifierCV(clf, cv=2, method="sigmoid"), f"{clf_name} Sigmoid")]
    for model, name in models:
        model.fit(x_train, y_train)
        if hasattr(model, "predict_proba"):
            positive = model.predict_proba(x_test)[:, 1]
        else:
            positive = model.decision_function(x_test)
            positive = (positive - positive.min()) / (positive.max() - positive.min())
        hist, edges = np.histogram(positive, bins=10, density=False)
        fraction, mean_predicted = calibration_curve(y_test, positive, n_bins=10)
        for i in range(min(len(fraction), CHART_LIMIT - 2)):
            rows.append([name, _r(fraction[i], 3), _r(mean_predicted[i], 3), int(hist[i]),
                         float(edges[i])])
    table = Table(columns=["model", "fraction_of_positives", "mean_predicted_value",
                           "hist_dict", "edge_dict"], data=rows)
    _log({"calibration_curve": Visualize("wandb/calibration/v1", table)})


# --- regressors ---------------------------------------------------------------------------
def plot_regressor(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any,
                   model_name: str = "Regressor") -> None:
    """All of W&B's regressor plots at once (as `wandb.sklearn.plot_regressor`)."""
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_learning_curve(model, X_train, y_train)
    plot_outlier_candidates(model, X_train, y_train)
    plot_residuals(model, X_train, y_train)


def plot_residuals(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Predicted values against residuals on a fresh 80/20 split (100 points per set)."""
    import numpy as np

    sk = _sk()
    x_train, x_test, y_train, y_test = sk.model_selection.train_test_split(X, np.asarray(y), test_size=0.2)
    regressor.fit(x_train, y_train)
    train_score, test_score = regressor.score(x_train, y_train), regressor.score(x_test, y_test)
    data = []
    for dataset, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
        predicted = regressor.predict(xs)
        for pred, residual in list(zip(predicted, predicted - ys))[:100]:
            data.append([dataset, float(pred), float(residual), float(train_score), float(test_score)])
    table = Table(columns=["dataset", "y_pred", "residuals", "train_score", "test_score"], data=data)
    _log({"residuals": Visualize("wandb/residuals_plot/v1", table)})


def plot_outlier_candidates(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Cook's distance of each training example and the share above 4/n."""
    import numpy as np

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    regressor.fit(X, y)
    leverage = (X * np.linalg.pinv(X).T).sum(1)
    residuals = y - regressor.predict(X)
    mse = np.dot(residuals, residuals) / (X.shape[0] - np.linalg.matrix_rank(X))
    studentized = residuals / np.sqrt(mse) / np.sqrt(1 - leverage)
    distance = studentized ** 2 / X.shape[1] * (leverage / (1 - leverage))
    threshold = 4 / X.shape[0]
    percentage = _r(100.0 * (distance >= threshold).sum() / X.shape[0], 3)
    data = [[float(d), i, percentage, threshold] for i, d in enumerate(distance[: CHART_LIMIT + 1])]
    table = Table(columns=["distance", "instance_indicies", "outlier_percentage",
                           "influence_threshold"], data=data)
    _log({"outlier_candidates": Visualize("wandb/outliers/v1", table)})

"""Classification metrics exactly as the assignment computes them.

PR AUC is the starter's `auc(recall, precision)` (trapezoids over the PR curve),
which is slightly optimistic; average precision is reported beside it because it is
the estimator scikit-learn recommends. Both are kept so a student's number can be
compared like for like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from reference.validation import InputError, check_array


@dataclass(frozen=True)
class Evaluation:
    """Scores of one set of predictions against labels."""

    roc_auc: float
    pr_auc: float
    average_precision: float
    n: int
    n_positive: int

    def to_dict(self) -> dict:
        return asdict(self)


def _checked(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = check_array("labels", labels).ravel()
    scores = check_array("scores", scores).astype(np.float64).ravel()
    if labels.shape != scores.shape:
        raise InputError(f"labels has {labels.size} entries but scores has {scores.size}")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinite values; the model's output is broken")
    classes = np.unique(labels)
    if not np.all(np.isin(classes, (0, 1))):
        raise InputError(f"labels must be 0 or 1, found {classes[:5].tolist()}")
    if classes.size != 2:
        raise InputError("labels must contain both classes (0 and 1) to compute an AUC")
    return labels.astype(np.int64), scores


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn)."""
    labels, scores = _checked(labels, scores)
    return float(roc_auc_score(labels, scores))


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The starter's PR AUC: `auc(recall, precision)` over `precision_recall_curve`."""
    labels, scores = _checked(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    # Trapezoids can overshoot 1 by a rounding error when precision is 1 throughout.
    return float(min(auc(recall, precision), 1.0))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (scikit-learn's step-wise PR AUC)."""
    labels, scores = _checked(labels, scores)
    return float(average_precision_score(labels, scores))


def evaluate(labels: np.ndarray, scores: np.ndarray) -> Evaluation:
    """ROC AUC, the starter's PR AUC and average precision in one call."""
    labels, scores = _checked(labels, scores)
    return Evaluation(
        roc_auc=roc_auc(labels, scores),
        pr_auc=pr_auc(labels, scores),
        average_precision=average_precision(labels, scores),
        n=int(labels.size),
        n_positive=int(labels.sum()),
    )

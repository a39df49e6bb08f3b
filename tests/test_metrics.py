"""The metrics as the assignment computes them, and the errors that protect them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from reference.metrics import average_precision, evaluate, pr_auc, roc_auc
from reference.validation import InputError


@pytest.fixture(scope="module")
def labelled_scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    # Rounded so that many scores tie, as counts and saturated sigmoids do.
    scores = np.round(labels * 0.8 + rng.normal(0, 1, 500), 1).astype(np.float32)
    return labels, scores


def test_pr_auc_is_the_starters_auc_of_recall_and_precision(labelled_scores) -> None:
    labels, scores = labelled_scores
    precision, recall, _ = precision_recall_curve(labels, scores)
    assert pr_auc(labels, scores) == auc(recall, precision)


def test_roc_auc_and_average_precision_are_scikit_learns(labelled_scores) -> None:
    labels, scores = labelled_scores
    assert roc_auc(labels, scores) == roc_auc_score(labels, scores)
    assert average_precision(labels, scores) == average_precision_score(labels, scores)


def test_evaluate_reports_all_three_with_counts(labelled_scores) -> None:
    labels, scores = labelled_scores
    result = evaluate(labels, scores[:, None])  # Keras predicts shape (N, 1)
    assert result.roc_auc == roc_auc(labels, scores)
    assert result.pr_auc == pr_auc(labels, scores)
    assert result.average_precision == average_precision(labels, scores)
    assert (result.n, result.n_positive) == (500, int(labels.sum()))
    assert set(result.to_dict()) == {"roc_auc", "pr_auc", "average_precision", "n", "n_positive"}


def test_perfect_and_reversed_scores() -> None:
    labels = np.array([0, 0, 1, 1])
    perfect = evaluate(labels, np.array([0.1, 0.2, 0.8, 0.9]))
    assert (perfect.roc_auc, perfect.pr_auc, perfect.average_precision) == (1.0, 1.0, 1.0)
    assert roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


@pytest.mark.parametrize("labels", [np.zeros(6), np.ones(6)])
def test_single_class_labels_raise(labels: np.ndarray) -> None:
    with pytest.raises(InputError, match="labels must contain both classes"):
        evaluate(labels, np.linspace(0, 1, 6))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("metric", [roc_auc, pr_auc, average_precision, evaluate])
def test_nan_or_infinite_scores_raise(metric, bad: float) -> None:
    scores = np.array([0.1, bad, 0.3, 0.4])
    with pytest.raises(InputError, match="scores contain NaN or infinite values"):
        metric(np.array([0, 1, 0, 1]), scores)


def test_labels_and_scores_must_have_the_same_length() -> None:
    with pytest.raises(InputError, match="labels has 4 entries but scores has 3"):
        roc_auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3]))

"""The Bayes-optimal classifier for the synthetic data, and its scores.

With a uniform background and one implanted k-mer at a uniform position, the
likelihood ratio of "positive" to "negative" for a sequence is proportional to the
number of exact occurrences of the motif, so that count is the optimal score and its
AUC is the ceiling any model can reach on the same data. With `motif_prob` < 1 the
ratio is `(1 - p) + p * c * 4**k / (L - k + 1)`, still increasing in the count c.

For several motifs the likelihood of each implant pattern S is the product of the
per-motif ratios over S, so the posterior odds are a ratio of sums over the patterns
of each class (exact up to the rule that implants do not overlap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.data import MultiMotifDataset, normalise_rule, pattern_weights
from reference.encode import as_codes, reverse_complement, reverse_complement_codes, seqs_to_codes
from reference.metrics import Evaluation, evaluate
from reference.validation import check_motif, check_motifs, check_probability


def motif_counts(
    sequences: Sequence[str] | np.ndarray, motif: str, both_strands: bool = False
) -> np.ndarray:
    """Exact occurrences of `motif` in each sequence (forward strand unless asked)."""
    codes = as_codes(sequences)
    motif_codes = seqs_to_codes([check_motif("motif", motif)])[0]
    k = motif_codes.size
    if codes.shape[1] < k:
        return np.zeros(codes.shape[0], dtype=np.int64)
    windows = sliding_window_view(codes, k, axis=1)
    counts = np.all(windows == motif_codes, axis=-1).sum(axis=1)
    if both_strands:
        reverse = reverse_complement_codes(motif_codes)
        if not np.array_equal(reverse, motif_codes):
            counts = counts + np.all(windows == reverse, axis=-1).sum(axis=1)
    return counts.astype(np.int64)


def oracle_scores(sequences: Sequence[str] | np.ndarray, motif: str) -> np.ndarray:
    """Bayes-optimal scores for single-motif data: the motif's occurrence count."""
    return motif_counts(sequences, motif).astype(np.float64)


def oracle_evaluation(
    sequences: Sequence[str] | np.ndarray, labels: np.ndarray, motif: str
) -> Evaluation:
    """ROC AUC, PR AUC and average precision of the oracle on a labelled dataset."""
    return evaluate(labels, oracle_scores(sequences, motif))


def motif_likelihood_ratios(
    sequences: Sequence[str] | np.ndarray, motifs: Sequence[str], rc_prob: float = 0.0
) -> np.ndarray:
    """(N, M) ratio P(x | motif m implanted) / P(x | not), one column per motif."""
    codes = as_codes(sequences)
    motifs = check_motifs("motifs", motifs)
    rc_prob = check_probability("rc_prob", rc_prob)
    length = codes.shape[1]
    ratios = np.empty((codes.shape[0], len(motifs)), dtype=np.float64)
    for m, motif in enumerate(motifs):
        k = len(motif)
        forward = motif_counts(codes, motif)
        reverse = motif_counts(codes, reverse_complement(motif))
        expected = (1 - rc_prob) * forward + rc_prob * reverse
        ratios[:, m] = expected * (4.0**k) / max(length - k + 1, 1)
    return ratios


def multi_motif_oracle_scores(
    sequences: Sequence[str] | np.ndarray,
    motifs: Sequence[str],
    rule: str,
    co_occurrence: float,
    rc_prob: float = 0.0,
) -> np.ndarray:
    """Posterior odds of label 1 for data from `generate_multi_motif_dataset`."""
    rule = normalise_rule(rule)
    ratios = motif_likelihood_ratios(sequences, motifs, rc_prob)
    weights = pattern_weights(len(motifs), rule, co_occurrence)

    def class_likelihood(label: int) -> np.ndarray:
        total = np.zeros(ratios.shape[0])
        for pattern, weight in weights[label]:
            term = np.full(ratios.shape[0], weight)
            for m in pattern:
                term = term * ratios[:, m]
            total += term
        return total

    positive, negative = class_likelihood(1), class_likelihood(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = positive / negative
    # Where neither class can explain the sequence (0/0), it carries no evidence.
    odds = np.where(np.isnan(odds), 1.0, odds)
    return np.log(np.clip(odds, 1e-300, 1e300))


def multi_motif_oracle_evaluation(dataset: MultiMotifDataset, co_occurrence: float) -> Evaluation:
    """Oracle metrics on a multi-motif dataset made with the same parameters."""
    scores = multi_motif_oracle_scores(
        dataset.codes, dataset.motifs, dataset.rule, co_occurrence, dataset.rc_prob
    )
    return evaluate(dataset.labels, scores)

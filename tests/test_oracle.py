"""The Bayes-optimal scores: the ceiling the grader compares every model with."""

from __future__ import annotations

import numpy as np
import pytest

from reference.data import STARTER_MOTIF, generate_multi_motif_dataset, generate_synthetic_codes
from reference.encode import seqs_to_codes
from reference.metrics import roc_auc
from reference.oracle import (
    motif_counts,
    motif_likelihood_ratios,
    multi_motif_oracle_evaluation,
    multi_motif_oracle_scores,
    oracle_evaluation,
    oracle_scores,
)
from reference.validation import InputError


def count_distributions(motif: str, max_length: int, max_count: int = 40) -> np.ndarray:
    """P(count = c) of exact motif occurrences in a uniform random sequence, per length.

    A walk over the motif's prefix automaton (KMP), so the answer is exact; row n is the
    distribution for sequences of length n.
    """
    target = seqs_to_codes([motif])[0].tolist()
    k = len(target)

    def advance(state: int, base: int) -> int:
        text = [*target[: min(state, k)], base]
        return next(
            n for n in range(min(len(text), k), -1, -1) if text[len(text) - n :] == target[:n]
        )

    table = np.zeros((max_length + 1, max_count + 1))
    mass = np.zeros((k + 1, max_count + 1))
    mass[0, 0] = 1.0
    table[0] = mass.sum(axis=0)
    for length in range(1, max_length + 1):
        step = np.zeros_like(mass)
        for state in range(k + 1):
            for base in range(4):
                new = advance(state, base)
                if new == k:
                    step[new, 1:] += mass[state, :-1] / 4
                else:
                    step[new] += mass[state] / 4
        mass = step
        table[length] = mass.sum(axis=0)
    return table


def population_oracle_auc(motif: str, seq_len: int) -> float:
    """Exact AUC of the count oracle for `motif_prob` = 1 and a motif that cannot overlap itself.

    A positive holds the implant plus whatever occurs by chance left and right of it
    (no occurrence can straddle the implant when the motif does not overlap itself).
    """
    k = len(motif)
    table = count_distributions(motif, seq_len)
    negative = table[seq_len]
    positive = np.zeros_like(negative)
    for start in range(seq_len - k + 1):
        flanks = np.convolve(table[start], table[seq_len - k - start])[: negative.size - 1]
        positive[1:] += flanks / (seq_len - k + 1)
    below = np.concatenate([[0.0], np.cumsum(negative)[:-1]])
    return float(np.sum(positive * (below + 0.5 * negative)))


EXACT_POPULATION_AUC = 0.95644989512950  # population_oracle_auc("ACGTG", 101)


def test_oracle_auc_on_the_starter_test_split_is_0_9463(starter_split) -> None:
    test_seqs, test_labels = starter_split.test
    result = oracle_evaluation(test_seqs, test_labels, STARTER_MOTIF)
    assert round(result.roc_auc, 4) == 0.9463
    assert result.roc_auc == pytest.approx(0.9463476969913367, abs=1e-9)
    assert result.pr_auc == pytest.approx(0.9276587493393337, abs=1e-9)
    assert result.average_precision == pytest.approx(0.9114395786670958, abs=1e-9)
    assert (result.n, result.n_positive) == (800, int(test_labels.sum()))


def test_population_oracle_auc_is_0_956() -> None:
    exact = population_oracle_auc(STARTER_MOTIF, 101)
    assert exact == pytest.approx(EXACT_POPULATION_AUC, abs=1e-12)
    assert round(exact, 3) == 0.956


def test_presence_alone_cannot_reach_the_count_oracle() -> None:
    # Conv -> GlobalMaxPool sees only "is the motif there?": every positive has it and a
    # negative has it with P(count >= 1), so its ceiling is P(0) + P(>=1) / 2.
    negative = count_distributions(STARTER_MOTIF, 101)[101]
    presence_ceiling = negative[0] + 0.5 * (1 - negative[0])
    assert presence_ceiling == pytest.approx(0.9546, abs=1e-4)
    assert presence_ceiling < EXACT_POPULATION_AUC


@pytest.mark.parametrize(
    ("motif_prob", "architecture_value", "seed"),
    [(1.0, 0.956, 1), (0.8, 0.865, 2), (0.5, 0.727, 3)],
)
def test_oracle_auc_on_a_large_sample_matches_the_population_value(
    motif_prob: float, architecture_value: float, seed: int
) -> None:
    # A positive that lost the motif draw is distributed like a negative, so the
    # population AUC is p * AUC(1) + (1 - p) / 2 (0.9564, 0.8652, 0.7282).
    population = motif_prob * EXACT_POPULATION_AUC + (1 - motif_prob) / 2
    assert population == pytest.approx(architecture_value, abs=2e-3)
    data = generate_synthetic_codes(20000, 20000, motif_prob=motif_prob, random_seed=seed)
    sampled = oracle_evaluation(data.codes, data.labels, STARTER_MOTIF).roc_auc
    assert sampled == pytest.approx(population, abs=0.006)  # sampling sd ~ 0.002


def test_motif_counts_on_known_sequences() -> None:
    seqs = ["ACGTGAACGTG", "CACGTTTTTTT", "AAAAAAAAAAA", "ACGTACGTACG"]
    np.testing.assert_array_equal(motif_counts(seqs, "ACGTG"), [2, 0, 0, 0])
    np.testing.assert_array_equal(motif_counts(seqs, "acgtg", both_strands=True), [2, 1, 0, 0])
    np.testing.assert_array_equal(motif_counts(seqs, "AA"), [1, 0, 10, 0])  # overlaps count
    # A palindrome is one site, not one per strand.
    np.testing.assert_array_equal(motif_counts(seqs, "ACGT", both_strands=True), [2, 1, 0, 2])
    np.testing.assert_array_equal(motif_counts(["ACG"], "ACGTG"), [0])
    assert motif_counts(seqs, "ACGTG").dtype == np.int64


def test_motif_counts_accept_codes_and_onehot() -> None:
    data = generate_synthetic_codes(50, 50, random_seed=8)
    from_codes = motif_counts(data.codes, STARTER_MOTIF)
    np.testing.assert_array_equal(from_codes, motif_counts(data.seqs, STARTER_MOTIF))
    assert np.all(from_codes[data.labels == 1] >= 1)
    np.testing.assert_array_equal(
        oracle_scores(data.codes, STARTER_MOTIF), from_codes.astype(float)
    )
    with pytest.raises(InputError, match="contains 'N'"):
        motif_counts(data.codes, "ACNTG")


def test_likelihood_ratios_follow_the_implant_model() -> None:
    seqs = ["ACGTGACGTGTTTT", "CACGTTTTTTTTTT", "TTTTTTTTTTTTTT"]
    ratios = motif_likelihood_ratios(seqs, ["ACGTG"], rc_prob=0.25)
    scale = 4.0**5 / (14 - 5 + 1)
    np.testing.assert_allclose(ratios[:, 0], [0.75 * 2 * scale, 0.25 * 1 * scale, 0.0])


@pytest.mark.parametrize(("rule", "margin"), [("all", 0.005), ("xor", 0.2)])
def test_multi_motif_oracle_beats_a_count_sum_on_interaction_rules(
    rule: str, margin: float
) -> None:
    data = generate_multi_motif_dataset(
        2000, 2000, rule=rule, co_occurrence=0.3, rc_prob=0.3, random_seed=1
    )
    oracle = multi_motif_oracle_evaluation(data, co_occurrence=0.3).roc_auc
    count_sum = sum(motif_counts(data.codes, m, both_strands=True) for m in data.motifs)
    assert oracle > roc_auc(data.labels, count_sum) + margin
    assert oracle > 0.95


def test_multi_motif_oracle_scores_are_finite_log_odds() -> None:
    seqs = ["GATAAGTTTTTGACTCTTTT", "TTTTTTTTTTTTTTTTTTTT", "GATAAGTTTTTTTTTTTTTT"]
    scores = multi_motif_oracle_scores(seqs, ["GATAAG", "TGACTC"], rule="and", co_occurrence=0.3)
    assert np.all(np.isfinite(scores))
    # Under "and" only the sequence with both motifs can be positive.
    assert scores[0] > 0 > scores[2] and scores[0] > scores[1]

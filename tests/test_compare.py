"""Motif similarity and recovery, with the properties the assignment's grading relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.compare import (
    MotifMatch,
    assign_filters,
    best_filter,
    is_recovered,
    motif_matrix,
    motif_similarity,
    reverse_complement_pwm,
    similarity_matrix,
)
from reference.data import STARTER_MOTIF
from reference.validation import InputError

UNIFORM = np.full((1, 4), 0.25)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_exact_match_scores_one() -> None:
    match = motif_similarity(motif_matrix(STARTER_MOTIF), STARTER_MOTIF)
    assert match.similarity == pytest.approx(1.0, abs=1e-12)
    assert (match.offset, match.strand, match.consensus) == (0, "+", STARTER_MOTIF)
    assert is_recovered(match, STARTER_MOTIF, threshold=0.9)


def test_reverse_complement_scores_one_on_the_minus_strand() -> None:
    pwm = motif_matrix("CACGT")  # reverse complement of ACGTG
    np.testing.assert_array_equal(reverse_complement_pwm(motif_matrix(STARTER_MOTIF)), pwm)
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.similarity == pytest.approx(1.0, abs=1e-12)
    assert (match.strand, match.consensus) == ("-", STARTER_MOTIF)
    assert match.recovers(STARTER_MOTIF, 0.9)


@pytest.mark.parametrize(
    ("pwm", "offset", "consensus"),
    [
        (np.vstack([motif_matrix("CGTG"), UNIFORM]), 1, "NCGTG"),  # shifted right by one
        (motif_matrix("CGTGA"), 1, "NCGTG"),  # shifted, last column off the motif
        (motif_matrix("TACGT"), -1, "ACGTN"),  # shifted left by one
    ],
)
def test_filter_covering_four_of_five_columns_scores_3_over_sqrt_11_25(
    pwm: np.ndarray, offset: int, consensus: str
) -> None:
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.similarity == pytest.approx(3 / math.sqrt(11.25), abs=1e-12)  # 0.894
    assert (match.offset, match.consensus) == (offset, consensus)
    # Similar enough for a lenient threshold, but the consensus misses a base.
    assert not is_recovered(match, STARTER_MOTIF, threshold=0.85)


@pytest.mark.parametrize("covered", [1, 2, 3, 4, 5])
def test_similarity_of_a_partial_filter_is_the_root_of_the_covered_fraction(covered: int) -> None:
    pwm = motif_matrix(STARTER_MOTIF[:covered])
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.similarity == pytest.approx(math.sqrt(covered / 5), abs=1e-12)


def test_wide_filter_containing_the_motif_with_uniform_flanks_is_recovered() -> None:
    pwm = np.vstack(
        [np.repeat(UNIFORM, 3, axis=0), motif_matrix(STARTER_MOTIF), np.repeat(UNIFORM, 3, axis=0)]
    )
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.similarity == pytest.approx(1.0, abs=1e-12)
    assert (match.offset, match.consensus) == (-3, STARTER_MOTIF)
    assert is_recovered(match, STARTER_MOTIF, 0.9)
    np.testing.assert_array_equal(match.aligned, motif_matrix(STARTER_MOTIF))


def test_wide_filter_on_the_minus_strand_with_random_flanks_is_recovered() -> None:
    rng = np.random.default_rng(1)
    flanks = rng.dirichlet(np.ones(4), size=6)
    pwm = np.vstack([flanks[:2], motif_matrix("CACGT"), flanks[2:]])
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.similarity == pytest.approx(1.0, abs=1e-12)
    assert match.strand == "-" and is_recovered(match, STARTER_MOTIF, 0.9)


@pytest.mark.parametrize("width", [5, 11])
def test_random_filters_rarely_reach_0_9(width: int) -> None:
    rng = np.random.default_rng(2024)
    pwms = rng.dirichlet(np.ones(4), size=(1000, width))
    scores = np.array([motif_similarity(p, STARTER_MOTIF).similarity for p in pwms])
    assert np.mean(scores >= 0.9) < 0.01
    assert 0.3 < np.median(scores) < 0.7  # not degenerate either


def test_tied_column_reads_n_and_blocks_recovery() -> None:
    pwm = motif_matrix(STARTER_MOTIF)
    pwm[2] = [0, 0, 0.5, 0.5]
    match = motif_similarity(pwm, STARTER_MOTIF)
    assert match.consensus == "ACNTG"
    assert match.similarity == pytest.approx(pearson(pwm, motif_matrix(STARTER_MOTIF)), abs=1e-12)
    assert match.similarity > 0.9 and not is_recovered(match, STARTER_MOTIF, 0.9)


def test_recovery_needs_both_similarity_and_consensus() -> None:
    target = motif_matrix(STARTER_MOTIF)
    # Right majority everywhere, but a runner-up base almost as strong: similarity below 0.9.
    runner_up = np.roll(target, 1, axis=1)
    soft = 0.55 * target + 0.35 * runner_up + 0.05 * (1 - target - runner_up)
    soft_match = motif_similarity(soft, STARTER_MOTIF)
    assert soft_match.consensus == STARTER_MOTIF
    assert soft_match.similarity == pytest.approx(pearson(soft, target), abs=1e-12)
    assert soft_match.similarity < 0.9 and not is_recovered(soft_match, STARTER_MOTIF, 0.9)
    assert is_recovered(soft_match, STARTER_MOTIF, 0.6)
    # High similarity (0.916), but the second base reads A.
    wrong = target.copy()
    wrong[1] = [0.55, 0.45, 0, 0]
    wrong_match = motif_similarity(wrong, STARTER_MOTIF)
    assert wrong_match.similarity > 0.9 and wrong_match.consensus == "AAGTG"
    assert not is_recovered(wrong_match, STARTER_MOTIF, 0.9)


def test_a_faint_preference_is_not_a_consensus_base() -> None:
    # A filter that learned ?ACGT matches ACGTG on the other strand (ACGT is its own reverse
    # complement); its near-uniform first column must not decide that the motif is recovered.
    shifted = np.full((5, 4), 0.25)
    shifted[0] = [0.24, 0.28, 0.24, 0.24]
    shifted[1:] = motif_matrix("ACGT")
    match = motif_similarity(shifted, STARTER_MOTIF)
    assert match.similarity > 0.9
    assert "N" in match.consensus and not is_recovered(match, STARTER_MOTIF, 0.9)


def test_similarity_is_invariant_to_the_sharpness_of_a_pwm() -> None:
    # Pearson correlation ignores scale: a soft copy of the motif is as similar as a sharp one.
    target = motif_matrix(STARTER_MOTIF)
    soft = 0.4 * target + 0.2 * (1 - target)
    assert motif_similarity(soft, STARTER_MOTIF).similarity == pytest.approx(1.0, abs=1e-12)


def test_similarity_matrix_and_best_filter() -> None:
    pwms = [
        motif_matrix("TTTTT"),
        motif_matrix("CGTGA"),
        motif_matrix("ACGTG"),
        motif_matrix("GATAAG")[:5],
    ]
    matrix = similarity_matrix(pwms, [STARTER_MOTIF, "GATAAG"])
    assert matrix.shape == (4, 2)
    assert matrix[2, 0] == pytest.approx(1.0) and matrix[3, 1] == pytest.approx(math.sqrt(5 / 6))
    assert matrix[1, 0] == pytest.approx(motif_similarity(pwms[1], STARTER_MOTIF).similarity)
    index, match = best_filter(pwms, STARTER_MOTIF)
    assert index == 2 and isinstance(match, MotifMatch) and match.consensus == STARTER_MOTIF
    assert best_filter(np.stack(pwms[:3]), STARTER_MOTIF)[0] == 2
    with pytest.raises(InputError, match="there are no filter PWMs"):
        best_filter([], STARTER_MOTIF)


def test_assign_filters_picks_distinct_filters_maximising_total_similarity() -> None:
    # Filter 0 is the best for both motifs; a greedy choice would use it twice.
    similarities = np.array([[0.95, 0.90], [0.90, 0.20], [0.10, 0.10]])
    assert assign_filters(similarities) == [1, 0]
    assert assign_filters(np.array([[0.9, 0.8, 0.1]])) == [0, -1, -1]  # fewer filters
    with pytest.raises(InputError, match="similarities contains NaN"):
        assign_filters(np.array([[np.nan, 0.1]]))


@pytest.mark.parametrize(
    ("pwm", "motif", "message"),
    [
        (np.ones((5, 3)), STARTER_MOTIF, "last axis must have 4"),
        (np.full((5, 4), np.nan), STARTER_MOTIF, "pwm contains NaN or infinite values"),
        (motif_matrix(STARTER_MOTIF), "ACGNG", "contains 'N'"),
    ],
)
def test_similarity_rejects_bad_inputs(pwm: np.ndarray, motif: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        motif_similarity(pwm, motif)

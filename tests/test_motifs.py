"""From first-layer activations to PWMs: window choice, counting, and matrix transforms."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from reference.compare import motif_matrix
from reference.data import STARTER_MOTIF, generate_synthetic_codes
from reference.encode import codes_to_onehot, codes_to_seqs
from reference.motifs import (
    FilterWindows,
    filter_pwms,
    information_content,
    information_matrix,
    log_odds,
    pfm_to_pwm,
    threshold_windows,
    top_windows,
    weights_to_pwm,
    window_kmers,
    windows_pfm,
)
from reference.starter import starter_build_pwm, starter_top_windows
from reference.validation import InputError


def conv_relu(onehot: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """A 'valid' Conv1D + ReLU without bias, like the starter's first layer: (N, L-w+1, F)."""
    windows = sliding_window_view(onehot, kernels.shape[0], axis=1)  # (N, L-w+1, 4, w)
    return np.maximum(np.einsum("nlcw,wcf->nlf", windows, kernels), 0).astype(np.float32)


def window_set(windows: FilterWindows, f: int) -> set[tuple[int, int]]:
    return set(zip(windows.seq_index[f].tolist(), windows.start[f].tolist(), strict=True))


def starter_set(heap: list) -> set[tuple[int, int]]:
    return {(int(i), int(pos)) for _, i, pos in heap}


@pytest.fixture(scope="module")
def implanted() -> tuple[np.ndarray, np.ndarray]:
    data = generate_synthetic_codes(150, 150, seq_len=60, random_seed=5)
    return data.codes, data.labels


@pytest.fixture(scope="module")
def motif_activations(implanted) -> np.ndarray:
    """Real-ish activations: one filter is the motif, the others random; identical k-mers tie."""
    codes, _ = implanted
    rng = np.random.default_rng(0)
    kernels = rng.normal(0, 1, (5, 4, 4))
    kernels[:, :, 0] = motif_matrix(STARTER_MOTIF) - 0.25
    return conv_relu(codes_to_onehot(codes), kernels)


# --- choosing windows ------------------------------------------------------------------------


@pytest.mark.parametrize("num_top", [1, 7, 64, 500])
def test_top_windows_are_the_starters_on_continuous_activations(num_top: int) -> None:
    activations = np.random.default_rng(num_top).random((120, 40, 6), dtype=np.float32)
    ours = top_windows(activations, num_top, width=5)
    starter = starter_top_windows(activations, num_top)
    assert ours.n_filters == 6 and ours.width == 5
    for f in range(6):
        assert window_set(ours, f) == starter_set(starter[f])
        assert ours.activation[f].tolist() == [score for score, _, _ in starter[f]]


def test_top_windows_on_tied_activations_keep_the_earliest_windows(motif_activations) -> None:
    num_top = 60
    ours = top_windows(motif_activations, num_top, width=5)
    starter = starter_top_windows(motif_activations, num_top)
    flat_length = motif_activations.shape[1]
    for f in range(motif_activations.shape[-1]):
        scores = ours.activation[f]
        assert Counter(scores.tolist()) == Counter(float(s) for s, _, _ in starter[f])
        cut = scores.min()
        above = {(i, p) for (i, p) in window_set(ours, f) if motif_activations[i, p, f] > cut}
        assert above == {(int(i), int(p)) for s, i, p in starter[f] if s > cut}
        # The tied windows kept are the first ones in (sequence, position) order.
        tied = np.flatnonzero(motif_activations[..., f].ravel() == cut)
        kept_tied = np.intersect1d(ours.seq_index[f] * flat_length + ours.start[f], tied)
        np.testing.assert_array_equal(kept_tied, tied[: kept_tied.size])
    # The motif filter really ties: all its top windows are the motif, activation 5 * 0.75.
    np.testing.assert_array_equal(ours.activation[0], np.float32(3.75))


def test_starter_heap_keeps_a_later_tie_where_ours_keeps_the_earliest() -> None:
    # The heap evicts its smallest (score, seq, pos) when a higher score arrives, so among
    # tied windows at the cut-off it drops the earliest. Our rule keeps the earliest.
    activations = np.zeros((3, 4, 1), dtype=np.float32)
    activations[0, :3, 0] = 1.0
    activations[1, 0, 0] = 2.0
    starter = starter_top_windows(activations, 2)[0]
    assert starter_set(starter) == {(1, 0), (0, 1)}
    assert window_set(top_windows(activations, 2, width=3), 0) == {(1, 0), (0, 0)}


def test_top_windows_are_sorted_best_first_and_map_positions_through_offset_and_stride() -> None:
    activations = np.zeros((2, 5, 1), dtype=np.float32)
    activations[1, 3, 0] = 9.0
    activations[0, 1, 0] = 5.0
    windows = top_windows(activations, 2, width=4, offset=-1, stride=2)
    np.testing.assert_array_equal(windows.seq_index[0], [1, 0])
    np.testing.assert_array_equal(windows.start[0], [3 * 2 - 1, 1 * 2 - 1])
    np.testing.assert_array_equal(windows.activation[0], [9.0, 5.0])
    everything = top_windows(activations, 1000, width=4)
    assert everything.seq_index[0].size == 10


def test_top_windows_reject_non_finite_activations() -> None:
    activations = np.ones((2, 3, 1))
    activations[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="activations contains NaN or infinite values"):
        top_windows(activations, 2, width=3)
    with pytest.raises(InputError, match="must have 3 dimensions"):
        top_windows(np.ones((2, 3)), 2, width=3)


def test_threshold_windows_are_strictly_above_the_fraction_of_each_filters_maximum() -> None:
    activations = np.zeros((2, 4, 3), dtype=np.float32)
    activations[..., 0] = [[4.0, 2.0, 2.1, 0.0], [1.0, 3.0, 0.0, 2.0]]
    activations[..., 1] = -1.0  # never active: no windows, no motif
    activations[0, 2, 2] = 0.5  # a single active window
    windows = threshold_windows(activations, width=5, fraction=0.5)
    assert window_set(windows, 0) == {(0, 0), (0, 2), (1, 1)}  # 2.0 is not > 0.5 * 4.0
    assert window_set(windows, 1) == set()
    assert window_set(windows, 2) == {(0, 2)}
    np.testing.assert_array_equal(
        np.sort(windows.activation[0]), np.array([2.1, 3.0, 4.0], dtype=np.float32)
    )
    shifted = threshold_windows(activations, width=5, fraction=0.0, offset=-2)
    assert window_set(shifted, 2) == {(0, 0)}
    assert threshold_windows(np.zeros((3, 4, 2)), width=5).seq_index[0].size == 0


# --- counting bases --------------------------------------------------------------------------


def test_windows_pfm_counts_the_bases_of_each_window() -> None:
    seqs = ["ACGTACGT", "TTTTGGGG"]
    windows = FilterWindows(
        seq_index=(np.array([0, 0, 1]), np.array([1])),
        start=(np.array([0, 4, 2]), np.array([4])),
        activation=(np.ones(3), np.ones(1)),
        width=3,
    )
    pfms = windows_pfm(seqs, windows)
    assert pfms.shape == (2, 3, 4)
    # Filter 0 reads ACG, ACG and TTG.
    np.testing.assert_array_equal(pfms[0], [[2, 0, 0, 1], [0, 2, 0, 1], [0, 0, 3, 0]])
    np.testing.assert_array_equal(pfms[1], [[0, 0, 1, 0]] * 3)  # GGG
    assert window_kmers(seqs, windows, 0) == ["ACG", "ACG", "TTG"]


def test_same_padding_windows_count_off_sequence_columns_as_a_quarter_of_each_base() -> None:
    # With padding="same" and width 5, output position 0 covers input columns -2..2.
    seqs = ["ACGTA"]
    activations = np.zeros((1, 5, 1), dtype=np.float32)
    activations[0, 0, 0] = 1.0
    activations[0, 4, 0] = 1.0
    windows = top_windows(activations, 2, width=5, offset=-2)
    np.testing.assert_array_equal(np.sort(windows.start[0]), [-2, 2])
    assert sorted(window_kmers(seqs, windows, 0)) == ["GTANN", "NNACG"]
    pfm = windows_pfm(seqs, windows)[0]
    np.testing.assert_array_equal(pfm.sum(axis=1), [2, 2, 2, 2, 2])
    np.testing.assert_array_equal(pfm[0], [0.25, 0.25, 1.25, 0.25])  # N and G
    np.testing.assert_array_equal(pfm[2], [2, 0, 0, 0])  # A and A


def test_pfm_matches_the_starters_pwm_builder(implanted, motif_activations) -> None:
    codes, _ = implanted
    windows = top_windows(motif_activations, 50, width=5)
    kmers = window_kmers(codes, windows, 3)
    pwm = pfm_to_pwm(windows_pfm(codes, windows)[3], pseudocount=1e-6)
    np.testing.assert_allclose(pwm, starter_build_pwm(kmers), rtol=1e-12)


def test_filter_pwms_recovers_the_implanted_motif(implanted, motif_activations) -> None:
    codes, _ = implanted
    # Every positive holds the motif, so the starter's top 50 windows are all exact copies.
    pwms, n_windows = filter_pwms(codes_to_seqs(codes), motif_activations, 5, rule="top")
    assert pwms.shape == (4, 5, 4)
    np.testing.assert_array_equal(pwms[0], motif_matrix(STARTER_MOTIF))
    assert n_windows.tolist() == [50] * 4  # the starter's N: max(50, 1% of sequences)
    # The threshold rule (> 0.5 x 3.75) also admits 4-of-5 matches (2.75), so it is softer.
    pwms, n_windows = filter_pwms(codes, motif_activations, 5, rule="threshold")
    np.testing.assert_allclose(pwms.sum(axis=-1), 1.0)
    assert "".join("ACGT"[i] for i in pwms[0].argmax(axis=1)) == STARTER_MOTIF
    assert np.all(pwms[0].max(axis=1) > 0.8) and n_windows[0] > 150


def test_filter_pwms_rejects_mismatched_inputs(implanted, motif_activations) -> None:
    codes, _ = implanted
    with pytest.raises(InputError, match="activations are for 300 sequences but 299 were given"):
        filter_pwms(codes[:-1], motif_activations, 5)
    with pytest.raises(InputError, match="rule must be 'threshold' or 'top'"):
        filter_pwms(codes, motif_activations, 5, rule="best")


# --- matrix transforms -----------------------------------------------------------------------


def test_pfm_to_pwm_normalises_rows_and_makes_empty_rows_uniform() -> None:
    pfm = np.array([[2.0, 0, 0, 2], [0, 0, 0, 0], [0, 3, 0, 0]])
    np.testing.assert_array_equal(pfm_to_pwm(pfm), [[0.5, 0, 0, 0.5], [0.25] * 4, [0, 1, 0, 0]])
    np.testing.assert_allclose(pfm_to_pwm(pfm, pseudocount=1)[2], [1 / 7, 4 / 7, 1 / 7, 1 / 7])


def test_information_content_is_two_bits_for_one_base_and_zero_for_uniform() -> None:
    pwm = np.array([[0, 0, 1, 0], [0.25] * 4, [0.5, 0.5, 0, 0]])
    np.testing.assert_allclose(information_content(pwm), [2.0, 0.0, 1.0], atol=1e-12)
    heights = information_matrix(pwm)
    np.testing.assert_allclose(heights.sum(axis=1), [2.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(heights[2], [0.5, 0.5, 0, 0])


def test_log_odds_is_zero_for_the_background_and_positive_for_a_preferred_base() -> None:
    scores = log_odds(np.array([[0.25] * 4, [1.0, 0, 0, 0]]))
    np.testing.assert_allclose(scores[0], 0.0, atol=1e-12)
    assert scores[1, 0] > 1.9 and np.all(scores[1, 1:] < -4)


def test_weights_to_pwm_rows_sum_to_one_and_favour_the_largest_weight() -> None:
    kernel = np.random.default_rng(4).normal(0, 1, (11, 4, 16))  # Keras: (width, 4, filters)
    pwms = weights_to_pwm(kernel)
    assert pwms.shape == (16, 11, 4)
    np.testing.assert_allclose(pwms.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(pwms.argmax(axis=-1), kernel.argmax(axis=1).T)
    single = weights_to_pwm(kernel[:, :, 3])
    np.testing.assert_allclose(single, pwms[3])
    sharper = weights_to_pwm(kernel[:, :, 3], temperature=0.1)
    assert np.all(sharper.max(axis=-1) > single.max(axis=-1))
    np.testing.assert_allclose(weights_to_pwm(np.zeros((3, 4))), 0.25)


@pytest.mark.parametrize(
    ("kernel", "temperature", "message"),
    [
        (np.zeros((5, 3)), 1.0, r"kernel has shape \(5, 3\) but must be \(width, 4\)"),
        (np.zeros((5, 3, 2)), 1.0, r"must be \(width, 4, filters\)"),
        (np.zeros((5, 4)), 0.0, "temperature must be > 0"),
        (np.full((5, 4), np.inf), 1.0, "kernel contains NaN or infinite values"),
    ],
)
def test_weights_to_pwm_rejects_bad_kernels(kernel, temperature: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        weights_to_pwm(kernel, temperature=temperature)


def test_median_baseline_keeps_exponential_filters_selective() -> None:
    from reference.motifs import threshold_windows

    rng = np.random.default_rng(3)
    # Exponential-style activations: everything near 1, a few true hits at 2.4.
    activations = 1.0 + 0.3 * rng.standard_normal((200, 50, 1))
    activations[rng.integers(0, 200, 40), rng.integers(0, 50, 40), 0] = 2.4
    zero = threshold_windows(activations, 5, 0.5, baseline="zero")
    median = threshold_windows(activations, 5, 0.5, baseline="median")
    assert zero.seq_index[0].size > 2000  # "half the max" keeps a quarter of all windows
    assert median.seq_index[0].size < 300
    relu = np.maximum(activations - 1.2, 0)
    same = threshold_windows(relu, 5, 0.5, baseline="median")
    usual = threshold_windows(relu, 5, 0.5, baseline="zero")
    assert np.array_equal(same.seq_index[0], usual.seq_index[0])

"""Strings, integer codes and one-hot arrays, and what happens to bases that are not ACGT."""

from __future__ import annotations

import numpy as np
import pytest

from reference.encode import (
    UNKNOWN_CODE,
    as_codes,
    codes_to_onehot,
    codes_to_seqs,
    one_hot_encode_seqs,
    onehot_to_codes,
    reverse_complement,
    reverse_complement_codes,
    seqs_from_onehot,
    seqs_to_codes,
)
from reference.starter import starter_one_hot_encode_seqs
from reference.validation import InputError


def random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in np.array(list("ACGT"))[rng.integers(0, 4, (n, length))]]


def test_codes_are_a_c_g_t_then_4_for_anything_else() -> None:
    codes = seqs_to_codes(["ACGTNX-.", "acgtnRé "])
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes[0], [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(codes[1], [0, 1, 2, 3, 4, 4, 4, 4])
    assert UNKNOWN_CODE == 4


def test_non_ascii_letters_keep_their_position() -> None:
    # One unknown per character, however many bytes it takes in UTF-8.
    np.testing.assert_array_equal(seqs_to_codes(["AéGΔT"]), [[0, 4, 2, 4, 3]])


def test_unknown_base_is_a_uniform_row_by_default() -> None:
    onehot = one_hot_encode_seqs(["ANC"])
    assert onehot.dtype == np.float32 and onehot.shape == (1, 3, 4)
    np.testing.assert_array_equal(onehot[0], [[1, 0, 0, 0], [0.25] * 4, [0, 1, 0, 0]])


def test_unknown_base_is_a_zero_row_when_asked() -> None:
    onehot = one_hot_encode_seqs(["ANC", "Gxt"], unknown="zeros")
    np.testing.assert_array_equal(onehot[0], [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(onehot[1], [[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])


def test_unknown_base_raises_when_asked() -> None:
    with pytest.raises(InputError, match=r"2 bases are not A, C, G or T; pass unknown="):
        one_hot_encode_seqs(["ANC", "GTR"], unknown="error")
    assert one_hot_encode_seqs(["acgt"], unknown="error").sum() == 4


def test_unknown_policy_must_be_one_of_three() -> None:
    with pytest.raises(InputError, match="unknown must be 'uniform', 'zeros' or 'error'"):
        one_hot_encode_seqs(["ACGT"], unknown="skip")


def test_lower_case_bases_encode_like_upper_case() -> None:
    np.testing.assert_array_equal(
        one_hot_encode_seqs(["acgtGcTa"]), one_hot_encode_seqs(["ACGTGCTA"])
    )


def test_unequal_lengths_raise_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"same length.*lengths \[3, 4\] - pad or trim them first"):
        one_hot_encode_seqs(["ACG", "ACGT"])


def test_encoder_matches_the_starter_on_acgt_sequences() -> None:
    seqs = random_seqs(50, 101)
    ours = one_hot_encode_seqs(seqs)
    starter = starter_one_hot_encode_seqs(seqs)
    assert ours.dtype == starter.dtype == np.float32
    np.testing.assert_array_equal(ours, starter)


def test_starter_encoder_crashes_on_unknown_base_where_ours_gives_a_uniform_row() -> None:
    # The starter's `_base_to_idx.get(ch, 'A')` hands numpy the *string* 'A' as an index,
    # which numpy rejects: a sequence with an N stops the starter notebook. We encode the
    # N on purpose as "no information" (0.25 each), the usual DeepBind convention.
    with pytest.raises(IndexError):
        starter_one_hot_encode_seqs(["ACNTG"])
    np.testing.assert_array_equal(one_hot_encode_seqs(["ACNTG"])[0, 2], [0.25] * 4)


def test_round_trip_strings_to_onehot_to_strings() -> None:
    seqs = [*random_seqs(20, 37, seed=1), "NNACGTNN" * 4 + "ACGTA"]
    assert seqs_from_onehot(one_hot_encode_seqs(seqs)) == seqs
    assert seqs_from_onehot(one_hot_encode_seqs(seqs, unknown="zeros")) == seqs
    assert codes_to_seqs(seqs_to_codes(seqs)) == seqs


def test_decoding_reads_a_tied_position_as_n() -> None:
    onehot = np.array([[[0.9, 0.1, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.2, 0.7]]])
    np.testing.assert_array_equal(onehot_to_codes(onehot), [[0, 4, 3]])
    assert seqs_from_onehot(onehot) == ["ANT"]


def test_empty_inputs_give_empty_arrays() -> None:
    assert seqs_to_codes([]).shape == (0, 0)
    assert seqs_to_codes(["", ""]).shape == (2, 0)
    assert codes_to_seqs(np.zeros((2, 0), dtype=np.uint8)) == ["", ""]
    assert one_hot_encode_seqs(["", ""]).shape == (2, 0, 4)
    assert seqs_to_codes("ACG").shape == (1, 3)  # a lone string is one sequence


@pytest.mark.parametrize(
    ("seq", "expected"),
    [("ACGTG", "CACGT"), ("ANC", "GNT"), ("acg", "CGT"), ("ACGT", "ACGT"), ("", "")],
)
def test_reverse_complement(seq: str, expected: str) -> None:
    assert reverse_complement(seq) == expected


def test_reverse_complement_codes_is_an_involution_along_the_last_axis() -> None:
    codes = seqs_to_codes([*random_seqs(10, 15, seed=2), "ACGTNACGTNACGTN"])
    twice = reverse_complement_codes(reverse_complement_codes(codes))
    np.testing.assert_array_equal(twice, codes)
    assert codes_to_seqs(reverse_complement_codes(codes[:1]))[0] == reverse_complement(
        codes_to_seqs(codes[:1])[0]
    )


def test_as_codes_accepts_strings_codes_and_onehot() -> None:
    seqs = ["ACGTN", "TTGCA"]
    codes = seqs_to_codes(seqs)
    np.testing.assert_array_equal(as_codes(seqs), codes)
    np.testing.assert_array_equal(as_codes(codes.astype(np.int64)), codes)
    np.testing.assert_array_equal(as_codes(codes_to_onehot(codes)), codes)
    with pytest.raises(InputError, match=r"shape \(2, 5\) and dtype float64"):
        as_codes(codes.astype(float))

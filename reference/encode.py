"""DNA sequences <-> integer codes <-> one-hot arrays, vectorised.

Sequences travel through the library as `uint8` codes (A=0, C=1, G=2, T=3, unknown=4)
because that is what numpy can index with; strings and one-hot arrays are produced
at the edges. The starter's encoder meant to turn unknown bases into `A` but its
`.get(ch, 'A')` returns the string 'A' as an index, so any `N` crashes it with an
IndexError; here an unknown base is a decision the caller makes: a uniform column
(the usual DeepBind convention), a zero column, or an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from reference.validation import DNA_ALPHABET, InputError, check_array

BASES = list(DNA_ALPHABET)
UNKNOWN_CODE = 4
UnknownPolicy = Literal["uniform", "zeros", "error"]

_ASCII_TO_CODE = np.full(256, UNKNOWN_CODE, dtype=np.uint8)
for _code, _base in enumerate(DNA_ALPHABET):
    _ASCII_TO_CODE[ord(_base)] = _code
    _ASCII_TO_CODE[ord(_base.lower())] = _code
_CODE_TO_ASCII = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT_CODE = np.array([3, 2, 1, 0, UNKNOWN_CODE], dtype=np.uint8)


def seqs_to_codes(seqs: Sequence[str]) -> np.ndarray:
    """Turn equal-length sequences into an (N, L) uint8 array; unknown bases become 4."""
    if isinstance(seqs, str):
        seqs = [seqs]
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise InputError(
            f"sequences must all have the same length to be stacked; found lengths "
            f"{sorted(lengths)[:5]} - pad or trim them first"
        )
    if length == 0:
        return np.zeros((len(seqs), 0), dtype=np.uint8)
    raw = "".join(seqs).encode("ascii", errors="replace")
    ascii_codes = np.frombuffer(raw, dtype=np.uint8).reshape(len(seqs), length)
    return _ASCII_TO_CODE[ascii_codes]


def codes_to_seqs(codes: np.ndarray) -> list[str]:
    """Turn an (N, L) code array back into strings; code 4 becomes 'N'."""
    codes = check_array("codes", codes, ndim=2)
    n, length = codes.shape
    if length == 0:
        return [""] * n
    chars = np.ascontiguousarray(_CODE_TO_ASCII[np.minimum(codes, UNKNOWN_CODE)])
    return chars.view(f"S{length}").ravel().astype(f"U{length}").tolist()


def codes_to_onehot(
    codes: np.ndarray, unknown: UnknownPolicy = "uniform", dtype: type = np.float32
) -> np.ndarray:
    """One-hot encode codes to (N, L, 4); `unknown` decides what code 4 becomes."""
    codes = check_array("codes", codes, ndim=2)
    if unknown not in ("uniform", "zeros", "error"):
        raise InputError(f"unknown must be 'uniform', 'zeros' or 'error', got {unknown!r}")
    if unknown == "error" and np.any(codes >= UNKNOWN_CODE):
        n_bad = int(np.sum(codes >= UNKNOWN_CODE))
        raise InputError(
            f"{n_bad} bases are not A, C, G or T; pass unknown='uniform' or 'zeros' to keep them"
        )
    table = np.zeros((UNKNOWN_CODE + 1, 4), dtype=dtype)
    table[np.arange(4), np.arange(4)] = 1
    if unknown == "uniform":
        table[UNKNOWN_CODE] = 0.25
    return table[np.minimum(codes, UNKNOWN_CODE)]


def one_hot_encode_seqs(
    seqs: Sequence[str], unknown: UnknownPolicy = "uniform", dtype: type = np.float32
) -> np.ndarray:
    """Encode equal-length DNA strings to (N, L, 4), like the starter but vectorised.

    Lower-case bases count as their upper-case base (soft-masked genomes).
    """
    return codes_to_onehot(seqs_to_codes(seqs), unknown=unknown, dtype=dtype)


def onehot_to_codes(onehot: np.ndarray) -> np.ndarray:
    """Argmax decode (N, L, 4); positions with no single largest base become 4 (N)."""
    onehot = check_array("onehot", onehot, ndim=3, last_dim=4)
    codes = np.argmax(onehot, axis=-1).astype(np.uint8)
    top = np.max(onehot, axis=-1)
    ties = np.sum(onehot == top[..., None], axis=-1) > 1
    codes[ties] = UNKNOWN_CODE
    return codes


def seqs_from_onehot(onehot: np.ndarray) -> list[str]:
    """Decode a one-hot array to strings (the starter's `seqs_from_onehot`, vectorised)."""
    return codes_to_seqs(onehot_to_codes(onehot))


def as_codes(sequences: Sequence[str] | np.ndarray) -> np.ndarray:
    """Accept strings, an (N, L) code array or an (N, L, 4) one-hot array; return codes."""
    if isinstance(sequences, np.ndarray):
        if sequences.ndim == 3:
            return onehot_to_codes(sequences)
        if sequences.ndim == 2 and sequences.dtype.kind in "iu":
            return sequences.astype(np.uint8, copy=False)
        raise InputError(
            f"sequences array has shape {sequences.shape} and dtype {sequences.dtype}; "
            "pass strings, (N, L) integer codes or an (N, L, 4) one-hot array"
        )
    return seqs_to_codes(sequences)


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis of a code array."""
    codes = np.asarray(codes, dtype=np.uint8)
    return _COMPLEMENT_CODE[np.minimum(codes, UNKNOWN_CODE)][..., ::-1]


def reverse_complement(seq: str) -> str:
    """Reverse complement of one DNA string (unknown bases stay N)."""
    if not seq:
        return ""
    return codes_to_seqs(reverse_complement_codes(seqs_to_codes([seq])))[0]


def column_permutation(got: np.ndarray, expected: np.ndarray) -> tuple[int, ...] | None:
    """`columns` with got == expected[..., columns], when `got` only reorders the 4 columns.

    A student's encoder that consistently uses another base order (say A, G, C, T) is
    a correct encoder for their own models: feeding those models data in that order
    reads them as they were built. Returns None for anything but a pure permutation.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or got.ndim < 2 or got.shape[-1] != 4:
        return None
    flat_got = got.reshape(-1, 4)
    flat_expected = expected.reshape(-1, 4)
    columns = []
    for j in range(4):
        matches = [b for b in range(4) if np.allclose(flat_got[:, j], flat_expected[:, b])]
        if len(matches) != 1:
            return None
        columns.append(matches[0])
    return tuple(columns) if sorted(columns) == [0, 1, 2, 3] else None

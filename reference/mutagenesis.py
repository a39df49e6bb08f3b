"""In-silico mutagenesis: DeepBind's mutation maps, batched.

Every base of a sequence is changed to each of the three others and the change of
the model's output is recorded, giving an (L, 4) matrix of deltas per sequence (0
for the base already there). All variants of a batch of sequences go through the
model in one predict call: building them is numpy, the model sees one array.

The summary is the share of total |delta| that falls inside the motif's window: a
model that learned the motif moves only when the motif is touched (share near 1), a
model that learned composition moves a little everywhere (share near the window's
share of the sequence, 5/101 for the assignment).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference.encode import UNKNOWN_CODE
from reference.validation import InputError, check_array

ALTERNATIVES = 3


def _checked_codes(codes: np.ndarray) -> np.ndarray:
    codes = check_array("codes", codes, ndim=2)
    if codes.dtype.kind not in "iu":
        raise InputError(f"codes has dtype {codes.dtype}; pass (N, L) integer base codes")
    if codes.size and int(codes.max()) >= UNKNOWN_CODE:
        raise InputError("codes contain unknown bases (N); mutate only A, C, G, T sequences")
    return codes.astype(np.uint8, copy=False)


def ism_variants(codes: np.ndarray) -> np.ndarray:
    """(N * L * 3, L) codes: each sequence with one base changed, in (sequence, position,
    alternative) order, alternatives being the other three bases in ACGT order."""
    codes = _checked_codes(codes)
    n, length = codes.shape
    shift = np.arange(1, ALTERNATIVES + 1, dtype=np.uint8)
    variants = np.repeat(codes[:, None, None, :], length, axis=1)
    variants = np.repeat(variants, ALTERNATIVES, axis=2)  # (N, L, 3, L)
    position = np.arange(length)
    current = codes[:, :, None]  # (N, L, 1)
    alternatives = np.sort((current + shift) % 4, axis=-1)  # (N, L, 3), ACGT order
    variants[:, position, :, position] = np.moveaxis(alternatives, 1, 0)
    return variants.reshape(n * length * ALTERNATIVES, length)


def ism_deltas(
    codes: np.ndarray, reference_scores: np.ndarray, variant_scores: np.ndarray
) -> np.ndarray:
    """(N, L, 4) change of the output when each base is set to A, C, G or T."""
    codes = _checked_codes(codes)
    n, length = codes.shape
    reference_scores = check_array("reference_scores", reference_scores).astype(float).ravel()
    variant_scores = check_array("variant_scores", variant_scores).astype(float).ravel()
    if reference_scores.shape != (n,):
        raise InputError(f"reference_scores has {reference_scores.size} entries but must have {n}")
    if variant_scores.shape != (n * length * ALTERNATIVES,):
        raise InputError(
            f"variant_scores has {variant_scores.size} entries but must have "
            f"{n * length * ALTERNATIVES} (N x L x 3, from ism_variants)"
        )
    moved = variant_scores.reshape(n, length, ALTERNATIVES) - reference_scores[:, None, None]
    deltas = np.zeros((n, length, 4), dtype=np.float64)
    shift = np.arange(1, ALTERNATIVES + 1)
    alternatives = np.sort((codes[:, :, None].astype(np.int64) + shift) % 4, axis=-1)
    np.put_along_axis(deltas, alternatives, moved, axis=-1)
    return deltas


def ism(predict: Callable[[np.ndarray], np.ndarray], codes: np.ndarray) -> np.ndarray:
    """(N, L, 4) mutation maps of `predict(codes) -> scores`, in one call for the batch."""
    codes = _checked_codes(codes)
    variants = ism_variants(codes)
    scores = np.asarray(predict(np.concatenate([codes, variants])), dtype=np.float64).ravel()
    return ism_deltas(codes, scores[: codes.shape[0]], scores[codes.shape[0] :])


def motif_window_share(deltas: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Per sequence, the share of total |delta| inside [start, start + width).

    A sequence whose output never moves has no share to speak of: NaN.
    """
    deltas = check_array("deltas", deltas, ndim=3, last_dim=4)
    starts = check_array("starts", starts, ndim=1).astype(np.int64)
    if starts.shape[0] != deltas.shape[0]:
        raise InputError(f"starts has {starts.shape[0]} entries but deltas has {deltas.shape[0]}")
    per_position = np.abs(deltas).sum(axis=-1)  # (N, L)
    position = np.arange(deltas.shape[1])
    inside = (position >= starts[:, None]) & (position < starts[:, None] + width)
    total = per_position.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (per_position * inside).sum(axis=1) / total, np.nan)


def pooled_window_share(deltas: np.ndarray, starts: np.ndarray, width: int) -> float:
    """The share over all sequences together (sequences weighted by how much they move)."""
    deltas = check_array("deltas", deltas, ndim=3, last_dim=4)
    starts = check_array("starts", starts, ndim=1).astype(np.int64)
    per_position = np.abs(deltas).sum(axis=-1)
    position = np.arange(deltas.shape[1])
    inside = (position >= starts[:, None]) & (position < starts[:, None] + width)
    total = float(per_position.sum())
    return float((per_position * inside).sum() / total) if total > 0 else float("nan")


def importance(deltas: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(N, L) how much the output drops when the base present is changed (mean over the
    three alternatives): the height of the present base in an ISM logo."""
    deltas = check_array("deltas", deltas, ndim=3, last_dim=4)
    codes = _checked_codes(codes)
    if codes.shape != deltas.shape[:2]:
        raise InputError(f"codes has shape {codes.shape} but deltas has {deltas.shape[:2]}")
    return -deltas.sum(axis=-1) / ALTERNATIVES

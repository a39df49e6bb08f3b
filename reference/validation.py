"""One place that checks inputs at the boundary, so every error reads the same way.

Functions in `reference` call these before doing any work; the message names the
argument, what it was and what it must be, so a student or an instructor can fix the
call without reading our code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DNA_ALPHABET = "ACGT"


class InputError(ValueError):
    """Raised when an argument has the wrong shape, type or content."""


def check_array(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    last_dim: int | None = None,
    finite: bool = False,
) -> np.ndarray:
    """Return `value` as a numpy array after checking its shape, or raise InputError."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many types here
        raise InputError(f"{name} could not be read as an array: {exc}") from exc
    if ndim is not None and array.ndim != ndim:
        raise InputError(
            f"{name} has shape {array.shape} but must have {ndim} dimensions"
            + (f" (..., {last_dim})" if last_dim else "")
        )
    if last_dim is not None and (array.ndim == 0 or array.shape[-1] != last_dim):
        raise InputError(f"{name} has shape {array.shape} but its last axis must have {last_dim}")
    if finite and array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values")
    return array


def check_motif(name: str, motif: object) -> str:
    """Return `motif` upper-cased after checking it is a non-empty ACGT string."""
    if not isinstance(motif, str) or not motif:
        raise InputError(f"{name} must be a non-empty string of A, C, G, T, got {motif!r}")
    upper = motif.upper()
    bad = sorted(set(upper) - set(DNA_ALPHABET))
    if bad:
        raise InputError(f"{name} {motif!r} contains {''.join(bad)!r}; only A, C, G, T are allowed")
    return upper


def check_motifs(name: str, motifs: Sequence[str]) -> list[str]:
    """Check a list of motifs; at least one is required."""
    if isinstance(motifs, str) or not isinstance(motifs, Sequence) or len(motifs) == 0:
        raise InputError(f"{name} must be a non-empty list of motif strings, got {motifs!r}")
    return [check_motif(f"{name}[{i}]", m) for i, m in enumerate(motifs)]


def check_probability(name: str, value: float) -> float:
    """Check that `value` is a number in [0, 1]."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a number between 0 and 1, got {value!r}") from exc
    if not 0.0 <= number <= 1.0:
        raise InputError(f"{name} must be between 0 and 1, got {number}")
    return number


def check_count(name: str, value: int, *, minimum: int = 0) -> int:
    """Check that `value` is an integer no smaller than `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {value}")
    return int(value)

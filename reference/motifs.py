"""From first-layer activations to position frequency matrices, vectorised.

A filter's motif is read off the input windows that activate it most. Two rules are
supported: the starter's "global top N windows over the dataset" and the threshold
rule "every window whose activation exceeds `fraction` of that filter's maximum".
The starter scanned activations with a Python heap (N x L x F pushes); here each
filter's top N is one `argpartition`.

Windows are located in sequence coordinates with `offset` and `stride`, so models
with `padding="same"` (offset -(w-1)//2) or strided convolutions are read correctly.
Window columns that fall off the sequence, and unknown bases, add 0.25 to each base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.encode import UNKNOWN_CODE, as_codes
from reference.validation import InputError, check_array

BACKGROUND = np.full(4, 0.25)


@dataclass(frozen=True)
class FilterWindows:
    """The windows chosen for each filter: per filter, arrays of sequence index and start."""

    seq_index: tuple[np.ndarray, ...]
    start: tuple[np.ndarray, ...]
    activation: tuple[np.ndarray, ...]
    width: int

    @property
    def n_filters(self) -> int:
        return len(self.seq_index)


def top_windows(
    activations: np.ndarray, num_top: int, width: int, offset: int = 0, stride: int = 1
) -> FilterWindows:
    """The starter's rule: for each filter, the `num_top` highest windows over the dataset.

    Ties at the cut-off are broken by (sequence, position) order, earliest first.
    """
    activations = check_array("activations", activations, ndim=3, finite=True)
    n, length_out, n_filters = activations.shape
    total = n * length_out
    num_top = int(min(max(num_top, 1), total))
    # One contiguous row per filter: partitioning a strided view is twice as slow.
    flat = np.ascontiguousarray(activations.reshape(total, n_filters).T)
    candidates = np.argpartition(flat, total - num_top, axis=1)[:, total - num_top :]
    values = np.take_along_axis(flat, candidates, axis=1)
    threshold = values.min(axis=1)
    seq_index, starts, scores = [], [], []
    for f in range(n_filters):
        above = candidates[f, values[f] > threshold[f]]
        tied = candidates[f, values[f] == threshold[f]]
        if np.count_nonzero(flat[f] == threshold[f]) > tied.size:
            # More windows tie at the cut-off than fit: keep the earliest ones.
            tied = np.flatnonzero(flat[f] == threshold[f])
        chosen = np.concatenate([above, np.sort(tied)[: num_top - above.size]])
        order = np.lexsort((chosen, -flat[f, chosen]))
        chosen = chosen[order]
        seq_index.append(chosen // length_out)
        starts.append((chosen % length_out) * stride + offset)
        scores.append(flat[f, chosen])
    return FilterWindows(tuple(seq_index), tuple(starts), tuple(scores), width)


def threshold_windows(
    activations: np.ndarray,
    width: int,
    fraction: float = 0.5,
    offset: int = 0,
    stride: int = 1,
    baseline: str = "zero",
) -> FilterWindows:
    """Windows whose activation exceeds `fraction` of the way from a baseline to the maximum.

    With `baseline="zero"` this is the usual rule, activation > fraction x max, and a
    filter that never rises above zero has no motif. With `baseline="median"` the
    threshold is median + fraction x (max - median): the same for ReLU filters (whose
    median is 0), but right for activations that are never zero, such as the
    exponential, where "half the maximum" lets in a third of all windows and yields
    a flat PWM.
    """
    activations = check_array("activations", activations, ndim=3, finite=True)
    if baseline not in ("zero", "median"):
        raise InputError(f"baseline must be 'zero' or 'median', got {baseline!r}")
    seq_index, starts, scores = [], [], []
    for f in range(activations.shape[-1]):
        values = activations[..., f]
        peak = float(values.max()) if values.size else 0.0
        floor = float(np.median(values)) if baseline == "median" and values.size else 0.0
        if peak <= floor:
            rows = cols = np.zeros(0, dtype=np.int64)
        else:
            rows, cols = np.nonzero(values > floor + fraction * (peak - floor))
        seq_index.append(rows)
        starts.append(cols * stride + offset)
        scores.append(values[rows, cols])
    return FilterWindows(tuple(seq_index), tuple(starts), tuple(scores), width)


def window_kmers(sequences, windows: FilterWindows, filter_index: int) -> list[str]:
    """The k-mers of one filter's windows as strings (off-sequence columns are N)."""
    from reference.encode import codes_to_seqs

    codes = as_codes(sequences)
    block = _gather(
        codes, windows.seq_index[filter_index], windows.start[filter_index], windows.width
    )
    return codes_to_seqs(block)


def _gather(codes: np.ndarray, seq_index: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """(n_windows, width) codes, with UNKNOWN where a window leaves the sequence."""
    length = codes.shape[1]
    columns = starts[:, None] + np.arange(width)
    inside = (columns >= 0) & (columns < length)
    block = codes[seq_index[:, None], np.clip(columns, 0, max(length - 1, 0))]
    return np.where(inside, block, UNKNOWN_CODE).astype(np.uint8)


def windows_pfm(sequences, windows: FilterWindows) -> np.ndarray:
    """(n_filters, width, 4) counts of each base at each window column."""
    codes = as_codes(sequences)
    width = windows.width
    pfms = np.zeros((windows.n_filters, width, 4))
    for f in range(windows.n_filters):
        if windows.seq_index[f].size == 0:
            continue
        block = _gather(codes, windows.seq_index[f], windows.start[f], width)
        flat = (np.arange(width) * (UNKNOWN_CODE + 1) + block).ravel()
        counts = np.bincount(flat, minlength=width * (UNKNOWN_CODE + 1))
        counts = counts.reshape(width, UNKNOWN_CODE + 1).astype(float)
        pfms[f] = counts[:, :4] + counts[:, 4:5] * 0.25
    return pfms


def pfm_to_pwm(pfm: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Frequencies per position; an empty position (no counts) becomes uniform."""
    pfm = check_array("pfm", pfm, last_dim=4).astype(float) + pseudocount
    totals = pfm.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pwm = np.where(totals > 0, pfm / np.where(totals > 0, totals, 1), 0.25)
    return pwm


def information_content(pwm: np.ndarray, background: np.ndarray = BACKGROUND) -> np.ndarray:
    """Bits of information per position (relative entropy to the background)."""
    pwm = check_array("pwm", pwm, last_dim=4).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pwm > 0, pwm * np.log2(pwm / background), 0.0)
    return terms.sum(axis=-1)


def information_matrix(pwm: np.ndarray, background: np.ndarray = BACKGROUND) -> np.ndarray:
    """Letter heights for an information logo: frequency x information content."""
    pwm = check_array("pwm", pwm, last_dim=4).astype(float)
    return pwm * information_content(pwm, background)[..., None]


def log_odds(pwm: np.ndarray, background: np.ndarray = BACKGROUND, pseudocount: float = 0.01):
    """log2 odds of each base against the background, the usual scanning matrix."""
    pwm = check_array("pwm", pwm, last_dim=4).astype(float)
    smoothed = (pwm + pseudocount) / (1 + 4 * pseudocount)
    return np.log2(smoothed / background)


def weights_to_pwm(kernel: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """A PWM read from a filter's weights: a softmax over bases at each position.

    `kernel` is (width, 4) or Keras's (width, 4, n_filters); the result is
    (width, 4) or (n_filters, width, 4). Larger weights mean a base is preferred;
    `temperature` sets how sharply.
    """
    kernel = check_array("kernel", kernel, finite=True).astype(float)
    if kernel.ndim == 3:
        if kernel.shape[1] != 4:
            raise InputError(f"kernel has shape {kernel.shape} but must be (width, 4, filters)")
        kernel = np.moveaxis(kernel, -1, 0)
    elif kernel.ndim != 2 or kernel.shape[1] != 4:
        raise InputError(f"kernel has shape {kernel.shape} but must be (width, 4)")
    if temperature <= 0:
        raise InputError(f"temperature must be > 0, got {temperature}")
    scaled = kernel / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


def filter_pwms(
    sequences,
    activations: np.ndarray,
    width: int,
    rule: str = "threshold",
    num_top: int | None = None,
    fraction: float = 0.5,
    offset: int = 0,
    stride: int = 1,
    baseline: str = "zero",
) -> tuple[np.ndarray, np.ndarray]:
    """PWMs of every filter and the number of windows behind each: the usual entry point.

    `rule` is "threshold" (activation > fraction x max) or "top" (the starter's
    top-N, with N = max(50, 1% of sequences) when not given).
    """
    codes = as_codes(sequences)
    activations = check_array("activations", activations, ndim=3)
    if activations.shape[0] != codes.shape[0]:
        raise InputError(
            f"activations are for {activations.shape[0]} sequences but {codes.shape[0]} were given"
        )
    if rule == "threshold":
        windows = threshold_windows(activations, width, fraction, offset, stride, baseline)
    elif rule == "top":
        n_top = num_top if num_top is not None else max(50, int(0.01 * codes.shape[0]))
        windows = top_windows(activations, n_top, width, offset, stride)
    else:
        raise InputError(f"rule must be 'threshold' or 'top', got {rule!r}")
    pfms = windows_pfm(codes, windows)
    n_windows = np.array([s.size for s in windows.seq_index])
    return pfm_to_pwm(pfms), n_windows


def read_filter_pwms(
    sequences,
    activations: np.ndarray,
    width: int,
    fraction: float,
    offset: int = 0,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The one rule by which a filter's motif is read, by the answer key and the grader.

    Windows above `fraction` of the way from the filter's median activation to its
    maximum: "half the maximum" for ReLU filters (median 0), and still selective for
    activations that are never zero. Both sides call this, so a filter recovers the
    motif for the answer key exactly when it does for the grader.
    """
    return filter_pwms(
        sequences,
        activations,
        width,
        rule="threshold",
        fraction=fraction,
        offset=offset,
        stride=stride,
        baseline="median",
    )


def fitted_pseudocount(pwm: np.ndarray, counts: np.ndarray, atol: float = 1e-3) -> float | None:
    """The pseudocount `a` for which `pwm` equals (counts + a) / (n + 4a), or None.

    A frequency matrix built with any common pseudocount (the starter's 1e-6, or +1
    Laplace smoothing) is a correct `build_pwm`; only the amount of smoothing differs.
    `counts` is the (k, 4) table of base counts the PWM should be built from.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if pwm.shape != counts.shape or pwm.ndim != 2 or pwm.shape[1] != 4:
        return None
    totals = counts.sum(axis=1, keepdims=True)
    if not np.isfinite(pwm).all() or totals.min() <= 0:
        return None
    # (c + a) / (n + 4a) = p  <=>  a (1 - 4p) = p n - c: least squares over every cell.
    slope = (1.0 - 4.0 * pwm).ravel()
    target = (pwm * totals - counts).ravel()
    denominator = float(slope @ slope)
    pseudocount = float(slope @ target / denominator) if denominator > 0 else 0.0
    pseudocount = max(pseudocount, 0.0)
    expected = (counts + pseudocount) / (totals + 4.0 * pseudocount)
    return pseudocount if np.allclose(pwm, expected, atol=atol) else None


def hand_set_filters(kernel: np.ndarray, max_distinct: int = 3) -> list[int]:
    """Filters whose weights look typed in rather than learnt: few distinct values.

    `kernel` is Keras's (width, channels, n_filters). Gradient descent from a random
    start never leaves a filter with only two or three distinct weights (such as a
    one-hot pattern of 0s and 1s, or whole numbers); a filter of all zeros is left out
    (it may be pruned or regularised away).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 3:
        return []
    flagged = []
    for f in range(kernel.shape[-1]):
        weights = kernel[..., f]
        if not np.any(weights):
            continue
        distinct = np.unique(np.round(weights, 6)).size
        whole = np.allclose(weights, np.round(weights), atol=1e-6)
        if distinct <= max_distinct or (whole and weights.size > 1):
            flagged.append(f)
    return flagged

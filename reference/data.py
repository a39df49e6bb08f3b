"""Synthetic datasets: the starter's generator made fast, and the assignment's variants.

`generate_synthetic_dataset` must give exactly what the starter's loop gives, for any
arguments, because students, the grader and the hidden data all rely on that. The
starter draws each base with `rng.choice(BASES)`, which for a 4-element list is one
32-bit draw of `randint(0, 4)`; drawing a whole sequence with one `randint(0, 4,
size=L)` call consumes the same stream in the same order, so we keep the starter's
call order (bases, `rand()`, start) per positive and draw all negatives at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reference.encode import codes_to_seqs, reverse_complement_codes, seqs_to_codes
from reference.validation import (
    InputError,
    check_array,
    check_count,
    check_motif,
    check_motifs,
    check_probability,
)

STARTER_MOTIF = "ACGTG"
STARTER_SEQ_LEN = 101
DEFAULT_MULTI_MOTIFS = ("GATAAG", "TGACTC")

Rule = Literal["any", "all", "xor"]
RULE_ALIASES = {"any": "any", "or": "any", "all": "all", "and": "all", "xor": "xor"}


@dataclass(frozen=True)
class SyntheticDataset:
    """A single-motif dataset as codes, with where the motif was implanted.

    `implant_starts[i]` is -1 for sequences without an implant (all negatives, and
    positives that lost the `motif_prob` draw).
    """

    codes: np.ndarray
    labels: np.ndarray
    implant_starts: np.ndarray
    motif: str

    @property
    def seqs(self) -> list[str]:
        return codes_to_seqs(self.codes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class MultiMotifDataset:
    """A dataset with several motifs; `presence[i, m]` says motif m was implanted in i."""

    codes: np.ndarray
    labels: np.ndarray
    presence: np.ndarray
    implant_starts: np.ndarray
    implant_reversed: np.ndarray
    motifs: tuple[str, ...]
    rule: str
    pattern_weights: dict[int, tuple[tuple[frozenset[int], float], ...]]
    rc_prob: float

    @property
    def seqs(self) -> list[str]:
        return codes_to_seqs(self.codes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Split:
    """The starter's 80/10/10 split, by position, of any sliceable arrays."""

    train: tuple
    val: tuple
    test: tuple


def generate_synthetic_codes(
    num_pos: int = 2000,
    num_neg: int = 2000,
    seq_len: int = 101,
    motif: str = "ACGTG",
    motif_prob: float = 1.0,
    random_seed: int = 42,
) -> SyntheticDataset:
    """The starter's dataset as integer codes, bit-for-bit the same draws."""
    num_pos = check_count("num_pos", num_pos)
    num_neg = check_count("num_neg", num_neg)
    seq_len = check_count("seq_len", seq_len)
    motif = check_motif("motif", motif)
    motif_prob = check_probability("motif_prob", motif_prob)
    k = len(motif)
    if k > seq_len and num_pos > 0 and motif_prob > 0:
        raise InputError(f"motif {motif!r} ({k} bases) is longer than seq_len={seq_len}")
    rng = np.random.RandomState(random_seed)
    motif_codes = seqs_to_codes([motif])[0]

    pos_codes, starts = _draw_positives(rng, num_pos, seq_len, k, motif_prob)
    implanted = np.flatnonzero(starts >= 0)
    if implanted.size:
        columns = starts[implanted, None] + np.arange(k)
        pos_codes[implanted[:, None], columns] = motif_codes
    neg_codes = rng.randint(0, 4, size=(num_neg, seq_len)).astype(np.uint8)

    codes = np.concatenate([pos_codes, neg_codes])
    labels = np.concatenate([np.ones(num_pos, dtype=np.int32), np.zeros(num_neg, dtype=np.int32)])
    all_starts = np.concatenate([starts, np.full(num_neg, -1, dtype=np.int64)])
    perm = rng.permutation(num_pos + num_neg)
    return SyntheticDataset(codes[perm], labels[perm], all_starts[perm], motif)


_WORD = 2**32


def _draw_positives(
    rng: np.random.RandomState, num_pos: int, seq_len: int, k: int, motif_prob: float
) -> tuple[np.ndarray, np.ndarray]:
    """Replay the starter's per-positive draws from one block of raw 32-bit words.

    Per positive the starter consumes `seq_len` words for the bases (`word & 3`),
    two words for `rand()` (53-bit double: `(a >> 5) * 2**26 + (b >> 6)`, over
    2**53) and, when the motif goes in, `randint(0, seq_len - k + 1)`, which takes
    words until one masked to the next power of two minus one is in range (none
    when the range is a single value). Decoding that from a block is a walk of
    array look-ups; the generator is then advanced by exactly the words used.
    """
    span = seq_len - k
    mask = (1 << span.bit_length()) - 1 if span > 0 else 0
    saved = rng.get_state()
    extra = 4 * num_pos + 64
    while True:
        words = rng.randint(0, _WORD, size=num_pos * (seq_len + 2) + extra, dtype=np.uint32)
        uniforms = ((words[:-1] >> 5) * 67108864.0 + (words[1:] >> 6)) / 9007199254740992.0
        masked = (words & mask).astype(np.int64)
        # next_accepted[j]: first word at or after j whose masked value is in range.
        index = np.where(masked <= span, np.arange(words.size), words.size)
        next_accepted = np.minimum.accumulate(index[::-1])[::-1]
        offsets = np.empty(num_pos, dtype=np.int64)
        starts = np.full(num_pos, -1, dtype=np.int64)
        position = 0
        try:
            for i in range(num_pos):
                offsets[i] = position
                position += seq_len
                draw = uniforms[position]
                position += 2
                if draw <= motif_prob:
                    if span > 0:
                        hit = int(next_accepted[position])
                        starts[i] = masked[hit]
                        position = hit + 1
                    else:
                        starts[i] = 0
            if position > words.size:
                raise IndexError
        except IndexError:
            rng.set_state(saved)
            extra *= 4
            continue
        break
    rng.set_state(saved)
    if position:
        rng.randint(0, _WORD, size=position, dtype=np.uint32)
    codes = (words[offsets[:, None] + np.arange(seq_len)] & 3).astype(np.uint8)
    return codes, starts


def generate_synthetic_dataset(
    num_pos: int = 2000,
    num_neg: int = 2000,
    seq_len: int = 101,
    motif: str = "ACGTG",
    motif_prob: float = 1.0,
    random_seed: int = 42,
) -> tuple[list[str], np.ndarray]:
    """Drop-in replacement for the starter's generator: same arguments, same output."""
    dataset = generate_synthetic_codes(num_pos, num_neg, seq_len, motif, motif_prob, random_seed)
    return dataset.seqs, dataset.labels


def split_dataset(*arrays: Sequence, train: float = 0.8, val: float = 0.1) -> Split:
    """Split aligned arrays by position like the starter (`int(0.8*N)`, `int(0.9*N)`)."""
    if not arrays:
        raise InputError("split_dataset needs at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise InputError(f"arrays to split have different lengths: {[len(a) for a in arrays]}")
    train_end = int(train * n)
    val_end = int((train + val) * n)
    return Split(
        train=tuple(a[:train_end] for a in arrays),
        val=tuple(a[train_end:val_end] for a in arrays),
        test=tuple(a[val_end:] for a in arrays),
    )


def normalise_rule(rule: str) -> str:
    """Map the contract's rule words ('and', 'or', 'xor') onto ours ('all', 'any', 'xor')."""
    key = str(rule).strip().lower()
    if key not in RULE_ALIASES:
        raise InputError(f"rule must be one of any/or, all/and, xor; got {rule!r}")
    return RULE_ALIASES[key]


def rule_label(present: frozenset[int], n_motifs: int, rule: str) -> int:
    """Label of a sequence holding the motifs in `present` under `rule`."""
    rule = normalise_rule(rule)
    if rule == "any":
        return int(len(present) >= 1)
    if rule == "all":
        return int(len(present) == n_motifs)
    return int(len(present) % 2 == 1)


def pattern_weights(
    n_motifs: int, rule: str, co_occurrence: float
) -> dict[int, tuple[tuple[frozenset[int], float], ...]]:
    """How often each set of motifs appears within each class.

    Within a class, sets of two or more motifs share `co_occurrence` of the
    sequences and the other sets share the rest; a class with only one kind of set
    gives that kind everything. So under `any`, `co_occurrence` is the fraction of
    positives carrying both motifs; under `all`, negatives are split evenly between
    none and each motif alone, which forces a model to learn the conjunction.
    """
    check_count("n_motifs", n_motifs, minimum=1)
    co_occurrence = check_probability("co_occurrence", co_occurrence)
    subsets = [
        frozenset(c)
        for r in range(n_motifs + 1)
        for c in itertools.combinations(range(n_motifs), r)
    ]
    weights: dict[int, tuple[tuple[frozenset[int], float], ...]] = {}
    for label in (0, 1):
        members = [s for s in subsets if rule_label(s, n_motifs, rule) == label]
        together = [s for s in members if len(s) >= 2]
        apart = [s for s in members if len(s) < 2]
        if together and apart:
            share = [(s, co_occurrence / len(together)) for s in together]
            share += [(s, (1 - co_occurrence) / len(apart)) for s in apart]
        else:
            share = [(s, 1 / len(members)) for s in members]
        weights[label] = tuple((s, w) for s, w in share if w > 0)
    return weights


def generate_multi_motif_dataset(
    num_pos: int = 2000,
    num_neg: int = 2000,
    seq_len: int = 101,
    motifs: Sequence[str] = DEFAULT_MULTI_MOTIFS,
    rule: Rule | str = "any",
    co_occurrence: float = 0.3,
    rc_prob: float = 0.0,
    random_seed: int = 0,
) -> MultiMotifDataset:
    """Sequences carrying any subset of several motifs, labelled by `rule`.

    Implants never overlap each other. With `rc_prob` > 0 each implant is the
    motif's reverse complement with that probability, as a real factor binds either
    strand.
    """
    num_pos = check_count("num_pos", num_pos)
    num_neg = check_count("num_neg", num_neg)
    seq_len = check_count("seq_len", seq_len)
    motifs = check_motifs("motifs", motifs)
    rule = normalise_rule(rule)
    rc_prob = check_probability("rc_prob", rc_prob)
    if sum(len(m) for m in motifs) > seq_len:
        raise InputError(
            f"motifs {motifs} need {sum(len(m) for m in motifs)} bases together "
            f"but seq_len is {seq_len}"
        )
    weights = pattern_weights(len(motifs), rule, co_occurrence)
    for label, count in ((1, num_pos), (0, num_neg)):
        if count and not weights[label]:
            raise InputError(f"rule {rule!r} leaves no way to make label {label}")
    rng = np.random.default_rng(random_seed)
    motif_codes = [seqs_to_codes([m])[0] for m in motifs]
    n = num_pos + num_neg
    codes = rng.integers(0, 4, size=(n, seq_len), dtype=np.uint8)
    labels = np.concatenate([np.ones(num_pos, np.int32), np.zeros(num_neg, np.int32)])
    presence = np.zeros((n, len(motifs)), dtype=bool)
    starts = np.full((n, len(motifs)), -1, dtype=np.int64)
    reversed_ = np.zeros((n, len(motifs)), dtype=bool)

    for label, lo, hi in ((1, 0, num_pos), (0, num_pos, n)):
        if hi == lo:
            continue
        patterns = [p for p, _ in weights[label]]
        probs = np.array([w for _, w in weights[label]])
        chosen = rng.choice(len(patterns), size=hi - lo, p=probs / probs.sum())
        for p_index, pattern in enumerate(patterns):
            rows = lo + np.flatnonzero(chosen == p_index)
            if not pattern or rows.size == 0:
                continue
            _implant_pattern(
                rng, codes, rows, sorted(pattern), motif_codes, rc_prob, presence, starts, reversed_
            )

    perm = rng.permutation(n)
    return MultiMotifDataset(
        codes=codes[perm],
        labels=labels[perm],
        presence=presence[perm],
        implant_starts=starts[perm],
        implant_reversed=reversed_[perm],
        motifs=tuple(motifs),
        rule=rule,
        pattern_weights=weights,
        rc_prob=rc_prob,
    )


def _implant_pattern(rng, codes, rows, pattern, motif_codes, rc_prob, presence, starts, reversed_):
    """Place the motifs of `pattern` without overlap in every row of `rows`.

    A random order of the motifs and sorted offsets into the free length give
    non-overlapping starts: start_j = offset_j + total length of motifs before j.
    """
    seq_len = codes.shape[1]
    lengths = np.array([len(motif_codes[m]) for m in pattern])
    free = seq_len - int(lengths.sum())
    n_rows, n_slots = rows.size, len(pattern)
    order = np.argsort(rng.random((n_rows, n_slots)), axis=1)
    offsets = np.sort(rng.integers(0, free + 1, size=(n_rows, n_slots)), axis=1)
    slot_lengths = lengths[order]
    before = np.cumsum(slot_lengths, axis=1) - slot_lengths
    slot_starts = offsets + before
    flip = rng.random((n_rows, n_slots)) < rc_prob
    for slot in range(n_slots):
        for local, motif_index in enumerate(pattern):
            mask = order[:, slot] == local
            if not mask.any():
                continue
            target = rows[mask]
            start = slot_starts[mask, slot]
            forward = motif_codes[motif_index]
            k = forward.size
            block = np.where(
                flip[mask, slot, None], reverse_complement_codes(forward)[None, :], forward
            )
            codes[target[:, None], start[:, None] + np.arange(k)] = block
            presence[target, motif_index] = True
            starts[target, motif_index] = start
            reversed_[target, motif_index] = flip[mask, slot]


def mutate_implants(
    dataset: SyntheticDataset, mutation_rate: float, random_seed: int = 0
) -> SyntheticDataset:
    """Point-mutate each implanted base with probability `mutation_rate`.

    A mutated base always changes to one of the three other bases, so the rate is
    the true per-base divergence of the implant from the motif.
    """
    mutation_rate = check_probability("mutation_rate", mutation_rate)
    rng = np.random.default_rng(random_seed)
    codes = dataset.codes.copy()
    rows = np.flatnonzero(dataset.implant_starts >= 0)
    k = len(dataset.motif)
    if rows.size and k:
        columns = dataset.implant_starts[rows, None] + np.arange(k)
        hit = rng.random((rows.size, k)) < mutation_rate
        shift = rng.integers(1, 4, size=(rows.size, k), dtype=np.uint8)
        current = codes[rows[:, None], columns]
        codes[rows[:, None], columns] = np.where(hit, (current + shift) % 4, current)
    return SyntheticDataset(codes, dataset.labels, dataset.implant_starts, dataset.motif)


def add_gaussian_noise(
    onehot: np.ndarray,
    labels: np.ndarray,
    noise_std: float,
    which: Literal["negatives", "all"] = "negatives",
    random_seed: int = 0,
) -> np.ndarray:
    """Add N(0, noise_std^2) to one-hot inputs, as the assignment's Q4 suggests.

    The assignment asks for noise on the negatives only. That makes the classes
    separable by the noise itself (a model can score "is this input exactly
    one-hot?"), so an honest experiment also tries `which="all"`.
    """
    onehot = check_array("onehot", onehot, ndim=3, last_dim=4)
    labels = check_array("labels", labels, ndim=1)
    if labels.shape[0] != onehot.shape[0]:
        raise InputError(f"labels has {labels.shape[0]} entries but onehot has {onehot.shape[0]}")
    if noise_std < 0:
        raise InputError(f"noise_std must be >= 0, got {noise_std}")
    if which not in ("negatives", "all"):
        raise InputError(f"which must be 'negatives' or 'all', got {which!r}")
    rng = np.random.default_rng(random_seed)
    noisy = onehot.astype(np.float32, copy=True)
    rows = np.flatnonzero(labels == 0) if which == "negatives" else np.arange(len(labels))
    noisy[rows] += rng.normal(0.0, noise_std, size=noisy[rows].shape).astype(np.float32)
    return noisy


def implant(codes: np.ndarray, motif: str, starts: np.ndarray) -> np.ndarray:
    """Return a copy of `codes` with `motif` written at `starts` (one start per row)."""
    codes = check_array("codes", codes, ndim=2).astype(np.uint8, copy=True)
    motif_codes = seqs_to_codes([check_motif("motif", motif)])[0]
    starts = np.asarray(starts, dtype=np.int64)
    if starts.shape != (codes.shape[0],):
        raise InputError(f"starts has shape {starts.shape} but must have ({codes.shape[0]},)")
    if np.any(starts < 0) or np.any(starts + motif_codes.size > codes.shape[1]):
        raise InputError("every start must leave room for the motif inside the sequence")
    codes[np.arange(codes.shape[0])[:, None], starts[:, None] + np.arange(motif_codes.size)] = (
        motif_codes
    )
    return codes

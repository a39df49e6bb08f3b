"""The assignment's starter code, kept as the students receive it.

It is the yardstick: tests check that the fast implementations in `reference` give
exactly what these loops give, and benchmarks report how much faster they are.
Nothing in the grader calls these for real work.
"""

from __future__ import annotations

import heapq

import numpy as np

BASES = ["A", "C", "G", "T"]
_base_to_idx = {b: i for i, b in enumerate(BASES)}


def starter_generate_synthetic_dataset(
    num_pos=2000, num_neg=2000, seq_len=101, motif="ACGTG", motif_prob=1.0, random_seed=42
):
    """The starter's generator, line for line."""
    rng = np.random.RandomState(random_seed)

    def random_seq(length):
        return "".join(rng.choice(BASES) for _ in range(length))

    pos_seqs = []
    for _ in range(num_pos):
        s = list(random_seq(seq_len))
        if rng.rand() <= motif_prob:
            k = len(motif)
            start = rng.randint(0, seq_len - k + 1)
            s[start : start + k] = list(motif)
        pos_seqs.append("".join(s))
    neg_seqs = [random_seq(seq_len) for _ in range(num_neg)]
    seqs = pos_seqs + neg_seqs
    labels = np.array([1] * len(pos_seqs) + [0] * len(neg_seqs), dtype=np.int32)
    perm = rng.permutation(len(seqs))
    seqs = [seqs[i] for i in perm]
    labels = labels[perm]
    return seqs, labels


def starter_one_hot_encode_seqs(seqs):
    """The starter's encoder, bug included: an unknown base such as N raises IndexError."""
    n = len(seqs)
    length = len(seqs[0])
    arr = np.zeros((n, length, 4), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s):
            arr[i, j, _base_to_idx.get(ch, "A")] = 1.0
    return arr


def starter_top_windows(conv_out, num_top):
    """The starter's heap scan: per filter, the (score, seq_index, pos) of the top windows."""
    heaps = {f: [] for f in range(conv_out.shape[-1])}
    for i in range(conv_out.shape[0]):
        arr = conv_out[i]
        for pos in range(arr.shape[0]):
            for f in range(arr.shape[1]):
                score = arr[pos, f]
                heap = heaps[f]
                if len(heap) < num_top:
                    heapq.heappush(heap, (score, i, pos))
                elif score > heap[0][0]:
                    heapq.heapreplace(heap, (score, i, pos))
    return {f: sorted(heap, reverse=True) for f, heap in heaps.items()}


def starter_build_pwm(kmers):
    """The starter's PWM: counts plus a tiny pseudocount, normalised per position."""
    k = len(kmers[0])
    pfm = np.zeros((k, 4), dtype=float)
    for s in kmers:
        for i, ch in enumerate(s):
            pfm[i, _base_to_idx[ch]] += 1
    pfm += 1e-6
    return pfm / pfm.sum(axis=1, keepdims=True)


def starter_split(seqs, labels):
    """The starter's 80/10/10 split by position, without shuffling again."""
    n = len(seqs)
    train_end = int(0.8 * n)
    val_end = int(0.9 * n)
    return (
        (seqs[:train_end], labels[:train_end]),
        (seqs[train_end:val_end], labels[train_end:val_end]),
        (seqs[val_end:], labels[val_end:]),
    )

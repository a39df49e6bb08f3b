"""Controlled stress sets: does a model find the motif, and only the motif?

A single hidden AUC says how well a model did, not what it learned. These sets ask
the questions the field asks of a motif model: is the motif still found at the very
first and last position, on the reverse strand, twice, in longer sequences; and does
the model stay quiet on near-misses one mismatch away and on negatives with the
same dinucleotide composition as the positives (which a "CG-rich" model cannot
tell apart)?

Every set is labelled by construction: backgrounds are uniform random bases that
are redrawn until they hold neither the motif nor its reverse complement, so a
positive holds exactly the copies implanted and a negative none. The oracle of a set
is the motif count on both strands, whose ROC AUC is the ceiling (1.0 on every set;
it is computed, not assumed). Pass rules are arguments, so the numbers stay in the
caller's spec.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from reference.encode import reverse_complement, reverse_complement_codes, seqs_to_codes
from reference.metrics import roc_auc
from reference.oracle import motif_counts
from reference.validation import InputError, check_array, check_count, check_motif

Generator = Literal[
    "motif_at_ends",
    "reverse_complement",
    "two_copies",
    "near_miss",
    "dinucleotide_shuffled",
    "long_sequences",
]
GENERATORS: tuple[str, ...] = Generator.__args__  # type: ignore[attr-defined]
MAX_REDRAWS = 200


# --------------------------------------------------------------------------- shuffling


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random sequence with exactly the same dinucleotide counts.

    Altschul and Erickson's method: the sequence is an Eulerian path through the
    graph whose vertices are bases and whose edges are its dinucleotides. A random
    last exit edge is drawn for every vertex but the final base until those edges
    form a tree pointing at the final base (then every ordering of the other edges
    is a valid path); the other exits of each vertex are shuffled and the path is
    walked from the first base. First and last base are kept, as they must be.
    """
    seq = check_array("codes", codes, ndim=1).astype(np.int64)
    if seq.size < 3:
        return seq.astype(np.uint8)
    first, last = int(seq[0]), int(seq[-1])
    exits: dict[int, list[int]] = {}
    for a, b in zip(seq[:-1].tolist(), seq[1:].tolist(), strict=True):
        exits.setdefault(a, []).append(b)
    vertices = [v for v in exits if v != last]
    for _ in range(10_000):
        chosen = {v: exits[v][int(rng.integers(len(exits[v])))] for v in vertices}
        if all(_reaches(v, last, chosen) for v in vertices):
            break
    else:  # pragma: no cover - a tree exists whenever the sequence does
        raise InputError("could not find an Eulerian path for the shuffle")
    order: dict[int, list[int]] = {}
    for v, targets in exits.items():
        rest = list(targets)
        if v in chosen:
            rest.remove(chosen[v])
        rest = [rest[i] for i in rng.permutation(len(rest))]
        order[v] = rest + ([chosen[v]] if v in chosen else [])
    out = [first]
    position = {v: 0 for v in order}
    for _ in range(seq.size - 1):
        here = out[-1]
        out.append(order[here][position[here]])
        position[here] += 1
    return np.asarray(out, dtype=np.uint8)


def _reaches(start: int, last: int, chosen: Mapping[int, int]) -> bool:
    seen = set()
    v = start
    while v != last:
        if v in seen:
            return False
        seen.add(v)
        v = chosen[v]
    return True


def dinucleotide_counts(codes: np.ndarray) -> np.ndarray:
    """(N, 4, 4) counts of each dinucleotide per row (for tests and sanity checks)."""
    codes = check_array("codes", codes, ndim=2).astype(np.int64)
    flat = codes[:, :-1] * 4 + codes[:, 1:]
    counts = np.zeros((codes.shape[0], 16), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(codes.shape[0]), flat.shape[1]), flat.ravel()), 1)
    return counts.reshape(-1, 4, 4)


# --------------------------------------------------------------------------- sets


@dataclass(frozen=True)
class StressSet:
    """One stress set: sequences, labels by construction, and how they were built.

    `starts[i]` holds the start of each implanted copy (-1 for none; two columns),
    `reverse[i]` whether the copy is the reverse complement, and `groups[i]` a short
    label of the row ("motif", "background", "shuffled", or the near-miss k-mer).
    """

    name: str
    generator: str
    codes: np.ndarray
    labels: np.ndarray
    starts: np.ndarray
    reverse: np.ndarray
    groups: np.ndarray
    motif: str

    @property
    def oracle_scores(self) -> np.ndarray:
        """The motif's count on both strands: exact here, since backgrounds hold none."""
        return motif_counts(self.codes, self.motif, both_strands=True).astype(np.float64)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def near_miss_kmers(motif: str) -> list[str]:
    """Every single-base mutant of `motif`, position by position, bases in ACGT order."""
    motif = check_motif("motif", motif)
    kmers = []
    for i, base in enumerate(motif):
        for alt in "ACGT":
            if alt != base:
                kmers.append(motif[:i] + alt + motif[i + 1 :])
    return kmers


def _clean_rows(
    rng: np.random.Generator,
    n: int,
    seq_len: int,
    motif: str,
    build: Callable[[np.ndarray, np.ndarray], np.ndarray],
    expected: np.ndarray,
) -> np.ndarray:
    """Rows `build(backgrounds, rows)` whose both-strand motif count is `expected`.

    Rows that hold a chance copy (in the background, or made where an implant meets
    it) are redrawn from fresh backgrounds until none is left.
    """
    codes = np.empty((n, seq_len), dtype=np.uint8)
    todo = np.arange(n)
    for _ in range(MAX_REDRAWS):
        if todo.size == 0:
            return codes
        background = rng.integers(0, 4, size=(todo.size, seq_len), dtype=np.uint8)
        built = build(background, todo)
        good = motif_counts(built, motif, both_strands=True) == expected[todo]
        codes[todo[good]] = built[good]
        todo = todo[~good]
    raise InputError(f"could not draw {n} clean sequences of length {seq_len} for {motif!r}")


def _write(codes: np.ndarray, kmer_codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    codes = codes.copy()
    k = kmer_codes.shape[-1]
    rows = np.arange(codes.shape[0])[:, None]
    codes[rows, starts[:, None] + np.arange(k)] = kmer_codes
    return codes


def _positives(
    rng: np.random.Generator,
    n: int,
    seq_len: int,
    motif: str,
    starts: np.ndarray,
    reverse: np.ndarray,
    second: np.ndarray | None = None,
) -> np.ndarray:
    forward = seqs_to_codes([motif])[0]
    kmers = np.where(reverse[:, None], reverse_complement_codes(forward)[None, :], forward)
    expected = np.full(n, 1 if second is None else 2, dtype=np.int64)

    def build(background: np.ndarray, rows: np.ndarray) -> np.ndarray:
        out = _write(background, kmers[rows], starts[rows])
        if second is not None:
            out = _write(out, kmers[rows], second[rows])
        return out

    return _clean_rows(rng, n, seq_len, motif, build, expected)


def _negatives(rng: np.random.Generator, n: int, seq_len: int, motif: str) -> np.ndarray:
    return _clean_rows(rng, n, seq_len, motif, lambda b, rows: b, np.zeros(n, np.int64))


def _assemble(
    name: str,
    generator: str,
    motif: str,
    parts: Sequence[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]],
) -> StressSet:
    """Stack (codes, label, starts (N, 2), reverse, groups) parts into one set."""
    return StressSet(
        name=name,
        generator=generator,
        codes=np.concatenate([p[0] for p in parts]),
        labels=np.concatenate([np.full(len(p[0]), p[1], dtype=np.int32) for p in parts]),
        starts=np.concatenate([p[2] for p in parts]),
        reverse=np.concatenate([p[3] for p in parts]),
        groups=np.concatenate([p[4] for p in parts]),
        motif=motif,
    )


def _one_copy(starts: np.ndarray) -> np.ndarray:
    return np.stack([starts, np.full_like(starts, -1)], axis=1)


def _plain(name, generator, rng, size, seq_len, motif, *, where, reverse) -> StressSet:
    """Positives with one copy at `where(n)` starts (reverse strand if asked), clean negatives."""
    k = len(motif)
    if seq_len < k:
        raise InputError(f"seq_len={seq_len} is shorter than the motif {motif!r}")
    starts = where(size, seq_len - k)
    flags = np.full(size, reverse)
    positives = _positives(rng, size, seq_len, motif, starts, flags)
    negatives = _negatives(rng, size, seq_len, motif)
    none = np.full(size, -1, dtype=np.int64)
    return _assemble(
        name,
        generator,
        motif,
        [
            (positives, 1, _one_copy(starts), flags, np.full(size, "motif")),
            (negatives, 0, _one_copy(none), np.zeros(size, bool), np.full(size, "background")),
        ],
    )


def motif_at_ends(name: str, rng: np.random.Generator, size: int, seq_len: int, motif: str):
    """Half the positives start at position 0, half end on the last base."""
    return _plain(
        name,
        "motif_at_ends",
        rng,
        size,
        seq_len,
        motif,
        where=lambda n, last: np.where(np.arange(n) % 2 == 0, 0, last).astype(np.int64),
        reverse=False,
    )


def _anywhere(rng: np.random.Generator):
    """Uniform start positions, 0 to `last` inclusive."""
    return lambda n, last: rng.integers(0, last + 1, size=n)


def reverse_complement_only(name: str, rng: np.random.Generator, size: int, seq_len: int, motif):
    """Positives carry only the reverse complement of the motif, anywhere."""
    return _plain(
        name,
        "reverse_complement",
        rng,
        size,
        seq_len,
        motif,
        where=_anywhere(rng),
        reverse=True,
    )


def long_sequences(name: str, rng: np.random.Generator, size: int, seq_len: int, motif: str):
    """One forward copy anywhere in sequences longer than the training ones."""
    return _plain(
        name,
        "long_sequences",
        rng,
        size,
        seq_len,
        motif,
        where=_anywhere(rng),
        reverse=False,
    )


def two_copies(name: str, rng: np.random.Generator, size: int, seq_len: int, motif: str):
    """Positives with two non-overlapping forward copies, against clean negatives."""
    k = len(motif)
    if seq_len < 2 * k:
        raise InputError(f"seq_len={seq_len} has no room for two copies of {motif!r}")
    free = seq_len - 2 * k
    offsets = np.sort(rng.integers(0, free + 1, size=(size, 2)), axis=1)
    first, second = offsets[:, 0], offsets[:, 1] + k
    flags = np.zeros(size, bool)
    positives = _positives(rng, size, seq_len, motif, first, flags, second)
    negatives = _negatives(rng, size, seq_len, motif)
    return _assemble(
        name,
        "two_copies",
        motif,
        [
            (positives, 1, np.stack([first, second], 1), flags, np.full(size, "motif")),
            (
                negatives,
                0,
                np.full((size, 2), -1, dtype=np.int64),
                flags,
                np.full(size, "background"),
            ),
        ],
    )


def near_miss(name: str, rng: np.random.Generator, size: int, seq_len: int, motif: str):
    """`size` true-motif positives and `size` rows of every single-base mutant.

    The mutants are the negatives: a model that learned the motif scores them below
    the true motif; one that learned a near-miss (or composition) does not.
    """
    k = len(motif)
    starts = rng.integers(0, seq_len - k + 1, size=size)
    flags = np.zeros(size, bool)
    parts = [
        (
            _positives(rng, size, seq_len, motif, starts, flags),
            1,
            _one_copy(starts),
            flags,
            np.full(size, "motif"),
        )
    ]
    for kmer in near_miss_kmers(motif):
        kmer_codes = np.broadcast_to(seqs_to_codes([kmer])[0], (size, k))
        mutant_starts = rng.integers(0, seq_len - k + 1, size=size)
        rows = _clean_rows(
            rng,
            size,
            seq_len,
            motif,
            lambda b, r, kc=kmer_codes, s=mutant_starts: _write(b, kc[r], s[r]),
            np.zeros(size, np.int64),
        )
        parts.append((rows, 0, _one_copy(mutant_starts), flags, np.full(size, kmer)))
    return _assemble(name, "near_miss", motif, parts)


def dinucleotide_shuffled(name: str, rng: np.random.Generator, size: int, seq_len: int, motif):
    """Positives with one copy; negatives are dinucleotide shuffles of those positives.

    Same base and dinucleotide composition in both classes, so only the motif itself
    separates them. Shuffles that still hold the motif are shuffled again.
    """
    k = len(motif)
    starts = rng.integers(0, seq_len - k + 1, size=size)
    flags = np.zeros(size, bool)
    positives = _positives(rng, size, seq_len, motif, starts, flags)
    negatives = np.empty_like(positives)
    for i, row in enumerate(positives):
        for _ in range(MAX_REDRAWS):
            shuffled = dinucleotide_shuffle(row, rng)
            if motif_counts(shuffled[None, :], motif, both_strands=True)[0] == 0:
                break
        else:
            raise InputError(f"could not shuffle {motif!r} out of a positive sequence")
        negatives[i] = shuffled
    none = np.full(size, -1, dtype=np.int64)
    return _assemble(
        name,
        "dinucleotide_shuffled",
        motif,
        [
            (positives, 1, _one_copy(starts), flags, np.full(size, "motif")),
            (negatives, 0, _one_copy(none), flags, np.full(size, "shuffled")),
        ],
    )


_MAKERS: dict[str, Callable[..., StressSet]] = {
    "motif_at_ends": motif_at_ends,
    "reverse_complement": reverse_complement_only,
    "two_copies": two_copies,
    "near_miss": near_miss,
    "dinucleotide_shuffled": dinucleotide_shuffled,
    "long_sequences": long_sequences,
}


@dataclass(frozen=True)
class SetDefinition:
    """How to draw one set and what passing means (the grader reads these from its spec).

    A set passes when the model's ROC AUC is at least `min_auc_fraction` of the
    oracle's on the same set and, for near-miss sets with `max_fpr`, when the mean
    false-positive rate over the mutants, at the threshold that keeps `recall` of the
    true motifs, is at most `max_fpr`.
    """

    name: str
    generator: str
    size: int
    seq_len: int
    title: str = ""
    min_auc_fraction: float = 0.9
    max_fpr: float | None = None
    recall: float = 0.9


def draw_set(definition: SetDefinition, motif: str, seed: int) -> StressSet:
    """Draw one set; the same definition, motif and seed give the same sequences."""
    if definition.generator not in _MAKERS:
        raise InputError(
            f"stress generator must be one of {', '.join(GENERATORS)}, got {definition.generator!r}"
        )
    check_count("size", definition.size, minimum=2)
    check_count("seq_len", definition.seq_len, minimum=1)
    motif = check_motif("motif", motif)
    if reverse_complement(motif) == motif:
        raise InputError(f"motif {motif!r} is its own reverse complement; strands cannot differ")
    rng = np.random.default_rng([seed % 2**32, zlib.crc32(definition.name.encode())])
    return _MAKERS[definition.generator](
        definition.name, rng, definition.size, definition.seq_len, motif
    )


def draw_suite(definitions: Sequence[SetDefinition], motif: str, seed: int) -> dict[str, StressSet]:
    """Every set of a suite, by name."""
    return {d.name: draw_set(d, motif, seed) for d in definitions}


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class SetResult:
    """How one model did on one set. `applicable` is False when it could not be scored."""

    name: str
    title: str
    applicable: bool
    passed: bool | None
    roc_auc: float | None = None
    oracle_roc_auc: float | None = None
    auc_fraction: float | None = None
    threshold: float | None = None
    mean_fpr: float | None = None
    fpr_by_mutant: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SuiteResult:
    """Every set's result; `passed` / `applicable` summarise it in one fraction."""

    sets: tuple[SetResult, ...]

    @property
    def applicable(self) -> int:
        return sum(r.applicable for r in self.sets)

    @property
    def passed(self) -> int:
        return sum(bool(r.passed) for r in self.sets)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "applicable": self.applicable,
            "sets": [r.to_dict() for r in self.sets],
        }


def fpr_at_recall(
    positive_scores: np.ndarray, negative_scores: np.ndarray, recall: float
) -> tuple[float, float]:
    """(threshold, FPR): the highest threshold keeping `recall` of the positives.

    A score at or above the threshold counts as a call, so ties with the threshold
    are called on both sides.
    """
    positive = np.sort(check_array("positive_scores", positive_scores, ndim=1))
    negative = check_array("negative_scores", negative_scores, ndim=1)
    if positive.size == 0 or negative.size == 0:
        raise InputError("fpr_at_recall needs positive and negative scores")
    index = int(np.floor((1.0 - recall) * positive.size + 1e-9))
    threshold = float(positive[min(index, positive.size - 1)])
    return threshold, float(np.mean(negative >= threshold))


def evaluate_set(
    stress_set: StressSet, scores: np.ndarray | None, definition: SetDefinition, note: str = ""
) -> SetResult:
    """One set's ROC AUC beside the oracle's, near-miss FPRs, and the pass verdict."""
    title = definition.title or definition.name
    if scores is None:
        return SetResult(definition.name, title, False, None, note=note or "not scored")
    scores = check_array("scores", scores).astype(np.float64).ravel()
    if scores.shape[0] != len(stress_set) or not np.all(np.isfinite(scores)):
        return SetResult(
            definition.name, title, False, None, note="the scores were missing or not finite"
        )
    model_auc = roc_auc(stress_set.labels, scores)
    oracle_auc = roc_auc(stress_set.labels, stress_set.oracle_scores)
    fraction = model_auc / oracle_auc if oracle_auc > 0 else 0.0
    passed = fraction >= definition.min_auc_fraction
    threshold, mean_fpr, by_mutant = None, None, {}
    if stress_set.generator == "near_miss":
        positive = scores[stress_set.labels == 1]
        threshold, _ = fpr_at_recall(positive, scores[stress_set.labels == 0], definition.recall)
        for kmer in near_miss_kmers(stress_set.motif):
            rows = stress_set.groups == kmer
            by_mutant[kmer] = float(np.mean(scores[rows] >= threshold))
        mean_fpr = float(np.mean(list(by_mutant.values())))
        if definition.max_fpr is not None:
            passed = passed and mean_fpr <= definition.max_fpr
    return SetResult(
        definition.name,
        title,
        True,
        bool(passed),
        roc_auc=model_auc,
        oracle_roc_auc=oracle_auc,
        auc_fraction=fraction,
        threshold=threshold,
        mean_fpr=mean_fpr,
        fpr_by_mutant=by_mutant,
        note=note,
    )


def evaluate_suite(
    sets: Mapping[str, StressSet],
    scores: Mapping[str, np.ndarray | None],
    definitions: Sequence[SetDefinition],
    notes: Mapping[str, str] | None = None,
) -> SuiteResult:
    """Every set's result, in the definitions' order; a set without scores is not applicable."""
    notes = notes or {}
    results = []
    for d in definitions:
        if d.name not in sets:
            results.append(
                SetResult(d.name, d.title or d.name, False, None, note=notes.get(d.name, ""))
            )
            continue
        results.append(evaluate_set(sets[d.name], scores.get(d.name), d, notes.get(d.name, "")))
    return SuiteResult(tuple(results))


def oracle_suite(sets: Mapping[str, StressSet], definitions: Sequence[SetDefinition]):
    """The oracle's own result on the suite: the ceiling every model is measured against."""
    return evaluate_suite(sets, {name: s.oracle_scores for name, s in sets.items()}, definitions)


def run_suite(
    predict: Callable[[np.ndarray], np.ndarray],
    definitions: Sequence[SetDefinition],
    motif: str,
    seed: int,
    *,
    variable_length: bool = True,
    train_len: int | None = None,
) -> SuiteResult:
    """Draw the suite and score `predict(codes) -> scores` on it (reference and tests).

    A model of fixed input length is "not applicable" on sets of another length.
    """
    sets = draw_suite(definitions, motif, seed)
    scores: dict[str, np.ndarray | None] = {}
    notes: dict[str, str] = {}
    for name, stress_set in sets.items():
        length = stress_set.codes.shape[1]
        if not variable_length and train_len is not None and length != train_len:
            scores[name] = None
            notes[name] = f"not applicable: the model only accepts length {train_len}"
            continue
        scores[name] = np.asarray(predict(stress_set.codes), dtype=np.float64).ravel()
    return evaluate_suite(sets, scores, definitions, notes)


def stress_answer(
    predict: Callable[[np.ndarray], np.ndarray],
    definitions: Sequence[SetDefinition],
    motif: str,
    seed: int,
    positives: np.ndarray,
    *,
    ism_sequences: int = 4,
) -> dict:
    """The answer key's suite: the model's and the oracle's verdicts, and its mutation maps.

    `positives` are sequences to map (the first `ism_sequences` holding exactly one
    forward copy and no reverse copy are used), so the expected pass/fail of each set
    is measured on the reference model and on the oracle, not assumed.
    """
    from reference.mutagenesis import ism, motif_window_share

    sets = draw_suite(definitions, motif, seed)
    model = evaluate_suite(sets, {name: predict(s.codes) for name, s in sets.items()}, definitions)
    oracle = oracle_suite(sets, definitions)
    positives = check_array("positives", positives, ndim=2)
    forward = motif_counts(positives, motif)
    backward = motif_counts(positives, reverse_complement(motif))
    rows = np.flatnonzero((forward == 1) & (backward == 0) & np.all(positives < 4, axis=1))
    codes = positives[rows[:ism_sequences]]
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(motif), axis=1)
    starts = np.argmax(np.all(windows == seqs_to_codes([motif])[0], axis=-1), axis=1)
    deltas = ism(predict, codes) if len(codes) else np.zeros((0, positives.shape[1], 4))
    shares = motif_window_share(deltas, starts, len(motif)) if len(codes) else np.zeros(0)
    return {
        "model": model.to_dict(),
        "oracle": oracle.to_dict(),
        "ism_codes": codes,
        "ism_starts": starts,
        "ism_deltas": deltas,
        "window_shares": [float(v) for v in shares],
        "window_share": float(np.nanmean(shares)) if len(shares) else None,
    }

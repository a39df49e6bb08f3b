"""The synthetic datasets: exact agreement with the starter, and the assignment's variants."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reference.data import (
    DEFAULT_MULTI_MOTIFS,
    STARTER_MOTIF,
    add_gaussian_noise,
    generate_multi_motif_dataset,
    generate_synthetic_codes,
    generate_synthetic_dataset,
    implant,
    mutate_implants,
    normalise_rule,
    pattern_weights,
    rule_label,
    split_dataset,
)
from reference.encode import (
    codes_to_seqs,
    one_hot_encode_seqs,
    reverse_complement_codes,
    seqs_to_codes,
)
from reference.starter import starter_generate_synthetic_dataset
from reference.starter import starter_split as starter_split_of
from reference.validation import InputError

ASSIGNMENT_FIRST_SEQUENCE = (
    "TCCCTGCTCACCGTGGGGGCGGTACCCGGGTAGATCGAAGCCCTAAATATCGAACGTGCCGTTATGCAACTCTCGTGACAAAACA"
    "CCGTTCGCCCGTGAGG"
)


# --- the starter's dataset -------------------------------------------------------------------


def test_starter_generator_first_sequence_matches_assignment() -> None:
    seqs, labels = generate_synthetic_dataset(num_pos=10, num_neg=10)
    assert seqs[0] == ASSIGNMENT_FIRST_SEQUENCE
    assert labels[0] == 0
    assert len(seqs) == 20 and labels.sum() == 10


def test_starter_training_split_positive_fraction_matches_assignment(starter_split) -> None:
    train_seqs, train_labels = starter_split.train
    assert len(train_seqs) == 6400
    assert float(np.mean(train_labels)) == 0.49453125


def test_split_sizes_are_6400_800_800_like_the_starter(starter_dataset, starter_split) -> None:
    ours = (starter_split.train, starter_split.val, starter_split.test)
    assert [len(part[0]) for part in ours] == [6400, 800, 800]
    for (seqs, labels), (starter_seqs, starter_labels) in zip(
        ours, starter_split_of(*starter_dataset), strict=True
    ):
        assert seqs == starter_seqs
        np.testing.assert_array_equal(labels, starter_labels)


def test_split_dataset_keeps_arrays_aligned_and_rejects_unequal_lengths() -> None:
    codes = np.arange(30).reshape(10, 3)
    labels = np.arange(10)
    split = split_dataset(codes, labels)
    for part_codes, part_labels in (split.train, split.val, split.test):
        np.testing.assert_array_equal(part_codes[:, 0] // 3, part_labels)
    assert [len(p[1]) for p in (split.train, split.val, split.test)] == [8, 1, 1]
    with pytest.raises(InputError, match="different lengths"):
        split_dataset(codes, labels[:9])
    with pytest.raises(InputError, match="at least one array"):
        split_dataset()


# Small cases that reach every branch of the replayed random stream: no positives, no
# negatives, a motif as long as the sequence (no start to draw), one-base sequences,
# start ranges whose rejection sampling rejects often (span 64 -> mask 127) or never
# (span 63), several seeds including the largest, and every kind of motif_prob.
EXACT_CASES = [
    # num_pos, num_neg, seq_len, motif, motif_prob, random_seed
    (10, 10, 101, "ACGTG", 1.0, 42),
    (0, 7, 101, "ACGTG", 1.0, 42),
    (7, 0, 101, "ACGTG", 1.0, 42),
    (0, 0, 101, "ACGTG", 1.0, 42),
    (1, 1, 101, "ACGTG", 1.0, 0),
    (25, 25, 5, "ACGTG", 1.0, 1),
    (25, 25, 5, "ACGTG", 0.5, 1),
    (20, 5, 1, "A", 1.0, 2),
    (20, 5, 1, "T", 0.3, 3),
    (20, 20, 2, "GT", 0.5, 4),
    (30, 10, 69, "ACGTG", 1.0, 5),
    (30, 10, 68, "ACGTG", 1.0, 6),
    (30, 10, 20, "GATAAGTGACTCAG", 1.0, 7),
    (30, 10, 17, "ACGTGACGTGACGTGAC", 0.3, 8),
    (15, 15, 257, "ACGTG", 0.5, 9),
    (15, 15, 513, "A", 1.0, 10),
    (40, 40, 101, "ACGTG", 0.0, 11),
    (40, 40, 101, "ACGTG", 0.3, 12),
    (40, 40, 101, "ACGTG", 0.5, 13),
    (40, 40, 101, "TGACTC", 1.0, 2**32 - 1),
    (40, 40, 101, "GATAAG", 0.3, 2**31 - 1),
    (50, 3, 33, "CC", 1.0, 123),
    (3, 50, 33, "CC", 1.0, 123),
]


@pytest.mark.parametrize(
    ("num_pos", "num_neg", "seq_len", "motif", "motif_prob", "random_seed"), EXACT_CASES
)
def test_generator_matches_starter_exactly(
    num_pos: int, num_neg: int, seq_len: int, motif: str, motif_prob: float, random_seed: int
) -> None:
    args = (num_pos, num_neg, seq_len, motif, motif_prob, random_seed)
    seqs, labels = generate_synthetic_dataset(*args)
    starter_seqs, starter_labels = starter_generate_synthetic_dataset(*args)
    assert seqs == starter_seqs
    assert labels.dtype == starter_labels.dtype == np.int32
    np.testing.assert_array_equal(labels, starter_labels)


@pytest.mark.slow
def test_generator_matches_starter_on_the_assignment_dataset(starter_dataset) -> None:
    seqs, labels = starter_dataset
    starter_seqs, starter_labels = starter_generate_synthetic_dataset(num_pos=4000, num_neg=4000)
    assert seqs == starter_seqs
    assert labels.dtype == starter_labels.dtype == np.int32
    np.testing.assert_array_equal(labels, starter_labels)


def test_generated_codes_record_where_the_motif_was_implanted() -> None:
    dataset = generate_synthetic_codes(300, 300, motif_prob=0.5, random_seed=3)
    assert dataset.codes.dtype == np.uint8 and dataset.codes.shape == (600, 101)
    assert dataset.seqs == generate_synthetic_dataset(300, 300, motif_prob=0.5, random_seed=3)[0]
    implanted = np.flatnonzero(dataset.implant_starts >= 0)
    assert np.all(dataset.labels[implanted] == 1)
    assert np.all(dataset.implant_starts[dataset.labels == 0] == -1)
    # About half of the positives won the motif_prob draw (binomial, n=300: sd ~ 8.7).
    assert 110 <= implanted.size <= 190
    columns = dataset.implant_starts[implanted, None] + np.arange(5)
    kmers = codes_to_seqs(dataset.codes[implanted[:, None], columns])
    assert set(kmers) == {STARTER_MOTIF}


def test_lower_case_motif_is_implanted_upper_case() -> None:
    # The starter would write the letters as given ('acgtg'); ours normalises them, so the
    # encoders downstream never see a lower-case implant.
    upper = generate_synthetic_dataset(5, 5, motif="ACGTG", random_seed=1)
    lower = generate_synthetic_dataset(5, 5, motif="acgtg", random_seed=1)
    assert lower[0] == upper[0]
    np.testing.assert_array_equal(lower[1], upper[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"motif": "ACNTG"}, r"motif 'ACNTG' contains 'N'; only A, C, G, T are allowed"),
        ({"motif": ""}, r"motif must be a non-empty string"),
        ({"motif": "ACGTG", "seq_len": 4}, r"longer than seq_len=4"),
        ({"num_pos": -1}, r"num_pos must be at least 0, got -1"),
        ({"num_neg": -5}, r"num_neg must be at least 0, got -5"),
        ({"num_pos": 2.5}, r"num_pos must be a whole number"),
        ({"motif_prob": 1.5}, r"motif_prob must be between 0 and 1, got 1.5"),
        ({"motif_prob": -0.1}, r"motif_prob must be between 0 and 1"),
        ({"motif_prob": "high"}, r"motif_prob must be a number between 0 and 1"),
    ],
)
def test_generator_rejects_bad_arguments_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate_synthetic_dataset(**{"num_pos": 5, "num_neg": 5, **kwargs})


# --- several motifs --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["any", "all", "xor"])
def multi_dataset(request):
    motifs = ("GATAAG", "TGACTC", "CCAAT")
    return generate_multi_motif_dataset(
        600, 600, seq_len=40, motifs=motifs, rule=request.param, co_occurrence=0.4, rc_prob=0.5
    )


def test_multi_motif_presence_is_consistent_with_labels_under_each_rule(multi_dataset) -> None:
    n_motifs = len(multi_dataset.motifs)
    for present, label in zip(multi_dataset.presence, multi_dataset.labels, strict=True):
        pattern = frozenset(np.flatnonzero(present).tolist())
        assert rule_label(pattern, n_motifs, multi_dataset.rule) == label
    assert multi_dataset.labels.sum() == 600 and multi_dataset.labels.dtype == np.int32


def test_multi_motif_implants_do_not_overlap(multi_dataset) -> None:
    lengths = np.array([len(m) for m in multi_dataset.motifs])
    for present, starts in zip(multi_dataset.presence, multi_dataset.implant_starts, strict=True):
        intervals = sorted((starts[m], starts[m] + lengths[m]) for m in np.flatnonzero(present))
        for (_, end), (next_start, _) in itertools.pairwise(intervals):
            assert end <= next_start
        assert all(lo >= 0 and hi <= multi_dataset.codes.shape[1] for lo, hi in intervals)


def test_multi_motif_kmer_is_at_its_recorded_start_on_its_recorded_strand(multi_dataset) -> None:
    data = multi_dataset
    assert np.all(data.implant_starts[~data.presence] == -1)
    assert not np.any(data.implant_reversed[~data.presence])
    for m, motif in enumerate(data.motifs):
        rows = np.flatnonzero(data.presence[:, m])
        forward = seqs_to_codes([motif])[0]
        columns = data.implant_starts[rows, m, None] + np.arange(forward.size)
        found = data.codes[rows[:, None], columns]
        expected = np.where(
            data.implant_reversed[rows, m, None], reverse_complement_codes(forward), forward
        )
        np.testing.assert_array_equal(found, expected)
        # rc_prob=0.5: about half the implants are reverse complements.
        assert 0.35 <= data.implant_reversed[rows, m].mean() <= 0.65


@pytest.mark.parametrize("co_occurrence", [0.0, 0.3, 1.0])
def test_co_occurrence_is_the_fraction_of_positives_with_both_motifs_under_any(
    co_occurrence: float,
) -> None:
    data = generate_multi_motif_dataset(3000, 1000, rule="any", co_occurrence=co_occurrence)
    positives = data.presence[data.labels == 1]
    both = positives.all(axis=1).mean()
    assert both == pytest.approx(co_occurrence, abs=0.03)  # binomial sd at 0.3: 0.008
    assert not data.presence[data.labels == 0].any()
    # The rest of the positives are split evenly between the two motifs alone.
    if co_occurrence < 1:
        alone = positives[~positives.all(axis=1)]
        assert alone[:, 0].mean() == pytest.approx(0.5, abs=0.05)


def test_and_rule_gives_negatives_each_motif_alone_so_only_the_pair_predicts() -> None:
    data = generate_multi_motif_dataset(1500, 1500, rule="and", random_seed=5)
    assert data.rule == "all"
    assert data.presence[data.labels == 1].all()
    negatives = data.presence[data.labels == 0]
    counts = np.bincount(negatives @ np.array([1, 2]), minlength=4)
    assert counts[3] == 0
    assert np.all(np.abs(counts[:3] / 1500 - 1 / 3) < 0.04)


@pytest.mark.parametrize("n_motifs", [1, 2, 3])
@pytest.mark.parametrize("rule", ["any", "all", "xor"])
@pytest.mark.parametrize("co_occurrence", [0.0, 0.3, 1.0])
def test_pattern_weights_sum_to_one_per_class_and_follow_the_rule(
    n_motifs: int, rule: str, co_occurrence: float
) -> None:
    weights = pattern_weights(n_motifs, rule, co_occurrence)
    for label in (0, 1):
        assert sum(w for _, w in weights[label]) == pytest.approx(1.0, abs=1e-12)
        assert all(w > 0 for _, w in weights[label])
        assert all(rule_label(p, n_motifs, rule) == label for p, _ in weights[label])


def test_pattern_weights_under_any_give_co_occurrence_to_the_pair() -> None:
    weights = dict(pattern_weights(2, "or", 0.3)[1])
    assert weights == pytest.approx(
        {frozenset({0, 1}): 0.3, frozenset({0}): 0.35, frozenset({1}): 0.35}
    )
    assert pattern_weights(2, "any", 0.3)[0] == ((frozenset(), 1.0),)


@pytest.mark.parametrize(
    ("word", "rule"), [("and", "all"), ("OR", "any"), (" xor ", "xor"), ("all", "all")]
)
def test_rule_words_from_the_contract_map_onto_rules(word: str, rule: str) -> None:
    assert normalise_rule(word) == rule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "nand"}, r"rule must be one of any/or, all/and, xor; got 'nand'"),
        ({"co_occurrence": 1.2}, r"co_occurrence must be between 0 and 1, got 1.2"),
        ({"rc_prob": 2}, r"rc_prob must be between 0 and 1"),
        ({"motifs": ("GATAAG", "TGANTC")}, r"motifs\[1\] 'TGANTC' contains 'N'"),
        ({"motifs": "GATAAG"}, r"motifs must be a non-empty list of motif strings"),
        ({"motifs": []}, r"motifs must be a non-empty list"),
        ({"seq_len": 10}, r"need 12 bases together but seq_len is 10"),
        ({"num_neg": -1}, r"num_neg must be at least 0"),
    ],
)
def test_multi_motif_generator_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate_multi_motif_dataset(**{"num_pos": 10, "num_neg": 10, **kwargs})


def test_multi_motif_generator_is_repeatable_and_uses_the_default_motifs() -> None:
    first = generate_multi_motif_dataset(50, 50, random_seed=9)
    second = generate_multi_motif_dataset(50, 50, random_seed=9)
    other = generate_multi_motif_dataset(50, 50, random_seed=10)
    assert first.motifs == DEFAULT_MULTI_MOTIFS
    np.testing.assert_array_equal(first.codes, second.codes)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert not np.array_equal(first.codes, other.codes)
    assert len(first) == 100 and len(first.seqs) == 100


# --- mutations and noise ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def implanted_dataset():
    return generate_synthetic_codes(2000, 500, random_seed=21)


def test_mutate_implants_changes_only_implanted_bases_at_the_given_rate(implanted_dataset) -> None:
    mutated = mutate_implants(implanted_dataset, 0.2, random_seed=1)
    changed = mutated.codes != implanted_dataset.codes
    rows = np.flatnonzero(implanted_dataset.implant_starts >= 0)
    inside = np.zeros_like(changed)
    inside[rows[:, None], implanted_dataset.implant_starts[rows, None] + np.arange(5)] = True
    assert not changed[~inside].any()
    # Every drawn mutation is a real change, so the observed rate is the requested one
    # (a mutation that could redraw the same base would show ~0.15). n = 10000 bases.
    assert changed[inside].mean() == pytest.approx(0.2, abs=0.015)
    np.testing.assert_array_equal(mutated.labels, implanted_dataset.labels)
    np.testing.assert_array_equal(mutated.implant_starts, implanted_dataset.implant_starts)


def test_mutate_implants_at_rate_one_changes_every_implanted_base(implanted_dataset) -> None:
    before = implanted_dataset.codes.copy()
    mutated = mutate_implants(implanted_dataset, 1.0)
    rows = np.flatnonzero(implanted_dataset.implant_starts >= 0)
    columns = implanted_dataset.implant_starts[rows, None] + np.arange(5)
    assert np.all(mutated.codes[rows[:, None], columns] != seqs_to_codes([STARTER_MOTIF])[0])
    np.testing.assert_array_equal(implanted_dataset.codes, before)  # the input is untouched
    unchanged = mutate_implants(implanted_dataset, 0.0)
    np.testing.assert_array_equal(unchanged.codes, before)
    with pytest.raises(InputError, match="mutation_rate must be between 0 and 1"):
        mutate_implants(implanted_dataset, 1.5)


def test_gaussian_noise_touches_only_negatives_by_default() -> None:
    seqs, labels = generate_synthetic_dataset(200, 200, random_seed=4)
    onehot = one_hot_encode_seqs(seqs)
    noisy = add_gaussian_noise(onehot, labels, noise_std=0.3, random_seed=2)
    assert noisy.dtype == np.float32 and noisy.shape == onehot.shape
    np.testing.assert_array_equal(noisy[labels == 1], onehot[labels == 1])
    noise = noisy[labels == 0] - onehot[labels == 0]
    assert np.all(noise != 0)
    assert noise.std() == pytest.approx(0.3, rel=0.02)
    assert abs(noise.mean()) < 0.01
    assert np.array_equal(onehot, one_hot_encode_seqs(seqs))  # the input is untouched


def test_gaussian_noise_on_all_sequences_when_asked() -> None:
    seqs, labels = generate_synthetic_dataset(50, 50, random_seed=4)
    onehot = one_hot_encode_seqs(seqs)
    noisy = add_gaussian_noise(onehot, labels, noise_std=0.1, which="all")
    assert np.all(noisy != onehot)
    np.testing.assert_array_equal(add_gaussian_noise(onehot, labels, 0.0), onehot)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_std": -0.1}, r"noise_std must be >= 0"),
        ({"which": "positives"}, r"which must be 'negatives' or 'all'"),
        ({"labels": np.zeros(3)}, r"labels has 3 entries but onehot has 4"),
        ({"onehot": np.zeros((4, 10))}, r"onehot has shape \(4, 10\) but must have 3 dimensions"),
    ],
)
def test_gaussian_noise_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    arguments = {"onehot": np.zeros((4, 10, 4)), "labels": np.zeros(4), "noise_std": 0.1}
    with pytest.raises(InputError, match=message):
        add_gaussian_noise(**{**arguments, **kwargs})


def test_implant_writes_the_motif_at_each_start_and_checks_room() -> None:
    codes = np.zeros((3, 8), dtype=np.uint8)
    out = implant(codes, "CGT", np.array([0, 2, 5]))
    assert codes_to_seqs(out) == ["CGTAAAAA", "AACGTAAA", "AAAAACGT"]
    assert not codes.any()  # a copy, not in place
    with pytest.raises(InputError, match="room for the motif"):
        implant(codes, "CGT", np.array([0, 2, 6]))
    with pytest.raises(InputError, match=r"starts has shape \(2,\) but must have \(3,\)"):
        implant(codes, "CGT", np.array([0, 2]))

"""The stress suite and mutation maps: generators, ISM on known-answer models, verdicts.

The Keras models here are built by hand with set weights (no training), so each has
a known answer: one detects ACGTG, one a near-miss (ACGTA), one only GC content.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.encode import codes_to_onehot, reverse_complement, seqs_to_codes
from reference.mutagenesis import (
    ism,
    ism_deltas,
    ism_variants,
    motif_window_share,
    pooled_window_share,
)
from reference.oracle import motif_counts
from reference.stress import (
    SetDefinition,
    dinucleotide_counts,
    dinucleotide_shuffle,
    draw_set,
    draw_suite,
    fpr_at_recall,
    near_miss_kmers,
    oracle_suite,
    run_suite,
)
from reference.validation import InputError

MOTIF = "ACGTG"
SUITE = (
    SetDefinition("ends", "motif_at_ends", 60, 101),
    SetDefinition("reverse_strand", "reverse_complement", 60, 101),
    SetDefinition("two_copies", "two_copies", 60, 101),
    SetDefinition("near_miss", "near_miss", 20, 101, max_fpr=0.2),
    SetDefinition("shuffled", "dinucleotide_shuffled", 60, 101),
    SetDefinition("long", "long_sequences", 60, 200),
)


# --------------------------------------------------------------------------- generators


def test_dinucleotide_shuffle_keeps_every_dinucleotide_count_and_both_ends():
    rng = np.random.default_rng(3)
    for length in (3, 10, 101, 200):
        codes = rng.integers(0, 4, size=length).astype(np.uint8)
        for _ in range(5):
            shuffled = dinucleotide_shuffle(codes, rng)
            assert shuffled.shape == codes.shape
            assert shuffled[0] == codes[0] and shuffled[-1] == codes[-1]
            assert np.array_equal(
                dinucleotide_counts(codes[None]), dinucleotide_counts(shuffled[None])
            )


def test_dinucleotide_shuffle_actually_shuffles_and_covers_every_arrangement():
    rng = np.random.default_rng(0)
    codes = seqs_to_codes(["ACAGATAGACA"])[0]
    seen = {dinucleotide_shuffle(codes, rng).tobytes() for _ in range(400)}
    # From A, the exits C, G, T (x2) ... are interleaved in every order a walk allows:
    # more than a handful of distinct sequences, each with the same dinucleotides.
    assert len(seen) > 10
    codes = rng.integers(0, 4, size=101).astype(np.uint8)
    assert np.mean(dinucleotide_shuffle(codes, rng) != codes) > 0.3


def test_motif_at_ends_puts_half_the_motifs_first_and_half_last():
    s = draw_set(SetDefinition("ends", "motif_at_ends", 40, 101), MOTIF, 1)
    positives = s.codes[s.labels == 1]
    starts = s.starts[s.labels == 1, 0]
    assert sorted(set(starts.tolist())) == [0, 101 - 5]
    assert np.sum(starts == 0) == 20
    motif = seqs_to_codes([MOTIF])[0]
    for row, start in zip(positives, starts, strict=True):
        assert np.array_equal(row[start : start + 5], motif)
    assert np.all(motif_counts(positives, MOTIF, both_strands=True) == 1)
    assert np.all(motif_counts(s.codes[s.labels == 0], MOTIF, both_strands=True) == 0)


def test_reverse_complement_set_holds_only_the_reverse_strand():
    s = draw_set(SetDefinition("rc", "reverse_complement", 40, 101), MOTIF, 2)
    positives = s.codes[s.labels == 1]
    assert np.all(motif_counts(positives, MOTIF) == 0)
    assert np.all(motif_counts(positives, reverse_complement(MOTIF)) == 1)
    assert s.reverse[s.labels == 1].all()


def test_two_copies_set_has_two_non_overlapping_forward_copies():
    s = draw_set(SetDefinition("two", "two_copies", 40, 101), MOTIF, 3)
    positives = s.labels == 1
    assert np.all(motif_counts(s.codes[positives], MOTIF) == 2)
    first, second = s.starts[positives, 0], s.starts[positives, 1]
    assert np.all(second >= first + 5)


def test_near_miss_set_has_every_single_base_mutant_and_no_exact_motif():
    kmers = near_miss_kmers(MOTIF)
    assert len(kmers) == 15 == len(set(kmers))
    assert all(sum(a != b for a, b in zip(k, MOTIF, strict=True)) == 1 for k in kmers)
    s = draw_set(SetDefinition("nm", "near_miss", 10, 101), MOTIF, 4)
    negatives = s.labels == 0
    assert np.all(motif_counts(s.codes[negatives], MOTIF, both_strands=True) == 0)
    for kmer in kmers:
        rows = np.flatnonzero(s.groups == kmer)
        assert rows.size == 10
        assert np.all(motif_counts(s.codes[rows], kmer) >= 1)


def test_shuffled_negatives_match_their_positives_dinucleotide_for_dinucleotide():
    s = draw_set(SetDefinition("shuf", "dinucleotide_shuffled", 30, 101), MOTIF, 5)
    positives, negatives = s.codes[s.labels == 1], s.codes[s.labels == 0]
    assert np.array_equal(dinucleotide_counts(positives), dinucleotide_counts(negatives))
    assert np.all(motif_counts(negatives, MOTIF, both_strands=True) == 0)


def test_sets_are_reproducible_from_the_seed_and_differ_between_seeds():
    definition = SetDefinition("long", "long_sequences", 20, 200)
    a, b = draw_set(definition, MOTIF, 7), draw_set(definition, MOTIF, 7)
    assert a.codes.shape == (40, 200)
    assert np.array_equal(a.codes, b.codes)
    assert not np.array_equal(a.codes, draw_set(definition, MOTIF, 8).codes)


def test_oracle_scores_one_on_every_set_and_passes_them_all():
    sets = draw_suite(SUITE, MOTIF, 11)
    result = oracle_suite(sets, SUITE)
    assert result.passed == result.applicable == len(SUITE)
    assert all(r.roc_auc == 1.0 for r in result.sets)
    nm = next(r for r in result.sets if r.name == "near_miss")
    assert nm.mean_fpr == 0.0 and set(nm.fpr_by_mutant) == set(near_miss_kmers(MOTIF))


def test_fpr_at_recall_keeps_the_asked_share_of_positives():
    positives = np.arange(10, dtype=float)  # 0..9
    negatives = np.array([0.5, 1.5, 5.0, 20.0])
    threshold, fpr = fpr_at_recall(positives, negatives, 0.9)
    assert threshold == 1.0  # 9 of 10 positives are >= 1
    assert fpr == 0.75


def test_unknown_generator_is_a_readable_error():
    with pytest.raises(InputError, match="stress generator must be one of"):
        draw_set(SetDefinition("x", "nonsense", 10, 101), MOTIF, 0)


# --------------------------------------------------------------------------- ISM, numpy only


def test_ism_variants_change_exactly_one_base_to_each_other_base():
    codes = seqs_to_codes(["ACGTG", "TTTTT"])
    variants = ism_variants(codes)
    assert variants.shape == (2 * 5 * 3, 5)
    per_seq = variants.reshape(2, 5, 3, 5)
    for n in range(2):
        for i in range(5):
            changed = per_seq[n, i] != codes[n]
            assert changed[:, i].all() and changed.sum() == 3
            assert sorted(per_seq[n, i, :, i].tolist()) == sorted(set(range(4)) - {codes[n, i]})


def test_ism_deltas_of_a_counting_function_are_exact():
    codes = seqs_to_codes(["ACGTA"])
    deltas = ism(lambda x: (x == 1).sum(axis=1).astype(float), codes)  # count of C
    assert deltas.shape == (1, 5, 4)
    assert np.allclose(deltas[0, :, 1], [1, 0, 1, 1, 1])  # set to C: +1, except where C is
    assert np.allclose(deltas[0, 1], [-1, 0, -1, -1])  # the C at position 1 removed
    with pytest.raises(InputError, match="variant_scores"):
        ism_deltas(codes, np.zeros(1), np.zeros(3))


def test_window_share_is_one_inside_and_zero_outside():
    deltas = np.zeros((2, 10, 4))
    deltas[0, 3:5, 0] = 1.0
    deltas[1, 8, 2] = -2.0
    shares = motif_window_share(deltas, np.array([3, 3]), 2)
    assert shares.tolist() == [1.0, 0.0]
    assert pooled_window_share(deltas, np.array([3, 3]), 2) == pytest.approx(2 / 4)


# --------------------------------------------------------------------------- known-answer models


def _detector(kmer: str):
    """Conv1D(1, width k) + GlobalMaxPool + sigmoid that fires on `kmer` only."""
    import keras

    k = len(kmer)
    inputs = keras.Input(shape=(None, 4))
    conv = keras.layers.Conv1D(1, k, activation="relu")
    x = keras.layers.GlobalMaxPooling1D()(conv(inputs))
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, dense(x))
    weights = np.full((k, 4, 1), -1.0, dtype=np.float32)
    for i, code in enumerate(seqs_to_codes([kmer])[0]):
        weights[i, code, 0] = 1.0
    conv.set_weights([weights, np.array([-(k - 1.5)], dtype=np.float32)])  # k matches: 1.5
    dense.set_weights([np.array([[8.0]], dtype=np.float32), np.array([-4.0], dtype=np.float32)])
    return model


def _gc_content():
    """Conv1D of width 1 weighting C and G, averaged over the sequence."""
    import keras

    inputs = keras.Input(shape=(None, 4))
    conv = keras.layers.Conv1D(1, 1)
    x = keras.layers.GlobalAveragePooling1D()(conv(inputs))
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, dense(x))
    conv.set_weights(
        [np.array([[[0.0], [1.0], [1.0], [0.0]]], np.float32), np.zeros(1, np.float32)]
    )
    dense.set_weights([np.array([[20.0]], np.float32), np.array([-10.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def known_models():
    pytest.importorskip("keras")
    return {"motif": _detector(MOTIF), "near_miss": _detector("ACGTA"), "gc": _gc_content()}


def _predict(model):
    return lambda codes: model.predict(codes_to_onehot(codes), verbose=0, batch_size=2048).ravel()


def _positives_with_one_motif(n: int, seed: int = 0):
    s = draw_set(SetDefinition("p", "long_sequences", n, 101), MOTIF, seed)
    rows = s.labels == 1
    return s.codes[rows], s.starts[rows, 0]


def test_ism_share_is_high_for_the_motif_detector_and_low_for_gc_content(known_models):
    codes, starts = _positives_with_one_motif(4)
    motif_deltas = ism(_predict(known_models["motif"]), codes)
    gc_deltas = ism(_predict(known_models["gc"]), codes)
    motif_share = motif_window_share(motif_deltas, starts, 5)
    gc_share = motif_window_share(gc_deltas, starts, 5)
    assert np.all(motif_share > 0.9)
    assert np.all(gc_share < 0.15)  # about 5 / 101 of the sequence


def test_suite_tells_the_motif_near_miss_and_gc_models_apart(known_models):
    results = {
        name: run_suite(_predict(model), SUITE, MOTIF, 21) for name, model in known_models.items()
    }
    verdicts = {name: {r.name: r.passed for r in res.sets} for name, res in results.items()}
    motif = verdicts["motif"]
    # The motif detector finds it at the ends, twice, in long sequences and against
    # shuffles, and ignores near-misses; it was never taught the reverse strand.
    assert motif == {
        "ends": True,
        "reverse_strand": False,
        "two_copies": True,
        "near_miss": True,
        "shuffled": True,
        "long": True,
    }
    # The near-miss detector fails every set that needs the true motif.
    assert not any(verdicts["near_miss"].values())
    # Composition alone cannot pass shuffled negatives or near-misses.
    assert verdicts["gc"]["shuffled"] is False and verdicts["gc"]["near_miss"] is False
    nm = {name: next(r for r in res.sets if r.name == "near_miss") for name, res in results.items()}
    assert nm["motif"].mean_fpr < 0.05
    assert nm["near_miss"].fpr_by_mutant["ACGTA"] > 0.9  # it fires on its own k-mer
    assert nm["gc"].mean_fpr > 0.5
    passed = {name: res.passed for name, res in results.items()}
    assert passed["motif"] > passed["gc"] and passed["motif"] > passed["near_miss"]


def test_fixed_length_model_is_not_applicable_on_long_sequences(known_models):
    result = run_suite(
        _predict(known_models["motif"]), SUITE, MOTIF, 21, variable_length=False, train_len=101
    )
    long = next(r for r in result.sets if r.name == "long")
    assert not long.applicable and long.passed is None and "not applicable" in long.note
    assert result.applicable == len(SUITE) - 1


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_graded_report_shows_the_stress_table_maps_and_leaderboard(graded_samples):
    import json

    out = graded_samples.out_dir
    folder = out / "students" / "reference_solution"
    html = (folder / "report.html").read_text()
    assert 'id="stress"' in html and "Near-misses: every single-base mutant" in html
    assert 'alt="Mutation map of a hidden positive" src="data:image/png;base64,' in html
    results = json.loads((folder / "results.json").read_text())
    names = [entry["name"] for entry in results["leaderboard"]]
    assert names[:2] == ["Hidden ROC AUC / oracle", "Hidden PR AUC"]
    stress_test = next(t for t in results["tests"] if "Stress suite" in t["name"])
    assert stress_test["max_score"] == 0 and "stress sets" in stress_test["output"]
    index = (out / "index.html").read_text()
    assert 'id="leaderboard"' in index and "students/reference_solution/report.html" in index


# --------------------------------------------------------------------------- leaderboard


def _result(student: str, fraction: float | None):
    from grader.checks.results import StudentResult

    entry = {
        "auc_fraction": fraction,
        "hidden_roc_auc": None if fraction is None else 0.95 * fraction,
        "oracle_roc_auc": 0.95,
        "pr_auc": 0.9,
        "motif_similarity": 0.97,
        "parameters": 177,
        "stress_passed": 4,
        "stress_applicable": 6,
        "window_share": 0.8,
        "training_seconds": 3.5,
    }
    return StudentResult(student, "ok", "", (), details={"leaderboard": entry})


def test_leaderboard_orders_by_hidden_auc_and_names_by_keyed_pseudonym():
    from grader.outputs.leaderboard import gradescope_leaderboard, leaderboard_rows, pseudonym

    results = [_result("gc", 0.6), _result("motif", 0.99), _result("near", 0.7), _result("x", None)]
    rows = leaderboard_rows(results, names="real")
    assert [r["name"] for r in rows] == ["motif", "near", "gc"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    hidden = leaderboard_rows(results, names="pseudonyms", key="course-key")
    assert [r["name"] for r in hidden] == [
        pseudonym(s, "course-key") for s in ("motif", "near", "gc")
    ]
    assert pseudonym("motif", "course-key") == pseudonym("motif", "course-key")
    assert pseudonym("motif", "course-key") != pseudonym("motif", "other-key")
    assert "motif" not in hidden[0]["name"]
    assert leaderboard_rows(results, names="off") == []
    board = gradescope_leaderboard(results[1])
    assert board[0] == {"name": "Hidden ROC AUC / oracle", "value": 0.99}
    assert {"name": "Stress sets passed", "value": "4/6"} in board
    assert gradescope_leaderboard(results[3]) == []


def test_leaderboard_command_without_a_gradebook_is_a_one_line_misuse(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    outcome = CliRunner().invoke(
        main, ["leaderboard", "--out", str(tmp_path), "--public", str(tmp_path / "lb.html")]
    )
    assert outcome.exit_code == 2
    assert "no gradebook" in outcome.output and "Traceback" not in outcome.output

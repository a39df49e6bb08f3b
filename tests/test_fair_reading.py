"""Reading a model the way the student built it, and withholding points for work not done.

Fast tests of the pure rules: how raw outputs become probabilities, the encoder's column
order, `build_pwm`'s pseudocount, overlapping motifs, hand-set filters, typed-in results.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.common import typed_in
from grader.score.model_runner import model_probabilities, read_outputs
from reference.compare import motifs_overlap
from reference.encode import column_permutation, one_hot_encode_seqs
from reference.motifs import fitted_pseudocount, hand_set_filters

RNG = np.random.default_rng(0)
P = RNG.uniform(0.01, 0.99, size=50)


def test_one_score_per_sequence_is_taken_as_it_is():
    for raw in (P, P[:, None]):
        reading = read_outputs({"main": raw}, scale="probability")
        np.testing.assert_allclose(reading.probability["main"], P)
        assert reading.how == "one output per sequence"


def test_two_column_softmax_is_read_by_its_positive_column():
    raw = np.stack([1 - P, P], axis=1)
    reading = read_outputs({"main": raw, "other": raw[:10]}, scale="probability")
    np.testing.assert_allclose(reading.probability["main"], P)
    assert "positive column" in reading.how


def test_logits_pass_through_a_sigmoid_on_every_set_of_the_model():
    logits = np.log(P / (1 - P))
    # One set happens to stay inside [0, 1]; it is still read as logits, like the others.
    inside = np.full(5, 0.5)
    reading = read_outputs({"main": logits, "inside": inside}, scale="unknown")
    np.testing.assert_allclose(reading.probability["main"], P)
    np.testing.assert_allclose(reading.probability["inside"], 1 / (1 + np.exp(-0.5)))
    assert "logit" in reading.how


def test_two_logit_columns_are_read_as_a_softmax():
    z = np.stack([np.zeros_like(P), np.log(P / (1 - P))], axis=1)
    reading = read_outputs({"main": z}, scale="logit")
    np.testing.assert_allclose(reading.probability["main"], P)


def test_one_unit_per_declared_motif_and_the_maximum_otherwise():
    units = RNG.uniform(0, 1, size=(50, 2))
    per_motif = read_outputs({"multi": units}, scale="probability", n_motifs=2)
    np.testing.assert_allclose(per_motif.units["multi"], units)
    np.testing.assert_allclose(per_motif.probability["multi"], units.max(axis=1))
    assert "one output unit per declared motif" in per_motif.how
    three = RNG.uniform(0, 1, size=(50, 3))
    other = read_outputs({"multi": three}, scale="probability", n_motifs=2)
    np.testing.assert_allclose(other.probability["multi"], three.max(axis=1))
    heads = read_outputs({"multi": [units[:, :1], units[:, 1:]]}, scale="probability", n_motifs=2)
    np.testing.assert_allclose(heads.units["multi"], units)


def test_an_output_that_is_not_one_score_per_sequence_is_refused():
    with pytest.raises(ValueError):
        read_outputs({"main": np.zeros((5, 1)), "other": np.zeros((5, 3))}, scale="probability")


def _two_head_model(length: int, *, flatten: bool = False):
    import keras

    inputs = keras.Input((length, 4))
    conv = keras.layers.Conv1D(3, 5)(inputs)
    pooled = keras.layers.Flatten()(conv) if flatten else keras.layers.GlobalMaxPooling1D()(conv)
    heads = [keras.layers.Dense(1, activation="sigmoid", name=f"motif_{i}")(pooled) for i in (0, 1)]
    return keras.Model(inputs, heads)


def test_sets_of_one_shape_share_a_prediction_and_get_what_their_own_would_give():
    model = _two_head_model(101)
    onehot = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=(700, 101))]
    sets = {"main": onehot[:600], "short": onehot[:30, :90], "probe": onehot[600:]}
    reading, problems = model_probabilities(model, sets, n_motifs=2)
    assert problems == {} and list(reading.units) == ["main", "short", "probe"]
    for name, onehot_set in sets.items():
        alone = np.concatenate(model.predict(onehot_set, batch_size=512, verbose=0), axis=1)
        np.testing.assert_allclose(reading.units[name], alone, rtol=0, atol=1e-6)


def test_a_shared_prediction_that_fails_is_repeated_set_by_set_to_name_each_failure():
    model = _two_head_model(100, flatten=True)
    onehot = np.zeros((20, 101, 4), dtype=np.float32)
    reading, problems = model_probabilities(model, {"a": onehot[:12], "b": onehot[12:]})
    assert reading.probability == {}
    assert sorted(problems) == ["a", "b"]
    assert "12 sequences" in problems["a"] and "8 sequences" in problems["b"]


def test_encoder_in_another_column_order_is_a_pure_permutation():
    expected = one_hot_encode_seqs(["ACGTTGCA", "GGGGCCCC", "ATATCGCG"])
    assert column_permutation(expected[..., [0, 2, 1, 3]], expected) == (0, 2, 1, 3)
    assert column_permutation(expected, expected) == (0, 1, 2, 3)
    broken = expected.copy()
    broken[0, 0] = [0, 0, 0, 1]
    assert column_permutation(broken, expected) is None


def test_build_pwm_with_any_pseudocount_is_correct():
    counts = one_hot_encode_seqs(["ACGTG", "ACGTT", "ACGAG", "TCGTG"]).sum(axis=0).astype(float)
    for pseudocount in (0.0, 1e-6, 0.5, 1.0):
        pwm = (counts + pseudocount) / (counts.sum(axis=1, keepdims=True) + 4 * pseudocount)
        assert fitted_pseudocount(pwm, counts) == pytest.approx(pseudocount, abs=1e-6)
    assert fitted_pseudocount(counts[:, [0, 2, 1, 3]] / 4, counts) is None


def test_motifs_overlap_on_either_strand():
    assert motifs_overlap("ACGTG", "TACGTGA")  # contains the main motif
    assert motifs_overlap("ACGTG", "CACGTA")  # CACGT is ACGTG's reverse complement
    assert not motifs_overlap("GATAAG", "TGACTC")
    assert not motifs_overlap("ACGTG", "GATAAG")


def test_hand_set_filters_are_flagged_and_learnt_ones_are_not():
    kernel = RNG.normal(0, 0.3, size=(5, 4, 3))
    assert hand_set_filters(kernel) == []
    kernel[..., 1] = np.eye(4)[[0, 1, 2, 3, 2]]
    kernel[..., 2] = 0.0  # a dead filter is not evidence of anything
    assert hand_set_filters(kernel) == [1]


def test_typed_in_results_are_found_in_the_code_and_computed_ones_are_not():
    code = "kernel_results = {3: {'roc_auc': 0.652, 'pr_auc': 0.631}, 11: {'roc_auc': 0.941}}"
    assert typed_in([0.652, 0.631, 0.9437], code) == [0.652, 0.631]
    computed = "kernel_results[w] = metrics(m, X, y)\nplt.ylim(0.5, 1.0)\nnoise = 0.25"
    assert typed_in([0.6519, 0.6322, 0.9412], computed) == []
    # One coincidence is not enough.
    assert typed_in([0.25, 0.93, 0.94, 0.95], computed) == []


def test_sweep_claims_are_bounded_by_what_the_reference_measured():
    from grader.checks.q2_q3_main_model import _sweep_expectation
    from reference.expectations import kernel_sweep_expectations

    rows = {r["kernel_size"]: r for r in kernel_sweep_expectations()}
    assert _sweep_expectation(3) == rows[3]["roc_auc_max"]
    # Narrower than anything measured: bounded like the narrowest; wider: by the oracle only.
    assert _sweep_expectation(2) == rows[3]["roc_auc_max"]
    assert _sweep_expectation(50) is None


def test_calibration_summarises_each_setting_over_seeds():
    from reference.expectations import _distribution, _merge_upper

    summary = _distribution([0.70, 0.72, 0.74])
    assert summary["mean"] == pytest.approx(0.72) and summary["max"] == 0.74
    assert summary["q025"] < summary["mean"] < summary["q975"]
    merged = _merge_upper({"kernel_sweep": [{"kernel_size": 3, "roc_auc": 0.65}]}, {3: 0.76})
    assert merged["kernel_sweep"][0]["roc_auc_max"] == 0.76


def test_calibrate_refuses_zero_seeds_with_exit_status_2(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    result = CliRunner().invoke(
        main, ["calibrate", "--out", str(tmp_path / "c.json"), "--seeds", "0"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_every_conv_reading_the_input_is_found_and_stacked_ones_are_not():
    keras = pytest.importorskip("keras")
    from reference.model import input_conv_activations, input_conv_layers

    inp = keras.Input((None, 4))
    narrow = keras.layers.Conv1D(4, 3, padding="same", name="narrow")(inp)
    noisy = keras.layers.GaussianNoise(0.1)(keras.layers.Dropout(0.1)(inp))
    wide = keras.layers.Conv1D(5, 11, padding="same", name="wide")(noisy)
    stacked = keras.layers.Conv1D(2, 3, name="stacked")(wide)
    pooled = [keras.layers.GlobalMaxPooling1D()(t) for t in (narrow, wide, stacked)]
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Concatenate()(pooled)))
    assert sorted(c.name for c in input_conv_layers(model)) == ["narrow", "wide"]
    X = one_hot_encode_seqs(["ACGTGACGTGAC"] * 3)
    shapes = {c.name: a.shape for c, a in input_conv_activations(model, X)}
    assert shapes == {"narrow": (3, 12, 4), "wide": (3, 12, 5)}

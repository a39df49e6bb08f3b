"""The reference model: its parameter count, how its first layer is read, and what it learns.

Fast tests build small Keras models without training them. Tests marked slow train
the reference configuration and check the assignment's claims about it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from reference.compare import best_filter, is_recovered
from reference.data import STARTER_MOTIF
from reference.encode import codes_to_onehot, seqs_to_codes
from reference.model import (
    build_deepbind_like_model,
    conv_activations,
    first_conv_layer,
    parameter_breakdown,
    window_geometry,
)
from reference.motifs import filter_pwms
from reference.validation import InputError

RECOVERY_THRESHOLD = 0.9  # the assignment spec's recovery_similarity


def _random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, size=(n, length), dtype=np.uint8)
    return codes_to_onehot(codes)


def _numpy_conv(
    X: np.ndarray, kernel: np.ndarray, bias: np.ndarray, offset: int, stride: int, out_len: int
) -> np.ndarray:
    """The convolution written out: output p reads input columns p*stride+offset onwards."""
    n, length, _ = X.shape
    width = kernel.shape[0]
    padded = np.zeros((n, length + 2 * width, 4), dtype=np.float64)
    padded[:, width : width + length] = X
    out = np.zeros((n, out_len, kernel.shape[2]))
    for p in range(out_len):
        start = width + offset + p * stride
        window = padded[:, start : start + width]
        out[:, p] = np.einsum("nwc,wcf->nf", window, kernel) + bias
    return out


# --------------------------------------------------------------------------- parameters


def test_starter_model_has_913_parameters_as_in_the_notebook_summary():
    model = build_deepbind_like_model(101, num_filters=16, kernel_size=5)
    assert model.count_params() == 913
    assert isinstance(model.layers[1], keras.layers.Conv1D)


def test_parameter_breakdown_explains_913_layer_by_layer():
    breakdown = parameter_breakdown(16, 5)
    assert [r.count for r in breakdown.rows] == [336, 0, 544, 33]
    assert breakdown.total == 913 == 16 * (5 * 4) + 16 + 16 * 32 + 32 + 32 + 1
    assert breakdown.rows[0].formula == "16 filters x (5 positions x 4 bases) + 16 biases"
    assert breakdown.to_dict()["total"] == 913


@pytest.mark.parametrize(
    ("filters", "width", "dense", "pooling"),
    [(16, 8, 32, "max"), (8, 11, 0, "max"), (4, 3, 16, "maxavg"), (16, 11, 32, "avg")],
)
def test_parameter_breakdown_matches_keras_for_other_settings(filters, width, dense, pooling):
    model = build_deepbind_like_model(
        None, filters, width, dense_units=dense, pooling=pooling, padding="same"
    )
    expected = parameter_breakdown(filters, width, dense, pooling=pooling).total
    assert model.count_params() == expected


def test_builder_rejects_an_unknown_pooling_with_the_allowed_values():
    with pytest.raises(InputError, match="pooling must be one of"):
        build_deepbind_like_model(101, pooling="sum")


# --------------------------------------------------------------------------- first conv


def test_first_conv_found_by_type_in_functional_model_after_input_layer():
    model = build_deepbind_like_model(101, 16, 5)
    assert type(model.layers[0]).__name__ == "InputLayer"
    assert first_conv_layer(model) is model.layers[1]


def test_first_conv_found_by_type_in_sequential_model_at_index_zero():
    model = keras.Sequential(
        [
            keras.layers.Conv1D(8, 6, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    assert first_conv_layer(model) is model.layers[0]


def test_first_conv_found_in_variable_length_input_model():
    inp = keras.Input(shape=(None, 4))
    x = keras.layers.Conv1D(4, 7, activation="relu", name="scan")(inp)
    x = keras.layers.Conv1D(2, 3, activation="relu", name="second")(x)
    out = keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(x))
    model = keras.Model(inp, out)
    assert first_conv_layer(model).name == "scan"
    for length in (50, 101):
        activations = conv_activations(model, _random_onehot(3, length))
        assert activations.shape == (3, length - 6, 4)


def test_first_conv_found_inside_a_nested_sub_model():
    inner = keras.Sequential([keras.Input((None, 4)), keras.layers.Conv1D(5, 4, name="inner")])
    inp = keras.Input(shape=(30, 4))
    out = keras.layers.Dense(1)(keras.layers.GlobalMaxPooling1D()(inner(inp)))
    model = keras.Model(inp, out)
    conv = first_conv_layer(model)
    assert conv.name == "inner"
    X = _random_onehot(4, 30)
    kernel, bias = conv.get_weights()
    expected = _numpy_conv(X, kernel, bias, 0, 1, 27)
    np.testing.assert_allclose(conv_activations(model, X), expected, rtol=1e-5, atol=1e-5)


def test_model_without_conv1d_is_refused_with_a_sentence():
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(InputError, match="no Conv1D layer"):
        first_conv_layer(model)


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(("width", "offset"), [(5, -2), (8, -3), (11, -5)])
def test_same_padding_windows_start_before_the_sequence(width, offset):
    model = build_deepbind_like_model(101, 4, width, padding="same")
    assert window_geometry(model) == (width, offset, 1)


def test_valid_padding_windows_start_at_the_output_position():
    assert window_geometry(build_deepbind_like_model(101, 4, 5)) == (5, 0, 1)


@pytest.mark.parametrize(("length", "offset"), [(101, -3), (100, -2)])
def test_strided_same_padding_offset_depends_on_the_input_length(length, offset):
    # TensorFlow pads max((ceil(L/s) - 1) * s + w - L, 0) columns, the smaller half left.
    inp = keras.Input(shape=(length, 4))
    model = keras.Model(inp, keras.layers.Conv1D(2, 7, strides=2, padding="same")(inp))
    assert window_geometry(model) == (7, offset, 2)
    X = _random_onehot(3, length, seed=1)
    activations = conv_activations(model, X)
    kernel, bias = first_conv_layer(model).get_weights()
    expected = _numpy_conv(X, kernel, bias, offset, 2, activations.shape[1])
    np.testing.assert_allclose(activations, expected, rtol=1e-5, atol=1e-5)


def test_dilated_first_conv_has_no_window_geometry():
    inp = keras.Input(shape=(101, 4))
    model = keras.Model(inp, keras.layers.Conv1D(2, 3, dilation_rate=2)(inp))
    with pytest.raises(InputError, match="dilation_rate 2"):
        window_geometry(model)


def test_same_padding_geometry_locates_a_motif_implanted_at_the_first_base():
    # A width-8 filter that reads ACGTG at its columns 3-7 must see it at position 0.
    model = build_deepbind_like_model(20, 1, 8, padding="same")
    conv = first_conv_layer(model)
    kernel = np.zeros((8, 4, 1), dtype=np.float32)
    kernel[3 + np.arange(5), seqs_to_codes([STARTER_MOTIF])[0], 0] = 1.0
    conv.set_weights([kernel, np.array([-4.5], dtype=np.float32)])
    codes = seqs_to_codes(["ACGTG" + "T" * 15])
    activations = conv_activations(model, codes_to_onehot(codes))
    width, offset, stride = window_geometry(model)
    assert int(np.argmax(activations[0, :, 0])) * stride + offset == -3
    pwms, n_windows = filter_pwms(codes, activations, width, offset=offset, stride=stride)
    assert n_windows.tolist() == [1]
    assert best_filter(pwms, STARTER_MOTIF)[1].consensus == STARTER_MOTIF


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_activations_equal_relu_of_the_convolution(padding):
    model = build_deepbind_like_model(40, 6, 5, padding=padding)
    X = _random_onehot(7, 40, seed=3)
    activations = conv_activations(model, X, batch_size=3)
    kernel, bias = first_conv_layer(model).get_weights()
    offset = window_geometry(model)[1]
    assert activations.shape == ((7, 36, 6) if padding == "valid" else (7, 40, 6))
    expected = np.maximum(_numpy_conv(X, kernel, bias, offset, 1, activations.shape[1]), 0.0)
    np.testing.assert_allclose(activations, expected, rtol=1e-5, atol=1e-5)


def test_conv_activations_of_a_never_called_sequential_model():
    model = keras.Sequential(
        [keras.layers.Conv1D(3, 4, activation="relu"), keras.layers.GlobalMaxPooling1D()]
    )
    activations = conv_activations(model, _random_onehot(5, 25))
    assert activations.shape == (5, 22, 3)
    assert activations.min() >= 0.0


def test_conv_activations_refuse_inputs_that_are_not_one_hot_shaped():
    model = build_deepbind_like_model(101, 4, 5)
    with pytest.raises(InputError, match="last axis must have 4"):
        conv_activations(model, np.zeros((2, 101, 5), dtype=np.float32))


# --------------------------------------------------------------------------- training (slow)


@pytest.mark.slow
def test_reference_config_on_seed_0_reaches_target_auc_and_recovers_acgtg():
    from reference.experiments import fit, read_filters, starter_task
    from reference.train import REFERENCE_CONFIG

    task = starter_task()
    fitted = fit(task, REFERENCE_CONFIG, seed=0, threads=2)
    assert 0.937 <= fitted.evaluation.roc_auc <= 0.956
    filters = read_filters(fitted.model, task.X_train, task.codes_train)
    _, match = best_filter(filters.pwms, STARTER_MOTIF)
    assert is_recovered(match, STARTER_MOTIF, RECOVERY_THRESHOLD)
    # Its training time is a benchmark target: benchmarks/bench_reference_model.py.


@pytest.mark.slow
def test_multi_motif_model_recovers_each_motif_with_a_distinct_filter():
    from reference.experiments import multi_motif_experiment

    answer, _ = multi_motif_experiment(RECOVERY_THRESHOLD, num_per_class=2500, seed=0)
    assert answer.recovered == (True, True)
    assert answer.distinct_filters
    assert len(set(answer.assignment)) == 2
    assert answer.roc_auc >= answer.oracle_roc_auc - 0.02


@pytest.mark.slow
def test_and_model_scores_both_motifs_above_either_alone():
    from reference.experiments import interaction_experiment

    answer, _ = interaction_experiment(num_per_class=2500, n_probes=300, seed=0)
    scores = answer.mean_scores
    assert scores["A+B"] > scores["A"] + 0.5
    assert scores["A+B"] > scores["B"] + 0.5
    assert scores["none"] < 0.1
    assert answer.captured

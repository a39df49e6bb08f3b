"""Honest notebooks in unusual styles earn what their standard twin earns; an untrained,
hand-set notebook earns no model points.

The notebooks are built by `tests/variants/build_variants.py` and graded once, in one
batch, beside their twin. Each honest variant changes one thing (see `STYLES`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.variants.build_variants import CASE_NAMES, NOTEBOOK_NAME, STYLES, build_variant

pytestmark = pytest.mark.slow
VARIANTS = Path(__file__).resolve().parent / "variants"
MODEL_CHECKS = (
    "training_curves",
    "hidden_roc_auc",
    "hidden_pr_auc",
    "reported_metrics_supported",
    "motif_recovered",
    "multi_motif_specialisation",
    "interaction_captured",
)
"""Checks of what a model learnt: nothing for a model that learnt nothing."""


@pytest.fixture
def variants(graded_variants):
    return graded_variants


def _check(result, check_id: str):
    return next(c for c in result.checks if c.name == check_id)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_committed_variant_is_what_the_builder_makes(name):
    committed = (VARIANTS / name / NOTEBOOK_NAME).read_text(encoding="utf-8")
    assert committed == build_variant(name), f"run python tests/variants/build_variants.py ({name})"


@pytest.mark.parametrize("name", [n for n in STYLES if n != "standard"])
def test_honest_variant_earns_at_least_ninety_percent_of_its_twin(variants, name):
    twin, variant = variants["standard"], variants[name]
    assert twin.status == variant.status == "ok"
    assert twin.auto_score >= 0.6 * twin.auto_max, "the twin itself must do the work"
    assert variant.auto_score >= 0.9 * twin.auto_score, {
        c.name: (c.points, _check(twin, c.name).points) for c in variant.checks
    }


def test_softmax_outputs_are_read_by_the_positive_column(variants):
    result = variants["softmax_two_units"]
    assert (
        _check(result, "hidden_roc_auc").points
        >= 0.9 * _check(variants["standard"], "hidden_roc_auc").points
    )
    assert "positive column" in _check(result, "hidden_roc_auc").message


def test_column_order_costs_only_the_encoder(variants):
    result, twin = variants["column_order_agct"], variants["standard"]
    encoder = _check(result, "one_hot_encoder")
    assert encoder.points == 0 and "A, G, C, T" in encoder.message
    assert _check(result, "build_pwm_function").points == 3
    assert _check(result, "hidden_roc_auc").points >= 0.9 * _check(twin, "hidden_roc_auc").points
    assert "your encoder's order" in _check(result, "hidden_roc_auc").message


def test_every_branch_on_the_input_is_read_for_motifs(variants):
    result = variants["parallel_branches"]
    assert _check(result, "motif_recovered").points == 10
    assert "every convolution on the input" in _check(result, "motif_recovered").message


def test_a_model_built_for_length_100_is_scored_at_length_100(variants):
    result, twin = variants["fixed_length_100"], variants["standard"]
    roc = _check(result, "hidden_roc_auc")
    assert roc.points >= 0.9 * _check(twin, "hidden_roc_auc").points
    assert "length 100" in roc.message


def test_logit_outputs_are_compared_as_probabilities(variants):
    result, twin = variants["logit_outputs"], variants["standard"]
    interaction = _check(result, "interaction_captured")
    assert interaction.points >= 0.9 * _check(twin, "interaction_captured").points
    assert "sigmoid applied" in interaction.message


def test_build_pwm_with_a_pseudocount_of_one_earns_its_points(variants):
    check = _check(variants["pwm_pseudocount_one"], "build_pwm_function")
    assert check.points == 3 and "pseudocount of 1" in check.message


def test_a_q5_model_with_one_sigmoid_per_motif_is_read_unit_by_unit(variants):
    result, twin = variants["multi_output_q5"], variants["standard"]
    multi = _check(result, "multi_motif_specialisation")
    assert multi.points >= 0.9 * _check(twin, "multi_motif_specialisation").points > 0
    assert "one output unit per declared motif" in multi.message


def test_untrained_hand_set_notebook_earns_no_model_points(variants):
    result = variants["hand_set_untrained"]
    assert result.status == "ok"
    for check_id in MODEL_CHECKS:
        assert _check(result, check_id).points == 0, _check(result, check_id).message
    assert _check(result, "kernel_sweep").points == 0
    assert _check(result, "noise_experiment").points == 0
    assert result.auto_score < 0.5 * result.auto_max
    messages = {c.name: c.message for c in result.checks}
    assert "typed in rather than learnt" in messages["hidden_roc_auc"]
    assert "typed into the notebook's code" in messages["kernel_sweep"]
    assert "overlap" in messages["multi_motif_specialisation"]
    assert "overlap" in messages["interaction_captured"]

"""The Q1-Q6 experiments and the answer-key pipeline.

Fast tests cover what needs no training: JSON-safe answers, the data the
experiments build (splits, noise, interaction probes) and the oracles they report.
One slow test runs the whole pipeline in its smallest mode and checks every file.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from grader.answer_key import TEMPLATE_NAME, run_reference
from grader.resources import templates_dir
from reference.data import STARTER_MOTIF
from reference.encode import seqs_to_codes
from reference.experiments import (
    InteractionAnswer,
    KernelRow,
    KernelSweepAnswer,
    MultiMotifAnswer,
    NoiseAnswer,
    NoiseRow,
    explain_parameters,
    noise_only_scores,
    noisy_oracle_scores,
    starter_task,
    with_noise,
)
from reference.interaction import interaction_probes
from reference.metrics import roc_auc
from reference.oracle import motif_counts

ORACLE_TEST_AUC = 0.9463476969913367  # ARCHITECTURE.md: oracle on the starter's test split


@pytest.fixture(scope="module")
def task():
    return starter_task()


def _noise_row(motif_prob: float, noise_std: float, noise_on: str) -> NoiseRow:
    return NoiseRow(
        motif_prob=motif_prob,
        noise_std=noise_std,
        noise_on=noise_on,
        roc_auc=np.float64(0.9),
        pr_auc=np.float32(0.8),
        average_precision=0.8,
        oracle_roc_auc=np.float64(0.95),
        sequence_oracle_roc_auc=0.95,
        noise_only_roc_auc=float("nan"),
        best_similarity=np.float64(0.99),
        recovered=np.bool_(True),
        epochs_run=np.int64(7),
    )


def _round_trip(answer) -> dict:
    return json.loads(json.dumps(answer.to_dict(), allow_nan=False))


# --------------------------------------------------------------------------- to_dict


def test_parameter_answer_explains_913_and_agrees_with_keras():
    answer = explain_parameters()
    data = _round_trip(answer)
    assert data["starter_total"] == data["starter_keras_count"] == 913
    assert [row["count"] for row in data["starter_rows"]] == [336, 0, 544, 33]
    assert data["reference_total"] == data["reference_keras_count"] == 1105
    assert {h["name"] for h in data["hyper_parameters"]} >= {"kernel_size", "learning rate"}


def test_kernel_sweep_to_dict_turns_numpy_numbers_into_json():
    row = KernelRow(8, "same", np.float64(0.94), np.float32(0.9), 0.9, 1.0, "ACGTG", True, 8, 6.1)
    data = _round_trip(KernelSweepAnswer("ACGTG", 5, np.float64(0.946), (row,)))
    assert data["rows"][0]["roc_auc"] == 0.94
    assert data["rows"][0]["recovered"] is True


def test_noise_answer_to_dict_writes_nan_as_null():
    answer = NoiseAnswer(
        (_noise_row(1.0, 0.0, "none"),),
        (_noise_row(1.0, 0.5, "negatives"),),
        (_noise_row(1.0, 0.5, "all"),),
    )
    data = _round_trip(answer)
    assert data["negatives_noise_rows"][0]["noise_only_roc_auc"] is None
    assert data["all_noise_rows"][0]["recovered"] is True
    assert data["all_noise_rows"][0]["epochs_run"] == 7


def test_noise_figure_rows_keep_the_two_noise_versions_apart():
    answer = NoiseAnswer(
        (_noise_row(1.0, 0.0, "none"), _noise_row(0.5, 0.0, "none")),
        (_noise_row(1.0, 0.5, "negatives"),),
        (_noise_row(1.0, 0.5, "all"),),
    )
    assert [r["noise_on"] for r in answer.figure_rows("all")] == ["none", "none", "all"]
    assert [r["noise_on"] for r in answer.figure_rows("negatives")] == ["none", "negatives"]


def test_multi_motif_and_interaction_answers_are_json_safe():
    multi = MultiMotifAnswer(
        motifs=("GATAAG", "TGACTC"),
        rule="any",
        co_occurrence=0.3,
        roc_auc=0.98,
        pr_auc=0.97,
        oracle_roc_auc=0.98,
        similarities=np.array([[0.99, 0.2], [0.1, np.float32(0.97)]]),
        assignment=(0, 1),
        assigned_similarity=(0.99, 0.97),
        assigned_consensus=("GATAAG", "TGACTC"),
        recovered=(True, True),
        distinct_filters=True,
        assigned_pwms=(np.full((8, 4), 0.25), np.full((8, 4), 0.25)),
    )
    data = _round_trip(multi)
    assert data["similarities"] == [[0.99, 0.2], [0.1, 0.97]]
    assert data["all_recovered_separately"] is True
    assert np.array(data["assigned_pwms"]).shape == (2, 8, 4)
    interaction = InteractionAnswer(
        motifs=("GATAAG", "TGACTC"),
        rule="all",
        roc_auc=0.99,
        pr_auc=0.98,
        oracle_roc_auc=0.99,
        mean_scores={"none": np.float32(0.01), "A": 0.05, "B": 0.08, "A+B": 0.97},
        captured=np.bool_(True),
        margin_over_single=0.89,
        or_model_mean_scores=None,
        n_probes=300,
        epochs_run=9,
    )
    assert _round_trip(interaction)["mean_scores"]["none"] == pytest.approx(0.01)


# --------------------------------------------------------------------------- data and oracles


def test_starter_task_is_the_notebooks_split(task):
    assert task.X_train.shape == (6400, 101, 4)
    assert task.X_val.shape == task.X_test.shape == (800, 101, 4)
    assert task.y_train.mean() == 0.49453125
    assert roc_auc(task.y_test, motif_counts(task.codes_test, STARTER_MOTIF)) == ORACLE_TEST_AUC


def test_noise_on_negatives_only_leaks_the_label(task):
    leaky = with_noise(task, 0.1, "negatives")
    honest = with_noise(task, 0.1, "all")
    assert roc_auc(leaky.y_test, noise_only_scores(leaky.X_test)) == 1.0
    assert 0.45 < roc_auc(honest.y_test, noise_only_scores(honest.X_test)) < 0.55
    np.testing.assert_array_equal(leaky.codes_test, task.codes_test)


def test_noisy_oracle_falls_from_the_count_oracle_as_noise_grows(task):
    aucs = {}
    for std in (0.1, 0.5, 1.0):
        noisy = with_noise(task, std, "all")
        aucs[std] = roc_auc(noisy.y_test, noisy_oracle_scores(noisy.X_test, STARTER_MOTIF, std))
    assert aucs[0.1] == pytest.approx(ORACLE_TEST_AUC, abs=1e-9)
    assert aucs[0.5] == pytest.approx(0.7977, abs=5e-4)
    assert aucs[1.0] == pytest.approx(0.5795, abs=5e-4)


def test_interaction_probes_differ_only_by_the_implanted_motifs():
    probes = interaction_probes(("GATAAG", "TGACTC"), 200, 101, background_seed=3, placement_seed=4)
    a, b = seqs_to_codes(["GATAAG"])[0], seqs_to_codes(["TGACTC"])[0]
    assert set(probes) == {"none", "A", "B", "A+B"}
    changed_a = probes["A"] != probes["none"]
    changed_b = probes["B"] != probes["none"]
    assert changed_a.sum(axis=1).max() <= 6 and changed_b.sum(axis=1).max() <= 6
    assert not np.any(changed_a & changed_b)  # the two implants never overlap
    for row in range(200):
        both = probes["A+B"][row]
        assert any(np.array_equal(both[i : i + 6], a) for i in range(96))
        assert any(np.array_equal(both[i : i + 6], b) for i in range(96))
    np.testing.assert_array_equal(probes["A+B"][changed_a], probes["A"][changed_a])


def test_answer_key_template_is_found():
    assert (templates_dir() / TEMPLATE_NAME).is_file()


# --------------------------------------------------------------------------- pipeline (slow)


@pytest.mark.slow
def test_run_reference_smoke_writes_metrics_figures_and_report(tmp_path):
    messages: list[str] = []
    metrics = run_reference(
        tmp_path, quick=True, recovery_threshold=0.9, seed=0, progress=messages.append, mode="smoke"
    )
    expected = {
        "roc_pr",
        "loss",
        "kernel_sweep",
        "logos",
        "noise_sweep",
        "noise_negatives",
        "multi_motif_heatmap",
        "multi_motif_logos",
        "interaction",
    }
    assert set(metrics["figures"]) == expected
    for name in expected:
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["mode"] == "smoke"
    assert written["figure_errors"] == {}
    assert written["q1_parameters"]["starter_total"] == 913
    assert set(written["answers"]) == {"main", "q1", "q2", "q3", "q4", "q5", "q6"}
    html = (tmp_path / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(expected)
    for heading in ("Q1 ", "Q2 ", "Q3 ", "Q4 ", "Q5 ", "Q6 "):
        assert heading in html
    assert any(m.startswith("Q6") for m in messages)

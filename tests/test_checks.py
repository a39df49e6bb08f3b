"""Checks turn validated harvests and hidden-data measurements into points and advice."""

import numpy as np
import pytest

from grader.checks.registry import CheckContext, run_check, run_checks
from grader.checks.results import CellRecord
from grader.harvest.validate import Harvest, HarvestedModel, HarvestedValue
from grader.score.measure import InteractionScores, MainScores, Scores
from grader.score.predict import ModelRun
from grader.spec import load_spec
from reference.compare import motif_matrix, motif_similarity
from reference.metrics import Evaluation

SPEC = load_spec()


def _evaluation(roc: float, pr: float) -> Evaluation:
    return Evaluation(roc, pr, pr, 8000, 4000)


def _main(roc: float, pr: float = 0.9, pwm=None) -> MainScores:
    pwm = motif_matrix("ACGTG") if pwm is None else pwm
    match = motif_similarity(pwm, "ACGTG")
    recovered = match.similarity >= 0.9 and match.consensus == "ACGTG"
    return MainScores(
        _evaluation(roc, pr),
        _evaluation(0.956, 0.94),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        None,
        recovered,
        0,
        match,
    )


def _context(
    values=None, models=("model",), scores=None, answers=None, status="ok", hidden=True, cells=()
):
    harvest = Harvest(
        ran=True,
        values={k: HarvestedValue(True, v) for k, v in (values or {}).items()},
        models={
            m: HarvestedModel(True, path=__import__("pathlib").Path(f"/x/{m}.keras"))
            for m in models
        },
        answers=answers or {},
    )
    runs = {m: ModelRun(m, loaded=True, info={"count_params": 913, "layers": []}) for m in models}
    scores = scores or Scores()
    scores.models = {**runs, **scores.models}
    return CheckContext(
        SPEC, harvest, scores, status, "msg", tuple(cells), {}, include_hidden=hidden
    )


def _run(check_id: str, ctx: CheckContext):
    return run_check(SPEC.check(check_id), ctx)


def test_hidden_auc_at_98_percent_of_oracle_gets_full_credit():
    result = _run("hidden_roc_auc", _context(scores=Scores(main=_main(0.98 * 0.956))))
    assert result.points == 15 and result.status == "passed"
    assert "oracle" in result.message


def test_hidden_auc_is_linear_between_80_and_98_percent_of_oracle():
    result = _run("hidden_roc_auc", _context(scores=Scores(main=_main(0.89 * 0.956))))
    assert result.points == pytest.approx(7.5, abs=0.01) and result.status == "partial"
    assert _run("hidden_roc_auc", _context(scores=Scores(main=_main(0.70)))).points == 0


def test_missing_model_costs_only_the_model_checks_and_names_the_variable():
    ctx = _context(models=())
    result = _run("hidden_roc_auc", ctx)
    assert result.points == 0 and "`model`" in result.message


def test_inflated_reported_auc_is_flagged_as_unsupported():
    ctx = _context({"roc": 0.999, "pr_auc": 0.90}, scores=Scores(main=_main(0.93, 0.90)))
    result = _run("reported_metrics_supported", ctx)
    assert result.points == 2.5
    assert "above what any model can reach" in result.message


def test_honest_reported_auc_agrees_within_tolerance():
    ctx = _context({"roc": 0.925, "pr_auc": 0.91}, scores=Scores(main=_main(0.93, 0.90)))
    assert _run("reported_metrics_supported", ctx).points == 5


def test_kernel_sweep_needs_widths_below_and_above_the_motif():
    only_above = _context({"kernel_results": {8: {"roc_auc": 0.94, "pr_auc": 0.92}}})
    result = _run("kernel_sweep", only_above)
    assert result.points == pytest.approx(8.0) and "smaller than the motif" in result.message
    both = _context(
        {
            "kernel_results": {
                3: {"roc_auc": 0.7, "pr_auc": 0.68},
                11: {"roc_auc": 0.945, "pr_auc": 0.93},
            }
        }
    )
    assert _run("kernel_sweep", both).points == 10


def test_kernel_sweep_above_the_oracle_is_implausible():
    ctx = _context(
        {
            "kernel_results": {
                3: {"roc_auc": 0.8, "pr_auc": 0.8},
                11: {"roc_auc": 0.999, "pr_auc": 0.99},
            }
        }
    )
    result = _run("kernel_sweep", ctx)
    assert result.points == 4 and "above the oracle" in result.message


def test_noise_results_no_model_could_reach_cost_the_plausibility_share():
    rows = [
        {"motif_prob": 0.5, "noise_std": 0.0, "roc_auc": 0.999, "pr_auc": 0.99},
        {"motif_prob": 1.0, "noise_std": 0.5, "roc_auc": 0.99, "pr_auc": 0.99},
    ]
    result = _run("noise_experiment", _context({"noise_results": rows}))
    assert result.points == 6 and "above what any model can reach" in result.message


def test_noise_results_above_their_own_ceiling_are_only_noted():
    # Trained with motif_prob 0.5 but tested on clean data: legitimate, so only a note.
    rows = [
        {"motif_prob": 0.5, "noise_std": 0.0, "roc_auc": 0.91, "pr_auc": 0.9},
        {"motif_prob": 1.0, "noise_std": 0.5, "roc_auc": 0.99, "pr_auc": 0.99},
    ]
    result = _run("noise_experiment", _context({"noise_results": rows}))
    assert result.points == 10 and "say so in your Answer Q4" in result.message


def test_motif_recovery_full_and_partial_credit():
    full = _run("motif_recovered", _context(scores=Scores(main=_main(0.94))))
    assert full.points == 10 and "ACGTG" in full.message
    four_of_five = np.full((5, 4), 0.25)
    four_of_five[1:] = motif_matrix("ACGTG")[:4]
    partial = _run("motif_recovered", _context(scores=Scores(main=_main(0.94, pwm=four_of_five))))
    # A ramp, not a cliff: 4 of 5 columns (similarity 0.89) earns most of the 9 points
    # below full credit.
    assert 5 < partial.points < 9 and partial.status == "partial"
    assert "wider kernel" in partial.message


@pytest.mark.parametrize(
    ("rule", "means", "points"),
    [
        ("all", {"none": 0.05, "A": 0.2, "B": 0.25, "A+B": 0.9}, 10),
        # Each gap earns its share up to the margin (0.2): 0.25 + 1 + 0 of 3.
        ("all", {"none": 0.05, "A": 0.8, "B": 0.85, "A+B": 0.9}, 4.17),
        # Super-additive by 0.04 of the 0.2 needed: 1 + 1 + 0.2 of 3.
        ("all", {"none": 0.23, "A": 0.51, "B": 0.46, "A+B": 0.78}, 7.33),
        # "or" needs no interaction: its credit is Q5's, not Q6's.
        ("any", {"none": 0.05, "A": 0.9, "B": 0.9, "A+B": 0.95}, 0),
        ("xor", {"none": 0.05, "A": 0.9, "B": 0.9, "A+B": 0.1}, 10),
        ("xor", {"none": 0.05, "A": 0.1, "B": 0.1, "A+B": 0.1}, 1.25),
    ],
)
def test_interaction_response_must_follow_the_declared_rule(rule, means, points):
    scores = Scores(interaction=InteractionScores(("GATAAG", "TGACTC"), rule, means))
    ctx = _context(
        {"interaction_rule": rule, "interaction_motifs": ["GATAAG", "TGACTC"]},
        models=("interaction_model",),
        scores=scores,
    )
    assert _run("interaction_captured", ctx).points == pytest.approx(points)


def test_parameter_count_needs_consistent_layers_and_the_total_in_answer_q1():
    layers = [
        {"name": "conv1d", "type": "Conv1D", "params": 336, "expected": 336},
        {"name": "dense", "type": "Dense", "params": 577, "expected": 577},
    ]
    scores = Scores(
        models={"model": ModelRun("model", True, info={"count_params": 913, "layers": layers})}
    )
    without = _run("parameter_count", _context(scores=scores))
    assert without.points == 3 and "Answer Q1" in without.message
    with_answer = _run(
        "parameter_count", _context(scores=scores, answers={"Q1": "It has 913 parameters."})
    )
    assert with_answer.points == 5


def test_written_answers_are_manual_and_shown():
    ctx = _context(answers={"Q3": "Filter 4 matches ACGTG."})
    answered = _run("answer_q3", ctx)
    assert answered.status == "manual" and answered.points == 0 and answered.max_points == 5
    assert answered.evidence["text"] == "Filter 4 matches ACGTG."
    assert "Answer Q4" in _run("answer_q4", ctx).message


def test_self_check_skips_hidden_checks_with_a_reason():
    results = {r.name: r for r in run_checks(_context(hidden=False))}
    assert results["hidden_roc_auc"].status == "skipped"
    assert "hidden data" in results["hidden_roc_auc"].message
    assert results["kernel_sweep"].status == "failed"


def test_notebook_with_errors_gets_partial_run_credit_naming_the_first_failing_cell():
    cells = (
        CellRecord(0, 1, 1.0, "ok"),
        CellRecord(1, 2, 0.5, "error", "ValueError", "bad shape", source_head="x = 1"),
        CellRecord(2, 3, 0.1, "ok"),
        CellRecord(3, 4, 0.1, "ok"),
    )
    result = _run("notebook_runs", _context(status="errors", cells=cells))
    assert result.points == pytest.approx(5 * 0.5 * 3 / 4, abs=0.01)
    assert "the cell starting `x = 1` (In [2]) (ValueError: bad shape)" in result.message


def test_a_check_that_crashes_is_reported_as_a_grader_error_not_a_traceback():
    ctx = _context({"kernel_results": "not validated"})
    result = _run("kernel_sweep", ctx)
    assert result.status == "error" and "grader failed" in result.message


def test_a_model_that_saw_the_test_split_is_caught_by_its_public_score():
    main = _main(0.93, 0.90)
    main.public = _evaluation(0.99, 0.98)
    main.public_oracle = _evaluation(0.9463, 0.9277)
    ctx = _context({"roc": 0.97, "pr_auc": 0.95}, scores=Scores(main=main))
    result = _run("reported_metrics_supported", ctx)
    assert result.points == 0 and "has seen the test split" in result.message


def test_claims_are_checked_against_the_assignments_own_test_split():
    main = _main(0.955, 0.94)
    main.public = _evaluation(0.93, 0.90)
    main.public_oracle = _evaluation(0.9463, 0.9277)
    ctx = _context({"roc": 0.929, "pr_auc": 0.905}, scores=Scores(main=main))
    result = _run("reported_metrics_supported", ctx)
    assert result.points == 5 and "on the test split" in result.message

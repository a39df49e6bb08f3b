"""The example submissions grade to the statuses and score bands an instructor expects."""

from pathlib import Path

import pytest

from tests.build_samples import BUILDERS, build_sample
from tests.golden_scores import CHANGES, GOLDEN, MEASURED_CHECKS, MEASURED_TOLERANCE

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parent.parent / "student_submissions"


@pytest.fixture(scope="module")
def results(graded_samples):
    return {r.student: r for r in graded_samples.results}


def _points(result, check_id: str) -> float:
    return next(c.points for c in result.checks if c.name == check_id)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_committed_sample_is_what_the_builder_makes(name):
    committed = (SAMPLES / name / "hw4.ipynb").read_text(encoding="utf-8")
    assert committed == build_sample(name), f"run python tests/build_samples.py ({name})"


def test_every_sample_gets_a_report_and_the_class_files_exist(graded_samples, results):
    assert set(results) == set(BUILDERS)
    for name in BUILDERS:
        out = graded_samples.out_dirs[name]
        for file in ("report.html", "results.json"):
            assert (out / "students" / name / file).is_file()
        assert (out / "index.html").is_file() and (out / "grades.csv").is_file()


def test_reference_solution_earns_at_least_ninety_percent(results):
    solution = results["reference_solution"]
    assert solution.status == "ok"
    assert solution.auto_score >= 0.9 * solution.auto_max
    assert _points(solution, "motif_recovered") == 10
    assert _points(solution, "multi_motif_specialisation") == 10
    assert _points(solution, "interaction_captured") == 10
    assert all(
        c.status == "manual" and c.evidence["text"] for c in solution.checks if c.kind == "manual"
    )


def test_unmodified_starter_earns_between_twenty_and_sixty_percent(results):
    starter = results["unmodified_starter"]
    assert starter.status == "ok"
    assert 0.2 * starter.auto_max <= starter.auto_score <= 0.6 * starter.auto_max
    assert _points(starter, "generator_matches_assignment") == 5
    assert _points(starter, "kernel_sweep") == 0


def test_partial_submission_gets_the_main_task_but_not_the_advanced_questions(results):
    partial = results["partial_main_only"]
    assert partial.status == "ok"
    assert _points(partial, "hidden_roc_auc") == 15
    assert _points(partial, "parameter_count") == 5
    for check in ("noise_experiment", "multi_motif_specialisation", "interaction_captured"):
        assert _points(partial, check) == 0
    assert results["unmodified_starter"].auto_score < partial.auto_score
    assert partial.auto_score < results["reference_solution"].auto_score


def test_error_midway_keeps_the_trained_models_points(results):
    broken = results["error_midway"]
    assert broken.status == "errors"
    assert _points(broken, "hidden_roc_auc") > 10
    assert "test_accuracy" in next(c.message for c in broken.checks if c.name == "notebook_runs")


def test_hanging_notebook_is_graded_timeout_and_keeps_earlier_points(results):
    hang = results["infinite_loop"]
    assert hang.status == "timeout"
    assert "keep training until the validation loss reaches zero" in hang.status_message
    assert _points(hang, "hidden_roc_auc") > 10


def test_syntax_error_notebook_gets_few_points(results):
    broken = results["syntax_error"]
    assert broken.status == "errors"
    assert _points(broken, "generator_matches_assignment") == 0
    assert broken.auto_score < 0.2 * broken.auto_max


def test_training_on_the_test_set_earns_nothing_for_its_claims(results):
    cheat = results["trains_on_test_set"]
    assert _points(cheat, "reported_metrics_supported") == 0
    sweep = next(c for c in cheat.checks if c.name == "kernel_sweep")
    assert sweep.points == 0 and "typed into the notebook's code" in sweep.message
    assert cheat.auto_score < results["reference_solution"].auto_score


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_sample_keeps_its_golden_points(results, name):
    status, golden = GOLDEN[name]
    result = results[name]
    assert result.status == status
    for check_id, points in golden.items():
        got = _points(result, check_id)
        tolerance = MEASURED_TOLERANCE if check_id in MEASURED_CHECKS else 1e-6
        why = CHANGES.get((name, check_id), (None, None, "no change recorded"))[2]
        assert abs(got - points) <= tolerance, f"{name}.{check_id}: {got} vs {points} ({why})"

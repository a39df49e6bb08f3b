"""Every example submission's points per automatic check: the golden table.

`tests/test_samples.py` grades the samples and compares each check with this table.
Checks measured on a model the notebook trains may move by up to `MEASURED_TOLERANCE`
(another CPU may round differently); every other check must match exactly. A change
to the grader that moves a number here must say why in `CHANGES`.
"""

from __future__ import annotations

MEASURED_CHECKS = frozenset(
    {
        "hidden_roc_auc",
        "hidden_pr_auc",
        "reported_metrics_supported",
        "motif_recovered",
        "multi_motif_specialisation",
        "interaction_captured",
    }
)
MEASURED_TOLERANCE = 1.0
"""Points a measured check may differ by."""

GOLDEN: dict[str, tuple[str, dict[str, float]]] = {
    "error_midway": (
        "errors",
        {
            "notebook_runs": 2.25,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 3.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 13.64,
            "hidden_pr_auc": 4.5,
            "reported_metrics_supported": 5.0,
            "kernel_sweep": 0.0,
            "motif_recovered": 8.5,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
    "infinite_loop": (
        "timeout",
        {
            "notebook_runs": 0.0,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 3.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 13.64,
            "hidden_pr_auc": 4.5,
            "reported_metrics_supported": 5.0,
            "kernel_sweep": 0.0,
            "motif_recovered": 8.5,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
    "partial_main_only": (
        "ok",
        {
            "notebook_runs": 5.0,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 5.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 15.0,
            "hidden_pr_auc": 5.0,
            "reported_metrics_supported": 5.0,
            "kernel_sweep": 10.0,
            "motif_recovered": 10.0,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
    "reference_solution": (
        "ok",
        {
            "notebook_runs": 5.0,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 5.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 15.0,
            "hidden_pr_auc": 5.0,
            "reported_metrics_supported": 5.0,
            "kernel_sweep": 10.0,
            "motif_recovered": 10.0,
            "noise_experiment": 10.0,
            "multi_motif_specialisation": 10.0,
            "interaction_captured": 10.0,
        },
    ),
    "syntax_error": (
        "errors",
        {
            "notebook_runs": 1.0,
            "generator_matches_assignment": 0.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 3.0,
            "training_curves": 0.0,
            "hidden_roc_auc": 0.0,
            "hidden_pr_auc": 0.0,
            "reported_metrics_supported": 0.0,
            "kernel_sweep": 0.0,
            "motif_recovered": 0.0,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
    "trains_on_test_set": (
        "ok",
        {
            "notebook_runs": 5.0,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 3.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 15.0,
            "hidden_pr_auc": 5.0,
            "reported_metrics_supported": 0.0,
            "kernel_sweep": 0.0,
            "motif_recovered": 10.0,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
    "unmodified_starter": (
        "ok",
        {
            "notebook_runs": 5.0,
            "generator_matches_assignment": 5.0,
            "one_hot_encoder": 5.0,
            "build_pwm_function": 3.0,
            "parameter_count": 3.0,
            "training_curves": 2.0,
            "hidden_roc_auc": 13.64,
            "hidden_pr_auc": 4.5,
            "reported_metrics_supported": 5.0,
            "kernel_sweep": 0.0,
            "motif_recovered": 8.5,
            "noise_experiment": 0.0,
            "multi_motif_specialisation": 0.0,
            "interaction_captured": 0.0,
        },
    ),
}
"""(status, points per automatic check) of each sample."""

STANDARD_TWIN: tuple[str, dict[str, float]] = (
    "ok",
    {
        "notebook_runs": 5.0,
        "generator_matches_assignment": 5.0,
        "one_hot_encoder": 5.0,
        "build_pwm_function": 3.0,
        "parameter_count": 3.0,
        "training_curves": 2.0,
        "hidden_roc_auc": 14.65,
        "hidden_pr_auc": 5.0,
        "reported_metrics_supported": 5.0,
        "kernel_sweep": 10.0,
        "motif_recovered": 10.0,
        "noise_experiment": 10.0,
        "multi_motif_specialisation": 10.0,
        "interaction_captured": 10.0,
    },
)
"""The variants' `standard` twin (`tests/variants/standard`) graded in a batch of variants
only, with the test spec and the development seed: what it must score beside hostile
notebooks too."""

CHANGES: dict[tuple[str, str], tuple[float, float, str]] = {
    **{
        (sample, "motif_recovered"): (
            5.67,
            8.5,
            "recovery is a ramp now: a width-5 filter one base short of ACGTG (similarity "
            "0.894, consensus ACGTN) earns 0.9 x the ramp instead of 0.6 x",
        )
        for sample in ("unmodified_starter", "error_midway", "infinite_loop")
    },
    **{
        (sample, "hidden_roc_auc"): (
            13.49,
            13.64,
            "the kernel's seed is public and fixed per assignment (with op determinism), no "
            "longer derived from the seed: the starter trains to ROC AUC 0.9211, not 0.9198",
        )
        for sample in ("unmodified_starter", "error_midway", "infinite_loop")
    },
    **{
        (sample, "hidden_pr_auc"): (4.39, 4.5, "the same model, trained with the public seed")
        for sample in ("unmodified_starter", "error_midway", "infinite_loop")
    },
    ("trains_on_test_set", "kernel_sweep"): (
        4.0,
        0.0,
        "its kernel_results are typed into the code (0.991, 0.999): typed-in results earn "
        "nothing, not even the share for trying widths below and above the motif",
    ),
}
"""(sample, check) -> (points before, points now, why), for every number that moved.
Corpus cases (`tests/corpus/cases.py`) are unchanged: none trains a Q5/Q6 model, types in
a sweep the old rules credited, or hands in an untrained model where a check reads it
(the parameter count is judged on the architecture, trained or not)."""


def _spec_totals() -> tuple[float, float, float]:
    """Public and hidden automatic points of the bundled spec, and the starter's public
    points from the golden table: what the self-check's summaries must print."""
    from grader.spec import load_spec

    spec = load_spec()
    auto = [c for c in spec.checks if c.kind == "auto"]
    public = {c.id for c in auto if c.visibility == "public"}
    starter = GOLDEN["unmodified_starter"][1]
    return (
        sum(c.points for c in auto if c.id in public),
        sum(c.points for c in auto if c.id not in public),
        sum(points for check, points in starter.items() if check in public),
    )


PUBLIC_POINTS, HIDDEN_POINTS, STARTER_PUBLIC_POINTS = _spec_totals()
"""45, 55 and 23 for the bundled homework, derived rather than typed into tests."""

"""Q4: the noise experiment: reported rows compared with what the reference reaches."""

from __future__ import annotations

from grader.checks.common import (
    population_oracle,
    typed_in,
)
from grader.checks.registry import CheckContext, Outcome, check
from reference.expectations import noise_expectations


@check("noise_experiment")
def noise_experiment(ctx: CheckContext) -> Outcome:
    """Points for covering both kinds of weakened signal; values no model could reach on
    clean data cost the plausibility share. A clean-data score above the ceiling for its
    own motif_prob is only noted: the student may have tested on clean data."""
    value = ctx.harvest.value("noise_results")
    if not value.ok:
        return Outcome(0.0, value.problem or "`noise_results` is not defined.")
    rows = value.value
    lowered = [r for r in rows if r["motif_prob"] < 1]
    noisy = [r for r in rows if r["noise_std"] > 0]
    tolerance = ctx.spec.thresholds.ceiling_tolerance
    clean = population_oracle(1.0, ctx.spec)
    impossible, above_own = [], []
    for r in rows:
        if r["noise_std"] > 0:
            continue  # noise on negatives alone can give the label away: up to 1.0 is possible
        if r["roc_auc"] > clean.roc_auc + tolerance:
            impossible.append(r)
        elif r["motif_prob"] < 1:
            own = population_oracle(r["motif_prob"], ctx.spec).roc_auc
            if r["roc_auc"] > own + tolerance:
                above_own.append(
                    {"motif_prob": r["motif_prob"], "roc_auc": r["roc_auc"], "oracle": own}
                )
    typed = typed_in([r[m] for r in rows for m in ("roc_auc", "pr_auc")], ctx.harvest.code)
    if typed:
        return Outcome(
            0.0,
            f"The values of `noise_results` are typed into the notebook's code (e.g. "
            f"{typed[0]:g}), not measured by it; run the noise experiment in the notebook and "
            "store what it measures.",
            {"rows": rows, "typed_in": typed},
        )
    unsupported = []
    for r in rows:
        expected = noise_expectations(r["motif_prob"], r["noise_std"])
        if (
            expected is not None
            and r["roc_auc"] > expected + ctx.spec.thresholds.expectation_tolerance
        ):
            unsupported.append({**r, "reference": expected})
    if unsupported:
        impossible = impossible + [u for u in unsupported if u not in impossible]
    w = ctx.spec.weights
    fraction = w.noise_lowered_motif_prob * bool(lowered) + w.noise_gaussian * bool(noisy)
    parts = [f"{len(rows)} noise settings reported."]
    if not lowered:
        parts.append("Add runs with motif_prob below 1.")
    if not noisy:
        parts.append("Add runs with Gaussian noise (noise_std > 0).")
    if unsupported:
        parts.append(
            "Unsupported: "
            + ", ".join(
                f"motif_prob={u['motif_prob']:g}, noise_std={u['noise_std']:g} reports ROC AUC "
                f"{u['roc_auc']:.3f}, well above the {u['reference']:.3f} the reference reaches"
                for u in unsupported
            )
            + "; check how these were computed."
        )
    elif impossible:
        parts.append(
            f"{len(impossible)} run(s) without noise report a ROC AUC above what any model can "
            f"reach on this data ({clean.roc_auc:.3f}); check how they were computed."
        )
    else:
        fraction += w.noise_plausible
        parts.append("The values are within what this data allows.")
    if above_own:
        parts.append(
            "Note: "
            + ", ".join(
                f"motif_prob={i['motif_prob']:g} gives {i['roc_auc']:.3f}" for i in above_own
            )
            + ", above the best possible when the test data has that motif_prob too ("
            + ", ".join(f"{i['oracle']:.3f}" for i in above_own)
            + "). If you tested on clean data, say so in your Answer Q4."
        )
    return Outcome(
        fraction,
        " ".join(parts),
        {"rows": rows, "impossible": impossible, "above_own_ceiling": above_own},
    )

"""Q2 and Q3: the main model trained, scored on hidden data against the oracle, its claims
checked against measurement, the kernel-size sweep and the motif read from its filters.
"""

from __future__ import annotations

import math

from grader.checks.common import (
    linear,
    model_problem,
    population_oracle,
    reading,
    typed_in,
)
from grader.checks.registry import CheckContext, Outcome, check
from reference.expectations import kernel_sweep_expectations


@check("training_curves")
def training_curves(ctx: CheckContext) -> Outcome:
    history = ctx.harvest.value("history")
    if not history.ok:
        return Outcome(0.0, history.problem or "`history` is not defined.")
    curves = history.value
    loss = [v for v in curves.get("loss", []) if math.isfinite(v)]
    val_loss = [v for v in curves.get("val_loss", []) if math.isfinite(v)]
    evidence = {"epochs": len(loss), "has_val_loss": bool(val_loss), **history.meta}
    unearned = _history_not_earned(ctx, history.meta, len(curves.get("loss", [])))
    if unearned:
        return Outcome(0.0, unearned, evidence)
    if loss and val_loss:
        return Outcome(
            1.0, f"Training history with {len(loss)} epochs of loss and val_loss.", evidence
        )
    if loss:
        return Outcome(
            ctx.spec.weights.training_curves_loss_only,
            "`history` has loss but no val_loss; pass validation_data to model.fit.",
            evidence,
        )
    return Outcome(0.0, "`history` has no finite loss values.", evidence)


def _history_not_earned(ctx: CheckContext, meta: dict, epochs: int) -> str:
    """Why `history` is not the record of training `model`, or "" when it may be."""
    if (
        meta.get("kind") not in (None, "dict")
        and meta.get("has_model")
        and not meta.get("of_model")
    ):
        return (
            "`history` is the History of another model than `model`; keep the History "
            "returned by fitting `model` itself."
        )
    if "model" in ctx.scores.not_earned:
        return (
            "`history` cannot be the record of training `model`: "
            + (ctx.scores.not_earned["model"])
        )
    run = ctx.scores.models.get("model")
    steps = run.info.get("optimizer_steps") if run is not None and run.loaded else None
    if meta.get("kind") == "dict" and isinstance(steps, int) and epochs > steps:
        return (
            f"`history` lists {epochs} epochs, but `model` took only {steps} training steps, "
            "so it is not the record of training `model`; keep the History that fit() returns."
        )
    return ""


def _auc_outcome(ctx: CheckContext, metric: str, label: str, shown: str | None = None) -> Outcome:
    """Credit for `metric` relative to the oracle's; `shown` is reported beside it."""
    problem = model_problem(ctx, "model", "main")
    if problem:
        return Outcome(0.0, problem)
    main = ctx.scores.main
    if main is None:
        return Outcome(0.0, "`model` produced no usable predictions on the hidden data.")
    t = ctx.spec.thresholds
    measured = getattr(main.evaluation, metric)
    oracle = getattr(main.oracle, metric)
    fraction = linear(measured / oracle, t.auc_zero_fraction, t.auc_full_fraction)
    full_at = t.auc_full_fraction * oracle
    evidence = {
        "measured": measured,
        "oracle": oracle,
        "full_credit_from": full_at,
        "n_sequences": main.evaluation.n,
        "roc_auc": main.evaluation.roc_auc,
        "pr_auc": main.evaluation.pr_auc,
        "average_precision": main.evaluation.average_precision,
    }
    message = (
        f"{label} {measured:.4f} on {main.evaluation.n:,} hidden sequences; the best possible "
        f"(oracle) is {oracle:.4f}; full credit from {full_at:.4f}."
    )
    if shown:
        message += f" {shown.format(main=main)}"
    message += reading(ctx, "model")
    if fraction < 1:
        message += (
            " Train longer, use a kernel wider than the motif, or more filters, and check that "
            "the model is fitted on the training split only."
        )
    return Outcome(fraction, message, evidence)


@check("hidden_roc_auc")
def hidden_roc_auc(ctx: CheckContext) -> Outcome:
    return _auc_outcome(ctx, "roc_auc", "ROC AUC")


@check("hidden_pr_auc")
def hidden_pr_auc(ctx: CheckContext) -> Outcome:
    """Judged by average precision: the starter's `auc(recall, precision)` interpolates
    between tied scores, which flatters the oracle (whose scores are small integers)
    over any model with continuous outputs, so the ratio would be unfair."""
    return _auc_outcome(
        ctx,
        "average_precision",
        "Average precision",
        "(PR AUC as the starter computes it: {main.evaluation.pr_auc:.4f}, oracle "
        "{main.oracle.pr_auc:.4f}.)",
    )


@check("reported_metrics_supported")
def reported_metrics_supported(ctx: CheckContext) -> Outcome:
    """A claim holds if the model reproduces it on the assignment's own test split or on
    the hidden data; it fails if no model could reach it, or if the model does better on
    that test split than on fresh data from the same generator (it has seen the split)."""
    main = ctx.scores.main
    problem = model_problem(ctx, "model", "main")
    if problem or main is None:
        return Outcome(
            0.0, "Your reported metrics cannot be verified: " + (problem or "no predictions.")
        )
    t = ctx.spec.thresholds
    public = main.public
    if public is not None and public.roc_auc - main.evaluation.roc_auc > t.claim_tolerance:
        return Outcome(
            0.0,
            f"`model` scores ROC AUC {public.roc_auc:.4f} on the assignment's test split but "
            f"only {main.evaluation.roc_auc:.4f} on fresh data from the same generator: it has "
            "seen the test split (trained or tuned on it). Fit on the training split only and "
            "report the test score of that model.",
            {"public_roc_auc": public.roc_auc, "hidden_roc_auc": main.evaluation.roc_auc},
        )
    fraction = 0.0
    parts, evidence = [], {}
    for name, metric in (("roc", "roc_auc"), ("pr_auc", "pr_auc")):
        value = ctx.harvest.value(name)
        hidden = getattr(main.evaluation, metric)
        on_split = getattr(public, metric) if public is not None else None
        oracles = [getattr(main.oracle, metric)]
        if main.public_oracle is not None:
            oracles.append(getattr(main.public_oracle, metric))
        if not value.ok:
            parts.append(value.problem or f"`{name}` is not defined.")
            continue
        reported = value.value
        evidence[name] = {
            "reported": reported,
            "measured_on_test_split": on_split,
            "measured_on_hidden_data": hidden,
            "oracle": max(oracles),
        }
        if reported > max(oracles) + t.ceiling_tolerance:
            parts.append(
                f"`{name}` = {reported:.4f} is above what any model can reach on this data "
                f"(oracle {max(oracles):.4f}): it cannot be a fair test-set score."
            )
            continue
        candidates = [v for v in (on_split, hidden) if v is not None]
        if any(abs(reported - v) <= t.claim_tolerance for v in candidates):
            fraction += ctx.spec.weights.reported_metric_each
            parts.append(
                f"`{name}` = {reported:.4f} agrees with the grader's measurement"
                + (f" ({on_split:.4f} on the test split, " if on_split is not None else " (")
                + f"{hidden:.4f} on hidden data)."
            )
        else:
            parts.append(
                f"`{name}` = {reported:.4f}, but the model scores "
                + (
                    f"{on_split:.4f} on the assignment's test split and "
                    if on_split is not None
                    else ""
                )
                + f"{hidden:.4f} on hidden data (tolerance {t.claim_tolerance}); report the "
                "test score of the model you submit, computed as in section 5."
            )
    return Outcome(fraction, " ".join(parts), evidence)


def _sweep_expectation(width: int) -> float | None:
    """The best ROC AUC the reference reached at `width` (over its training seeds).

    Between measured widths the larger neighbour's; below the narrowest the narrowest's
    (a narrower filter sees less of the motif); above the widest, none (the oracle
    ceiling bounds it)."""
    rows = {int(r["kernel_size"]): r for r in kernel_sweep_expectations()}
    if not rows:
        return None
    widths = sorted(rows)

    def best(w: int) -> float:
        return float(rows[w].get("roc_auc_max", rows[w]["roc_auc"]))

    if width in rows:
        return best(width)
    if width < widths[0]:
        return best(widths[0])
    if width > widths[-1]:
        return None
    below = max(w for w in widths if w < width)
    above = min(w for w in widths if w > width)
    return max(best(below), best(above))


@check("kernel_sweep")
def kernel_sweep(ctx: CheckContext) -> Outcome:
    value = ctx.harvest.value("kernel_results")
    if not value.ok:
        return Outcome(0.0, value.problem or "`kernel_results` is not defined.")
    results: dict[int, dict[str, float]] = value.value
    k = len(ctx.spec.data.motif)
    below = [w for w in results if w < k]
    above = [w for w in results if w > k]
    ceiling = population_oracle(ctx.spec.data.motif_prob, ctx.spec)
    t = ctx.spec.thresholds
    tolerance = t.ceiling_tolerance
    implausible = [
        w
        for w, r in results.items()
        if r["roc_auc"] > ceiling.roc_auc + tolerance or r["pr_auc"] > ceiling.pr_auc + tolerance
    ]
    unsupported = []
    for w, r in results.items():
        expected = _sweep_expectation(w)
        if (
            w not in implausible
            and expected is not None
            and r["roc_auc"] > expected + t.expectation_tolerance
        ):
            unsupported.append({"width": w, "roc_auc": r["roc_auc"], "reference": expected})
    typed = typed_in(
        [r[m] for r in results.values() for m in ("roc_auc", "pr_auc")], ctx.harvest.code
    )
    evidence = {
        "widths": sorted(results),
        "results": {str(w): r for w, r in results.items()},
        "oracle_roc_auc": ceiling.roc_auc,
        "implausible": implausible,
        "unsupported": unsupported,
        "typed_in": typed,
    }
    if typed:
        return Outcome(
            0.0,
            f"The values of `kernel_results` are typed into the notebook's code (e.g. "
            f"{typed[0]:g}), not measured by it; run the sweep in the notebook and store what "
            "it measures.",
            evidence,
        )
    w = ctx.spec.weights
    fraction = w.kernel_sweep_below * bool(below) + w.kernel_sweep_above * bool(above)
    parts = [f"Kernel sizes tried: {sorted(results)}."]
    if not below:
        parts.append(f"Add at least one kernel size smaller than the motif ({k}).")
    if not above:
        parts.append(f"Add at least one kernel size larger than the motif ({k}).")
    if implausible:
        parts.append(
            f"Widths {implausible} report AUCs above the oracle ({ceiling.roc_auc:.3f}), which "
            "no model can reach on this data: check for training on the test set."
        )
    elif unsupported:
        parts.append(
            "Unsupported: "
            + ", ".join(
                f"width {u['width']} reports ROC AUC {u['roc_auc']:.3f}, well above the "
                f"{u['reference']:.3f} the reference model reaches at that width"
                for u in unsupported
            )
            + "; check how these were computed."
        )
    elif below or above:
        fraction += w.kernel_sweep_plausible
        parts.append("All values are within what this data allows.")
    return Outcome(fraction, " ".join(parts), evidence)


@check("motif_recovered")
def motif_recovered(ctx: CheckContext) -> Outcome:
    problem = model_problem(ctx, "model", "main")
    main = ctx.scores.main
    if problem:
        return Outcome(0.0, problem)
    if main is None or main.best_match is None:
        conv_problem = ctx.scores.models["model"].info.get("conv_problem", "")
        return Outcome(
            0.0,
            "No first-layer Conv1D filter could be read from `model`"
            + (f" ({conv_problem})" if conv_problem else "")
            + ".",
        )
    t = ctx.spec.thresholds
    match = main.best_match
    motif = ctx.spec.data.motif
    evidence = {
        "best_filter": main.best_filter,
        "similarity": match.similarity,
        "consensus": match.consensus,
        "offset": match.offset,
        "strand": match.strand,
    }
    if main.recovered:
        return Outcome(
            1.0,
            f"Filter {main.best_filter} recovers {motif} (similarity {match.similarity:.3f}, "
            f"consensus {match.consensus})." + reading(ctx, "model"),
            evidence,
        )
    # A ramp up to just below full credit: a filter one base short of the motif (about
    # 0.89) earns nearly as much as one that spells it, not a cliff from 0.6 to 1.
    fraction = ctx.spec.weights.motif_recovery_partial_max * linear(
        match.similarity, t.recovery_partial_from, t.recovery_similarity
    )
    return Outcome(
        fraction,
        f"The best filter ({main.best_filter}) matches {motif} with similarity "
        f"{match.similarity:.3f} (consensus {match.consensus}); recovery needs "
        f"{t.recovery_similarity} and the consensus spelling the motif. A kernel narrower than "
        "or equal to the motif often learns a shifted partial match: try a wider kernel."
        + reading(ctx, "model"),
        evidence,
    )

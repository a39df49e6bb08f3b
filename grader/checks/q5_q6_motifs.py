"""Q5 and Q6: one filter per motif in the multi-motif model, and the interaction rule
measured on probes that hold one motif, the other, both or neither.
"""

from __future__ import annotations

from grader.checks.common import model_problem, overlap_refusal, reading
from grader.checks.registry import CheckContext, Outcome, check
from grader.score.plan import interaction_motifs
from reference.interaction import interaction_verdict


@check("multi_motif_specialisation")
def multi_motif_specialisation(ctx: CheckContext) -> Outcome:
    motifs = ctx.harvest.value("multi_motifs")
    if not motifs.ok:
        return Outcome(0.0, motifs.problem or "`multi_motifs` is not defined.")
    refused = overlap_refusal(
        ctx,
        list(motifs.value),
        "The declared motifs",
        "one filter can answer for both",
        list(motifs.value),
    )
    if refused:
        return refused
    problem = model_problem(ctx, "multi_model", "multi")
    if problem:
        return Outcome(0.0, problem)
    multi = ctx.scores.multi
    if multi is None:
        return Outcome(0.0, "`multi_model` produced no predictions on the hidden multi-motif data.")
    margin = ctx.spec.thresholds.response_margin
    n = len(multi.motifs)
    recovered = sum(multi.recovered) if multi.recovered else 0
    none = multi.responses.get("none", float("nan"))
    responding = [
        m
        for i, m in enumerate(multi.motifs)
        if multi.responses.get(f"only_{i}", float("nan")) - multi.responses.get(f"none_{i}", none)
        >= margin
    ]
    w = ctx.spec.weights
    fraction = w.multi_recovered * recovered / n + w.multi_responding * len(responding) / n
    evidence = {
        "motifs": list(multi.motifs),
        "assignment": multi.assignment,
        "recovered": multi.recovered,
        "responses": multi.responses,
        "roc_auc": multi.evaluation.roc_auc if multi.evaluation else None,
        "oracle_roc_auc": multi.oracle.roc_auc,
    }
    parts = [
        f"{recovered} of {n} motifs are recovered by different filters"
        + (f" (filters {multi.assignment})." if multi.assignment else ".")
    ]
    parts.append(
        f"The model responds to {len(responding)} of {n} motifs on their own "
        f"(mean probability at least {margin} above background {none:.2f})."
    )
    if recovered < n:
        parts.append("Use more filters or a kernel wider than the motifs, and train longer.")
    return Outcome(min(fraction, 1.0), " ".join(parts) + reading(ctx, "multi_model"), evidence)


_EXPECTED_PATTERN = {
    "all": "high only when both motifs are present, and more than the two motifs' separate "
    "effects added up",
    "any": "high when either motif is present",
    "xor": "high when exactly one motif is present",
}


@check("interaction_captured")
def interaction_captured(ctx: CheckContext) -> Outcome:
    rule = ctx.harvest.value("interaction_rule")
    if not rule.ok:
        return Outcome(0.0, rule.problem or "`interaction_rule` is not defined.")
    motifs = interaction_motifs(ctx.harvest)
    if not motifs.ok:
        return Outcome(
            0.0,
            (motifs.problem or "`interaction_motifs` is not defined")
            + " (`interaction_motifs` falls back to `multi_motifs` when left out or empty).",
        )
    refused = overlap_refusal(
        ctx,
        list(motifs.value)[:2],
        "The interaction motifs",
        "the model cannot show how two different motifs combine",
        list(motifs.value),
    )
    if refused:
        return refused
    if rule.value == "any":
        return Outcome(
            0.0,
            "The rule 'or' labels a sequence positive when either motif is present, which "
            "needs no interaction between them (Q5's multi-motif model already shows it): "
            "train the interaction model on 'and' or 'xor' labels for this credit.",
            {"rule": rule.value},
        )
    problem = model_problem(ctx, "interaction_model")
    if problem:
        return Outcome(0.0, problem)
    interaction = ctx.scores.interaction
    if interaction is None or len(interaction.mean_scores) < 4:
        sets = ctx.scores.models.get("interaction_model")
        detail = "; ".join(sets.set_problems.values()) if sets else ""
        return Outcome(
            0.0, "`interaction_model` could not be run on the probe sequences. " + detail
        )
    s = interaction.mean_scores
    margin = ctx.spec.thresholds.interaction_margin
    # The answer key reaches its verdict with the same function and margin.
    verdict = interaction_verdict(s, interaction.rule, margin)
    fraction = verdict.fraction
    table = ", ".join(f"{k}: {v:.2f}" for k, v in s.items())
    evidence = {"rule": interaction.rule, "motifs": list(interaction.motifs), "mean_scores": s}
    if verdict.captured:
        message = f"The model's mean output ({table}) follows the '{interaction.rule}' rule."
    else:
        message = (
            f"The model's mean output ({table}) does not follow the '{interaction.rule}' rule, "
            f"which should be {_EXPECTED_PATTERN[interaction.rule]} (gaps of at least {margin})."
        )
    return Outcome(fraction, message + reading(ctx, "interaction_model"), evidence)

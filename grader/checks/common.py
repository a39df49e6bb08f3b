"""Rules that several questions share: which model may be judged, how it was read, reported
numbers typed into the code, overlapping motifs, and the population oracle.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from grader.checks.registry import CheckContext, Outcome
from grader.spec import AssignmentSpec
from reference.compare import motifs_overlap
from reference.data import generate_synthetic_codes
from reference.oracle import oracle_evaluation


def linear(value: float, zero: float, full: float) -> float:
    if full <= zero:
        return 1.0 if value >= full else 0.0
    return float(min(max((value - zero) / (full - zero), 0.0), 1.0))


def model_problem(
    ctx: CheckContext, name: str, set_name: str | None = None, *, trained: bool = True
) -> str:
    """Why `name` cannot be scored, as a sentence, or "" when it can.

    With `trained` (every check of what a model learnt), a model that was never
    trained, was set by hand or is `model` again earns nothing; the architecture
    (parameter count) is judged either way."""
    harvested = ctx.harvest.model(name)
    if not ctx.harvest.ran:
        return (
            f"`{name}` could not be read because the notebook's kernel was not running at the end."
        )
    if not harvested.ok:
        return harvested.problem or f"`{name}` is not defined in the notebook."
    if name in ctx.scores.problems:
        return f"`{name}` could not be scored: {ctx.scores.problems[name]}"
    run = ctx.scores.models.get(name)
    if run is None:
        return f"`{name}` was not scored."
    if not run.loaded or run.problem:
        return run.problem or f"`{name}` could not be loaded."
    if set_name and set_name in run.set_problems:
        return run.set_problems[set_name]
    if trained and name in ctx.scores.not_earned:
        return ctx.scores.not_earned[name]
    return ""


def reading(ctx: CheckContext, name: str) -> str:
    """ " Read as: ..." when the model was read in a way worth telling the student."""
    how = ctx.scores.readings.get(name, "")
    return f" How `{name}` was read: {how}." if how else ""


_FLOAT_LITERAL = re.compile(r"(?<![\w.])0?\.\d{2,}(?![\w.])")


def typed_in(values: list[float], code: str) -> list[float]:
    """The reported values that appear as number literals in the notebook's code.

    A result computed by the notebook is not written in its code; one that is (to the
    digits it was typed with) was copied in, not measured. Needs at least two such
    values and half of all of them, so an odd coincidence does not count.
    """
    literals = []
    for text in _FLOAT_LITERAL.findall(code):
        decimals = len(text.split(".")[1])
        literals.append((float(text), 0.5 * 10.0**-decimals + 1e-12))
    if not literals:
        return []
    typed = [v for v in values if any(abs(v - lit) <= tol for lit, tol in literals)]
    return typed if len(typed) >= max(2, math.ceil(len(values) / 2)) else []


def overlapping(motifs: list[str], main_motif: str, min_shared: int) -> list[str]:
    """Pairs of declared motifs (or a declared motif and the main one) that overlap."""
    pairs = []
    for i, a in enumerate(motifs):
        if motifs_overlap(a, main_motif, min_shared):
            pairs.append(f"{a} and the main motif {main_motif}")
        for b in motifs[i + 1 :]:
            if motifs_overlap(a, b, min_shared):
                pairs.append(f"{a} and {b}")
    return pairs


def overlap_refusal(
    ctx: CheckContext, motifs: list[str], subject: str, because: str, declared: list[str]
) -> Outcome | None:
    """No points when the motifs a question compares overlap: one filter could then answer
    for two of them, so what the model shows is not what the question asks (Q5, Q6)."""
    overlaps = overlapping(
        motifs, ctx.spec.data.motif, ctx.spec.thresholds.motif_overlap_min_shared
    )
    if not overlaps:
        return None
    return Outcome(
        0.0,
        f"{subject} overlap ({'; '.join(overlaps)}, counting both strands), so {because}: "
        "choose motifs that share no long run of bases with each other or with the main motif.",
        {"motifs": declared, "overlaps": overlaps},
    )


def probe_result(ctx: CheckContext, name: str) -> dict:
    return ctx.harvest.probes.get(name, {})


def probe_problem(result: dict, function: str) -> str:
    if not result or result.get("present") is None:
        return f"`{function}` could not be called by the grader (the kernel was not available)."
    if not result.get("present"):
        return f"`{function}` is not defined in the notebook; keep the starter's function."
    if result.get("error"):
        return f"Calling `{function}` raised {result['error']}"
    return ""


@lru_cache(maxsize=16)
def _population_oracle_cached(
    motif_prob: float, seq_len: int, motif: str, num_per_class: int, seed: int
):
    dataset = generate_synthetic_codes(
        num_per_class, num_per_class, seq_len, motif, motif_prob, seed
    )
    return oracle_evaluation(dataset.codes, dataset.labels, motif)


def population_oracle(motif_prob: float, spec: AssignmentSpec):
    """The oracle's AUC on a large draw at `motif_prob`: the ceiling for any model."""
    draw = spec.population_oracle
    return _population_oracle_cached(
        round(motif_prob, 3), spec.data.seq_len, spec.data.motif, draw.num_per_class, draw.seed
    )

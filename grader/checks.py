"""The checks: pure functions from what was harvested and measured to points.

Each check reads a `CheckContext` and returns an `Outcome`: the fraction of its
points earned, a sentence the student can act on, and evidence for the report.
Points, thresholds and visibility come from the assignment spec, so the same
definitions serve the instructor's grade, the student's self-check and CI.
"""

from __future__ import annotations

import logging
import math
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from grader.harvest import Harvest
from grader.results import CellRecord, CheckResult
from grader.score import Scores, interaction_motifs
from grader.spec import AssignmentSpec, CheckSpec
from reference.compare import motifs_overlap
from reference.data import generate_synthetic_codes, generate_synthetic_dataset
from reference.encode import column_permutation, one_hot_encode_seqs
from reference.expectations import kernel_sweep_expectations, noise_expectations
from reference.interaction import interaction_verdict
from reference.motifs import fitted_pseudocount
from reference.oracle import oracle_evaluation

ENCODER_PROBE = ["ACGTTGCA", "GGGGCCCC", "ATATCGCG"]
UNKNOWN_BASE_PROBE = ["ACGNA", "NNNNN"]
PWM_PROBE = ["ACGTG", "ACGTT", "ACGAG", "TCGTG"]
GOLDEN_GENERATOR_ARGS = {"num_pos": 10, "num_neg": 10}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read. Nothing here comes from the kernel unvalidated."""

    spec: AssignmentSpec
    harvest: Harvest
    scores: Scores
    execution_status: str
    execution_message: str
    cells: tuple[CellRecord, ...]
    probe_arguments: dict[str, Any]
    include_hidden: bool = True


@dataclass(frozen=True)
class Outcome:
    fraction: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


CheckFunction = Callable[[CheckContext], Outcome]
CHECKS: dict[str, CheckFunction] = {}


def check(check_id: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[check_id] = function
        return function

    return register


def _linear(value: float, zero: float, full: float) -> float:
    if full <= zero:
        return 1.0 if value >= full else 0.0
    return float(min(max((value - zero) / (full - zero), 0.0), 1.0))


def _model_problem(
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


def _reading(ctx: CheckContext, name: str) -> str:
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


def _overlapping(motifs: list[str], main_motif: str, min_shared: int) -> list[str]:
    """Pairs of declared motifs (or a declared motif and the main one) that overlap."""
    pairs = []
    for i, a in enumerate(motifs):
        if motifs_overlap(a, main_motif, min_shared):
            pairs.append(f"{a} and the main motif {main_motif}")
        for b in motifs[i + 1 :]:
            if motifs_overlap(a, b, min_shared):
                pairs.append(f"{a} and {b}")
    return pairs


def _probe(ctx: CheckContext, name: str) -> dict:
    return ctx.harvest.probes.get(name, {})


def _probe_problem(result: dict, function: str) -> str:
    if not result or result.get("present") is None:
        return f"`{function}` could not be called by the grader (the kernel was not available)."
    if not result.get("present"):
        return f"`{function}` is not defined in the notebook; keep the starter's function."
    if result.get("error"):
        return f"Calling `{function}` raised {result['error']}"
    return ""


# --------------------------------------------------------------------------- general


def describe_cell(cell: CellRecord) -> str:
    """How a student finds a cell: its first line, and its In [n] number when it ran."""
    count = f" (In [{cell.execution_count}])" if cell.execution_count else ""
    return f"the cell starting `{cell.source_head[:60]}`{count}"


@check("notebook_runs")
def notebook_runs(ctx: CheckContext) -> Outcome:
    code_cells = [c for c in ctx.cells]
    failing = [c for c in ctx.cells if c.status in ("error", "timeout")]
    evidence = {
        "status": ctx.execution_status,
        "failing_cells": [
            {"cell": c.index, "error": f"{c.error_name}: {c.error_value}"[:200]} for c in failing
        ],
    }
    if ctx.execution_status == "ok":
        return Outcome(1.0, "Every cell ran without an error.", evidence)
    if ctx.execution_status == "errors" and code_cells:
        good = sum(1 for c in code_cells if c.status == "ok")
        first = failing[0]
        return Outcome(
            ctx.spec.weights.notebook_runs_with_errors * good / len(code_cells),
            f"{len(failing)} of {len(code_cells)} code cells raised an error; the first is "
            f"{describe_cell(first)} ({first.error_name}: {first.error_value[:120]}). Fix it "
            "and re-run the notebook from the top (Kernel > Restart & Run All).",
            evidence,
        )
    return Outcome(0.0, ctx.execution_message, evidence)


@lru_cache(maxsize=8)
def _reference_dataset(arguments: tuple) -> tuple[list[str], list[int]]:
    seqs, labels = generate_synthetic_dataset(**dict(arguments))
    return seqs, labels.tolist()


def _compare_dataset(result: dict, arguments: dict) -> str:
    expected_seqs, expected_labels = _reference_dataset(tuple(sorted(arguments.items())))
    seqs = result.get("seqs") or []
    labels = (result.get("labels") or {}).get("values")
    if len(seqs) != len(expected_seqs):
        return f"returned {len(seqs)} sequences, expected {len(expected_seqs)}"
    for i, (got, want) in enumerate(zip(seqs, expected_seqs, strict=True)):
        if got != want:
            return f"sequence {i} differs: got {got[:30]}..., expected {want[:30]}..."
    if not isinstance(labels, list) or [int(v) for v in labels] != expected_labels:
        return "the sequences match but the labels do not"
    return ""


@check("generator_matches_assignment")
def generator_matches_assignment(ctx: CheckContext) -> Outcome:
    evidence: dict[str, Any] = {}
    passed = 0.0
    messages = []
    for probe_name, arguments in (
        ("generator_golden", GOLDEN_GENERATOR_ARGS),
        ("generator_probe", ctx.probe_arguments),
    ):
        result = _probe(ctx, probe_name)
        problem = _probe_problem(result, "generate_synthetic_dataset")
        if not problem:
            problem = _compare_dataset(result, arguments)
        evidence[probe_name] = {"arguments": arguments, "problem": problem}
        if problem:
            messages.append(f"with {arguments}: {problem}")
        else:
            passed += 1
    if passed == 2:
        return Outcome(1.0, "The generator reproduces the assignment's data exactly.", evidence)
    return Outcome(
        passed * ctx.spec.weights.generator_per_probe,
        "`generate_synthetic_dataset` does not reproduce the assignment's data "
        + "; ".join(messages)
        + ". Keep the starter's random draws in the same order (you may vectorise them).",
        evidence,
    )


def _array(result: dict, key: str = "array") -> np.ndarray | None:
    summary = result.get(key) or {}
    values = summary.get("values")
    if values is None:
        return None
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None


@check("one_hot_encoder")
def one_hot_encoder(ctx: CheckContext) -> Outcome:
    result = _probe(ctx, "encode_acgt")
    problem = _probe_problem(result, "one_hot_encode_seqs")
    expected = one_hot_encode_seqs(ENCODER_PROBE).astype(np.float64)
    evidence: dict[str, Any] = {"input": ENCODER_PROBE}
    if problem:
        return Outcome(0.0, problem, evidence)
    got = _array(result)
    if got is None or got.shape != expected.shape:
        shape = None if got is None else got.shape
        return Outcome(
            0.0,
            f"`one_hot_encode_seqs` returned shape {shape}; for {len(ENCODER_PROBE)} sequences "
            f"of length 8 it must return {expected.shape} (sequences, positions, A/C/G/T).",
            evidence,
        )
    if not np.allclose(got, expected):
        columns = column_permutation(got, expected)
        if columns is not None:
            order = ", ".join("ACGT"[c] for c in columns)
            evidence["column_order"] = order
            return Outcome(
                0.0,
                f"`one_hot_encode_seqs` uses the column order {order}; the contract asks for "
                "A, C, G, T. Your models were fed hidden data in your own order, so only this "
                "check costs points for it.",
                evidence,
            )
        return Outcome(
            0.0,
            "`one_hot_encode_seqs` puts the 1s in the wrong columns; the columns must be "
            "A, C, G, T in that order.",
            evidence,
        )
    unknown = _probe(ctx, "encode_unknown")
    note = ""
    unknown_array = _array(unknown)
    if unknown.get("error"):
        note = (
            f" Note: it fails on an unknown base such as N ({unknown['error'][:80]}); the "
            "starter's `.get(ch, 'A')` passes the string 'A' as an index. Encode N deliberately, "
            "e.g. as a uniform 0.25 row."
        )
    elif unknown_array is not None and unknown_array.shape == (2, 5, 4):
        column = unknown_array[0, 3]
        evidence["unknown_base_row"] = column.tolist()
        if np.allclose(column, [1, 0, 0, 0]):
            note = (
                " Note: an unknown base such as N is encoded as A; a uniform 0.25 row or a zero "
                "row would not invent a base."
            )
    return Outcome(1.0, "The encoder is correct on A, C, G, T." + note, evidence)


@check("build_pwm_function")
def build_pwm_function(ctx: CheckContext) -> Outcome:
    result = _probe(ctx, "pwm")
    problem = _probe_problem(result, "build_pwm")
    evidence = {"input": PWM_PROBE}
    if problem:
        return Outcome(0.0, problem, evidence)
    got = _array(result)
    counts = one_hot_encode_seqs(PWM_PROBE).sum(axis=0).astype(np.float64)
    expected = counts / counts.sum(axis=1, keepdims=True)
    encoder = _array(_probe(ctx, "encode_acgt"))
    columns = (
        column_permutation(encoder, one_hot_encode_seqs(ENCODER_PROBE))
        if encoder is not None
        else None
    )
    if got is None or got.shape != expected.shape:
        return Outcome(
            0.0,
            f"`build_pwm` returned shape {None if got is None else got.shape}; for 5-mers it "
            "must return (5, 4): one row per position, columns A, C, G, T.",
            evidence,
        )
    pseudocount = fitted_pseudocount(got, counts)
    order = ""
    if pseudocount is None and columns is not None and columns != (0, 1, 2, 3):
        pseudocount = fitted_pseudocount(got, counts[:, list(columns)])
        order = ", ".join("ACGT"[c] for c in columns)
    if pseudocount is None:
        return Outcome(
            0.0,
            "`build_pwm` does not give the base frequencies per position (each row should sum "
            "to 1 and count how often each base appears at that position).",
            evidence,
        )
    evidence["pseudocount"] = pseudocount
    message = "`build_pwm` computes position frequencies correctly"
    if pseudocount > 1e-3:
        message += f" (with a pseudocount of {pseudocount:g} per base)"
    if order:
        message += f", in your encoder's column order ({order})"
    return Outcome(1.0, message + ".", evidence)


# --------------------------------------------------------------------------- Q1


def _mentions_number(text: str, number: int) -> bool:
    plain = re.sub(r"(?<=\d)[,\u2009 _'](?=\d{3}\b)", "", text)
    return re.search(rf"(?<!\d){number}(?!\d)", plain) is not None


@check("parameter_count")
def parameter_count(ctx: CheckContext) -> Outcome:
    problem = _model_problem(ctx, "model", trained=False)
    probe = _probe(ctx, "build_model")
    evidence: dict[str, Any] = {"starter_architecture_params": probe.get("count_params")}
    if problem:
        return Outcome(0.0, problem, evidence)
    info = ctx.scores.models["model"].info
    rows = info.get("layers", [])
    total = int(info.get("count_params", 0))
    evidence.update({"layers": rows, "total": total})
    mismatched = [r for r in rows if r.get("expected") is not None and r["expected"] != r["params"]]
    unchecked = [r["type"] for r in rows if r.get("expected") is None]
    consistent = not mismatched and sum(r["params"] for r in rows) == total
    w = ctx.spec.weights
    fraction = w.parameter_count_layers if consistent else 0.0
    parts = [
        f"`model` has {total:,} parameters"
        + (
            ", and every layer's count matches its formula."
            if consistent
            else f"; these layers do not match their formula: {[r['name'] for r in mismatched]}."
        )
    ]
    if unchecked:
        parts.append(f"Layers without a formula here (not checked): {sorted(set(unchecked))}.")
    answer = ctx.harvest.answers.get("Q1", "")
    trainable = info.get("trainable_params")
    accepted = {total}
    if isinstance(trainable, int):
        accepted.add(trainable)
    if isinstance(probe.get("count_params"), int):
        accepted.add(probe["count_params"])  # the starter architecture, explained as asked
    if answer and any(_mentions_number(answer, n) for n in accepted):
        fraction += w.parameter_count_answer
        parts.append("Your Q1 answer states the total.")
    else:
        also = (
            f" ({trainable:,} of them trainable)"
            if isinstance(trainable, int) and trainable != total
            else ""
        )
        parts.append(f"State the total ({total:,}{also}) and how it arises in your Answer Q1 cell.")
    return Outcome(fraction, " ".join(parts), evidence)


# --------------------------------------------------------------------------- Q2 / Q3


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
    problem = _model_problem(ctx, "model", "main")
    if problem:
        return Outcome(0.0, problem)
    main = ctx.scores.main
    if main is None:
        return Outcome(0.0, "`model` produced no usable predictions on the hidden data.")
    t = ctx.spec.thresholds
    measured = getattr(main.evaluation, metric)
    oracle = getattr(main.oracle, metric)
    fraction = _linear(measured / oracle, t.auc_zero_fraction, t.auc_full_fraction)
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
    message += _reading(ctx, "model")
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
    problem = _model_problem(ctx, "model", "main")
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
    ceiling = _population_oracle(ctx.spec.data.motif_prob, ctx.spec)
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


@lru_cache(maxsize=16)
def _population_oracle_cached(
    motif_prob: float, seq_len: int, motif: str, num_per_class: int, seed: int
):
    dataset = generate_synthetic_codes(
        num_per_class, num_per_class, seq_len, motif, motif_prob, seed
    )
    return oracle_evaluation(dataset.codes, dataset.labels, motif)


def _population_oracle(motif_prob: float, spec: AssignmentSpec):
    """The oracle's AUC on a large draw at `motif_prob`: the ceiling for any model."""
    draw = spec.population_oracle
    return _population_oracle_cached(
        round(motif_prob, 3), spec.data.seq_len, spec.data.motif, draw.num_per_class, draw.seed
    )


@check("motif_recovered")
def motif_recovered(ctx: CheckContext) -> Outcome:
    problem = _model_problem(ctx, "model", "main")
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
            f"consensus {match.consensus})." + _reading(ctx, "model"),
            evidence,
        )
    # A ramp up to just below full credit: a filter one base short of the motif (about
    # 0.89) earns nearly as much as one that spells it, not a cliff from 0.6 to 1.
    fraction = ctx.spec.weights.motif_recovery_partial_max * _linear(
        match.similarity, t.recovery_partial_from, t.recovery_similarity
    )
    return Outcome(
        fraction,
        f"The best filter ({main.best_filter}) matches {motif} with similarity "
        f"{match.similarity:.3f} (consensus {match.consensus}); recovery needs "
        f"{t.recovery_similarity} and the consensus spelling the motif. A kernel narrower than "
        "or equal to the motif often learns a shifted partial match: try a wider kernel."
        + _reading(ctx, "model"),
        evidence,
    )


# --------------------------------------------------------------------------- Q4


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
    clean = _population_oracle(1.0, ctx.spec)
    impossible, above_own = [], []
    for r in rows:
        if r["noise_std"] > 0:
            continue  # noise on negatives alone can give the label away: up to 1.0 is possible
        if r["roc_auc"] > clean.roc_auc + tolerance:
            impossible.append(r)
        elif r["motif_prob"] < 1:
            own = _population_oracle(r["motif_prob"], ctx.spec).roc_auc
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


# --------------------------------------------------------------------------- Q5 / Q6


@check("multi_motif_specialisation")
def multi_motif_specialisation(ctx: CheckContext) -> Outcome:
    motifs = ctx.harvest.value("multi_motifs")
    if not motifs.ok:
        return Outcome(0.0, motifs.problem or "`multi_motifs` is not defined.")
    overlaps = _overlapping(
        list(motifs.value), ctx.spec.data.motif, ctx.spec.thresholds.motif_overlap_min_shared
    )
    if overlaps:
        return Outcome(
            0.0,
            f"The declared motifs overlap ({'; '.join(overlaps)}, counting both strands), so "
            "one filter can answer for both: choose motifs that share no long run of bases "
            "with each other or with the main motif.",
            {"motifs": list(motifs.value), "overlaps": overlaps},
        )
    problem = _model_problem(ctx, "multi_model", "multi")
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
    return Outcome(min(fraction, 1.0), " ".join(parts) + _reading(ctx, "multi_model"), evidence)


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
    overlaps = _overlapping(
        list(motifs.value)[:2], ctx.spec.data.motif, ctx.spec.thresholds.motif_overlap_min_shared
    )
    if overlaps:
        return Outcome(
            0.0,
            f"The interaction motifs overlap ({'; '.join(overlaps)}, counting both strands), "
            "so the model cannot show how two different motifs combine: choose motifs that "
            "share no long run of bases with each other or with the main motif.",
            {"motifs": list(motifs.value), "overlaps": overlaps},
        )
    if rule.value == "any":
        return Outcome(
            0.0,
            "The rule 'or' labels a sequence positive when either motif is present, which "
            "needs no interaction between them (Q5's multi-motif model already shows it): "
            "train the interaction model on 'and' or 'xor' labels for this credit.",
            {"rule": rule.value},
        )
    problem = _model_problem(ctx, "interaction_model")
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
    return Outcome(fraction, message + _reading(ctx, "interaction_model"), evidence)


# --------------------------------------------------------------------------- stress suite


@check("stress_suite")
def stress_suite(ctx: CheckContext) -> Outcome:
    """Benchmark of what `model` learned (grader/stress.py); 0 points unless the spec gives some."""
    from grader.stress import stress_outcome

    return Outcome(*stress_outcome(ctx.scores.stress))


# --------------------------------------------------------------------------- answers


def _answer_check(question: str) -> CheckFunction:
    def answer(ctx: CheckContext) -> Outcome:
        text = ctx.harvest.answers.get(question, "")
        words = len(text.split())
        if text:
            return Outcome(0.0, f"Answer found ({words} words); graded by hand.", {"text": text})
        return Outcome(
            0.0,
            f"No answer found: add a Markdown cell whose first line is 'Answer {question}'.",
            {"text": ""},
        )

    return answer


for _q in range(1, 7):
    CHECKS[f"answer_q{_q}"] = _answer_check(f"Q{_q}")


# --------------------------------------------------------------------------- running


def run_check(check_spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Run one check; an exception in a check is the grader's bug, reported as such."""
    function = CHECKS.get(check_spec.id)
    base = {
        "name": check_spec.id,
        "title": check_spec.title,
        "question": check_spec.question,
        "max_points": check_spec.points,
        "visibility": check_spec.visibility,
        "kind": check_spec.kind,
    }
    if check_spec.visibility == "hidden" and not ctx.include_hidden:
        return CheckResult(
            points=0.0,
            status="skipped",
            message="Hidden check: it runs only when the instructor grades on the hidden data.",
            **base,
        )
    if function is None:
        return CheckResult(
            points=0.0, status="error", message=f"No check named {check_spec.id!r}.", **base
        )
    try:
        outcome = function(ctx)
    except Exception as exc:
        # The traceback travels with the result: checks run in workers, and the
        # coordinator writes it to the run's grader.log and lists it on the class index.
        log.debug("check %s crashed", check_spec.id, exc_info=True)
        return CheckResult(
            points=0.0,
            status="error",
            message=f"The grader failed on this check ({type(exc).__name__}: {exc}); "
            "your instructor has been told.",
            traceback=traceback.format_exc(),
            **base,
        )
    if check_spec.kind == "manual":
        return CheckResult(
            points=0.0, status="manual", message=outcome.message, evidence=outcome.evidence, **base
        )
    fraction = float(min(max(outcome.fraction, 0.0), 1.0))
    points = round(fraction * check_spec.points, 2)
    status = "passed" if fraction >= 1.0 else ("partial" if fraction > 0 else "failed")
    return CheckResult(
        points=points,
        status=status,
        message=outcome.message,
        evidence=_jsonable(outcome.evidence),
        **base,
    )


def run_checks(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return tuple(run_check(c, ctx) for c in ctx.spec.checks)


def unrunnable_results(spec: AssignmentSpec, reason: str) -> tuple[CheckResult, ...]:
    """Every check at zero with the same reason: the notebook could not run at all."""
    return tuple(
        CheckResult(
            name=c.id,
            title=c.title,
            question=c.question,
            points=0.0,
            max_points=c.points,
            status="manual" if c.kind == "manual" else "failed",
            message=reason,
            visibility=c.visibility,
            kind=c.kind,
        )
        for c in spec.checks
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

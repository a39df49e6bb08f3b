"""The hidden stress suite and mutation maps of `model`, on the grader's side.

The sets (`reference.stress`) and the mutation variants (`reference.mutagenesis`)
are drawn here with the secret seed and handed to the scoring process as more input
sets of `model`, so they are predicted exactly as the main hidden set is (same
safe loading, output reading, column order and limits), in one predict call per set.
Labels never leave this side. What comes back becomes a `StressScores`: each set's
ROC AUC beside the oracle's, near-miss false-positive rates, the (L, 4) mutation
maps and the share of their effect inside the motif window. No TensorFlow here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.spec import AssignmentSpec, SeedInfo
from reference.encode import reverse_complement, seqs_to_codes
from reference.mutagenesis import ism_deltas, ism_variants, motif_window_share
from reference.stress import (
    SetDefinition,
    StressSet,
    SuiteResult,
    draw_set,
    evaluate_suite,
    oracle_suite,
)

if TYPE_CHECKING:
    from grader.harvest.validate import Harvest
    from grader.score.measure import Scores
    from grader.score.predict import ModelRun

logger = logging.getLogger(__name__)

SET_PREFIX = "stress_"
ISM_SET = "stress_ism"


@dataclass(frozen=True)
class StressPlan:
    """What was drawn for one `model`: the sets it gets, and why others are left out."""

    definitions: tuple[SetDefinition, ...]
    sets: dict[str, StressSet]
    not_applicable: dict[str, str]
    ism_codes: np.ndarray
    ism_starts: np.ndarray
    motif: str
    slices: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    """Where each set's (and the mutation variants') rows are: (input set, start, stop)."""


@dataclass
class StressScores:
    """The suite's verdicts for `model`, the oracle's on the same sets, and the maps."""

    suite: SuiteResult
    oracle: SuiteResult
    deltas: np.ndarray | None = None
    ism_codes: np.ndarray | None = None
    ism_starts: np.ndarray | None = None
    window_shares: np.ndarray | None = None
    motif_width: int = 0
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def window_share(self) -> float | None:
        """Mean share of |delta| inside the motif window over the mapped sequences."""
        if self.window_shares is None or not np.isfinite(self.window_shares).any():
            return None
        return float(np.nanmean(self.window_shares))


def definitions(spec: AssignmentSpec, model_length: int | None) -> tuple[SetDefinition, ...]:
    """The spec's sets as `reference.stress` definitions, at the model's own length."""
    default_length = model_length or spec.data.seq_len
    return tuple(
        SetDefinition(
            name=s.name,
            generator=s.generator,
            size=s.size,
            seq_len=s.seq_len or default_length,
            title=s.title,
            min_auc_fraction=s.min_auc_fraction,
            max_fpr=s.max_fpr,
            recall=s.recall,
        )
        for s in spec.stress.sets
    )


@lru_cache(maxsize=16)
def _drawn(definition: SetDefinition, motif: str, seed: int) -> StressSet:
    """Each set once per worker and seed: the dinucleotide shuffle is Python-speed."""
    return draw_set(definition, motif, seed)


def _ism_sequences(codes: np.ndarray, labels: np.ndarray, motif: str, n: int):
    """The first `n` hidden positives holding exactly one copy of the motif (forward)."""
    if n <= 0 or codes.shape[1] < len(motif):
        return codes[:0], np.zeros(0, dtype=np.int64)
    forward = seqs_to_codes([motif])[0]
    reverse = seqs_to_codes([reverse_complement(motif)])[0]
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(motif), axis=1)
    hits_forward = np.all(windows == forward, axis=-1)
    hits_reverse = np.all(windows == reverse, axis=-1)
    usable = (labels == 1) & (hits_forward.sum(1) == 1) & (hits_reverse.sum(1) == 0)
    usable &= np.all(codes < 4, axis=1)
    rows = np.flatnonzero(usable)[:n]
    return codes[rows], np.argmax(hits_forward[rows], axis=1).astype(np.int64)


def plan_stress(
    requests: dict[str, dict],
    sets: dict[str, np.ndarray],
    context: dict[str, Any],
    harvest: Harvest,
    spec: AssignmentSpec,
    seed: SeedInfo,
) -> StressPlan | None:
    """Add the stress sets and mutation variants to `model`'s request (in place)."""
    if not spec.stress.enabled or "model" not in requests or "main" not in context:
        return None
    from grader.score.keras_files import peek_input_length

    model_file = harvest.model("model").path
    fixed = peek_input_length(model_file) if model_file else None
    suite_seed = seed.derive("stress")
    motif = spec.data.motif
    drawn: dict[str, StressSet] = {}
    not_applicable: dict[str, str] = {}
    chosen = definitions(spec, fixed)
    for definition in chosen:
        if fixed is not None and definition.seq_len != fixed:
            not_applicable[definition.name] = (
                f"not applicable: `model` accepts only sequences of length {fixed}"
            )
            continue
        drawn[definition.name] = _drawn(definition, motif, suite_seed)
    main = context["main"]
    ism_codes, ism_starts = _ism_sequences(
        main.codes, main.labels, motif, spec.stress.ism_sequences
    )
    # One input set (one predict call) per sequence length: the mutation variants and
    # every stress set of the model's length together, each longer length apart.
    blocks: dict[int, list[tuple[str, np.ndarray]]] = {}
    if len(ism_codes):
        variants = np.concatenate([ism_codes, ism_variants(ism_codes)])
        blocks.setdefault(variants.shape[1], []).append((ISM_SET, variants))
    for name, stress_set in drawn.items():
        blocks.setdefault(stress_set.codes.shape[1], []).append((name, stress_set.codes))
    request = requests["model"]
    slices: dict[str, tuple[str, int, int]] = {}
    for length, parts in blocks.items():
        key = f"{SET_PREFIX}{length}"
        sets[key] = np.concatenate([codes for _, codes in parts])
        request["predict"].append(key)
        offset = 0
        for name, codes in parts:
            slices[name] = (key, offset, offset + len(codes))
            offset += len(codes)
    return StressPlan(chosen, drawn, not_applicable, ism_codes, ism_starts, motif, slices)


def stress_scores(run: ModelRun | None, plan: StressPlan | None) -> StressScores | None:
    """Turn `model`'s predictions on the stress inputs into verdicts and maps."""
    if plan is None:
        return None
    oracle = oracle_suite(plan.sets, plan.definitions)
    notes = dict(plan.not_applicable)
    predictions: dict[str, np.ndarray | None] = {}
    problems: dict[str, str] = {}
    for name in plan.sets:
        values, problem = _rows(run, plan, name)
        predictions[name] = values
        if values is None:
            notes[name] = f"not applicable: {problem}"
    suite = evaluate_suite(plan.sets, predictions, plan.definitions, notes)
    result = StressScores(suite, oracle, motif_width=len(plan.motif), problems=problems)
    values, problem = _rows(run, plan, ISM_SET)
    n = len(plan.ism_codes)
    if values is not None and n and np.all(np.isfinite(values)):
        result.deltas = ism_deltas(plan.ism_codes, values[:n], values[n:])
        result.ism_codes = plan.ism_codes
        result.ism_starts = plan.ism_starts
        result.window_shares = motif_window_share(result.deltas, plan.ism_starts, len(plan.motif))
    elif n:
        problems["mutation_maps"] = problem or "not scored"
    return result


def _rows(run: ModelRun | None, plan: StressPlan, name: str) -> tuple[np.ndarray | None, str]:
    """A set's predictions cut from its input set, or None and why."""
    if name not in plan.slices:
        return None, "not scored"
    key, start, stop = plan.slices[name]
    if run is None or not run.loaded:
        return None, "`model` could not be loaded"
    values = run.predictions.get(key)
    if values is None or len(values) < stop:
        return None, run.set_problems.get(key, "") or "not scored"
    return values[start:stop], ""


# --------------------------------------------------------------------------- check and report


def _percent(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"


def stress_outcome(stress: StressScores | None) -> tuple[float, str, dict[str, Any]]:
    """(fraction earned, message, evidence) of the `stress_suite` check."""
    if stress is None:
        return 0.0, "The stress suite needs a saved `model` that the grader can load.", {}
    suite = stress.suite
    if not suite.applicable:
        return 0.0, "No stress set could be scored for `model`.", stress_details(stress)
    failed = [r.title for r in suite.sets if r.applicable and not r.passed]
    message = f"`model` passed {suite.passed} of {suite.applicable} stress sets"
    message += f" (failed: {'; '.join(failed)})." if failed else "."
    if stress.window_share is not None:
        message += (
            f" Mutation maps: {_percent(stress.window_share)} of the effect of single-base "
            f"changes falls inside the {stress.motif_width}-base motif window."
        )
    return suite.passed / suite.applicable, message, stress_details(stress)


def stress_details(stress: StressScores | None) -> dict[str, Any]:
    """The numbers the report and leaderboard show (JSON: stored with the grade)."""
    if stress is None:
        return {}
    oracle = {r.name: r for r in stress.oracle.sets}
    rows = []
    for r in stress.suite.sets:
        row = r.to_dict()
        o = oracle.get(r.name)
        row["oracle_passed"] = None if o is None else o.passed
        row["oracle_roc_auc"] = row["oracle_roc_auc"] or (o.roc_auc if o else None)
        rows.append(row)
    return {
        "passed": stress.suite.passed,
        "applicable": stress.suite.applicable,
        "sets": rows,
        "window_share": stress.window_share,
        "window_shares": None
        if stress.window_shares is None
        else [None if not np.isfinite(v) else float(v) for v in stress.window_shares],
        "problems": stress.problems,
    }


def stress_figures(scores: Scores, spec: AssignmentSpec) -> tuple[dict[str, str], list[str]]:
    """The mutation-map figure (logo / heatmap pairs) as a data URI, or a note."""
    stress = getattr(scores, "stress", None)
    shown = spec.stress.ism_shown
    if stress is None or stress.deltas is None or shown <= 0:
        return {}, []
    from reference.mutation_maps import mutation_map_figure
    from reference.plots import figure_to_data_uri

    k = min(shown, len(stress.deltas))
    shares = stress.window_shares if stress.window_shares is not None else np.full(k, np.nan)
    try:
        figure = mutation_map_figure(
            list(stress.deltas[:k]),
            list(stress.ism_codes[:k]),
            [(int(s), stress.motif_width) for s in stress.ism_starts[:k]],
            [
                f"hidden positive {i + 1}: {_percent(float(shares[i]))} of |Δ| in the motif"
                for i in range(k)
            ],
        )
        return {"mutation_map": figure_to_data_uri(figure)}, []
    except Exception as exc:  # a figure never costs points
        logger.warning("mutation map not drawn: %s", exc)
        return {}, [f"The mutation map figure could not be drawn ({exc})."]

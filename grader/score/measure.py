"""Measurements from the predictions: hidden-data ROC/PR AUC beside the oracle, each
filter's motif and its similarity to the implanted motif, multi-motif specialisation
and the interaction model's response pattern. No TensorFlow here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.harvest.validate import Harvest
from grader.score.hidden_data import (
    HiddenMain,
    HiddenMulti,
    InteractionProbes,
    PublicTest,
)
from grader.score.plan import column_note, plan_inputs
from grader.score.predict import CommandWrapper, ModelRun, run_scorer
from grader.score.stress import plan_stress, stress_scores
from grader.spec import AssignmentSpec, SeedInfo
from reference.compare import (
    MotifMatch,
    assign_motifs,
    is_recovered,
    motif_similarity,
)
from reference.metrics import Evaluation, evaluate
from reference.motifs import hand_set_filters, read_filter_pwms
from reference.validation import InputError


@dataclass
class FilterMotifs:
    """Each first-layer filter's PWM read from its top activations, and its match.

    Filters of every convolution reading the input are numbered in layer order, so
    with parallel branches of widths 3 and 11 the PWMs have different widths.
    """

    pwms: list[np.ndarray]
    n_windows: np.ndarray
    matches: list[MotifMatch]

    @property
    def similarities(self) -> np.ndarray:
        return np.array([m.similarity for m in self.matches])

    def best(self) -> tuple[int, MotifMatch]:
        index = int(np.argmax(self.similarities))
        return index, self.matches[index]


@dataclass
class MainScores:
    evaluation: Evaluation
    oracle: Evaluation
    labels: np.ndarray
    predictions: np.ndarray
    oracle_scores: np.ndarray
    motifs: FilterMotifs | None
    recovered: bool
    best_filter: int | None
    best_match: MotifMatch | None
    public: Evaluation | None = None
    public_oracle: Evaluation | None = None


@dataclass
class MultiScores:
    motifs: tuple[str, ...]
    evaluation: Evaluation | None
    oracle: Evaluation
    similarities: np.ndarray | None
    assignment: list[int]
    recovered: list[bool]
    pwms: np.ndarray | None
    responses: dict[str, float]


@dataclass
class InteractionScores:
    motifs: tuple[str, str]
    rule: str
    mean_scores: dict[str, float]


@dataclass
class Scores:
    """Everything measured on hidden data for one submission."""

    models: dict[str, ModelRun] = field(default_factory=dict)
    main: MainScores | None = None
    multi: MultiScores | None = None
    interaction: InteractionScores | None = None
    problems: dict[str, str] = field(default_factory=dict)
    not_earned: dict[str, str] = field(default_factory=dict)
    """Per model: why its points are withheld (untrained, hand-set or reused), a sentence."""
    readings: dict[str, str] = field(default_factory=dict)
    """Per model: how it was read (output, column order, input length), for the report."""
    stress: Any = None
    """`grader.score.stress.StressScores` of `model`: stress suite and mutation maps."""
    seconds: float = 0.0


def input_filter_pwms(
    run: ModelRun, codes: np.ndarray, spec: AssignmentSpec
) -> tuple[list[np.ndarray], np.ndarray] | None:
    """PWM of every filter of every convolution reading the input, from its activations
    on `codes`, with the number of windows behind each; None when none could be read."""
    pwms: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for conv, activations in run.conv_activations():
        rows = activations.shape[0]
        conv_pwms, n_windows = read_filter_pwms(
            codes[:rows],
            activations,
            width=conv["width"],
            fraction=spec.thresholds.pwm_activation_fraction,
            offset=conv["offset"],
            stride=conv["stride"],
        )
        pwms.extend(conv_pwms)
        counts.append(n_windows)
    if not pwms:
        return None
    return pwms, np.concatenate(counts)


def filter_motifs(
    run: ModelRun, codes: np.ndarray, motif: str, spec: AssignmentSpec
) -> FilterMotifs | None:
    """PWM of every filter from its top activations on `codes`, and its match to `motif`."""
    read = input_filter_pwms(run, codes, spec)
    if read is None:
        return None
    pwms, n_windows = read
    return FilterMotifs(pwms, n_windows, [motif_similarity(p, motif) for p in pwms])


def _main_scores(
    run: ModelRun, main: HiddenMain, public: PublicTest, spec: AssignmentSpec
) -> MainScores | None:
    predictions = run.predictions.get("main")
    if predictions is None:
        return None
    try:
        evaluation = evaluate(main.labels, predictions)
    except InputError:
        return None
    motifs = filter_motifs(run, main.codes, spec.data.motif, spec)
    best_index, best_match, recovered = None, None, False
    if motifs is not None and len(motifs.matches):
        best_index, best_match = motifs.best()
        recovered = is_recovered(best_match, spec.data.motif, spec.thresholds.recovery_similarity)
    public_evaluation = None
    if run.predictions.get("public_test") is not None:
        try:
            public_evaluation = evaluate(public.labels, run.predictions["public_test"])
        except InputError:
            public_evaluation = None
    return MainScores(
        evaluation,
        main.oracle,
        main.labels,
        predictions,
        main.oracle_scores,
        motifs,
        recovered,
        best_index,
        best_match,
        public_evaluation,
        public.oracle,
    )


def _multi_scores(run: ModelRun, multi: HiddenMulti, spec: AssignmentSpec) -> MultiScores:
    predictions = run.predictions.get("multi")
    evaluation = None
    if predictions is not None:
        try:
            evaluation = evaluate(multi.labels, predictions)
        except InputError:
            evaluation = None
    similarities, assignment, recovered, pwms = None, [], [], None
    read = input_filter_pwms(run, multi.codes, spec)
    if read is not None:
        pwms = read[0]
        assigned = assign_motifs(pwms, multi.motifs, spec.thresholds.recovery_similarity)
        similarities = assigned.similarities
        assignment, recovered = list(assigned.assignment), list(assigned.recovered)
    responses = {}
    for key, values in run.predictions.items():
        if not key.startswith("multi_"):
            continue
        pattern = key.removeprefix("multi_")
        units = run.unit_predictions.get(key)
        if (
            units is not None
            and pattern.startswith("only_")
            and units.shape[1] == len(multi.motifs)
        ):
            # One output unit per motif: the response to a motif is its own unit's.
            values = units[:, int(pattern.removeprefix("only_"))]
        responses[pattern] = float(np.mean(values))
    if "none" in responses and "multi_none" in run.unit_predictions:
        units = run.unit_predictions["multi_none"]
        if units.shape[1] == len(multi.motifs):
            for i in range(len(multi.motifs)):
                responses[f"none_{i}"] = float(np.mean(units[:, i]))
    return MultiScores(
        multi.motifs, evaluation, multi.oracle, similarities, assignment, recovered, pwms, responses
    )


def _interaction_scores(run: ModelRun, probes: InteractionProbes, rule: str) -> InteractionScores:
    means = {
        key.removeprefix("interaction_"): float(np.mean(values))
        for key, values in run.predictions.items()
        if key.startswith("interaction_")
    }
    return InteractionScores(probes.motifs, rule, means)


def not_earned(runs: dict[str, ModelRun]) -> dict[str, str]:
    """Why a model's points are withheld, per model: never trained, set by hand, or the
    main model handed in again under another name. Each reason is one sentence."""
    reasons: dict[str, str] = {}
    main_fingerprint = runs["model"].info.get("weights_fingerprint") if "model" in runs else ""
    for name, run in runs.items():
        if not run.loaded or run.problem:
            continue
        steps = run.info.get("optimizer_steps")
        hand_set = [
            f"{i}:{f}" if len(run.kernels()) > 1 else str(f)
            for i, kernel in enumerate(run.kernels())
            for f in hand_set_filters(kernel)
        ]
        fingerprint = run.info.get("weights_fingerprint")
        if name != "model" and fingerprint and fingerprint == main_fingerprint:
            reasons[name] = (
                f"`{name}` is the same model as `model` (identical weights); train a separate "
                "model on this experiment's data."
            )
        elif hand_set:
            reasons[name] = (
                f"`{name}` has first-layer filters ({', '.join(hand_set[:6])}) whose weights are "
                "whole numbers or a few repeated values, a pattern typed in rather than learnt, "
                "so it earns no model points; train the model instead."
            )
        elif steps is None:
            reasons[name] = (
                f"`{name}` carries no record of training (its saved file has no optimizer "
                "state), so it earns no model points; compile it and train it with fit()."
            )
        elif steps <= 0:
            reasons[name] = (
                f"`{name}` was never trained (its optimizer has taken 0 steps), so it earns no "
                "model points; train it with fit() before handing it in."
            )
    return reasons


def _readings(runs: dict[str, ModelRun], context: dict[str, Any]) -> dict[str, str]:
    """How each model was read, in words the report shows beside its checks."""
    readings = {}
    for name, run in runs.items():
        if not run.loaded:
            continue
        usual = run.reading in ("", "one output per sequence")
        parts = [] if usual else [f"output: {run.reading}"]
        columns = column_note(context.get("columns"))
        if columns:
            parts.append(columns)
        if context.get("notes", {}).get(name):
            parts.append(context["notes"][name])
        convs = run.convs
        if len(convs) > 1:
            parts.append(
                "motifs read from every convolution on the input: "
                + ", ".join(f"{c['name']} ({c['filters']} x width {c['width']})" for c in convs)
            )
        if parts:
            readings[name] = "; ".join(parts)
    return readings


def score_submission(
    harvest: Harvest,
    spec: AssignmentSpec,
    seed: SeedInfo,
    scorer_dir: Path,
    *,
    wrap: CommandWrapper | None = None,
) -> Scores:
    """Measure every harvested model on hidden data. Never raises for student problems."""
    started = time.monotonic()
    requests, sets, context = plan_inputs(harvest, spec, seed)
    # Stress suite and mutation maps: more hidden input sets for `model` (grader/score/stress.py).
    stress_plan = plan_stress(requests, sets, context, harvest, spec, seed)
    scores = Scores()
    if not requests:
        return scores
    runs, problem = run_scorer(
        scorer_dir,
        requests,
        sets,
        threads=spec.limits.threads_per_kernel,
        seed=seed.derive("scorer") % (2**31),
        timeout_s=spec.limits.scorer_timeout_s,
        wrap=wrap,
    )
    scores.models = runs
    scores.not_earned = not_earned(runs)
    scores.readings = _readings(runs, context)
    if problem:
        for name in requests:
            scores.problems[name] = problem
    if "model" in runs and runs["model"].loaded:
        scores.main = _main_scores(runs["model"], context["main"], context["public_test"], spec)
    if "multi_model" in runs and runs["multi_model"].loaded:
        scores.multi = _multi_scores(runs["multi_model"], context["multi"], spec)
    if "interaction_model" in runs and runs["interaction_model"].loaded:
        scores.interaction = _interaction_scores(
            runs["interaction_model"], context["interaction"], context["interaction_rule"]
        )
    scores.stress = stress_scores(runs.get("model"), stress_plan)
    scores.seconds = time.monotonic() - started
    return scores

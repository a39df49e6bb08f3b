"""Scoring outside the kernel: hidden inputs out, predictions back, metrics computed here.

The coordinator side of scoring. It writes the hidden sequences (never the labels)
for each saved model, runs `grader.scorer` in a fresh sandboxed process, and turns
what comes back into measurements: hidden-data ROC/PR AUC beside the oracle, each
filter's motif and its similarity to the implanted motif, multi-motif
specialisation and the interaction model's response pattern. No TensorFlow here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.harvest import Harvest, HarvestedValue, is_empty
from grader.hidden import (
    HiddenMain,
    HiddenMulti,
    InteractionProbes,
    PublicTest,
    hidden_main,
    hidden_multi,
    interaction_probes,
    public_test,
)
from grader.spec import AssignmentSpec, SeedInfo
from reference.compare import (
    MotifMatch,
    assign_filters,
    is_recovered,
    motif_similarity,
    similarity_matrix,
)
from reference.metrics import Evaluation, evaluate
from reference.motifs import filter_pwms
from reference.validation import InputError

CommandWrapper = Callable[[list[str], Path], list[str]]


@dataclass
class ModelRun:
    """What the scoring process said about one model."""

    name: str
    loaded: bool
    problem: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    set_problems: dict[str, str] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    activations: np.ndarray | None = None
    kernel: np.ndarray | None = None

    @property
    def input_length(self) -> int | None:
        shape = self.info.get("input_shape") or []
        return shape[1] if len(shape) == 3 else None


@dataclass
class FilterMotifs:
    """Each first-layer filter's PWM read from its top activations, and its match."""

    pwms: np.ndarray
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
    seconds: float = 0.0


def interaction_motifs(harvest: Harvest) -> HarvestedValue:
    """`interaction_motifs`, or `multi_motifs` when it is absent or left empty (the contract)."""
    motifs = harvest.value("interaction_motifs")
    return harvest.value("multi_motifs") if is_empty(motifs) else motifs


def _model_input_length(harvest: Harvest, name: str) -> int | None:
    from grader.model_files import peek_input_length

    model = harvest.model(name)
    return peek_input_length(model.path) if model.ok and model.path else None


def plan_inputs(
    harvest: Harvest, spec: AssignmentSpec, seed: SeedInfo
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, Any]]:
    """Which hidden inputs each model gets; returns (request models, input sets, context)."""
    requests: dict[str, dict] = {}
    sets: dict[str, np.ndarray] = {}
    context: dict[str, Any] = {}
    seq_len = spec.data.seq_len
    if harvest.model("model").ok:
        main = hidden_main(spec, seed)
        context["main"] = main
        context["public_test"] = public_test(spec)
        sets["main"] = main.codes
        sets["public_test"] = context["public_test"].codes
        requests["model"] = {
            "file": str(harvest.model("model").path),
            "predict": ["main", "public_test"],
            "activations": {"set": "main", "rows": spec.data.motif_probe_size},
        }
    multi_motifs = harvest.value("multi_motifs")
    if harvest.model("multi_model").ok and multi_motifs.ok:
        length = _model_input_length(harvest, "multi_model") or seq_len
        multi = hidden_multi(spec, seed, multi_motifs.value, length)
        context["multi"] = multi
        sets["multi"] = multi.codes
        predict = ["multi"]
        for key, codes in multi.single_sets.items():
            sets[f"multi_{key}"] = codes
            predict.append(f"multi_{key}")
        requests["multi_model"] = {
            "file": str(harvest.model("multi_model").path),
            "predict": predict,
            "activations": {"set": "multi", "rows": len(multi.codes)},
        }
    rule = harvest.value("interaction_rule")
    motifs = interaction_motifs(harvest)
    if harvest.model("interaction_model").ok and rule.ok and motifs.ok:
        length = _model_input_length(harvest, "interaction_model") or seq_len
        probes = interaction_probes(spec, seed, motifs.value, length)
        context["interaction"] = probes
        context["interaction_rule"] = rule.value
        for key, codes in probes.sets.items():
            sets[f"interaction_{key}"] = codes
        requests["interaction_model"] = {
            "file": str(harvest.model("interaction_model").path),
            "predict": [f"interaction_{k}" for k in probes.sets],
            "activations": None,
        }
    return requests, sets, context


def run_scorer(
    scorer_dir: Path,
    requests: dict[str, dict],
    sets: dict[str, np.ndarray],
    *,
    threads: int,
    seed: int,
    timeout_s: float,
    wrap: CommandWrapper | None = None,
) -> tuple[dict[str, ModelRun], str]:
    """Run the scoring process; returns per-model runs and a problem sentence (or "")."""
    scorer_dir.mkdir(parents=True, exist_ok=True)
    (scorer_dir / "request.json").write_text(
        json.dumps({"threads": threads, "seed": seed, "models": requests})
    )
    np.savez(scorer_dir / "inputs.npz", **sets)
    command = [sys.executable, "-m", "grader.scorer", str(scorer_dir)]
    if wrap is not None:
        command = wrap(command, scorer_dir)
    try:
        completed = subprocess.run(
            command, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        return {}, f"scoring the saved models took longer than {timeout_s:.0f} s and was stopped"
    outputs_json = scorer_dir / "outputs.json"
    if completed.returncode != 0 or not outputs_json.is_file():
        tail = completed.stderr.decode("utf-8", "replace")[-800:]
        return {}, f"the scoring process failed (exit {completed.returncode}): {tail}"
    outputs = json.loads(outputs_json.read_text())
    runs: dict[str, ModelRun] = {}
    with np.load(scorer_dir / "outputs.npz", allow_pickle=False) as arrays:
        for name, out in outputs.items():
            run = ModelRun(
                name=name,
                loaded=bool(out.get("loaded")),
                problem=str(out.get("problem", "")),
                info=out.get("info") or {},
                set_problems=out.get("set_problems") or {},
            )
            for key in arrays.files:
                owner, _, part = key.partition("/")
                if owner != name:
                    continue
                if part == "activations":
                    run.activations = arrays[key]
                elif part == "kernel":
                    run.kernel = arrays[key]
                else:
                    run.predictions[part] = arrays[key]
            runs[name] = run
    return runs, ""


def filter_motifs(
    run: ModelRun, codes: np.ndarray, motif: str, spec: AssignmentSpec
) -> FilterMotifs | None:
    """PWM of every filter from its top activations on `codes`, and its match to `motif`."""
    conv = run.info.get("conv")
    if run.activations is None or not conv:
        return None
    rows = run.activations.shape[0]
    pwms, n_windows = filter_pwms(
        codes[:rows],
        run.activations,
        width=conv["width"],
        rule="threshold",
        fraction=spec.thresholds.pwm_activation_fraction,
        offset=conv["offset"],
        stride=conv["stride"],
        baseline="median",
    )
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
    conv = run.info.get("conv")
    if run.activations is not None and conv:
        pwms, _ = filter_pwms(
            multi.codes,
            run.activations,
            width=conv["width"],
            rule="threshold",
            fraction=spec.thresholds.pwm_activation_fraction,
            offset=conv["offset"],
            stride=conv["stride"],
            baseline="median",
        )
        similarities = similarity_matrix(pwms, multi.motifs)
        assignment = assign_filters(similarities)
        recovered = []
        for m, motif in enumerate(multi.motifs):
            f = assignment[m]
            ok = f >= 0 and is_recovered(
                motif_similarity(pwms[f], motif), motif, spec.thresholds.recovery_similarity
            )
            recovered.append(bool(ok))
    responses = {
        key.removeprefix("multi_"): float(np.mean(values))
        for key, values in run.predictions.items()
        if key.startswith("multi_")
    }
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
    scores.seconds = time.monotonic() - started
    return scores

"""The answer key and the grader share one rule per piece of science, and the grading
numbers come from the spec file: the same outputs get the same verdict on both sides,
and editing a weight in the TOML moves the score."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from grader.checks.common import population_oracle
from grader.checks.registry import CheckContext, run_check
from grader.grade import GradingOptions, execution_settings
from grader.harvest.validate import Harvest, HarvestedModel, HarvestedValue
from grader.score.hidden_data import HiddenMain, HiddenMulti, public_test
from grader.score.measure import InteractionScores, Scores, _main_scores, _multi_scores
from grader.score.predict import ModelRun
from grader.spec import DEFAULT_SPEC_PATH, load_spec
from reference import experiments
from reference.compare import assign_motifs
from reference.data import STARTER_MOTIF, STARTER_SEQ_LEN, implant
from reference.expectations import kernel_sweep_expectations, load_expectations
from reference.experiments import FilterMotifs, recovery_answer
from reference.interaction import interaction_probes, interaction_verdict
from reference.metrics import evaluate
from reference.motifs import read_filter_pwms
from reference.oracle import motif_counts, oracle_evaluation, oracle_scores

SPEC = load_spec()
WIDTH = 5


def _context(spec, *, values=None, scores: Scores, models=("model",)) -> CheckContext:
    harvest = Harvest(
        ran=True,
        values={k: HarvestedValue(True, v) for k, v in (values or {}).items()},
        models={m: HarvestedModel(True, path=Path(f"/x/{m}.keras")) for m in models},
    )
    return CheckContext(spec, harvest, scores, "ok", "", (), {})


# --------------------------------------------------------------------------- Q1


@pytest.mark.parametrize("which", ["starter", "reference"])
def test_grader_and_answer_key_agree_on_the_parameter_count(which):
    from grader.score.model_runner import describe_model
    from reference.train import REFERENCE_CONFIG, STARTER_CONFIG

    answer = experiments.explain_parameters()
    config, total = {
        "starter": (STARTER_CONFIG, answer.starter_total),
        "reference": (REFERENCE_CONFIG, answer.reference_total),
    }[which]
    # What the scorer reports on this architecture, and the answer key's sentence for it.
    run = ModelRun("model", loaded=True, info=describe_model(config.build(STARTER_SEQ_LEN)))
    ctx = _context(SPEC, scores=Scores(models={"model": run}))
    ctx.harvest.answers["Q1"] = f"The model has {total:,} parameters in all."
    result = run_check(SPEC.check("parameter_count"), ctx)

    assert run.info["count_params"] == total
    assert [r["params"] for r in run.info["layers"]] == [r["expected"] for r in run.info["layers"]]
    assert result.points == SPEC.check("parameter_count").points, result.message


# --------------------------------------------------------------------------- Q2


def test_grader_measures_the_answer_keys_own_test_scores_and_accepts_them_as_claims(main_data):
    codes, labels = main_data
    noisy = motif_counts(codes, STARTER_MOTIF) + np.random.default_rng(3).normal(0, 0.7, len(codes))
    # The answer key's reading of a model's test scores (`main_answer` / `fit`).
    answer = evaluate(labels, noisy)
    run = ModelRun("model", loaded=True, predictions={"main": noisy})
    hidden = HiddenMain(
        codes,
        labels,
        oracle_evaluation(codes, labels, STARTER_MOTIF),
        oracle_scores(codes, STARTER_MOTIF),
    )
    main = _main_scores(run, hidden, public_test(SPEC), SPEC)
    claims = {"roc": answer.roc_auc, "pr_auc": answer.pr_auc}
    ctx = _context(SPEC, values=claims, scores=Scores(main=main, models={"model": run}))

    assert main.evaluation == answer
    assert main.oracle == evaluate(labels, oracle_scores(codes, STARTER_MOTIF))
    roc = run_check(SPEC.check("hidden_roc_auc"), ctx)
    assert roc.evidence["measured"] == answer.roc_auc
    reported = run_check(SPEC.check("reported_metrics_supported"), ctx)
    assert reported.points == SPEC.check("reported_metrics_supported").points, reported.message


def test_the_answer_keys_own_kernel_sweep_earns_the_sweep_in_full():
    rows = kernel_sweep_expectations()
    # Every width the reference measured, at the best training seed's ROC AUC.
    sweep = {
        int(r["kernel_size"]): {
            "roc_auc": r.get("roc_auc_max", r["roc_auc"]),
            "pr_auc": r["pr_auc"],
        }
        for r in rows
    }
    result = run_check(
        SPEC.check("kernel_sweep"),
        _context(SPEC, values={"kernel_results": sweep}, scores=Scores()),
    )
    assert min(sweep) < len(STARTER_MOTIF) < max(sweep)
    assert result.points == SPEC.check("kernel_sweep").points, result.message


# --------------------------------------------------------------------------- Q4


def test_the_answer_keys_own_noise_runs_earn_the_noise_experiment_in_full():
    # Every setting the reference measured, each reading at its best training seed. The
    # check judges ROC AUC; PR AUC only has to be a measured number.
    rows = [
        {
            "motif_prob": r["motif_prob"],
            "noise_std": r["noise_std"],
            "roc_auc": r.get("roc_auc_max", r["roc_auc"]),
            "pr_auc": r.get("roc_auc_max", r["roc_auc"]),
        }
        for r in load_expectations()["noise"]
    ]
    ctx = _context(SPEC, values={"noise_results": rows}, scores=Scores())
    result = run_check(SPEC.check("noise_experiment"), ctx)
    assert any(r["motif_prob"] < 1 for r in rows) and any(r["noise_std"] > 0 for r in rows)
    assert result.points == SPEC.check("noise_experiment").points, result.message


# --------------------------------------------------------------------------- Q3


def _window_matches(codes: np.ndarray, motif: str) -> np.ndarray:
    """Bases of each window as wide as `motif` that agree with it: (sequences, windows)."""
    target = np.array(["ACGT".index(b) for b in motif])
    windows = np.lib.stride_tricks.sliding_window_view(codes, len(motif), axis=1)
    return (windows == target).sum(axis=-1)


@pytest.fixture(scope="module")
def main_data():
    rng = np.random.default_rng(7)
    n = 400
    codes = rng.integers(0, 4, size=(n, STARTER_SEQ_LEN), dtype=np.uint8)
    labels = np.repeat([1, 0], n // 2)
    positives = labels == 1
    starts = rng.integers(0, STARTER_SEQ_LEN - WIDTH + 1, size=positives.sum())
    codes[positives] = implant(codes[positives], STARTER_MOTIF, starts)
    return codes, labels


def _activations(codes: np.ndarray, filters: list[str]) -> np.ndarray:
    """ReLU-like filters, each firing on windows close to its own k-mer."""
    return np.stack(
        [
            np.maximum(_window_matches(codes, kmer) - (len(kmer) - 2), 0).astype(np.float64)
            for kmer in filters
        ],
        axis=-1,
    )


@pytest.mark.parametrize(
    "filters",
    [
        ["ACGTG", "TTTTT", "GGCAT"],  # one filter spells the motif
        ["CGTGA", "TTTTT"],  # only a shifted 4-of-5 match
        ["TTTTT", "GGCAT"],  # nothing like the motif
    ],
)
def test_grader_and_answer_key_agree_on_motif_recovery(main_data, filters):
    codes, labels = main_data
    activations = _activations(codes, filters)
    threshold = SPEC.thresholds.recovery_similarity
    pwms, n_windows = read_filter_pwms(
        codes, activations, WIDTH, fraction=experiments.ACTIVATION_FRACTION
    )
    answer = recovery_answer(FilterMotifs(pwms, n_windows, WIDTH), STARTER_MOTIF, threshold)

    run = ModelRun(
        "model",
        loaded=True,
        info={"conv": {"width": WIDTH, "offset": 0, "stride": 1}, "layers": []},
        activations=activations,
        predictions={"main": motif_counts(codes, STARTER_MOTIF) + 0.01 * np.arange(len(codes))},
    )
    hidden = HiddenMain(
        codes,
        labels,
        oracle_evaluation(codes, labels, STARTER_MOTIF),
        oracle_scores(codes, STARTER_MOTIF),
    )
    main = _main_scores(run, hidden, public_test(SPEC), SPEC)
    result = run_check(
        SPEC.check("motif_recovered"),
        _context(SPEC, scores=Scores(main=main, models={"model": run})),
    )

    assert main.best_filter == answer.best_filter
    assert main.best_match.similarity == pytest.approx(answer.similarity)
    assert main.recovered == answer.recovered
    assert (result.status == "passed") == answer.recovered
    if filters[0] == "ACGTG":
        assert answer.recovered and result.points == SPEC.check("motif_recovered").points


# --------------------------------------------------------------------------- Q5

MULTI_MOTIFS = ("GATAAG", "TGACTC")


@pytest.fixture(scope="module")
def multi_data():
    """Sequences holding neither motif, the first or the second ("any" rule)."""
    rng = np.random.default_rng(11)
    n, width = 600, len(MULTI_MOTIFS[0])
    codes = rng.integers(0, 4, size=(n, STARTER_SEQ_LEN), dtype=np.uint8)
    holds = rng.integers(0, 3, size=n)
    for k, motif in enumerate(MULTI_MOTIFS, start=1):
        rows = holds == k
        starts = rng.integers(0, STARTER_SEQ_LEN - width + 1, size=rows.sum())
        codes[rows] = implant(codes[rows], motif, starts)
    return codes, (holds > 0).astype(np.int64)


@pytest.mark.parametrize(
    "filters",
    [
        ["TTTTTT", "GATAAG", "TGACTC"],  # one filter per motif
        ["GATAAG", "CCCCCC"],  # the second motif has no filter of its own
        ["GATAAG"],  # one filter for two motifs
    ],
)
def test_grader_and_answer_key_agree_on_one_filter_per_motif(multi_data, filters):
    codes, labels = multi_data
    width = len(MULTI_MOTIFS[0])
    activations = _activations(codes, filters)
    threshold = SPEC.thresholds.recovery_similarity
    # The answer key's reading, as `multi_motif_experiment` reaches it.
    pwms, _ = read_filter_pwms(codes, activations, width, fraction=experiments.ACTIVATION_FRACTION)
    answer = assign_motifs(pwms, MULTI_MOTIFS, threshold)

    responds = {"multi_none": 0.1, "multi_only_0": 0.9, "multi_only_1": 0.9}
    run = ModelRun(
        "multi_model",
        loaded=True,
        info={"conv": {"width": width, "offset": 0, "stride": 1}, "layers": []},
        activations=activations,
        predictions={
            "multi": labels + 0.01 * np.arange(len(labels)),
            **{name: np.full(50, p) for name, p in responds.items()},
        },
    )
    hidden = HiddenMulti(MULTI_MOTIFS, codes, labels, evaluate(labels, labels.astype(float)), {})
    multi = _multi_scores(run, hidden, SPEC)
    ctx = _context(
        SPEC,
        values={"multi_motifs": list(MULTI_MOTIFS)},
        scores=Scores(multi=multi, models={"multi_model": run}),
        models=("multi_model",),
    )
    result = run_check(SPEC.check("multi_motif_specialisation"), ctx)

    assert tuple(multi.assignment) == answer.assignment
    assert tuple(multi.recovered) == answer.recovered
    full = SPEC.check("multi_motif_specialisation").points
    assert (result.points == full) == (answer.distinct_filters and all(answer.recovered))
    if filters[0] == "TTTTTT":
        assert answer.recovered == (True, True) and result.points == full


# --------------------------------------------------------------------------- Q6


def _and_model(codes: np.ndarray, motifs: tuple[str, str]) -> np.ndarray:
    """Probability of a model that learnt AND: high only with both motifs."""
    a, b = (motif_counts(codes, m) > 0 for m in motifs)
    return np.where(a & b, 0.95, 0.04)


def _additive_model(codes: np.ndarray, motifs: tuple[str, str]) -> np.ndarray:
    """Each motif adds a fixed step: A+B scores highest, yet there is no interaction."""
    a, b = (motif_counts(codes, m) > 0 for m in motifs)
    return 0.05 + 0.45 * a + 0.45 * b


def _or_model(codes: np.ndarray, motifs: tuple[str, str]) -> np.ndarray:
    a, b = (motif_counts(codes, m) > 0 for m in motifs)
    return np.where(a | b, 0.9, 0.05)


@pytest.mark.parametrize(
    ("model", "captured"), [(_and_model, True), (_additive_model, False), (_or_model, False)]
)
def test_grader_and_answer_key_agree_on_the_interaction(model, captured):
    motifs = ("GATAAG", "TGACTC")
    probes = interaction_probes(motifs, 200, STARTER_SEQ_LEN, background_seed=1, placement_seed=2)
    means = {name: float(model(codes, motifs).mean()) for name, codes in probes.items()}
    # The answer key's verdict, as `interaction_experiment` reaches it.
    answer = interaction_verdict(means, "all", experiments.INTERACTION_MARGIN)
    scores = Scores(interaction=InteractionScores(motifs, "all", means))
    ctx = _context(
        SPEC,
        values={"interaction_rule": "all", "interaction_motifs": list(motifs)},
        scores=scores,
        models=("interaction_model",),
    )
    ctx.scores.models = {"interaction_model": ModelRun("interaction_model", loaded=True)}
    result = run_check(SPEC.check("interaction_captured"), ctx)

    assert answer.captured is captured
    assert (result.status == "passed") is answer.captured
    assert result.points == round(answer.fraction * SPEC.check("interaction_captured").points, 2)


def test_answer_key_constants_equal_the_spec():
    d, t = SPEC.data, SPEC.thresholds
    assert d.public_num_per_class == experiments.STARTER_NUM_PER_CLASS
    assert d.public_seed == experiments.STARTER_DATA_SEED
    assert d.multi_co_occurrence == experiments.MULTI_CO_OCCURRENCE
    assert t.pwm_activation_fraction == experiments.ACTIVATION_FRACTION
    assert t.interaction_margin == experiments.INTERACTION_MARGIN
    assert (d.motif, d.seq_len) == (STARTER_MOTIF, STARTER_SEQ_LEN)


# --------------------------------------------------------------------------- weights


def _edited_spec(tmp_path: Path, old: str, new: str):
    text = DEFAULT_SPEC_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1
    copy = tmp_path / "spec.toml"
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return load_spec(copy)


def test_a_weight_changed_in_the_spec_file_moves_the_score(tmp_path):
    sweep = {"kernel_results": {3: {"roc_auc": 0.7, "pr_auc": 0.68}}}  # below the motif only
    check = SPEC.check("kernel_sweep")
    before = run_check(check, _context(SPEC, values=sweep, scores=Scores()))
    edited = _edited_spec(tmp_path, "kernel_sweep_below = 0.2", "kernel_sweep_below = 0.1")
    after = run_check(check, _context(edited, values=sweep, scores=Scores()))
    assert before.points == pytest.approx((0.2 + 0.6) * check.points)
    assert after.points == pytest.approx((0.1 + 0.6) * check.points)
    assert edited.fingerprint != SPEC.fingerprint


def test_the_population_oracle_draw_is_read_from_the_spec_file(tmp_path):
    edited = _edited_spec(tmp_path, "num_per_class = 20000", "num_per_class = 300")
    default = population_oracle(1.0, SPEC)
    small = population_oracle(1.0, edited)
    assert default.n == 40000 and small.n == 600
    assert default.roc_auc == pytest.approx(0.956, abs=0.003)


def test_the_kernel_run_takes_its_limits_from_the_spec_file(tmp_path):
    edited = _edited_spec(
        tmp_path, "interrupt_answer_timeout_s = 20", "interrupt_answer_timeout_s = 3"
    )
    settings = execution_settings(edited, GradingOptions())
    assert settings.interrupt_answer_timeout_s == 3
    limits = edited.limits.model_dump()
    same_name = set(limits) & {f.name for f in dataclasses.fields(settings)}
    assert len(same_name) >= 8
    assert {n: getattr(settings, n) for n in same_name} == {n: limits[n] for n in same_name}

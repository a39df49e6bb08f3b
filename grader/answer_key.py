"""The instructor's answer key: run every experiment, draw every figure, write the report.

`run_reference` is what `motifgrader reference` calls. It writes, into one folder,
`metrics.json` (every number), one PNG per figure, and `report.html`, a single
self-contained page (figures embedded) that answers Q1-Q6 in plain language with
the numbers measured on this run. The sentences are composed here, beside the
numbers they quote, so the template only lays them out.
"""

from __future__ import annotations

import base64
import json
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.resources import template_environment
from reference import plots
from reference.data import STARTER_MOTIF
from reference.experiments import ReferenceResults, run_all
from reference.interaction import INTERACTION_CONDITIONS
from reference.stress import SetDefinition
from reference.validation import InputError

TEMPLATE_NAME = "reference_report.html.j2"
REPORT_NAME = "report.html"
METRICS_NAME = "metrics.json"


def run_reference(
    out_dir: Path,
    *,
    quick: bool,
    recovery_threshold: float,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    threads: int = 2,
    mode: str | None = None,
    stress: Sequence[SetDefinition] = (),
    interaction_margin: float | None = None,
) -> dict:
    """Run Q1-Q6 and write metrics.json, the figures and report.html into `out_dir`.

    `recovery_threshold` comes from the assignment spec (a motif counts as recovered
    at that similarity), and so does `interaction_margin` (Q6's verdict; default the
    spec's own value). `mode="smoke"` is for the test suite only: every step with
    almost no training. Returns the metrics written to metrics.json.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    results = run_all(
        quick=quick,
        seed=seed,
        recovery_threshold=recovery_threshold,
        progress=say,
        threads=threads,
        mode=mode,
        stress=stress,
        **({} if interaction_margin is None else {"interaction_margin": interaction_margin}),
    )
    metrics = results.to_dict()
    metrics["generated"] = datetime.now(UTC).isoformat(timespec="seconds")
    metrics["environment"] = _environment()
    # The numbers are written first: minutes of training are not lost to a sentence
    # or a figure that fails.
    _write_metrics(out_dir, metrics)
    metrics["answers"] = answers = compose_answers(results)
    say("Drawing the figures")
    figures, figure_errors = _write_figures(results, out_dir)
    metrics["figures"] = {name: f"{name}.png" for name in figures}
    metrics["figure_errors"] = figure_errors
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    say("Writing the report")
    _write_metrics(out_dir, metrics)
    html = render_report(results, metrics, answers, figures)
    (out_dir / REPORT_NAME).write_text(html, encoding="utf-8")
    return metrics


# --------------------------------------------------------------------------- figures


def _figure_makers(results: ReferenceResults) -> dict[str, Callable[[], Any]]:
    """How to draw every figure of the report, by name, in reading order."""
    main, q2, q3, q4, q5, q6 = (
        results.main,
        results.q2,
        results.q3,
        results.q4,
        results.q5,
        results.q6,
    )
    shown = q3.filters[: len(q3.top_pwms)]
    makers: dict[str, Callable[[], Any]] = {
        "roc_pr": lambda: plots.roc_pr_figure(
            main.test_labels,
            main.test_scores,
            oracle_scores=main.oracle_test_scores,
            title="Reference model on the starter's test split",
        ),
        "loss": lambda: plots.loss_figure(main.history),
        "kernel_sweep": lambda: plots.kernel_sweep_figure(
            q2.figure_rows(results.config.padding),
            q2.motif_length,
            oracle_roc_auc=q2.oracle_roc_auc,
        ),
    }
    if any(r.padding == "valid" for r in q2.rows):
        makers["kernel_sweep_valid"] = lambda: plots.kernel_sweep_figure(
            q2.figure_rows("valid"), q2.motif_length, oracle_roc_auc=q2.oracle_roc_auc
        )
    makers["logos"] = lambda: plots.logo_figure(
        list(q3.top_pwms),
        [f"filter {f.index}: {f.consensus}, similarity {f.similarity:.2f}" for f in shown],
        motif=q3.motif,
    )
    makers["noise_sweep"] = lambda: plots.noise_sweep_figure(q4.figure_rows("all"))
    if q4.negatives_noise_rows:
        makers["noise_negatives"] = lambda: plots.noise_sweep_figure(q4.figure_rows("negatives"))
    makers["multi_motif_heatmap"] = lambda: plots.similarity_heatmap_figure(
        q5.similarities, list(q5.motifs), list(q5.assignment)
    )
    if q5.assigned_pwms:
        assigned = [f for f in q5.assignment if f >= 0]
        titles = [
            f"filter {f}: {m} (similarity {s:.2f})"
            for f, m, s in zip(assigned, q5.motifs, q5.assigned_similarity, strict=False)
        ]
        makers["multi_motif_logos"] = lambda: plots.logo_figure(list(q5.assigned_pwms), titles)
    makers["interaction"] = lambda: plots.interaction_figure(q6.mean_scores, "and")
    stress = results.stress
    if stress is not None and len(stress["ism_codes"]):
        from reference.mutation_maps import mutation_map_figure

        shown = min(2, len(stress["ism_codes"]))
        makers["mutation_map"] = lambda: mutation_map_figure(
            list(stress["ism_deltas"][:shown]),
            list(stress["ism_codes"][:shown]),
            [(int(s), len(STARTER_MOTIF)) for s in stress["ism_starts"][:shown]],
            [
                f"test positive {i + 1}: {100 * stress['window_shares'][i]:.0f}% of |Δ| in motif"
                for i in range(shown)
            ],
        )
    return makers


def _write_metrics(out_dir: Path, metrics: dict) -> None:
    (out_dir / METRICS_NAME).write_text(json.dumps(metrics, indent=2, allow_nan=False))


def _write_figures(
    results: ReferenceResults, out_dir: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Write each figure as a PNG; return data URIs by name, and any figure's error.

    A figure that cannot be drawn is reported (in metrics.json and on the page)
    instead of taking the whole answer key down with it.
    """
    uris: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, draw in _figure_makers(results).items():
        try:
            png = plots.figure_to_png_bytes(draw())
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        (out_dir / f"{name}.png").write_bytes(png)
        uris[name] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return uris, errors


# --------------------------------------------------------------------------- answers


def _f(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _chance_fraction(results: ReferenceResults) -> float:
    negatives = results.main.test_labels == 0
    return float((results.main.oracle_test_scores[negatives] > 0).mean())


def _main_answer(r: ReferenceResults) -> list[str]:
    m, c = r.main, r.config
    return [
        f"The reference model ({c.num_filters} filters of width {c.kernel_size}, "
        f"'{c.padding}' padding, {c.activation} filters, global max pooling, "
        f"Dense({c.dense_units}); "
        f"Adam lr {c.lr:g}, batch {c.batch_size}, EarlyStopping on validation loss with "
        f"patience {c.patience}) reaches test ROC AUC {_f(m.roc_auc)} and PR AUC "
        f"{_f(m.pr_auc)} on the starter's test split, after {m.epochs_run} epochs "
        f"({m.training_seconds:.1f} s; weights of epoch {m.best_epoch + 1} kept).",
        f"The Bayes-optimal score on this data is the number of exact {STARTER_MOTIF} "
        f"occurrences; it reaches ROC AUC {_f(m.oracle_roc_auc)}, so the model is "
        f"{_f(m.oracle_roc_auc - m.roc_auc)} below the ceiling. The ceiling is not 1 because "
        f"{100 * _chance_fraction(r):.0f}% of the test negatives contain {STARTER_MOTIF} by "
        "chance (about 9% expected: 97 windows per sequence, each a match with probability "
        "1/1024), and nothing can tell those from positives.",
    ]


def _q1_answer(r: ReferenceResults) -> list[str]:
    q = r.q1
    parts = ", ".join(f"{row['layer']} {row['count']}" for row in q.starter_rows)
    return [
        f"The starter's model (16 filters of width 5, Dense 32) has {q.starter_total} "
        f"trainable parameters ({parts}); Keras counts {q.starter_keras_count}. "
        "A filter holds one weight per position and base plus a bias: 16 x (5 x 4) + 16 = 336; "
        "global max pooling has no weights; the hidden layer has 16 x 32 + 32 = 544; the "
        "output 32 + 1 = 33.",
        f"The reference model's width-{r.config.kernel_size} filters raise the count to "
        f"{q.reference_total} (Keras: {q.reference_keras_count}). Hyper-parameters are the "
        "settings chosen before training rather than learned; the table lists them.",
    ]


def _q2_answer(r: ReferenceResults) -> list[str]:
    q = r.q2
    k = q.motif_length
    rows = [row for row in q.rows if row.padding == r.config.padding]
    below = [row for row in rows if row.kernel_size < k]
    at_or_above = [row for row in rows if row.kernel_size >= k]
    text = []
    if below:
        best_below = max(below, key=lambda row: row.roc_auc)
        text.append(
            f"Filters shorter than the {k}-base motif cannot hold it: "
            + (
                f"the best of widths {', '.join(str(row.kernel_size) for row in below)}"
                if len(below) > 1
                else f"width {below[0].kernel_size}"
            )
            + f" reaches only ROC AUC {_f(best_below.roc_auc)} (PR AUC "
            f"{_f(best_below.pr_auc)}), and no filter spells the motif."
        )
    if at_or_above:
        aucs = [row.roc_auc for row in at_or_above]
        recovered = sorted(row.kernel_size for row in at_or_above if row.recovered)
        missed = [row for row in at_or_above if not row.recovered]
        sentence = (
            f"Widths {', '.join(str(row.kernel_size) for row in at_or_above)} all reach "
            f"ROC AUC {_f(min(aucs))}-{_f(max(aucs))} against the oracle's "
            f"{_f(q.oracle_roc_auc)}: once a filter can hold the motif, width barely matters "
            "for classification."
        )
        text.append(sentence)
        if recovered:
            text.append(
                "Motif recovery is another matter: the motif is recovered whole at "
                + ("widths " if len(recovered) > 1 else "width ")
                + f"{', '.join(map(str, recovered))}."
                + (
                    " "
                    + "; ".join(
                        f"At width {row.kernel_size} the best filter reads "
                        f"{row.best_consensus} (similarity {row.best_similarity:.2f}), "
                        "a shifted partial match"
                        for row in missed
                    )
                    + "."
                    if missed
                    else ""
                )
                + " A filter exactly as wide as the motif must align perfectly to hold all of "
                "it; a wider one has slack, and its extra columns stay uninformative."
            )
    valid = [row for row in q.rows if row.padding == "valid"]
    if valid and r.config.padding != "valid":
        same = {row.kernel_size: row.roc_auc for row in rows}
        pairs = [
            f"width {row.kernel_size}: {_f(row.roc_auc)} valid vs {_f(same[row.kernel_size])} "
            f"{r.config.padding}"
            for row in valid
            if row.kernel_size in same
        ]
        text.append(
            "With the starter's 'valid' padding wide filters lose a little: "
            + "; ".join(pairs)
            + ". A filter whose motif sits off-centre cannot reach implants near the "
            "sequence ends unless the windows may overhang them."
        )
    return text


def _q3_answer(r: ReferenceResults) -> list[str]:
    q = r.q3
    verdict = "Yes" if q.recovered else "No"
    strand = "forward strand" if q.strand == "+" else "reverse complement"
    best = q.filters[0]
    return [
        f"{verdict}. Filter {q.best_filter} matches {q.motif} with similarity "
        f"{_f(q.similarity)} (aligned consensus {q.consensus}, {strand}); its PWM is "
        f"built from the {best.n_windows} training windows whose activation exceeds half "
        f"of the filter's maximum. {q.n_recovering_filters} of {q.n_filters} filters recover "
        "the motif (the network keeps redundant copies)"
        + (
            f"; the others match it at most {_f(max(others))}."
            if (others := [f.similarity for f in q.filters if not f.recovered])
            else "."
        ),
        f"Reading the filters the starter's way (the top max(50, 1%) windows over the "
        f"dataset) gives best similarity {_f(q.starter_rule_similarity)}. Similarity is the "
        "Pearson correlation between the PWM and the motif over the motif's length, best "
        f"offset and strand; recovered means similarity >= {q.threshold:g} and the consensus "
        "spells the motif.",
    ]


def _q4_answer(r: ReferenceResults) -> list[str]:
    q = r.q4
    text = []
    probs = [row for row in q.motif_prob_rows if row.motif_prob < 1.0]
    if probs:
        pairs = "; ".join(
            f"motif_prob {row.motif_prob:g}: model {_f(row.roc_auc)}, oracle "
            f"{_f(row.oracle_roc_auc)}"
            for row in q.motif_prob_rows
        )
        recovered = all(row.recovered for row in q.motif_prob_rows)
        text.append(
            "Implanting the motif in only a fraction of positives makes the rest "
            "indistinguishable from negatives, so the ceiling itself falls and the model "
            f"follows it down ({pairs}). The motif is "
            + ("still recovered at every level" if recovered else "not recovered at every level")
            + ": the positives that do carry it are enough to learn it."
        )
        if any(row.roc_auc > row.oracle_roc_auc for row in q.motif_prob_rows):
            text.append(
                "Where the model edges past the oracle it does so by chance: the oracle is "
                "optimal on average, and 800 test sequences leave a few thousandths of noise."
            )
    if q.negatives_noise_rows:
        rows = q.negatives_noise_rows
        gentlest = min(rows, key=lambda row: row.noise_std)
        lost = [row for row in rows if not row.recovered]
        text.append(
            "Noise on the negatives only (the assignment's version) leaks the label: a "
            "rule that only checks whether an input is exactly one-hot reaches ROC AUC "
            f"{_f(gentlest.noise_only_roc_auc)} already at noise {gentlest.noise_std:g}. The "
            "model reaches "
            + ", ".join(f"{_f(row.roc_auc)} at noise {row.noise_std:g}" for row in rows)
            + f", above the motif oracle's {_f(gentlest.sequence_oracle_roc_auc)}, and the AUC "
            "no longer says whether it found the motif: its best filter's similarity is "
            + ", ".join(f"{row.best_similarity:.2f}" for row in rows)
            + "."
            + (
                " Where the motif is lost ("
                + ", ".join(f"noise {row.noise_std:g}" for row in lost)
                + ") the model detects noise instead."
                if lost
                else ""
            )
            + " This version measures noise detection, not motif discovery."
        )
    if q.all_noise_rows:
        text.append(
            "Noise on every input is the honest experiment: both classes look alike apart "
            "from the motif, and the task gets harder for every model, the optimal one "
            "included ("
            + "; ".join(
                f"noise {row.noise_std:g}: model {_f(row.roc_auc)}, Bayes-optimal "
                f"{_f(row.oracle_roc_auc)}, motif "
                + ("recovered" if row.recovered else "not recovered")
                for row in q.all_noise_rows
            )
            + "). The Bayes-optimal score here weighs each noisy column by its Gaussian "
            "likelihood of being the motif's base."
        )
    return text


def _q5_answer(r: ReferenceResults) -> list[str]:
    q = r.q5
    pairs = "; ".join(
        f"{m} by filter {f} (similarity {s:.2f}, reads {c})"
        for m, f, s, c in zip(
            q.motifs, q.assignment, q.assigned_similarity, q.assigned_consensus, strict=True
        )
    )
    verdict = (
        "Yes, each motif is recovered by a different filter"
        if q.all_recovered_separately
        else "Not fully: the motifs are not each recovered by their own filter"
    )
    return [
        f"{verdict}: {pairs}. Filters were matched to motifs one to one by the Hungarian "
        "algorithm on the filter x motif similarity matrix, so one filter cannot count for "
        "both.",
        f"Trained on data where a sequence is positive if it carries either motif (rule "
        f"'{q.rule}', {100 * q.co_occurrence:.0f}% of positives carry both), the model "
        f"reaches test ROC AUC {_f(q.roc_auc)} against the oracle's {_f(q.oracle_roc_auc)}.",
    ]


def _q6_answer(r: ReferenceResults) -> list[str]:
    q = r.q6
    s = q.mean_scores
    a, b = q.motifs
    text = [
        f"Trained where a sequence is positive only when both {a} (A) and {b} (B) are "
        "present (rule AND; negatives carry neither, A alone or B alone in equal shares), "
        f"the model reaches test ROC AUC {_f(q.roc_auc)} against the oracle's "
        f"{_f(q.oracle_roc_auc)}.",
        f"On {q.n_probes} identical background sequences its mean output is "
        + ", ".join(f"{_f(s[c])} with {c}" for c in INTERACTION_CONDITIONS)
        + ". "
        + (
            f"Both motifs together raise it {_f(q.margin_over_single)} above either alone: "
            "it captured the interaction. Global max pooling reports each motif's presence, "
            "and the hidden ReLU layer can compute AND as relu(a + b - threshold)."
            if q.captured
            else "Its mean outputs do not clear the grader's margins (both motifs together "
            "above either alone, above none, and above the two separate effects added up): "
            "it did not capture the interaction."
        ),
    ]
    if q.or_model_mean_scores:
        o = q.or_model_mean_scores
        text.append(
            "For contrast, the Q5 model (rule OR) on the same sequences gives "
            + ", ".join(f"{_f(o[c])} with {c}" for c in INTERACTION_CONDITIONS)
            + ": there one motif is enough, so no interaction is needed or learned."
        )
    return text


def compose_answers(results: ReferenceResults) -> dict[str, list[str]]:
    """Plain-language answers, one list of paragraphs per section, quoting this run's numbers."""
    return {
        "main": _main_answer(results),
        "q1": _q1_answer(results),
        "q2": _q2_answer(results),
        "q3": _q3_answer(results),
        "q4": _q4_answer(results),
        "q5": _q5_answer(results),
        "q6": _q6_answer(results),
    }


# --------------------------------------------------------------------------- report


def _environment() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
    }


def render_report(
    results: ReferenceResults,
    metrics: dict,
    answers: dict[str, list[str]],
    figures: dict[str, str],
) -> str:
    """The answer key as one HTML page (figures given as data URIs)."""
    environment = template_environment()

    def fmt(value: Any, digits: int = 3) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return str(value)
        try:
            return f"{float(value):.{digits}f}"
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot format {value!r} as a number") from exc

    template = environment.get_template(TEMPLATE_NAME)
    return template.render(
        r=results,
        m=metrics,
        answers=answers,
        figures=figures,
        fmt=fmt,
        conditions=INTERACTION_CONDITIONS,
        title="Homework 4 answer key: DeepBind-style CNN for motif discovery",
    )

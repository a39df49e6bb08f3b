"""What a student's report says, before it is laid out: badges, advice, Markdown, labels.

The templates only lay out what this module decides:

- each check's badge, points and message (`check_views`), the same in the graded
  report and in the self-check, where hidden checks are "graded by your instructor"
  rather than 0 points, and written answers that are absent say "missing";
- the "What to fix first" list (`fix_first`): the checks that lost points, most
  points first, each with one sentence saying what to do, matched to the cause (a
  model that scores at chance is not told to train longer);
- Markdown (written answers, check messages) rendered by markdown-it-py with raw
  HTML off, so a student's text can format but never inject markup;
- cells named as Jupyter names them ("In [7]"), with the grader's temporary file
  names taken out of tracebacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from grader.checks.results import CellRecord, CheckResult, StudentResult

# A sentence ends at . ! ? followed by a space and a capital, a backtick or a quote;
# "e.g. a" and "0.25" do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])")
# A sentence naming what blocks the check is the first thing to fix.
_BLOCKER = re.compile(
    r"\b(is not defined|could not|is still|is missing|never trained|set by hand|not trained"
    r"|is not a |did not run)\b",
    re.IGNORECASE,
)
_TRAIN_LONGER = re.compile(r"[^.]*\btrain longer\b[^.]*\.?", re.IGNORECASE)
# A model whose hidden ROC AUC is this close to 0.5 ranks no better than a coin.
CHANCE_ROC_AUC = 0.6
MODEL_CHECKS = frozenset(
    {"hidden_roc_auc", "hidden_pr_auc", "reported_metrics_supported", "motif_recovered"}
)
TIMING_LABELS = {
    "kernel_start_s": "kernel start",
    "execution_s": "notebook run",
    "scoring_s": "scoring on hidden data",
    "grader_overhead_s": "grader after the run",
    "total_s": "total",
}


# --------------------------------------------------------------------------- Markdown


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """CommonMark with tables and strikethrough; no raw HTML, no remote images."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # An image would load from the network when the report opens: show its text instead.
    md.disable("image")
    return md


def markdown_html(text: str | None) -> Markup:
    """A block of Markdown (a written answer) as safe HTML."""
    return Markup(_markdown().render(text or ""))


def markdown_inline(text: str | None) -> Markup:
    """One paragraph of Markdown (a check message: `code`, **bold**) as safe inline HTML."""
    return Markup(_markdown().renderInline(text or ""))


# --------------------------------------------------------------------------- numbers


def rounded(value: Any, digits: int = 6) -> Any:
    """JSON-like data with floats cut to `digits` significant digits, for evidence."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, Mapping):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


def evidence_json(evidence: Mapping[str, Any]) -> str:
    return json.dumps(rounded(evidence, 4), indent=2, ensure_ascii=False, default=str)


def timing_rows(timings: Mapping[str, float]) -> list[tuple[str, str]]:
    """(label, "12.3 s") in a reading order, unknown keys last with their own name."""
    order = [k for k in TIMING_LABELS if k in timings] + [
        k for k in timings if k not in TIMING_LABELS
    ]
    rows = []
    for key in order:
        label = TIMING_LABELS.get(key, key.removesuffix("_s").replace("_", " "))
        value = timings[key]
        rows.append((label, f"{value:.1f} s" if isinstance(value, int | float) else str(value)))
    return rows


# --------------------------------------------------------------------------- cells

_TEMP_SOURCE = re.compile(r"\(\d+\.py, line (\d+)\)")
_TEMP_FILE = re.compile(r'File "?(?:/[^"\s,:]*)?/ipykernel_\d+/\d+\.py"?(?:, line |:)(\d+)')
_KERNEL_CELL = re.compile(r"Cell In\[(\d+)\]")


def cell_label(cell: CellRecord) -> str:
    """How Jupyter names the cell: "In [7]"; a cell that did not run has no number."""
    return f"In [{cell.execution_count}]" if cell.execution_count else "not run"


def cell_position(cell: CellRecord) -> str:
    return f"cell {cell.index + 1} of the notebook"


def clean_traceback(text: str, cell: CellRecord) -> str:
    """A traceback in the notebook's own terms: "In [7], line 3", not a temporary file."""
    label = cell_label(cell) if cell.execution_count else "this cell"
    text = _TEMP_SOURCE.sub(lambda m: f"({label}, line {m.group(1)})", text)
    text = _TEMP_FILE.sub(lambda m: f"{label}, line {m.group(1)}", text)
    return _KERNEL_CELL.sub(lambda m: f"In [{m.group(1)}]", text)


@dataclass(frozen=True)
class FailedCell:
    """A cell that raised or was stopped, as its card in the report shows it."""

    cell: CellRecord
    label: str
    position: str
    headline: str
    traceback: str


def failed_cells(result: StudentResult) -> list[FailedCell]:
    cards = []
    for cell in result.cells:
        if cell.status not in ("error", "timeout"):
            continue
        if cell.status == "timeout":
            # The kernel was interrupted: "KeyboardInterrupt" is how, not why.
            headline = "Stopped: this cell was still running at the time limit."
        else:
            value = clean_traceback(cell.error_value, cell)
            headline = f"{cell.error_name}: {value}" if value else cell.error_name
        cards.append(
            FailedCell(
                cell,
                cell_label(cell),
                cell_position(cell),
                headline,
                clean_traceback(cell.traceback, cell),
            )
        )
    return cards


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class CheckView:
    """One check as the report shows it."""

    check: CheckResult
    anchor: str
    badge: str
    badge_class: str
    points: str
    message: Markup
    fix: str
    lost: float
    to_fix: bool


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _at_chance(result: StudentResult) -> float | None:
    """The hidden ROC AUC of `model` when it ranks no better than chance, else None."""
    main = result.details.get("main") or {}
    auc = main.get("roc_auc")
    if isinstance(auc, int | float) and auc < CHANCE_ROC_AUC:
        return float(auc)
    return None


def _untrained_advice(auc: float) -> str:
    return (
        f"`model` ranks the hidden sequences no better than chance (ROC AUC {auc:.2f}), so it "
        "looks untrained: call `model.fit` on the training split before the notebook ends "
        "and keep that fitted `model`."
    )


def answer_state(question: str, answers: Mapping[str, str]) -> str:
    """present, placeholder (the cell is there, still unwritten) or absent (no cell)."""
    if answers.get(question, "").strip():
        return "present"
    return "placeholder" if question in answers else "absent"


def _answer_advice(question: str, state: str) -> str:
    if state == "placeholder":
        return (
            f"Write your answer below 'Answer {question}' in its Markdown cell, in place of "
            "the placeholder."
        )
    return (
        f"Add a Markdown cell whose first line is 'Answer {question}' and write your answer below."
    )


def advice(check: CheckResult, result: StudentResult) -> tuple[str, str]:
    """(the one-sentence fix, the message to show), matched to the cause.

    The check's own message names the cause; its last sentence is usually what to do.
    A model at chance level gets "fit it", never "train longer".
    """
    message = check.message or ""
    auc = _at_chance(result) if check.name in MODEL_CHECKS else None
    if auc is not None and _TRAIN_LONGER.search(message):
        cause = _untrained_advice(auc)
        kept = _TRAIN_LONGER.sub("", message).strip()
        return cause, f"{kept} {cause}".strip()
    message = _TEMP_SOURCE.sub(lambda m: f"(line {m.group(1)})", message)
    return fix_sentence(message), message


def fix_sentence(message: str, limit: int = 240) -> str:
    """The sentence to act on: the first that names a blocker, else the last (advice).

    A very long one is cut after its first clauses: the whole message is in the table.
    """
    sentences = _sentences(message)
    blockers = [s for s in sentences if _BLOCKER.search(s)]
    fix = blockers[0] if blockers else (sentences[-1] if sentences else message)
    if len(fix) <= limit:
        return fix
    kept = ""
    for clause in fix.split("; "):
        if kept and len(kept) + len(clause) > limit:
            return kept + "; …"
        kept = f"{kept}; {clause}" if kept else clause
    return kept


def _manual_view(
    check: CheckResult, anchor: str, answers: Mapping[str, str], entered: Mapping[str, Any]
) -> CheckView:
    state = answer_state(check.question, answers)
    points = entered.get("points")
    if points is not None:
        badge, badge_class = "graded", "passed" if points >= check.max_points else "partial"
        shown = f"{_fmt(points)} / {_fmt(check.max_points)}"
        message = entered.get("comment") or "Graded by your instructor."
        return CheckView(
            check, anchor, badge, badge_class, shown, markdown_inline(message), "", 0.0, False
        )
    if state == "present":
        words = len(answers[check.question].split())
        return CheckView(
            check,
            anchor,
            "to be graded",
            "manual",
            f"— / {_fmt(check.max_points)}",
            markdown_inline(f"Answer found ({words} words); a person grades it."),
            "",
            0.0,
            False,
        )
    fix = _answer_advice(check.question, state)
    found = (
        "The answer cell is there but still holds the placeholder."
        if state == "placeholder"
        else f"No Markdown cell starts with 'Answer {check.question}'."
    )
    return CheckView(
        check,
        anchor,
        "missing",
        "missing",
        f"0 / {_fmt(check.max_points)}",
        markdown_inline(f"{found} {fix}"),
        fix,
        check.max_points,
        True,
    )


def check_views(
    result: StudentResult,
    *,
    manual: Mapping[str, Mapping[str, Any]] | None = None,
    verdicts: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, CheckView]:
    """Every check of `result` by name, as the report shows it.

    `verdicts` (check name -> (passed|failed|skipped, message)) marks a self-check: a
    skipped hidden check is then "graded by your instructor", not 0 points.
    """
    answers = result.details.get("answers") or {}
    manual = manual or {}
    views: dict[str, CheckView] = {}
    for c in result.checks:
        anchor = f"check-{c.name}"
        if c.kind == "manual":
            views[c.name] = _manual_view(c, anchor, answers, manual.get(c.question, {}))
            continue
        verdict = verdicts.get(c.name) if verdicts is not None else None
        if verdict is not None and verdict[0] == "skipped" and c.visibility == "hidden":
            views[c.name] = CheckView(
                c,
                anchor,
                "by instructor",
                "skipped",
                f"— / {_fmt(c.max_points)}",
                markdown_inline(
                    "Graded by your instructor on hidden data; the self-check cannot run it."
                ),
                "",
                0.0,
                False,
            )
            continue
        fix, message = advice(c, result)
        if verdict is not None and verdict[0] == "failed" and c.status == "skipped":
            # A hidden check whose inputs are missing: the self-check's reason is the news.
            fix, message = fix_sentence(verdict[1]), verdict[1]
        lost = round(c.max_points - c.points, 4)
        failing = c.status in ("failed", "partial", "error") or (
            verdict is not None and verdict[0] == "failed"
        )
        badge = "failed" if c.status == "skipped" and failing else c.status
        views[c.name] = CheckView(
            c,
            anchor,
            badge,
            badge,
            f"{_fmt(c.points)} / {_fmt(c.max_points)}",
            markdown_inline(message),
            fix,
            lost if failing else 0.0,
            failing and lost > 0,
        )
    return views


@dataclass(frozen=True)
class FixItem:
    """One line of "What to fix first"."""

    anchor: str
    question: str
    title: Markup | str
    lost: str
    fix: Markup


def fix_first(views: Mapping[str, CheckView], limit: int | None = None) -> list[FixItem]:
    """The checks that lost points, most points first (then in the assignment's order).

    Missing written answers are one line when there are several: the same fix, and
    six lines of it would bury the rest.
    """
    to_fix = [v for v in views.values() if v.to_fix]
    answers = [v for v in to_fix if v.check.kind == "manual"]
    items: list[tuple[float, FixItem]] = []
    if len(answers) > 1:
        to_fix = [v for v in to_fix if v.check.kind != "manual"]
        lost = sum(v.lost for v in answers)
        questions = ", ".join(v.check.question for v in answers)
        fix = (
            "Write each answer below its 'Answer Qn' line, in a Markdown cell, in place of any "
            "placeholder."
        )
        items.append(
            (lost, FixItem("answers", questions, "Written answers", _fmt(lost), Markup(fix)))
        )
    for v in to_fix:
        title = markdown_inline(v.check.title)
        question = "Notebook" if v.check.question == "general" else v.check.question
        items.append(
            (v.lost, FixItem(v.anchor, question, title, _fmt(v.lost), markdown_inline(v.fix)))
        )
    ordered = [item for _, item in sorted(items, key=lambda pair: -pair[0])]
    return ordered[:limit] if limit is not None else ordered


# --------------------------------------------------------------------------- figures


def figure_alt(name: str, result: StudentResult) -> str:
    """What a figure shows for this student, in words, for a reader who cannot see it."""
    details = result.details
    main = details.get("main") or {}
    if name == "roc" and main:
        n = main.get("n")
        return (
            f"ROC and precision-recall curves of your model on {n or 'the'} hidden sequences: "
            f"ROC AUC {main['roc_auc']:.3f} against the oracle's {main['oracle_roc_auc']:.3f}, "
            f"PR AUC {main['pr_auc']:.3f}."
        )
    if name == "loss":
        return "Training and validation loss per epoch, read from your history."
    if name == "kernel_sweep":
        rows = details.get("kernel_results") or {}
        widths = ", ".join(sorted(rows, key=lambda w: float(w))) if rows else "none"
        return (
            f"ROC AUC you reported per kernel width (widths {widths}) beside the reference's "
            "measured values."
        )
    if name == "noise":
        return "ROC AUC you reported per motif probability and noise level in noise_results."
    if name == "multi_heatmap":
        multi = details.get("multi") or {}
        motifs = ", ".join(map(str, multi.get("motifs", []))) or "your motifs"
        recovered = multi.get("recovered") or []
        found = recovered.values() if isinstance(recovered, Mapping) else recovered
        return (
            f"Heatmap of how similar each multi_model filter is to each motif ({motifs}); "
            f"{sum(bool(r) for r in found)} recovered by a filter."
        )
    if name == "interaction":
        inter = details.get("interaction") or {}
        scores = inter.get("mean_scores") or {}
        shown = ", ".join(
            f"{k} {v:.2f}" if isinstance(v, int | float) else f"{k} {v}" for k, v in scores.items()
        )
        return f"Mean output of interaction_model with none, one or both motifs: {shown}."
    if name == "logos":
        return "Sequence logos of the implanted motif and your four filters most similar to it."
    return f"Figure: {name.replace('_', ' ')}."

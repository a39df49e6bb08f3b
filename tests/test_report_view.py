"""What the student's report says: fix-first list, badges, advice, Markdown, labels, contrast.

All in milliseconds on prepared results; `demanding_result` is also what the
headless-browser test lays out at phone and desktop widths (test_report_screens).
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from html import unescape
from pathlib import Path

import pytest

from grader.checks.results import CellRecord, CheckResult, StudentResult
from grader.outputs.report import (
    KERNEL_LOG_NAME,
    SelfCheckTotals,
    histogram_svg,
    render_index,
    render_student_report,
    write_kernel_log,
)
from grader.outputs.report_view import (
    advice,
    check_views,
    clean_traceback,
    evidence_json,
    fix_first,
    markdown_html,
    markdown_inline,
    timing_rows,
)
from grader.spec import load_spec
from tests.golden_scores import HIDDEN_POINTS, PUBLIC_POINTS, STARTER_PUBLIC_POINTS

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec()
LONG_WORD = "ACGT" * 40


def png_data_uri(width: int, height: int) -> str:
    """A blank PNG of the given size, as the figures are embedded."""
    row = b"\x00" + b"\xff\xff\xff" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def check(check_id: str, status: str, points: float, message: str, **evidence) -> CheckResult:
    spec = SPEC.check(check_id)
    return CheckResult(
        check_id,
        spec.title,
        spec.question,
        points,
        spec.points,
        status,  # type: ignore[arg-type]
        message,
        spec.visibility,
        spec.kind,
        evidence,
    )


def demanding_result(student: str = "ada_lovelace_with_a_rather_long_student_id") -> StudentResult:
    """A 50-ish/100 result with everything that is hard to lay out on a phone."""
    messages = {
        "hidden_roc_auc": (
            "ROC AUC 0.5012 on 4,000 hidden sequences; the best possible (oracle) is 0.9560; "
            "full credit from 0.9369. Train longer, use a kernel wider than the motif, or more "
            "filters, and check that the model is fitted on the training split only."
        ),
        "kernel_sweep": (
            f"Kernel sizes tried: [3]. Add at least one kernel size larger than 5 `{LONG_WORD}`."
        ),
        "noise_experiment": "`noise_results` is still the empty placeholder []; fill it in.",
    }
    checks = []
    for spec in SPEC.checks:
        if spec.kind == "manual":
            checks.append(check(spec.id, "manual", 0.0, "graded by hand"))
        elif spec.id in messages:
            status = "partial" if spec.id == "kernel_sweep" else "failed"
            points = 8.0 if status == "partial" else 0.0
            checks.append(
                check(spec.id, status, points, messages[spec.id], measured=0.50123456789012)
            )
        else:
            checks.append(check(spec.id, "passed", spec.points, "Fine."))
    traceback = (
        "---------------------------------------------------------------------------\n"
        "NameError                                 Traceback (most recent call last)\n"
        "Cell In[7], line 2\n      1 # train\n----> 2 history = model.fit(X_train_"
        + "x" * 150
        + ")\n\nNameError: name 'X_train' is not defined"
    )
    return StudentResult(
        student=student,
        status="errors",
        status_message="1 cell(s) raised an error; the first was NameError.",
        checks=tuple(checks),
        cells=(
            CellRecord(6, 1, 1.2, "ok", source_head="import numpy as np"),
            CellRecord(
                8,
                2,
                0.1,
                "error",
                "SyntaxError",
                "invalid syntax (985682521.py, line 2)",
                "  Cell In[2], line 2\n    def f(a b):\n SyntaxError",
                "def f(a b):",
            ),
            CellRecord(
                19,
                7,
                0.3,
                "error",
                "NameError",
                "name 'X_train' is not defined",
                traceback,
                "# train " + LONG_WORD,
            ),
            CellRecord(
                21,
                8,
                300.0,
                "timeout",
                "KeyboardInterrupt",
                "",
                "KeyboardInterrupt: ",
                "while True: pass",
            ),
            CellRecord(23, None, None, "not_run", source_head="print('done')"),
        ),
        environment={
            "seed_kind": "development",
            "seed_note": "Development seed: reproducible by anyone",
            "sandbox": "bubblewrap " + LONG_WORD,
            "versions": {"numpy": "2.1", "tensorflow": "2.20"},
        },
        timings={"kernel_start_s": 2.27, "execution_s": 138.37, "total_s": 139.5},
        figures={
            name: png_data_uri(1600, 300)
            for name in ("roc", "loss", "kernel_sweep", "noise", "logos")
        },
        details={
            "answers": {
                "Q1": "The model has **913** parameters:\n\n| layer | params |\n|---|---|\n"
                "| conv | 132 |\n| dense | 781 |\n\n`model.summary()` " + LONG_WORD,
                "Q2": "",
            },
            "main": {
                "roc_auc": 0.5012,
                "pr_auc": 0.51,
                "average_precision": 0.5,
                "oracle_roc_auc": 0.956,
                "oracle_pr_auc": 0.95,
                "n": 4000,
            },
            "kernel_results": {"3": {"roc_auc": 0.8, "pr_auc": 0.79}},
            "kernel_log": "WARNING: All log messages before absl::InitializeLog() ...\n",
        },
    )


# --------------------------------------------------------------------------- fix first


def test_fix_first_lists_lost_points_most_first_with_links_to_the_checks() -> None:
    result = demanding_result()
    items = fix_first(check_views(result))
    assert [(i.anchor, i.lost) for i in items] == [
        ("answers", "25"),
        ("check-hidden_roc_auc", "15"),
        ("check-noise_experiment", "10"),
        ("check-kernel_sweep", "2"),
    ]
    assert items[0].question == "Q2, Q3, Q4, Q5, Q6"  # Q1 is answered
    html = render_student_report(result, SPEC)
    box = html[html.index('id="fix-first"') : html.index("</section>")]
    assert box.index("check-hidden_roc_auc") < box.index("check-kernel_sweep")
    for item in items[1:]:
        assert f'href="#{item.anchor}"' in box and f'id="{item.anchor}"' in html


def test_a_model_at_chance_is_told_to_fit_it_not_to_train_longer() -> None:
    result = demanding_result()
    roc = next(c for c in result.checks if c.name == "hidden_roc_auc")
    fix, message = advice(roc, result)
    assert "looks untrained" in fix and "`model.fit`" in fix
    assert "train longer" not in (fix + message).lower()
    assert "ROC AUC 0.5012 on 4,000 hidden sequences" in message


def test_a_trained_model_below_full_credit_keeps_the_train_longer_advice() -> None:
    result = demanding_result()
    details = {**result.details, "main": {**result.details["main"], "roc_auc": 0.91}}
    trained = StudentResult(**{**result.__dict__, "details": details})
    roc = next(c for c in trained.checks if c.name == "hidden_roc_auc")
    fix, _ = advice(roc, trained)
    assert fix.startswith("Train longer")


def test_the_fix_names_what_blocks_the_check_first() -> None:
    blocked = check(
        "generator_matches_assignment",
        "failed",
        0.0,
        "`generate_synthetic_dataset` is not defined in the notebook. Keep the starter's draws.",
    )
    fix, _ = advice(blocked, demanding_result())
    assert fix == "`generate_synthetic_dataset` is not defined in the notebook."


def test_missing_and_placeholder_answers_get_a_missing_badge_and_their_own_fix() -> None:
    views = check_views(demanding_result())
    assert (views["answer_q1"].badge, views["answer_q1"].to_fix) == ("to be graded", False)
    assert views["answer_q2"].badge == "missing"
    assert "still holds the placeholder" in views["answer_q2"].message
    assert views["answer_q3"].badge == "missing"
    assert "No Markdown cell starts with 'Answer Q3'" in views["answer_q3"].message
    html = render_student_report(demanding_result(), SPEC)
    card = html[html.index('id="answer-Q2"') :]
    assert card.index("badge missing") < card.index("placeholder")
    assert 'class="badge manual">manual' not in html


def test_entered_hand_grades_show_as_graded_with_the_comment() -> None:
    views = check_views(
        demanding_result(), manual={"Q1": {"points": 4, "comment": "Good *and* short"}}
    )
    assert (views["answer_q1"].badge, views["answer_q1"].points) == ("graded", "4 / 5")
    assert "<em>and</em>" in views["answer_q1"].message


# --------------------------------------------------------------------------- self-check


def test_self_check_report_shows_public_points_and_hidden_checks_for_the_instructor() -> None:
    result = demanding_result()
    verdicts = {c.name: ("passed", "") for c in result.checks}
    verdicts["hidden_pr_auc"] = ("skipped", "Hidden check (5 points)")
    totals = SelfCheckTotals(STARTER_PUBLIC_POINTS, PUBLIC_POINTS, HIDDEN_POINTS, 30, verdicts)
    html = render_student_report(result, SPEC, self_check=totals)
    assert f"{STARTER_PUBLIC_POINTS:g} / {PUBLIC_POINTS:g}" in html
    assert "public automatic points" in html
    assert "automatic points</div>" not in html.replace("public automatic points</div>", "")
    row = html[html.index('id="check-hidden_pr_auc"') :]
    row = row[: row.index("</tr>")]
    assert "by instructor" in row and "— / 5" in row and "0 / 5" not in row
    assert all(f'id="check-{c.name}"' in html for c in result.checks)


# --------------------------------------------------------------------------- Markdown


def test_markdown_keeps_tables_code_and_emphasis_but_never_raw_html() -> None:
    html = markdown_html(
        "**913** `params`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(1)"> [x](javascript:alert(1)) ![t](http://example.org/t.png)'
    )
    assert "<strong>913</strong>" in html and "<code>params</code>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    assert 'src="http' not in html  # no image is fetched when the report opens


def test_check_messages_render_backticks_as_code_inline() -> None:
    assert str(markdown_inline("`history` is not defined")) == (
        "<code>history</code> is not defined"
    )


def test_written_answers_render_as_markdown_in_the_report() -> None:
    html = render_student_report(demanding_result(), SPEC)
    answer = html[html.index('id="answer-Q1"') :]
    assert "<strong>913</strong>" in answer[:2000] and "<table>" in answer[:2000]
    assert "**913**" not in html


# --------------------------------------------------------------------------- smaller points


def test_cells_are_named_as_jupyter_names_them_without_temporary_files() -> None:
    result = demanding_result()
    html = render_student_report(result, SPEC)
    assert "In [2]" in html and "In [7]" in html and "cell 9 of the notebook" in html
    assert "985682521.py" not in html and "Cell In[" not in html
    assert "KeyboardInterrupt" not in html
    assert "Stopped: this cell was still running at the time limit." in html
    syntax = result.cells[1]
    assert clean_traceback(syntax.error_value, syntax) == "invalid syntax (In [2], line 2)"


def test_timings_use_words_and_evidence_is_rounded() -> None:
    assert timing_rows({"total_s": 139.5, "kernel_start_s": 2.27}) == [
        ("kernel start", "2.3 s"),
        ("total", "139.5 s"),
    ]
    assert '"measured": 0.5012' in evidence_json({"measured": 0.50123456789012})
    html = render_student_report(demanding_result(), SPEC)
    assert "kernel_start_s" not in html and "0.50123456789012" not in html


def test_figures_have_alt_text_about_this_students_results() -> None:
    html = render_student_report(demanding_result(), SPEC)
    alts = [unescape(a) for a in re.findall(r'<img alt="([^"]*)"', html)]
    assert len(alts) == 5
    assert any("ROC AUC 0.501 against the oracle's 0.956" in alt for alt in alts)
    assert any("widths 3" in alt for alt in alts)


def test_the_kernel_log_is_written_beside_the_report_and_linked(tmp_path: Path) -> None:
    result = demanding_result()
    assert write_kernel_log(tmp_path, result) == tmp_path / KERNEL_LOG_NAME
    assert "absl" in (tmp_path / KERNEL_LOG_NAME).read_text()
    assert f'href="{KERNEL_LOG_NAME}"' in render_student_report(result, SPEC)
    quiet = StudentResult(**{**result.__dict__, "details": {"answers": {}}})
    assert write_kernel_log(tmp_path, quiet) is None
    assert not (tmp_path / KERNEL_LOG_NAME).exists()
    assert KERNEL_LOG_NAME not in render_student_report(quiet, SPEC)


def test_histogram_labels_sit_on_every_other_edge_and_say_the_counts() -> None:
    svg = histogram_svg([0, 10, 55, 100, 100], 100)
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert [x for x in labels if not x.isdigit() or int(x) % 20 == 0][-6:] == [
        "0",
        "20",
        "40",
        "60",
        "80",
        "100",
    ]
    assert 'aria-label="Score histogram. 0 to 10: 1; 10 to 20: 1; 50 to 60: 1; 90 to 100: 2"' in svg


# --------------------------------------------------------------------------- accessibility


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("ok", "ok-bg"),
        ("partial", "partial-bg"),
        ("fail", "fail-bg"),
        ("info", "info-bg"),
        ("muted", "bg"),
        ("muted", "card"),
        ("ink", "bg"),
    ],
)
def test_badge_and_text_colours_reach_aa_contrast(text: str, background: str) -> None:
    css = (ROOT / "templates" / "_style.css.j2").read_text()
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    assert contrast(colours[text], colours[background]) >= 4.5


def test_sortable_headers_are_buttons_with_aria_sort() -> None:
    html = render_index([demanding_result("ada"), demanding_result("bo")], SPEC, secret=True)
    headers = re.findall(r'<th scope="col" class="sortable[^"]*"[^>]*>', html)
    assert len(headers) >= 5
    assert all("aria-sort=" in h for h in headers)
    assert html.count('<button type="button">') >= len(headers)
    assert 'setAttribute("aria-sort"' in html

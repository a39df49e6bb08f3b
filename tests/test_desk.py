"""The grading desk without a browser: rubric scoring, concurrency, the CSV round trip,
the token gate, what the pages show, and the command line.

The browser walk-throughs are in test_desk_browser.py.
"""

from __future__ import annotations

import csv
import http.cookiejar
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.batch import GRADEBOOK_NAME, rerender
from grader.cli import main as cli
from grader.desk.pdf import read_pdf
from grader.desk.rubric import answer_points
from grader.desk.server import DeskError, check_bind, running_desk
from grader.desk.store import DeskStore
from grader.gradebook.manual import export_sheet, import_sheet
from grader.gradebook.store import Gradebook
from grader.spec import SpecError, load_spec
from tests.desk_class import (
    HOSTILE_STUDENT,
    PDF_PAGES,
    PDF_STUDENT,
    build_class,
    pdf_report,
    student_names,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_class(tmp_path_factory.mktemp("desk") / "out", 6)


@pytest.fixture
def out(graded_class: Path, tmp_path: Path) -> Path:
    """A private copy of the class, so a test's grading does not leak into another's."""
    return Path(shutil.copytree(graded_class, tmp_path / "out"))


@pytest.fixture
def store(out: Path):
    desk_store = DeskStore(out / GRADEBOOK_NAME, load_spec())
    yield desk_store
    desk_store.close()


def items_by_spec_id(store: DeskStore, question: str) -> dict[str, int]:
    rows = store._query("SELECT spec_id, id FROM rubric_items WHERE question = ?", (question,))
    return dict(rows)


def save(store: DeskStore, student: str, question: str, items: list[int], **kw):
    current = store.grade(student, question)
    return store.save(
        student,
        question,
        applied=items,
        comment=kw.get("comment", ""),
        adjustment=kw.get("adjustment", 0.0),
        version=kw.get("version", current.version),
        grader=kw.get("grader", "alice"),
    )


# --------------------------------------------------------------------------- rubric rules


def test_answer_points_are_items_plus_adjustment_within_zero_and_the_maximum() -> None:
    assert answer_points([2, 2, 1], 0, 5) == 5
    assert answer_points([2, 2, 2], 0, 5) == 5
    assert answer_points([-1], 0, 5) == 0
    assert answer_points([2, -1], 0.5, 5) == 1.5


def test_spec_rubric_is_seeded_with_keys_in_order(store: DeskStore) -> None:
    items = store.rubric("Q1")
    assert [i.key for i in items] == ["1", "2", "3", "4"]
    assert [i.points for i in items] == [2, 2, 1, -1]
    assert all(i.comment for i in items)


def test_rubric_for_a_question_without_a_manual_check_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "grader/assignments/deepbind_motif.toml").read_text()
    text += '\n[[rubric]]\nquestion = "Q1"\nid = "q1_conv_params"\npoints = 1\ncomment = "again"\n'
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match="rubric ids must be unique"):
        load_spec(path)


def test_editing_the_rubric_does_not_change_the_spec_fingerprint(tmp_path: Path) -> None:
    text = (ROOT / "grader/assignments/deepbind_motif.toml").read_text()
    path = tmp_path / "spec.toml"
    path.write_text(text.replace('points = 2\ncomment = "Conv1D', 'points = 3\ncomment = "Conv1D'))
    assert load_spec(path).rubric != load_spec().rubric
    assert load_spec(path).fingerprint == load_spec().fingerprint


def test_editing_an_item_rescores_every_answer_that_has_it(store: DeskStore, out: Path) -> None:
    ids = items_by_spec_id(store, "Q2")
    reported, explains = ids["q2_sweep_reported"], ids["q2_explains_width"]
    ada, bea, cai = student_names(3)
    save(store, ada, "Q2", [reported, explains])
    save(store, bea, "Q2", [reported])
    save(store, cai, "Q2", [explains])
    item = next(i for i in store.rubric("Q2") if i.id == reported)
    assert item.applied_count == 2

    outcome = store.edit_item(
        reported, points=1.5, comment=item.comment, version=item.version, grader="bob"
    )

    assert outcome.saved and outcome.rescored == 2
    with Gradebook(out / GRADEBOOK_NAME) as gradebook:
        manual = gradebook.manual()
    assert manual[ada]["Q2"]["points"] == 4.5
    assert manual[bea]["Q2"]["points"] == 1.5
    assert manual[cai]["Q2"]["points"] == 3
    assert manual[bea]["Q2"]["rubric"] == [{"points": 1.5, "comment": item.comment}]


def test_a_stale_item_edit_is_refused(store: DeskStore) -> None:
    item = store.rubric("Q3")[0]
    first = store.edit_item(item.id, points=1, comment="first", version=item.version, grader="a")
    second = store.edit_item(item.id, points=9, comment="second", version=item.version, grader="b")
    assert first.saved and not second.saved
    assert (second.item.points, second.item.comment) == (1, "first")


def test_a_stale_answer_save_is_refused_and_hands_back_the_newer_grade(store: DeskStore) -> None:
    ids = list(items_by_spec_id(store, "Q3").values())
    student = student_names(1)[0]
    alice = save(store, student, "Q3", [ids[0]], grader="alice", version=0)
    bob = save(store, student, "Q3", [ids[1]], grader="bob", version=0)
    assert alice.saved and not bob.saved
    assert bob.grade.applied == {ids[0]} and bob.grade.grader == "alice"
    assert store.grade(student, "Q3").applied == {ids[0]}


def test_progress_counts_answers_per_question_and_per_grader(store: DeskStore) -> None:
    ids = list(items_by_spec_id(store, "Q4").values())
    ada, bea, cai = student_names(3)
    save(store, ada, "Q4", [ids[0]], grader="alice")
    save(store, bea, "Q4", [ids[1]], grader="bob")
    save(store, cai, "Q4", [ids[0]], grader="alice")
    q4 = next(p for p in store.progress() if p["question"] == "Q4")
    assert (q4["graded"], q4["total"]) == (3, 6)
    assert q4["by_grader"] == {"alice": 2, "bob": 1}


# --------------------------------------------------------------------------- gradebook


def test_csv_sheet_round_trips_with_the_desk(store: DeskStore, out: Path, tmp_path: Path) -> None:
    spec = load_spec()
    ids = items_by_spec_id(store, "Q1")
    student = student_names(1)[0]
    save(store, student, "Q1", [ids["q1_conv_params"], ids["q1_dense_params"]], comment="Good.")
    sheet = tmp_path / "sheet.csv"
    with Gradebook(out / GRADEBOOK_NAME) as gradebook:
        export_sheet(gradebook, spec, sheet)
        rows = list(csv.DictReader(sheet.open()))
        row = next(r for r in rows if (r["student"], r["question"]) == (student, "Q1"))
        assert (row["points"], row["comment"]) == ("4", "Good.")

        import_sheet(gradebook, spec, sheet)  # unchanged sheet: nothing moves
        unchanged = store.grade(student, "Q1")
        assert (unchanged.points, unchanged.version, unchanged.adjustment) == (4, 1, 0)

        row["points"] = "3"  # the instructor overrides a point in the spreadsheet
        with sheet.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        import_sheet(gradebook, spec, sheet)
    after = store.grade(student, "Q1")
    assert (after.points, after.adjustment, after.version) == (3, -1, 2)
    assert after.applied == {ids["q1_conv_params"], ids["q1_dense_params"]}

    item = next(i for i in store.rubric("Q1") if i.id == ids["q1_conv_params"])
    store.edit_item(item.id, points=1, comment=item.comment, version=item.version, grader="bob")
    assert store.grade(student, "Q1").points == 2  # 1 + 2 - 1: the override is kept


def test_regrading_keeps_the_desks_grades(store: DeskStore, out: Path) -> None:
    ids = list(items_by_spec_id(store, "Q5").values())
    student = student_names(1)[0]
    save(store, student, "Q5", ids, comment="Both filters shown.")
    with Gradebook(out / GRADEBOOK_NAME) as gradebook:
        stored = next(g for g in gradebook.current_grades(load_spec().fingerprint))
        before = gradebook.manual()
        gradebook.record(stored.key, stored.result, b"", 1)  # what `grade --force` does
        assert gradebook.manual() == before
    rerender(out)
    assert store.grade(student, "Q5").points == 5


def test_a_gradebook_from_before_the_desk_gains_its_columns_and_keeps_hand_grades(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE manual_grades (student TEXT NOT NULL, question TEXT NOT NULL, "
            "points REAL, comment TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL, "
            "PRIMARY KEY (student, question))"
        )
        db.execute("INSERT INTO manual_grades VALUES ('ada', 'Q1', 4, 'ok', 'then')")
    with Gradebook(path) as gradebook:
        manual = gradebook.manual()
    assert manual["ada"]["Q1"]["points"] == 4 and manual["ada"]["Q1"]["rubric"] == []
    columns = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(manual_grades)")}
    assert {"adjustment", "grader", "version"} <= columns


def test_report_shows_applied_items_and_comment(store: DeskStore, out: Path) -> None:
    ids = items_by_spec_id(store, "Q6")
    student = student_names(2)[1]
    save(store, student, "Q6", [ids["q6_tests_interaction"]], comment="Add the XOR case.")
    rerender(out)
    html = (out / "students" / student / "report.html").read_text()
    assert "<strong>3 points</strong>: Add the XOR case." in html
    assert "Tests the model on sequences with none, one and both motifs" in html
    index = (out / "index.html").read_text()
    assert 'href="desk.html"' in index and "1 / 6" in index


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_that_mention_a_question_are_found() -> None:
    report = read_pdf("r.pdf", pdf_report(PDF_PAGES))
    assert len(report.page_texts) == 3
    assert report.pages_for("Q1") == [1]
    assert report.pages_for("Q2") == [2]
    assert report.pages_for("Q5") == []
    assert read_pdf("bad.pdf", b"%PDF-1.4 not really").problem


# --------------------------------------------------------------------------- web


def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_of(url: str, data: bytes | None = None, browser=None) -> int:
    try:
        return (browser or urllib.request.build_opener()).open(url, data).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_token_is_required(out: Path) -> None:
    with running_desk(out) as desk:
        assert status_of(desk.base_url + "/") == 403
        assert status_of(desk.base_url + "/q/Q1") == 403
        assert status_of(desk.base_url + "/?token=wrong-token-of-some-length") == 403
        assert status_of(desk.base_url + "/assets/desk.js") == 403
        browser = opener()
        response = browser.open(desk.url)
        assert response.status == 200 and "token" not in response.url
        assert browser.open(desk.base_url + "/q/Q1/rubric").status == 200


def test_non_loopback_addresses_need_allow_remote() -> None:
    token = "t" * 32
    check_bind("127.0.0.1", allow_remote=False, token=token)
    check_bind("::1", allow_remote=False, token=token)
    with pytest.raises(DeskError, match="--allow-remote"):
        check_bind("0.0.0.0", allow_remote=False, token=token)
    check_bind("0.0.0.0", allow_remote=True, token=token)
    with pytest.raises(DeskError, match="token"):
        check_bind("0.0.0.0", allow_remote=True, token="short")


def test_cli_refuses_a_public_address_without_allow_remote(out: Path) -> None:
    result = CliRunner().invoke(cli, ["desk", "--out", str(out), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output
    missing = CliRunner().invoke(cli, ["desk", "--out", str(out / "nowhere")])
    assert missing.exit_code == 2 and "no gradebook" in missing.output


def test_answers_render_as_markdown_without_raw_html(out: Path) -> None:
    with running_desk(out) as desk:
        browser = opener()
        browser.open(desk.url)
        response = browser.open(f"{desk.base_url}/q/Q1/a/{HOSTILE_STUDENT}")
        html = response.read().decode()
        assert "script-src 'self'" in response.headers["content-security-policy"]
        good = browser.open(f"{desk.base_url}/q/Q1/a/{student_names(1)[0]}").read().decode()
    assert "&lt;script&gt;window.pwned" in html
    assert "<script>window" not in html and "<img src=x" not in html
    assert "<strong>913 parameters</strong>" in good


def test_answer_page_shows_the_students_evidence_and_pdf_pages(out: Path) -> None:
    with running_desk(out) as desk:
        browser = opener()
        browser.open(desk.url)
        q1 = browser.open(f"{desk.base_url}/q/Q1/a/{PDF_STUDENT}").read().decode()
        q2 = browser.open(f"{desk.base_url}/q/Q2/a/{PDF_STUDENT}").read().decode()
        page = browser.open(f"{desk.base_url}/pdf/{PDF_STUDENT}/page/1.png").read()
        figure = browser.open(f"{desk.base_url}/fig/{PDF_STUDENT}/kernel_sweep").read()
    assert "Page 2 (mentions Q1)" in q1 and "Q1: the model has 913 parameters." in q1
    assert "Page 1 " not in q1  # the introduction does not mention Q1
    assert "Parameter count matches the architecture" in q1 and "914" in q1
    assert f"/fig/{PDF_STUDENT}/kernel_sweep" in q2 and "Kernel-size sweep" in q2
    assert page.startswith(b"\x89PNG") and figure.startswith(b"\x89PNG")


def test_plain_form_posts_save_and_move_on(out: Path) -> None:
    """Without JavaScript: a form post saves, then redirects to the next answer."""
    first, second = student_names(2)
    with running_desk(out, grader="carol") as desk:
        browser = opener()
        browser.open(desk.url)
        items = [i.id for i in desk.store.rubric("Q2")]
        form = urllib.parse.urlencode(
            {"version": 0, "item": items[0], "comment": "ok", "adjustment": "0", "then": "next"}
        ).encode()
        response = browser.open(f"{desk.base_url}/q/Q2/a/{first}", form)
        assert response.url.endswith(f"/q/Q2/a/{second}")
        stale = urllib.parse.urlencode({"version": 0, "item": items[1], "then": "next"}).encode()
        assert status_of(f"{desk.base_url}/q/Q2/a/{first}", stale, browser) == 409
        grade = desk.store.grade(first, "Q2")
    assert (grade.points, grade.comment, grade.grader, grade.applied) == (
        2,
        "ok",
        "carol",
        {items[0]},
    )


def test_anonymous_desk_hides_names_and_exports_show_them(out: Path, tmp_path: Path) -> None:
    names = student_names(6)
    with running_desk(out, anonymous=True) as desk:
        browser = opener()
        browser.open(desk.url)
        first = browser.open(f"{desk.base_url}/q/Q1")
        pages = [first.read().decode()]
        codes = [e.sid for e in desk.store.roster]
        pages += [browser.open(f"{desk.base_url}/q/Q1/a/{c}").read().decode() for c in codes]
        pages.append(browser.open(f"{desk.base_url}/q/Q1/a/{codes[0]}").read().decode())
        assert status_of(f"{desk.base_url}/q/Q1/a/{names[0]}", browser=browser) == 404
        items = [i.id for i in desk.store.rubric("Q1")]
        form = urllib.parse.urlencode({"version": 0, "item": items[0]}).encode()
        browser.open(f"{desk.base_url}/q/Q1/a/{codes[0]}", form)
    for html in pages:
        assert not any(f">{name}<" in html or f"{name}_hw4" in html for name in names)
    with Gradebook(out / GRADEBOOK_NAME) as gradebook:
        export_sheet(gradebook, load_spec(), tmp_path / "sheet.csv")
    rows = list(csv.DictReader((tmp_path / "sheet.csv").open()))
    graded = [r for r in rows if r["question"] == "Q1" and r["points"]]
    assert len(graded) == 1 and graded[0]["student"] in names


def test_desk_command_prints_its_address_and_links_the_class_index(out: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "desk", "--out", str(out), "--grader", "dana"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Grading desk: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        link = out / "desk.html"
        assert stat.S_IMODE(link.stat().st_mode) == 0o600
        assert url in link.read_text()
        browser = opener()
        assert "dana" in browser.open(url).read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0
    assert not (out / "desk.html").exists()

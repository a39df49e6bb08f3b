"""The grading desk in a real browser: Debian's Chromium driven by Playwright.

A TA's walk-through: grading with the keyboard only, a rubric edit that moves the
gradebook and the reports, two graders on one answer, the token, a phone-sized
screen. A failing test leaves a screenshot (its path is printed with the failure).
Each test grades its own question so the tests do not depend on their order.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.batch import GRADEBOOK_NAME, rerender
from grader.desk.server import DeskHandle, running_desk
from grader.gradebook.store import Gradebook
from tests.desk_class import build_class, student_names

CHROMIUM = os.environ.get("MOTIFGRADER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is missing")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def desk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_class(tmp_path_factory.mktemp("desk-browser") / "out", 20)


@pytest.fixture(scope="module")
def desk(desk_out: Path) -> Iterator[DeskHandle]:
    with running_desk(desk_out, grader="alice") as handle:
        yield handle


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, request: pytest.FixtureRequest, tmp_path_factory) -> Iterator:
    """new_page(width, height) -> a page in a fresh context; screenshots if the test fails."""
    contexts = []

    def new_page(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    failed_before = request.session.testsfailed
    yield new_page
    if request.session.testsfailed > failed_before:
        folder = Path(
            os.environ.get("MOTIFGRADER_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots")
        )
        folder.mkdir(parents=True, exist_ok=True)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                path = folder / f"{request.node.name}-{n}-{m}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of the failed test: {path}")
    for context in contexts:
        context.close()


def signed_in(new_page, desk: DeskHandle, **size):
    page = new_page(**size)
    page.goto(desk.url)
    return page


def wait_saved(page, points: str) -> None:
    page.wait_for_function(
        "p => document.getElementById('grade-form').dataset.state === 'saved' && "
        "document.getElementById('points').textContent === p",
        arg=points,
    )


def manual_grades(out: Path) -> dict:
    with Gradebook(out / GRADEBOOK_NAME) as gradebook:
        return gradebook.manual()


def test_three_students_q1_graded_with_the_keyboard_only(desk, desk_out, open_page) -> None:
    page = signed_in(open_page, desk)
    page.goto(f"{desk.base_url}/q/Q1")  # the first answer nobody graded
    plan = {  # student: (keys, points, comment)
        "ada": ("12", "4", "Both layers right."),
        "bea": ("1", "2", ""),
        "cai": ("134", "2", "Weights are not hyper-parameters."),
    }
    for student, (keys, points, comment) in plan.items():
        page.wait_for_selector("body[data-ready='1']")
        assert page.inner_text("#student-label") == student
        for key in keys:
            page.keyboard.press(key)
        wait_saved(page, points)
        if comment:
            page.keyboard.press("c")
            page.keyboard.type(comment)
            page.keyboard.press("Control+Enter")
            page.wait_for_function(
                "c => document.getElementById('grade-form').dataset.state === 'saved' && "
                "document.getElementById('comment').defaultValue === c",
                arg=comment,
            )
        page.keyboard.press("n")
        page.wait_for_url(lambda url, s=student: not url.endswith(f"/a/{s}"))
    assert page.inner_text("#student-label") == "dev"
    assert page.inner_text("#graded-count") == "3"

    manual = manual_grades(desk_out)
    for student, (keys, points, comment) in plan.items():
        entry = manual[student]["Q1"]
        assert entry["points"] == float(points)
        assert entry["comment"] == comment
        assert entry["grader"] == "alice"
        assert len(entry["rubric"]) == len(keys)
    page.keyboard.press("?")
    assert page.locator("#shortcuts").get_attribute("open") is not None
    page.keyboard.press("g")
    page.wait_for_url(f"{desk.base_url}/")
    assert page.inner_text("tr[data-question='Q1'] .graded-count") == "3"


def test_rubric_edit_changes_totals_in_gradebook_and_report(desk, desk_out, open_page) -> None:
    page = signed_in(open_page, desk)
    for student, keys, points in (("dev", "12", "5"), ("eli", "1", "2")):
        page.goto(f"{desk.base_url}/q/Q2/a/{student}")
        page.wait_for_selector("body[data-ready='1']")
        for key in keys:
            page.keyboard.press(key)
        wait_saved(page, points)
    rerender(desk_out)
    before = grades_row(desk_out, "eli")

    page.keyboard.press("r")
    page.wait_for_url("**/q/Q2/rubric**")
    row = page.locator("form.item-row").first
    assert row.locator(".applied-count").inner_text() == "applied to 2 answers"
    row.locator("input[name=points]").fill("1.5")
    row.locator("button").click()
    page.wait_for_selector("#rescored")
    assert "re-scored 2 answers" in page.inner_text("#rescored")
    page.keyboard.press("Escape")  # back to the answer
    page.wait_for_url("**/q/Q2/a/eli")
    assert page.inner_text("#points") == "1.5"

    manual = manual_grades(desk_out)
    assert (manual["dev"]["Q2"]["points"], manual["eli"]["Q2"]["points"]) == (4.5, 1.5)
    rerender(desk_out)  # what `motifgrader report` does
    after = grades_row(desk_out, "eli")
    assert float(after["Q2"]) == pytest.approx(float(before["Q2"]) - 0.5)
    assert float(after["score"]) == pytest.approx(float(before["score"]) - 0.5)
    report = (desk_out / "students" / "eli" / "report.html").read_text()
    assert (
        "<strong>1.5 points</strong>" in report
        and "<strong>+1.5</strong> Reports ROC AUC" in report
    )


def grades_row(out: Path, student: str) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO((out / "grades.csv").read_text()))
    return next(r for r in rows if r["student"] == student)


def test_two_graders_on_one_answer_end_in_a_visible_conflict(desk, desk_out, open_page) -> None:
    alice = signed_in(open_page, desk)
    bob = signed_in(open_page, desk)
    bob.fill("input[name=name]", "bob")
    bob.click("text=Use this name")
    bob.wait_for_url(f"{desk.base_url}/")
    for page in (alice, bob):
        page.goto(f"{desk.base_url}/q/Q3/a/fay")
        page.wait_for_selector("body[data-ready='1']")

    alice.keyboard.press("1")
    wait_saved(alice, "2")
    bob.keyboard.press("2")  # bob's page still shows the answer before alice's save

    bob.wait_for_selector("#conflict:not([hidden])")
    assert "alice saved this answer while you had it open" in bob.inner_text("#conflict")
    assert bob.locator("#grade-form").get_attribute("data-state") == "conflict"
    boxes = bob.locator("input[name=item]")
    assert boxes.nth(0).is_checked() and not boxes.nth(1).is_checked()  # alice's version

    entry = manual_grades(desk_out)["fay"]["Q3"]
    assert (entry["points"], entry["grader"], len(entry["rubric"])) == (2, "alice", 1)
    bob.keyboard.press("2")  # on the fresh version bob's change goes through
    wait_saved(bob, "5")
    assert manual_grades(desk_out)["fay"]["Q3"]["grader"] == "bob"


def test_the_desk_needs_its_token(desk, open_page) -> None:
    stranger = open_page()
    response = stranger.goto(f"{desk.base_url}/q/Q1/a/ada")
    assert response.status == 403
    assert "needs its token" in stranger.inner_text("h1")
    assert stranger.goto(f"{desk.base_url}/?token=not-the-token-at-all").status == 403
    response = stranger.goto(desk.url)
    assert response.status == 200 and "token=" not in stranger.url
    assert stranger.goto(f"{desk.base_url}/q/Q1/a/ada").status == 200


def test_a_390_pixel_screen_stays_usable(desk, desk_out, open_page) -> None:
    page = signed_in(open_page, desk, width=390, height=844)
    page.goto(f"{desk.base_url}/q/Q4/a/gus")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#answer", "#grade-form", "#save-next", "#next"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    page.locator("label.item").first.click()  # a tap on the item's row applies it
    wait_saved(page, "3")
    page.fill("#comment", "Say how PR AUC changes too.")
    page.click("#save-next")
    page.wait_for_url("**/q/Q4/a/hal")
    entry = manual_grades(desk_out)["gus"]["Q4"]
    assert (entry["points"], entry["comment"]) == (3, "Say how PR AUC changes too.")
    page.goto(f"{desk.base_url}/q/Q4/rubric")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{desk.base_url}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_every_student_has_an_answer_page(desk) -> None:
    assert [e.student for e in desk.store.roster] == student_names(20)

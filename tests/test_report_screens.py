"""The reports read on a phone and on a desktop: headless Chromium finds no sideways scroll.

Each page is laid out in a viewport of the screen's width (390 px, a phone; 1280 px, a
laptop), in Debian's Chromium driven by Playwright (no browser download). The page fails
if its body is wider than the screen, that is if the reader would have to scroll the
whole page sideways (a wide table may scroll inside its own box). The reports are
rendered from `demanding_result`: long unbroken words, wide figures, a Markdown table in
an answer, long tracebacks. Needs the Debian package `chromium`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.outputs.report import SelfCheckTotals, render_index, render_student_report
from grader.spec import load_spec
from tests.test_report_view import demanding_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPEC = load_spec()
WIDTHS = (390, 1280)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install -y chromium)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is missing")

MEASURE = """() => {
  const root = document.documentElement, wide = [];
  document.querySelectorAll("body *").forEach((el) => {
    const box = el.getBoundingClientRect();
    const scrolled = el.closest(".table-wrap, pre, table, details");
    if (box.right > root.clientWidth + 1 && !scrolled && wide.length < 10)
      wide.push(el.tagName.toLowerCase() + "." + el.className + " @" + Math.round(box.right));
  });
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def layout(browser, pages: dict[str, Path]) -> dict[str, dict]:
    """Every page at every width: scroll and client widths, and what sticks out."""
    boxes = {}
    for name, path in pages.items():
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 800})
            try:
                page.goto(path.as_uri(), wait_until="load")
                boxes[f"{name}@{width}"] = page.evaluate(MEASURE)
            finally:
                page.close()
    return boxes


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory, browser) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("screens")
    result = demanding_result()
    verdicts = {c.name: ("failed", c.message) for c in result.checks}
    pages = {
        "report": render_student_report(result, SPEC, kernel_reference={"3": 0.8}),
        "selfcheck": render_student_report(
            result, SPEC, self_check=SelfCheckTotals(23, 45, 55, 30, verdicts)
        ),
        "index": render_index(
            [demanding_result(f"student_{i:03d}_{'x' * 30}") for i in range(25)],
            SPEC,
            secret=False,
        ),
    }
    paths = {}
    for name, html in pages.items():
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(html, encoding="utf-8")
    return layout(browser, paths)


SORT = """() => {
  const table = document.getElementById("students");
  const headers = table.querySelectorAll("th.sortable"), auto = headers[2];
  const first = () => table.tBodies[0].rows[0].cells[0].innerText.trim();
  const button = auto.querySelector("button");
  const seen = {before: auto.getAttribute("aria-sort"), focusable: button.tabIndex};
  button.click();
  seen.once = [auto.getAttribute("aria-sort"), headers[0].getAttribute("aria-sort"), first()];
  button.click();
  seen.twice = [auto.getAttribute("aria-sort"), first()];
  return seen;
}"""


def test_sorting_by_a_header_button_reorders_rows_and_sets_aria_sort(
    tmp_path: Path, browser
) -> None:
    results = [demanding_result(name) for name in ("ada", "bo", "cy")]
    results[1] = type(results[1])(**{**results[1].__dict__, "checks": results[1].checks[:3]})
    (tmp_path / "index.html").write_text(render_index(results, SPEC, secret=True))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto((tmp_path / "index.html").as_uri(), wait_until="load")
        seen = page.evaluate(SORT)
    finally:
        page.close()
    assert seen["before"] == "none" and seen["focusable"] == 0
    assert seen["once"] == ["ascending", "none", "bo"]  # bo has the fewest points
    assert seen["twice"][0] == "descending" and seen["twice"][1] != "bo"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", ["report", "selfcheck", "index"])
def test_page_never_scrolls_sideways(laid_out: dict[str, dict], page: str, width: int) -> None:
    box = laid_out[f"{page}@{width}"]
    assert box["client"] <= width
    assert box["scroll"] <= box["client"], f"{page} at {width}px overflows: {box['wide']}"
    assert box["wide"] == []

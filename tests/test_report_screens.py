"""The reports read on a phone and on a desktop: headless Chromium finds no sideways scroll.

Each page is laid out in an iframe of the screen's width (390 px, a phone; 1280 px,
a laptop): Chromium's own window cannot be narrower than 500 px. The page fails if
its body is wider than the screen, that is if the reader would have to scroll the
whole page sideways (a wide table may scroll inside its own box). The reports are
rendered from `demanding_result`: long unbroken words, wide figures, a Markdown
table in an answer, long tracebacks. Needs the Debian package `chromium`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from grader.report import SelfCheckTotals, render_index, render_student_report
from grader.spec import load_spec
from tests.test_report_view import demanding_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPEC = load_spec()
WIDTHS = (390, 1280)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install -y chromium)",
)

PROBE = """<!doctype html><html><body style="margin:0">{frames}
<pre id="probe"></pre>
<script>
var results = {{}}, pending = {count};
document.querySelectorAll("iframe").forEach(function (frame) {{
  frame.addEventListener("load", function () {{
    var doc = frame.contentDocument, root = doc.documentElement, wide = [];
    doc.querySelectorAll("body *").forEach(function (el) {{
      var box = el.getBoundingClientRect();
      var scrolled = el.closest(".table-wrap, pre, table, details");
      if (box.right > root.clientWidth + 1 && !scrolled && wide.length < 10)
        wide.push(el.tagName.toLowerCase() + "." + el.className + " @" + Math.round(box.right));
    }});
    results[frame.id] = {{scroll: root.scrollWidth, client: root.clientWidth, wide: wide}};
    if (--pending === 0) document.getElementById("probe").textContent = JSON.stringify(results);
  }});
}});
</script></body></html>"""


def layout(pages: dict[str, Path]) -> dict[str, dict]:
    """Lay out every page at every width in one Chromium run; scroll and client widths."""
    folder = next(iter(pages.values())).parent
    frames = "".join(
        f'<iframe id="{name}@{width}" src="{path.name}" '
        f'style="width:{width}px;height:800px;border:0"></iframe>'
        for name, path in pages.items()
        for width in WIDTHS
    )
    probe = folder / "probe.html"
    probe.write_text(PROBE.format(frames=frames, count=len(pages) * len(WIDTHS)))
    return json.loads(dump_probe(probe))


def dump_probe(probe: Path) -> str:
    """Open `probe` in headless Chromium; what its script wrote into <pre id="probe">."""
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--window-size=1400,900",
            "--virtual-time-budget=15000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), done.stderr[-2000:]
    return unescape(found.group(1))


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
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
    return layout(paths)


SORT_PROBE = """<!doctype html><html><body>
<iframe id="frame" src="{page}" style="width:1280px;height:800px;border:0"></iframe>
<pre id="probe"></pre>
<script>
document.getElementById("frame").addEventListener("load", function () {{
  var doc = this.contentDocument, table = doc.getElementById("students");
  var headers = table.querySelectorAll("th.sortable"), auto = headers[2];
  function first() {{ return table.tBodies[0].rows[0].cells[0].innerText.trim(); }}
  var button = auto.querySelector("button");
  var seen = {{before: auto.getAttribute("aria-sort"), focusable: button.tabIndex}};
  auto.querySelector("button").click();
  seen.once = [auto.getAttribute("aria-sort"), headers[0].getAttribute("aria-sort"), first()];
  auto.querySelector("button").click();
  seen.twice = [auto.getAttribute("aria-sort"), first()];
  document.getElementById("probe").textContent = JSON.stringify(seen);
}});
</script></body></html>"""


def test_sorting_by_a_header_button_reorders_rows_and_sets_aria_sort(tmp_path: Path) -> None:
    results = [demanding_result(name) for name in ("ada", "bo", "cy")]
    results[1] = type(results[1])(**{**results[1].__dict__, "checks": results[1].checks[:3]})
    (tmp_path / "index.html").write_text(render_index(results, SPEC, secret=True))
    probe = tmp_path / "sort.html"
    probe.write_text(SORT_PROBE.format(page="index.html"))
    seen = json.loads(dump_probe(probe))
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

"""Grading desk speed: page-to-page time to the next answer (target: under 100 ms).

    python benchmarks/bench_desk.py [--answers 200] [--question Q2] [--pause 0.5]

A class of that many students is written to a temporary gradebook (every check,
answers, figures; no notebooks run), the desk serves it, and Debian's Chromium
(driven by Playwright) walks the question with the `n` key as a TA does. Each
step is timed in the page from the key's handler until the next answer is shown
with its shortcuts live, and until its figures have loaded too; the wall clock seen
through Playwright's driver (its own round trips included) is printed beside it, and
so is the server's time per answer page fetched without a browser. The desk runs in
its own process, as `motifgrader desk` does. Question Q2 shows two figures per
student, so their transfer is part of the time; with `--pause` the TA reads each
answer for a while, and the desk fetches the next answer's figures meanwhile.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.desk_class import build_class, student_names  # noqa: E402

TARGET_MS = 100.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(name: str, millis: list[float]) -> str:
    median, p95 = statistics.median(millis), percentile(millis, 0.95)
    verdict = "meets" if p95 < TARGET_MS else "ABOVE"
    return (
        f"{name}: median {median:.1f} ms, p95 {p95:.1f} ms, max {max(millis):.1f} ms "
        f"over {len(millis)} answers ({verdict} the {TARGET_MS:.0f} ms target at p95)"
    )


def browser_steps(
    base_url: str, url: str, question: str, answers: int, pause: float
) -> dict[str, list[float]]:
    """Per step: the browser's own navigation timing, and the wall clock seen from here."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"ready": [], "loaded": [], "wall": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(url)
        page.goto(f"{base_url}/q/{question}")
        page.wait_for_selector("body[data-ready='1']")
        for _ in range(answers - 1):
            page.wait_for_timeout(1000 * pause)  # the TA reads the answer
            label = page.inner_text("#student-label")
            started = time.perf_counter()
            page.keyboard.press("n")
            page.wait_for_function(
                "l => document.body.dataset.ready === '1' && "
                "document.getElementById('student-label').textContent !== l",
                arg=label,
            )
            timing = page.evaluate(NAVIGATION_TIMING)
            times["wall"].append(1000 * (time.perf_counter() - started))
            times["ready"].append(timing["ready"])
            times["loaded"].append(timing["loaded"])
        browser.close()
    return times


# Measured in the page, from the key's handler starting the move: until the next
# answer is shown with its shortcuts live, and until its figures have loaded too.
NAVIGATION_TIMING = """async () => {
  const nav = window.deskNavigation;
  await Promise.all([...document.images].map(image => image.complete ? null :
    new Promise(done => { image.onload = done; image.onerror = done; })));
  return {ready: nav.shown - nav.started, loaded: performance.now() - nav.started};
}"""


def server_steps(base_url: str, url: str, question: str, sids: list[str]) -> list[float]:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    opener.open(url).read()
    times = []
    for sid in sids:
        started = time.perf_counter()
        opener.open(f"{base_url}/q/{question}/a/{sid}").read()
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--question", default="Q2")
    parser.add_argument(
        "--pause", type=float, default=0.0, help="Seconds on each answer before `n` (reading)."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp:
        started = time.perf_counter()
        out = build_class(Path(tmp) / "out", args.answers, reports=False)
        print(f"class of {args.answers} written in {time.perf_counter() - started:.1f} s")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        # The desk in its own process, started as a TA starts it.
        desk = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "desk", "--out", str(out), "--grader", "bench"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "300"},
        )
        try:
            url = desk.stdout.readline().split(": ", 1)[1].strip()
            base_url = url.split("/?", 1)[0]
            sids = student_names(args.answers)
            server = server_steps(base_url, url, args.question, sids)
            print(summary("server, answer page HTML", server))
            steps = browser_steps(base_url, url, args.question, args.answers, args.pause)
            print(summary("browser, next answer shown and its shortcuts live", steps["ready"]))
            print(summary("browser, next answer with its figures loaded", steps["loaded"]))
            print(summary("wall clock through Playwright's driver", steps["wall"]))
        finally:
            desk.send_signal(signal.SIGINT)
            desk.wait(timeout=30)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

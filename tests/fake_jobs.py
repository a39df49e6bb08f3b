"""Stand-in grading jobs for the batch tests: fast, picklable, and controllable.

They return realistic results without running notebooks, so the tests of the
coordinator (gradebook, resume, retries, clusters) take seconds. Set
MOTIFGRADER_FAKE_JOB_SLEEP to make each job take that long.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.checks.registry import CheckContext, run_checks
from grader.checks.results import StudentResult
from grader.grade import GradedSubmission
from grader.harvest.answers import extract_answers
from grader.harvest.validate import Harvest
from grader.intake.discover import Submission
from grader.intake.notebook_file import read_notebook
from grader.score.measure import Scores


def quick_job(submission: Submission, spec, seed, options, expectations) -> GradedSubmission:
    """Grade without a kernel: every check runs on an empty harvest plus the answers."""
    delay = float(os.environ.get("MOTIFGRADER_FAKE_JOB_SLEEP", "0"))
    figure_kb = int(os.environ.get("MOTIFGRADER_FAKE_FIGURE_KB", "0"))
    if delay:
        time.sleep(delay)
    notebook, _ = read_notebook(submission.notebook_bytes)
    harvest = Harvest(ran=True, answers=extract_answers(notebook))
    ctx = CheckContext(spec, harvest, Scores(), "ok", "ran", (), {})
    result = StudentResult(
        student=submission.student,
        status="ok",
        status_message="fake job",
        checks=run_checks(ctx),
        submission_hash=submission.content_hash,
        details={"answers": harvest.answers},
        figures={"roc": "data:image/png;base64," + "A" * (figure_kb * 1024)} if figure_kb else {},
        timings={"execution_s": delay},
    )
    return GradedSubmission(result, submission.notebook_bytes)


def dies_once_job(submission: Submission, spec, seed, options, expectations) -> GradedSubmission:
    """Kills its own worker process the first time it sees a student (marker in $TMPDIR)."""
    marker = Path(os.environ["MOTIFGRADER_FAKE_MARKERS"]) / submission.student
    if not marker.exists():
        marker.write_text("died once")
        os._exit(17)
    return quick_job(submission, spec, seed, options, expectations)


def always_raises_job(submission, spec, seed, options, expectations) -> GradedSubmission:
    raise RuntimeError("the grading machine lost its disk")

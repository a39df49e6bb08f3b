"""The coordinator never imports TensorFlow: it costs seconds and the coordinator needs none."""

import subprocess
import sys

from grader.checks.registry import QUESTION_MODULES

COORDINATOR_MODULES = [
    "grader.cli",
    "grader.batch",
    "grader.grade",
    "grader.run.session",
    "grader.harvest.steps",
    "grader.harvest.validate",
    "grader.score.measure",
    "grader.checks.registry",
    *(f"grader.checks.{name}" for name in QUESTION_MODULES),
    "grader.outputs.report",
    "grader.outputs.exports",
    "grader.gradebook.store",
    "grader.gradebook.manual",
    "grader.outputs.figures",
    "reference.plots",
]


def test_coordinator_modules_do_not_import_tensorflow_or_keras():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in COORDINATOR_MODULES)
        + "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_cli_help_runs_without_tensorflow():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from grader.cli import main\n"
        "result = CliRunner().invoke(main, ['grade', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"

"""The coordinator never imports TensorFlow: it costs seconds and the coordinator needs none."""

import subprocess
import sys

COORDINATOR_MODULES = [
    "grader.cli",
    "grader.batch",
    "grader.pipeline",
    "grader.execute",
    "grader.harvest",
    "grader.score",
    "grader.checks",
    "grader.report",
    "grader.export",
    "grader.gradebook",
    "grader.manual",
    "grader.figures",
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

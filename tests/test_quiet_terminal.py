"""TensorFlow's C++ log lines go to log files, never to the instructor's or student's terminal.

Fast tests of the wiring, with a stand-in that writes to file descriptor 2 the way
TensorFlow does (from this process and from a child process). The end-to-end proof,
`motifgrader check` on the starter with its real kernel, is in
test_selfcheck_agreement.py (slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import REFERENCE_LOG_NAME, main
from grader.run.session import KERNEL_STDERR
from grader.terminal import (
    QUIET_TENSORFLOW_ENV,
    captured_kernel_stderr,
    quiet_tensorflow_environment,
    read_log_tail,
    stderr_to_file,
)

ONEDNN = b"I0000 00:00:1.0 port.cc:153] oneDNN custom operations are on.\n"
ABSL = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"


def write_like_tensorflow() -> None:
    """C++-style writes to descriptor 2, here and in a child process."""
    os.write(2, ONEDNN)
    subprocess.run([sys.executable, "-c", f"import os; os.write(2, {ABSL!r})"], check=True)


def test_stderr_to_file_takes_descriptor_2_of_this_process_and_its_children(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run.log"
    with stderr_to_file(log):
        write_like_tensorflow()
    os.write(2, b"after\n")
    captured = capfd.readouterr()
    assert "oneDNN" not in captured.err and "absl" not in captured.err
    assert captured.err == "after\n"
    assert log.read_bytes() == ONEDNN + ABSL


def test_kernel_stderr_goes_to_an_anonymous_file_only_inside_the_block() -> None:
    assert KERNEL_STDERR.get() is None
    with captured_kernel_stderr() as log:
        handle = KERNEL_STDERR.get()
        assert handle is log.handle
        subprocess.run(
            [sys.executable, "-c", f"import os; os.write(2, {ONEDNN!r})"], stderr=handle, check=True
        )
    assert KERNEL_STDERR.get() is None
    assert log.text == ONEDNN.decode()


def test_a_long_log_keeps_its_tail_and_says_what_was_dropped(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w+b") as handle:
        handle.write(b"x" * 100 + b"\n" + b"last line\n")
        text = read_log_tail(handle, limit=20)
    assert text.startswith("[... the first 91 bytes are not kept ...]\n")
    assert text.endswith("last line\n")


def test_quiet_environment_sets_only_what_is_unset() -> None:
    env = quiet_tensorflow_environment({"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert env["ABSL_MIN_LOG_LEVEL"] == QUIET_TENSORFLOW_ENV["ABSL_MIN_LOG_LEVEL"]


def test_reference_command_sends_tensorflow_lines_to_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    with stderr_to_file(tmp_path / "import.log"):
        import grader.answer_key  # TensorFlow's own lines: not what is tested here

    def fake_run_reference(out_dir: Path, **kwargs) -> dict:
        write_like_tensorflow()
        (Path(out_dir) / "report.html").write_text("<html></html>")
        return {"q1": {}}

    monkeypatch.setattr(grader.answer_key, "run_reference", fake_run_reference)
    out = tmp_path / "key"
    result = CliRunner().invoke(main, ["reference", "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    terminal = result.output + capfd.readouterr().err
    assert "oneDNN" not in terminal and "absl" not in terminal
    assert f"log: {out / REFERENCE_LOG_NAME}" in result.output
    assert (out / REFERENCE_LOG_NAME).read_bytes() == ONEDNN + ABSL

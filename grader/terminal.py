"""Keep the terminal for the grader's own sentences.

TensorFlow writes its start-up lines (oneDNN, CPU features, CUDA, "All log messages
before absl::InitializeLog()") from C++ straight to file descriptor 2, some of them
before `TF_CPP_MIN_LOG_LEVEL` is read and some whatever it says. So the grader sets
that variable for every process it starts and, more to the point, sends file
descriptor 2 of whatever imports TensorFlow to a log file: a kernel's stderr goes to
its job's log (`captured_kernel_stderr`), the reference pipeline's to a log beside
its report (`stderr_to_file`). The logs stay readable; the terminal stays quiet.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grader.run.session import KERNEL_STDERR

# Read by TensorFlow and absl when they start; they quiet most lines, not all.
QUIET_TENSORFLOW_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_CPP_MAX_VLOG_LEVEL": "-1",
    "ABSL_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
}
LOG_TAIL_BYTES = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def quiet_tensorflow_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Set the quieting variables in `env` (default: this process's) unless already set."""
    target = os.environ if env is None else env
    for name, value in QUIET_TENSORFLOW_ENV.items():
        target.setdefault(name, value)
    return dict(target)


def read_log_tail(handle: IO[bytes], limit: int = LOG_TAIL_BYTES) -> str:
    """The last `limit` bytes of an open log, as text without terminal colour codes."""
    handle.flush()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - limit))
    text = handle.read().decode("utf-8", "replace")
    if size > limit:
        text = f"[... the first {size - limit} bytes are not kept ...]\n" + text.split("\n", 1)[-1]
    return _ANSI.sub("", text)


@dataclass
class CapturedLog:
    """A log being written; `text` is its tail once the writer is done."""

    handle: IO[bytes]
    text: str = ""


@contextmanager
def captured_kernel_stderr() -> Iterator[CapturedLog]:
    """Every kernel started inside the block writes its stderr to one private file.

    The file is an anonymous temporary file held open by the grader, not a path in the
    job folder: a notebook cannot swap it for a link to a file it should not read.
    """
    with tempfile.TemporaryFile() as handle:
        log = CapturedLog(handle)
        token = KERNEL_STDERR.set(handle)
        try:
            yield log
        finally:
            KERNEL_STDERR.reset(token)
            log.text = read_log_tail(handle)


@contextmanager
def stderr_to_file(path: Path) -> Iterator[Path]:
    """Point file descriptor 2 of this process (and of the processes it starts) at `path`.

    Python's `sys.stderr` follows, since it writes to descriptor 2; the original is
    restored on leaving, before any exception reaches the terminal.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
            try:
                yield path
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)

"""Which sandbox this machine offers, found by starting a real test process once."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Literal

from grader.run.sandbox import (
    SandboxInfo,
    SandboxLimits,
    SandboxUnavailable,
    blocking_ancestor,
    can_use_job_uids,
    prepare_job,
    scrubbed_environment,
)
from grader.run.wrap import wrap_kernel_command

PROBE_CODE = "import os, sys; sys.stdout.write('uid=%d' % os.getuid())"


def _try_sandbox(sandbox: SandboxInfo, python: str) -> tuple[bool, str]:
    """Run the real wrapped command once; (works, why not)."""
    with tempfile.TemporaryDirectory(prefix="mg-probe-") as folder:
        try:
            job = prepare_job(Path(folder), sandbox)
        except SandboxUnavailable as exc:
            return False, str(exc)
        with job:
            command = wrap_kernel_command(
                [python, "-c", PROBE_CODE], job=job, sandbox=sandbox, limits=SandboxLimits()
            )
            try:
                done = subprocess.run(
                    command,
                    env=scrubbed_environment(job=job),
                    capture_output=True,
                    text=True,
                    timeout=60,
                    start_new_session=True,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return False, f"the test command failed ({exc})"
    expected = f"uid={job.uid if job.uid is not None else os.geteuid()}"
    if done.returncode == 0 and done.stdout.strip() == expected:
        return True, ""
    last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    return False, last.removeprefix("bwrap: ")


def _unreachable_python(python: str) -> str:
    """Why another user cannot run `python` ("" when nothing on its path blocks them)."""
    for path in (Path(python).absolute(), Path(python).resolve()):
        blocked = blocking_ancestor(path)
        if blocked is not None:
            mode = blocked.stat().st_mode & 0o777
            return f"{blocked} (mode {mode:o}) hides the Python installation from other users"
    return ""


def _limits_and_user(kind: str, job_user: bool, because: str = "") -> str:
    """The end of a detail sentence: which limits hold and who the kernel runs as."""
    root = os.geteuid() == 0
    if job_user:
        who = "a per-job uid"
    elif kind == "bubblewrap":
        who = "root without capabilities" if root else "the grader's user"
    else:
        who = "root" if root else "the grader's user"
        who += f", because {because}" if because else ""
    # RLIMIT_NPROC means nothing to root, and inside bwrap a user's other tasks can't be counted.
    nproc = job_user or (kind == "fallback" and not root)
    limits = "CPU, file-size and process limits" if nproc else "CPU and file-size limits"
    return f"{limits} and a memory watchdog; kernel runs as {who}"


@functools.cache
def _probe(prefer: str, python: str, bwrap: str | None) -> SandboxInfo:
    job_user = can_use_job_uids()
    if prefer == "fallback":
        reason = "not requested"
    elif bwrap is None:
        reason = "bwrap is not installed; install the 'bubblewrap' package"
    else:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout
        detail = (
            f"{version.strip() or 'bubblewrap'}: no network, read-only system, private /tmp, "
            f"own PID namespace; {_limits_and_user('bubblewrap', job_user)}"
        )
        info = SandboxInfo("bubblewrap", detail, job_user=job_user, bwrap=bwrap)
        works, reason = _try_sandbox(info, python)
        if works:
            return info
        reason = f"bwrap failed: {reason}"
    if prefer == "bubblewrap":
        raise SandboxUnavailable(f"bubblewrap was asked for but cannot be used: {reason}.")
    head = f"bubblewrap unavailable ({reason}); "
    because = ""
    if job_user:
        info = SandboxInfo("fallback", head + _limits_and_user("fallback", True), job_user=True)
        works, why = _try_sandbox(info, python)
        if works:
            return info
        because = _unreachable_python(python) or why
    info = SandboxInfo("fallback", head + _limits_and_user("fallback", False, because))
    works, why = _try_sandbox(info, python)
    if not works:
        raise SandboxUnavailable(f"Even the fallback sandbox does not start a kernel: {why}.")
    return info


def probe_sandbox(
    prefer: Literal["auto", "bubblewrap", "fallback"] = "auto", *, python: str | None = None
) -> SandboxInfo:
    """The best isolation that really works here, tested once per process and cached.

    "auto" takes bubblewrap when a real test run succeeds, else the fallback, and the
    detail says why. "bubblewrap" raises `SandboxUnavailable` instead of falling back, so
    an instructor who asked for isolation never silently grades without it. `python` is
    the kernel's interpreter (default: the grader's own).
    """
    if prefer not in ("auto", "bubblewrap", "fallback"):
        raise ValueError(f"sandbox must be 'auto', 'bubblewrap' or 'fallback', not {prefer!r}")
    return _probe(prefer, python or sys.executable, shutil.which("bwrap"))

"""Fail closed: grade only where a student's code is measured to be isolated.

`grader.run.sandbox` builds the cage; this module asks whether the cage holds *here*, for
*this* run, by doing what a hostile notebook would do. Before any submission runs, one
process is started exactly as a kernel would be (same wrapper, same uid, same hidden
paths) and tries to read the secret file, the submissions, the output folder, the
gradebook, the grader's own source and the grader's process environment, and to write
into the folders the grader writes. If any of that works, the run is refused with one
paragraph naming the fix, unless the instructor opted out on purpose, which every
output then shows. A Dask worker checks itself the same way before its first job.

The measurement, not the sandbox's name, decides: bubblewrap with user namespaces
disabled, or a fallback whose per-job uid can still read a world-readable secret, are
refused like a missing sandbox.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.run import detect, processes, wrap
from grader.run import sandbox as sandboxing

log = logging.getLogger(__name__)

OPT_OUT_FLAG = "--i-trust-these-notebooks"
NOT_ISOLATED_BANNER = (
    "NOT ISOLATED: student notebooks ran without a sandbox that keeps them from the secret "
    "seed, other students' files and the grader's outputs (the instructor chose "
    f"{OPT_OUT_FLAG}). Do not publish these grades as if they were safe."
)

# Run by the kernel's Python, inside the sandbox, as the kernel's uid: stdlib only.
PROBE_SCRIPT = r"""
import json, os, sys
request = json.loads(sys.argv[1])
exposed = []

def readable(path):
    if os.path.isdir(path):
        names = os.listdir(path)
        for name in sorted(names)[:20]:
            inner = os.path.join(path, name)
            if os.path.isfile(inner):
                try:
                    with open(inner, "rb") as handle:
                        handle.read(1)
                    return True
                except OSError:
                    continue
        return bool(names)
    with open(path, "rb") as handle:
        handle.read(1)
    return True

for path in request["read"]:
    try:
        if readable(path):
            exposed.append("read " + path)
    except OSError:
        pass
for folder in request["write"]:
    target = os.path.join(folder, request["token"])
    try:
        with open(target, "x") as handle:
            handle.write("isolation probe")
    except OSError:
        continue
    exposed.append("write into " + folder)
    try:
        os.unlink(target)
    except OSError:
        pass
def started(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None

for pid, start in request["pids"]:
    # In its own PID namespace the probe's /proc/1 is the sandbox's init, not the
    # grader's parent (init, under nohup or in a container): only the same process,
    # told by its start time, counts. Unknown start time: assume it is the grader.
    seen = started(pid)
    if seen is not None and start is not None and seen != start:
        continue
    for part in ("environ", "cmdline"):
        try:
            with open("/proc/%d/%s" % (pid, part), "rb") as handle:
                if handle.read(1):
                    exposed.append("read the grader's /proc/%d/%s" % (pid, part))
        except OSError:
            pass
sys.stdout.write(json.dumps({"uid": os.getuid(), "exposed": exposed}))
"""


class IsolationRefused(RuntimeError):
    """Student code would run unisolated here; the message is the paragraph to show."""


@dataclass(frozen=True)
class ProtectedPaths:
    """What a student's process must neither read (`read`) nor change (`write`).

    The grader's own source and the grader's processes are added where the check runs,
    since a remote worker has its own.
    """

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    @classmethod
    def for_run(
        cls,
        *,
        secret_file: Path | str | None,
        submissions: Path | str,
        out_dir: Path | str,
        gradebook: Path | str,
        spec_file: Path | str | None,
    ) -> ProtectedPaths:
        read = [submissions, out_dir, gradebook]
        read += [p for p in (secret_file, spec_file) if p is not None]
        write = [submissions, out_dir, Path(gradebook).parent]
        return cls(
            read=tuple(str(Path(p).absolute()) for p in read),
            write=tuple(str(Path(p).absolute()) for p in write),
        )


@dataclass(frozen=True)
class IsolationVerdict:
    """What the probe process could do, and so whether student code may run here."""

    isolated: bool
    sandbox: str
    """The sandbox's own sentence (kind, limits, uid)."""
    exposed: tuple[str, ...] = ()
    where: str = field(default_factory=lambda: f"{socket.gethostname()} (pid {os.getpid()})")
    allowed_unisolated: bool = False

    @property
    def summary(self) -> str:
        """One line for reports and the gradebook."""
        if self.isolated:
            return f"isolated (measured): {self.sandbox}"
        return f"NOT ISOLATED (opt-out {OPT_OUT_FLAG}): {self.sandbox}"


def _existing(paths: Iterable[str]) -> list[str]:
    return [p for p in dict.fromkeys(paths) if os.path.lexists(p)]


def measure_isolation(
    prefer: str,
    protected: ProtectedPaths,
    *,
    work_root: str | None = None,
) -> IsolationVerdict:
    """Start one process as a kernel would be started and see what it can reach."""
    try:
        info = detect.probe_sandbox(prefer)  # type: ignore[arg-type]
    except sandboxing.SandboxUnavailable as exc:
        return IsolationVerdict(False, str(exc), ("start a sandboxed process",))
    grader_source = [str(p) for p in wrap.grader_source_folders()]
    read = _existing([*protected.read, *grader_source])
    write = _existing(protected.write)
    token = f".mg-isolation-{os.urandom(6).hex()}"
    request = {
        "read": read,
        "write": write,
        "token": token,
        "pids": [[pid, processes.process_start_time(pid)] for pid in (os.getpid(), os.getppid())],
    }
    folder = Path(tempfile.mkdtemp(prefix="mg-iso-", dir=work_root))
    try:
        job = sandboxing.prepare_job(folder, info)
        with job:
            command = wrap.wrap_kernel_command(
                [sys.executable, "-I", "-S", "-c", PROBE_SCRIPT, json.dumps(request)],
                job=job,
                sandbox=info,
                limits=sandboxing.SandboxLimits(),
                hidden_paths=[Path(p) for p in protected.read],
            )
            done = subprocess.run(
                command,
                env=sandboxing.scrubbed_environment(job=job),
                capture_output=True,
                text=True,
                timeout=60,
                start_new_session=True,
            )
    except (OSError, subprocess.TimeoutExpired, sandboxing.SandboxUnavailable) as exc:
        return IsolationVerdict(False, info.detail, (f"start the probe ({exc})",))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return IsolationVerdict(False, info.detail, (f"run the probe ({last})",))
    exposed = tuple(report.get("exposed", []))
    for path in write:  # a write that went through must not stay behind
        leftover = Path(path) / token
        if leftover.exists():
            leftover.unlink(missing_ok=True)
    verdict = IsolationVerdict(not exposed, info.detail, exposed)
    log.info("isolation check: %s%s", verdict.summary, f" exposed={exposed}" if exposed else "")
    return verdict


def refusal_message(verdict: IsolationVerdict) -> str:
    """The paragraph an instructor sees instead of a grading run."""
    shown = "; ".join(verdict.exposed[:4]) + ("; ..." if len(verdict.exposed) > 4 else "")
    return (
        f"motifgrader refuses to run student notebooks on {verdict.where}: they would not be "
        f"isolated. Sandbox: {verdict.sandbox}. A test process started exactly like a student "
        f"kernel could {shown}, so a notebook could steal the secret seed, read other "
        "students' work or the grader's answers, and change other students' grades. Fix: "
        "install bubblewrap (as root `make setup` does it; otherwise `sudo apt-get install "
        "bubblewrap`, or dnf/apk/zypper) and check that unprivileged user namespaces are "
        "enabled, then run `motifgrader sandbox` to see the verdict. Only for notebooks you "
        f"trust completely, {OPT_OUT_FLAG} grades anyway and marks every output NOT ISOLATED."
    )


def _decide(verdict: IsolationVerdict, allow_unisolated: bool) -> IsolationVerdict:
    """The verdict, or `IsolationRefused` when student code would run unisolated."""
    if verdict.isolated:
        return verdict
    if not allow_unisolated:
        raise IsolationRefused(refusal_message(verdict))
    log.warning("grading without isolation on purpose: %s", "; ".join(verdict.exposed))
    return dataclasses.replace(verdict, allowed_unisolated=True)


def require_isolation(
    prefer: str,
    protected: ProtectedPaths,
    *,
    allow_unisolated: bool = False,
    work_root: str | None = None,
) -> IsolationVerdict:
    """Measure here, before a run: the verdict, or `IsolationRefused`."""
    return _decide(measure_isolation(prefer, protected, work_root=work_root), allow_unisolated)


@functools.cache
def _worker_verdict(
    prefer: str, read: tuple[str, ...], write: tuple[str, ...], work_root: str | None
) -> IsolationVerdict:
    return measure_isolation(prefer, ProtectedPaths(read, write), work_root=work_root)


def ensure_worker_isolated(
    prefer: str,
    protected: ProtectedPaths,
    *,
    allow_unisolated: bool,
    work_root: str | None = None,
) -> IsolationVerdict:
    """A worker's own check before a job (measured once per worker process)."""
    verdict = _worker_verdict(prefer, protected.read, protected.write, work_root)
    return _decide(verdict, allow_unisolated)


def check_workers(
    client: object, prefer: str, protected: ProtectedPaths, *, allow_unisolated: bool
) -> dict[str, IsolationVerdict]:
    """Ask every worker of a Dask cluster to measure itself; refuse if any is unisolated."""
    verdicts: dict[str, IsolationVerdict] = client.run(  # type: ignore[attr-defined]
        _worker_verdict, prefer, protected.read, protected.write, None
    )
    refused = {a: v for a, v in verdicts.items() if not v.isolated}
    if refused and not allow_unisolated:
        lines = [f"worker {address}: {refusal_message(v)}" for address, v in refused.items()]
        raise IsolationRefused("\n".join(lines))
    return verdicts

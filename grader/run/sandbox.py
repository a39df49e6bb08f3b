"""Isolation and limits for a student's Jupyter kernel.

A student's notebook is untrusted code. The executor starts one kernel per submission and
asks this package for four things: a command line that wraps the kernel, an environment
without the grader's secrets, a memory watchdog, and a way to kill whatever the kernel left
behind. Two modes, chosen at run time by `probe_sandbox` (`detect.py`), which runs a real test once:

* **bubblewrap** (`bwrap`): no network, the system and the Python installation read-only,
  a private size-capped /tmp and /dev/shm, its own PID, IPC and UTS namespaces, and only the
  job's folder writable. The kernel must use `transport="ipc"` (its sockets are files in the
  job folder, the one thing both sides can see) and message-mode interrupts.
* **fallback**: resource limits (CPU, file size, open files, processes) and the memory
  watchdog only. The network and the file system stay visible.

When the grader is root the kernel runs as a **per-job uid** (one of `JOB_SLOTS` uids from
`JOB_UID_BASE`, claimed with a lock for as long as the job lives): always in bubblewrap, and
in the fallback when other users can read the Python installation (a Python under a 0700
/root cannot be run by them; the probe says so and the kernel stays root). That uid keeps a
kernel from reading root-only files, writing outside its folder or signalling the grader,
makes RLIMIT_NPROC (ignored for root) effective, and identifies every process the job
started, even one that called setsid and exec'd with an empty environment. Inside
bubblewrap it also drops the capabilities root would keep there.

A job's life: `prepare_job(job_dir, info)` makes the folder the kernel's (and claims the
uid); `wrap_kernel_command`, `scrubbed_environment` and `MemoryWatchdog` take that job;
`kill_job_processes(job)` ends it: kills every leftover, removes links and special files the
student planted where the grader will write next, hands the folder back to the grader and
frees the uid.

How a job's processes are found (`kill_job_processes`, `MemoryWatchdog`), strongest first:
the job's uid; the job's PID namespace (bubblewrap; also, the whole namespace dies with
bwrap's init because of `--die-with-parent`); the descendants of the kernel's process;
in a pool worker (`adopt_orphans`), the orphans re-parented to the worker since the job
began; an environment marker (`MOTIFGRADER_JOB`), which a process can shed by exec'ing
with an empty environment, so it is only the last resort when no uid could be dropped to.

Memory is measured as resident set summed over those processes, not with RLIMIT_AS, which
breaks TensorFlow below about 2 GiB of address space. Linux only: the watchdog and the
process search read /proc.

This module holds the job (its folder, uid and environment); `wrap.py` builds the command
lines, `detect.py` finds the sandbox, `processes.py` finds and kills a job's processes and
`watchdog.py` enforces the memory, process and file limits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import secrets
import stat
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

from grader.run.processes import (
    MARKER_VARIABLE,
    ProcessInfo,
    adopting,
    is_dying,
    job_members,
    kill_members,
    now_ticks,
    process_start_time,
    process_table,
)

GiB = 2**30


MiB = 2**20


JOB_UID_BASE = 62_000


"""First uid handed to kernels (Debian leaves 60000-64999 unassigned until a package asks)."""


JOB_SLOTS = 64


"""How many kernels may run at once on one machine when the grader is root."""


UID_DRAIN_S = 30.0


"""How long a released job waits for its killed processes to exit before freeing its uid."""


IPC_PATH_LIMIT = 100


"""Unix socket paths are limited to 107 bytes; the kernel appends "-<port>" to its prefix."""


KEPT_VARIABLES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM"})


SECRET_LOOKING = re.compile(
    r"SECRET|TOKEN|KEY|PASS|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|"
    r"^MOTIFGRADER_|^AWS_|^AZURE_|^GOOGLE_|^GCP_|^GITHUB_|^GH_|^GITLAB_|^CI_|^DASK_|PROXY$",
    re.IGNORECASE,
)


THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be provided; the message says why and what to do."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one kernel may use. Memory is enforced by `MemoryWatchdog`, the rest by rlimits."""

    memory_bytes: int = 4 * GiB
    cpu_seconds: int | None = None
    file_size_bytes: int = 512 * MiB
    open_files: int = 1024
    max_processes: int = 256
    """Processes *and threads* (what RLIMIT_NPROC counts); effective only for a non-root uid."""
    tmp_bytes: int = 512 * MiB
    """Size of the private /tmp and /dev/shm in bubblewrap (tmpfs is memory the watchdog
    does not see)."""


@dataclass(frozen=True)
class SandboxInfo:
    """Which isolation this machine gives, as measured by `probe_sandbox`."""

    kind: Literal["bubblewrap", "fallback"]
    detail: str
    """A sentence for the report."""
    job_user: bool = False
    """Kernels run as a per-job uid (the grader is root and the Python is reachable)."""
    bwrap: str | None = None


@dataclass(frozen=True, eq=False)
class SandboxJob:
    """One kernel's folder and identity: what the wrapper, the watchdog and the killer share.

    `work_dir` (the job folder) is the only place the kernel may write: its HOME, working
    directory and where the harvest lands. `release` (also done by `kill_job_processes`
    and on leaving a `with` block) ends the job: see `_release_job`.
    """

    work_dir: Path
    marker: str
    uid: int | None = None
    gid: int | None = None
    started_ticks: int = field(default_factory=lambda: now_ticks())
    """When the job began (clock ticks since boot): a process this grader adopted (see
    `adopt_orphans`) that started later is the job's."""
    _finalizer: weakref.finalize | None = field(default=None, repr=False)

    @classmethod
    def for_folder(cls, work_dir: Path) -> SandboxJob:
        """A job known only by its folder (no uid): the marker is derived from the path."""
        work_dir = Path(work_dir).absolute()
        digest = hashlib.sha256(str(work_dir).encode()).hexdigest()[:16]
        return cls(work_dir=work_dir, marker=f"folder-{digest}")

    @property
    def connection_file(self) -> Path:
        return self.work_dir / "kernel.json"

    @property
    def ipc_prefix(self) -> Path:
        return self.work_dir / ".k"

    @property
    def tmp_dir(self) -> Path:
        return self.work_dir / "tmp"

    def release(self) -> None:
        """Kill leftovers, make the folder safe for the grader, free the uid slot."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> SandboxJob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def scrubbed_environment(
    base: Mapping[str, str] | None = None,
    *,
    job_dir: Path | None = None,
    threads: int = 1,
    seed: int | None = None,
    job: SandboxJob | None = None,
) -> dict[str, str]:
    """The kernel's environment: an allow-list of the caller's, then the grader's settings.

    Only locale, PATH and timezone survive (minus anything secret-looking, since ssh
    forwards LC_* variables verbatim); the grader's own variables, cloud credentials and
    proxies never reach the kernel. JPY_PARENT_PID is dropped: jupyter_client sets the right
    one, and a stale one (a grader started from a notebook) makes ipykernel exit at once.
    Threads are pinned so parallel kernels do not fight over the cores. `base` defaults to
    os.environ; give `job` (from `prepare_job`) or the kernel's `job_dir`.
    """
    if job is None:
        if job_dir is None:
            raise TypeError("scrubbed_environment needs job= or job_dir=")
        job = SandboxJob.for_folder(job_dir)
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if (name in KEPT_VARIABLES or name.startswith("LC_")) and not SECRET_LOOKING.search(name)
    }
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    home = str(job.work_dir)
    env.update(
        HOME=home,
        TMPDIR=str(job.tmp_dir),
        USER="student",
        LOGNAME="student",
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(job.work_dir / ".config" / "matplotlib"),
        PYTHONHASHSEED=str(0 if seed is None else seed),
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        JUPYTER_PLATFORM_DIRS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
    )
    env.update(dict.fromkeys(THREAD_VARIABLES, str(max(1, int(threads)))))
    env[MARKER_VARIABLE] = job.marker
    return env


def _uid_range_mapped(first: int, count: int) -> bool:
    """Can we switch to these uids? Not in a user namespace that maps only a few."""
    try:
        lines = Path("/proc/self/uid_map").read_text().split("\n")
    except OSError:
        return sys.platform != "linux"
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            inside, _, length = (int(p) for p in parts)
            if inside <= first and first + count <= inside + length:
                return True
    return False


def can_use_job_uids() -> bool:
    return os.geteuid() == 0 and _uid_range_mapped(JOB_UID_BASE, JOB_SLOTS)


def _slot_lock_dir() -> Path:
    """A root-only folder of lock files, so concurrent graders never share a uid."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    folder = base / "motifgrader-slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not folder.is_dir():
        raise SandboxUnavailable(
            f"{folder} must be a folder owned by uid {os.geteuid()} with mode 0700; "
            "remove it and grade again."
        )
    return folder


def _claim_uid_slot() -> tuple[int, int]:
    """(uid, locked fd) of a free slot; leftovers of a crashed grader in it are killed."""
    folder = _slot_lock_dir()
    for slot in range(JOB_SLOTS):
        uid = JOB_UID_BASE + slot
        with contextlib.suppress(KeyError):
            pwd.getpwuid(uid)
            continue  # a real account uses this uid: never run kernels as it
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        kill_members(lambda procs, uid=uid: {p.pid for p in procs.values() if p.uid == uid})
        return uid, fd
    raise SandboxUnavailable(
        f"All {JOB_SLOTS} kernel uids ({JOB_UID_BASE}-{JOB_UID_BASE + JOB_SLOTS - 1}) are in use "
        "by running grading jobs; run fewer jobs at once."
    )


def _chown_tree(root: Path, uid: int, gid: int, *, sanitise: bool = False) -> None:
    """Hand a folder over without following symbolic links and skipping hard-linked files
    (a student could plant either pointing at /etc/shadow). With `sanitise`, remove all
    but plain files and folders: the grader later writes into this folder as root, and a
    planted symlink (`scorer -> /etc`) or FIFO would redirect or block those writes."""
    os.lchown(root, uid, gid)
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                info = os.lstat(path)
                plain = stat.S_ISDIR(info.st_mode) or (
                    stat.S_ISREG(info.st_mode) and info.st_nlink == 1
                )
                if plain:
                    os.lchown(path, uid, gid)
                elif sanitise:
                    os.unlink(path)


def blocking_ancestor(path: Path) -> Path | None:
    """The first folder above `path` that other users cannot enter, if any."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            return parent
    return None


def _release_job(work_dir: Path, marker: str, uid: int | None, fd: int | None) -> None:
    """End a job: kill what is left of it, hand its folder back to the grader cleaned of
    links and special files, and free its uid for the next job."""
    try:
        job = SandboxJob(work_dir=work_dir, marker=marker, uid=uid, gid=uid)
        kill_members(lambda processes: job_members(job, None, processes))
        if uid is not None:
            # A killed process can take seconds to exit (a forked kernel has a large
            # address space to tear down); the uid is free only once none is left, or the
            # next job's watchdog and RLIMIT_NPROC would count them.
            deadline = time.monotonic() + UID_DRAIN_S
            while time.monotonic() < deadline and any(
                p.uid == uid for p in process_table().values()
            ):
                time.sleep(0.05)
        if work_dir.exists():
            _chown_tree(work_dir, os.geteuid(), os.getegid(), sanitise=True)
    finally:
        if fd is not None:
            os.close(fd)


def prepare_job(job_dir: Path, sandbox: SandboxInfo) -> SandboxJob:
    """Make `job_dir` the kernel's folder and claim a uid for it when we can.

    The uid owns `job_dir` until the job ends; the folders above it must let other users
    pass through, which is checked here rather than discovered as a kernel that never
    starts. Everything the grader writes there itself should come after the job ends.
    """
    work_dir = Path(job_dir).absolute()
    (work_dir / "tmp").mkdir(parents=True, exist_ok=True)
    marker = secrets.token_hex(8)
    if len(str(work_dir / ".k")) + 6 > IPC_PATH_LIMIT:
        raise SandboxUnavailable(
            f"The job folder {work_dir} is too deep for the kernel's sockets (Unix socket "
            f"paths are limited to {IPC_PATH_LIMIT + 7} bytes); use a shorter output folder."
        )
    uid = fd = None
    if sandbox.job_user:
        blocked = blocking_ancestor(work_dir) if sandbox.kind == "fallback" else None
        if blocked is not None:
            raise SandboxUnavailable(
                f"The kernel runs as an unprivileged user, which cannot enter {blocked} "
                f"(mode {blocked.stat().st_mode & 0o777:o}) to reach its folder {work_dir}; "
                "put the job folders under a directory others can traverse, e.g. /tmp."
            )
        uid, fd = _claim_uid_slot()
        try:
            _chown_tree(work_dir, uid, uid)
            work_dir.chmod(0o700)
        except BaseException:
            os.close(fd)
            raise
    job = SandboxJob(work_dir=work_dir, marker=marker, uid=uid, gid=uid)
    finalizer = weakref.finalize(job, _release_job, work_dir, marker, uid, fd)
    object.__setattr__(job, "_finalizer", finalizer)
    return job


def kill_job_processes(
    job: SandboxJob | Path, *, root_pid: int | None = None, grace_s: float = 0.0
) -> int:
    """After a job: kill every process it started, daemons included; returns how many.

    `job` is the `SandboxJob` (or the kernel's folder, for a job made without
    `prepare_job`); `root_pid` adds the descendants of the kernel's process if it is
    still there. `grace_s` first waits that long for the job's processes to exit by
    themselves (a kernel just shut down, or bubblewrap's namespace being torn down), so
    the count is of what really outlived the job. A job from `prepare_job` also ends here
    (`SandboxJob.release`): its folder is handed back to the grader, safe to write into,
    and its uid freed.
    """
    if not isinstance(job, SandboxJob):
        job = SandboxJob.for_folder(job)

    def outliving(processes: Mapping[int, ProcessInfo]) -> set[int]:
        return {pid for pid in job_members(job, root_pid, processes) if not is_dying(pid)}

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and outliving(process_table()):
        time.sleep(0.05)
    killed = kill_members(outliving)
    if adopting():
        _reap_adopted(job)
    job.release()
    return killed


def _reap_adopted(job: SandboxJob, wait_s: float = 2.0) -> None:
    """Collect the exit status of adopted processes just killed, so they do not stay
    zombies of this worker for the rest of the batch."""
    me = psutil.Process()
    deadline = time.monotonic() + wait_s
    while True:
        pending = False
        for child in me.children():
            started = process_start_time(child.pid)
            if started is None or started < job.started_ticks:
                continue
            try:
                zombie = child.status() == psutil.STATUS_ZOMBIE
            except psutil.Error:
                continue
            if zombie:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child.pid, os.WNOHANG)
            else:
                pending = True
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.05)

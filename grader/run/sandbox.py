"""Isolation and limits for a student's Jupyter kernel.

A student's notebook is untrusted code. The executor starts one kernel per submission and
asks this module for four things: a command line that wraps the kernel, an environment
without the grader's secrets, a memory watchdog, and a way to kill whatever the kernel left
behind. Two modes, chosen at run time by `probe_sandbox`, which runs a real test once:

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
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

GiB = 2**30
MiB = 2**20

JOB_UID_BASE = 62_000
"""First uid handed to kernels (Debian leaves 60000-64999 unassigned until a package asks)."""
JOB_SLOTS = 64
"""How many kernels may run at once on one machine when the grader is root."""
MARKER_VARIABLE = "MOTIFGRADER_JOB"
UID_DRAIN_S = 30.0
"""How long a released job waits for its killed processes to exit before freeing its uid."""

LAUNCHER = Path(__file__).with_name("launcher.py")
LAUNCHER_INSIDE = Path("/run/motifgrader/launcher.py")
"""Where bubblewrap shows the launcher: alone, so the kernel sees none of the grader's source."""
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
    started_ticks: int = field(default_factory=lambda: _now_ticks())
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


# --------------------------------------------------------------------------- environment


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


# --------------------------------------------------------------------------- jobs and uids


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


def _can_use_job_uids() -> bool:
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
        _kill_members(lambda procs, uid=uid: {p.pid for p in procs.values() if p.uid == uid})
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


def _blocking_ancestor(path: Path) -> Path | None:
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
        _kill_members(lambda processes: _job_members(job, None, processes))
        if uid is not None:
            # A killed process can take seconds to exit (a forked kernel has a large
            # address space to tear down); the uid is free only once none is left, or the
            # next job's watchdog and RLIMIT_NPROC would count them.
            deadline = time.monotonic() + UID_DRAIN_S
            while time.monotonic() < deadline and any(p.uid == uid for p in _processes().values()):
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
        blocked = _blocking_ancestor(work_dir) if sandbox.kind == "fallback" else None
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


# --------------------------------------------------------------------------- command lines


def _launcher_args(
    job: SandboxJob, limits: SandboxLimits, argv: Sequence[str], *, in_bwrap: bool
) -> list[str]:
    """Limits, then the uid drop. RLIMIT_NPROC counts every task of the real uid on the
    machine, so it is only set for a job uid or, in the fallback, on top of the tasks the
    grader's user already has (inside bwrap those cannot be counted)."""
    launcher = LAUNCHER_INSIDE if in_bwrap else LAUNCHER
    args = [sys.executable, "-I", "-S", str(launcher), "--chdir", str(job.work_dir)]
    if limits.cpu_seconds is not None:
        args += ["--cpu", str(limits.cpu_seconds)]
    args += ["--fsize", str(limits.file_size_bytes), "--nofile", str(limits.open_files)]
    if job.uid is not None or not in_bwrap:
        args += ["--nproc", str(limits.max_processes)]
    if job.uid is not None:
        args += ["--user", f"{job.uid}:{job.gid}"]
        inside = str(job.work_dir) + os.sep
        args += [a for item in argv if str(item).startswith(inside) for a in ("--own", item)]
    return [*args, "--", *argv]


class _Mounts:
    """bwrap mount arguments, creating the folders above each mount with mode 0755.

    bwrap creates missing parents with mode 0700 when run as root, which would lock an
    unprivileged kernel out of, say, /root/.pyenv/versions/3.11.
    """

    def __init__(self) -> None:
        self.args: list[str] = []
        self.mounted: list[Path] = []
        self.made: set[Path] = set()

    def _covered(self, path: Path) -> bool:
        return any(path == m or m in path.parents for m in self.mounted)

    def _parents(self, destination: Path) -> None:
        for parent in reversed(destination.parents):
            if parent == Path("/") or parent in self.made or self._covered(parent):
                continue
            self.args += ["--perms", "0755", "--dir", str(parent)]
            self.made.add(parent)

    def add(
        self, option: str, source: Path | None, destination: Path, *extra: str, covers: bool = True
    ) -> None:
        """Mount `destination`; `covers=False` for a tmpfs that folders may still be made in."""
        if self._covered(destination) and option.startswith("--ro-bind"):
            return
        self._parents(destination)
        self.args += [*extra, option] + ([str(source)] if source else []) + [str(destination)]
        if covers:
            self.mounted.append(destination)
        else:
            self.made.add(destination)


def _resolved(paths: Iterable[Path]) -> list[Path]:
    """Each path as given and with links resolved (bwrap needs both), existing ones only."""
    resolved: list[Path] = []
    for path in paths:
        for candidate in (Path(path).absolute(), Path(path).resolve()):
            if candidate.exists() and candidate not in resolved:
                resolved.append(candidate)
    return resolved


def grader_source_folders() -> list[Path]:
    """Where the `grader` and `reference` packages live: the checkout or wheel they are
    imported from, and any folder of that name on the path (an editable install leaves
    `grader/_templates` in site-packages)."""
    folders: list[Path] = []
    for package in ("grader", "reference"):
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            folders += [Path(p) for p in spec.submodule_search_locations]
        folders += [Path(entry) / package for entry in sys.path if entry]
    return _resolved(p for p in folders if p.is_dir())


SCORER_HIDDEN = ("reference/notebooks", "reference/expectations.json", "grader/assignments")
"""Parts of the grader's source the scorer does not need and a model file must not reach:
the solution notebook, the measured answers and the assignment spec."""


def _python_paths(readonly_paths: Iterable[Path], *, grader_source: bool) -> list[Path]:
    """The Python installation and the venv; the grader's source only for its own helpers
    (the scorer). A student's kernel needs Python and its packages, never the grader."""
    paths = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent]
    if grader_source:
        paths += grader_source_folders()
    return _resolved([*paths, *readonly_paths])


def _masked_paths(grader_source: bool, hidden_paths: Iterable[Path]) -> list[Path]:
    """What must look empty inside the sandbox even where a mount above it shows it.

    The grader may be installed into the same site-packages as the kernel's libraries,
    and an instructor may keep the secret or the output folder under a mounted path.
    """
    masked = [Path(p) for p in hidden_paths]
    for folder in grader_source_folders():
        if grader_source:
            root = folder.parent
            masked += [root / part for part in SCORER_HIDDEN]
        else:
            masked.append(folder)
    return _resolved(masked)


def _bwrap_command(
    sandbox: SandboxInfo,
    job: SandboxJob,
    limits: SandboxLimits,
    readonly_paths: Sequence[Path],
    *,
    grader_source: bool = False,
    hidden_paths: Sequence[Path] = (),
) -> list[str]:
    mounts = _Mounts()
    mounts.add("--ro-bind", Path("/usr"), Path("/usr"))
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            mounts.args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            mounts.add("--ro-bind", path, path)
    mounts.add("--ro-bind", Path("/etc"), Path("/etc"))
    cpus = Path("/sys/devices/system/cpu")
    if cpus.is_dir():
        mounts.add("--ro-bind", cpus, cpus)  # CPU counts for TensorFlow and OpenBLAS
    tmp_size = ["--perms", "1777", "--size", str(limits.tmp_bytes)]
    mounts.add("--proc", None, Path("/proc"))
    mounts.add("--dev", None, Path("/dev"))
    mounts.add("--tmpfs", None, Path("/dev/shm"), *tmp_size)
    mounts.add("--tmpfs", None, Path("/tmp"), *tmp_size, covers=False)
    for path in _python_paths(readonly_paths, grader_source=grader_source):
        mounts.add("--ro-bind", path, path)
    mounts.add("--ro-bind", LAUNCHER, LAUNCHER_INSIDE)
    masked: list[Path] = []
    for path in sorted(_masked_paths(grader_source, hidden_paths), key=lambda p: len(p.parts)):
        if not mounts._covered(path) or path == job.work_dir or job.work_dir in path.parents:
            continue
        if any(m == path or m in path.parents for m in masked):
            continue  # already inside an empty mask; mounting again would rebuild its folders
        masked.append(path)
        if path.is_dir():
            mounts.args += ["--tmpfs", str(path)]
        else:
            mounts.args += ["--ro-bind", "/dev/null", str(path)]
    mounts.add("--bind", job.work_dir, job.work_dir)
    command = [str(sandbox.bwrap), *mounts.args]
    command += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    command += ["--unshare-cgroup-try", "--hostname", "motifgrader"]
    # jupyter_client sets JPY_PARENT_PID to the grader's PID, which does not exist in the new
    # PID namespace, so ipykernel would think its parent died and exit. Inside, the kernel's
    # parent is bwrap's init, PID 1, which ipykernel knows never goes away (no poller, no
    # connection banner); --die-with-parent does the poller's job.
    command += ["--new-session", "--die-with-parent", "--setenv", "JPY_PARENT_PID", "1"]
    if os.geteuid() == 0 and job.uid is None:
        command += ["--cap-drop", "ALL"]
    return [*command, "--chdir", str(job.work_dir)]


def wrap_kernel_command(
    argv: list[str],
    *,
    job_dir: Path | None = None,
    sandbox: SandboxInfo,
    limits: SandboxLimits,
    readonly_paths: Sequence[Path] = (),
    job: SandboxJob | None = None,
    grader_source: bool = False,
    hidden_paths: Sequence[Path] = (),
) -> list[str]:
    """The kernel's command line inside the sandbox (pass `job` from `prepare_job`).

    Given only `job_dir` (the folder the kernel may write), no uid is claimed, so in the
    fallback as root the kernel runs as root. `readonly_paths` are extra folders the kernel
    may read in bubblewrap (data files, say); `grader_source` shows the grader's packages
    (for its own helpers, minus the answers); `hidden_paths` stay invisible even under a
    mounted folder. The fallback hides nothing: `grader.run.isolation` measures what it exposes.
    """
    if job is None:
        if job_dir is None:
            raise TypeError("wrap_kernel_command needs job= or job_dir=")
        job = SandboxJob.for_folder(job_dir)
    argv = [str(a) for a in argv]
    if sandbox.kind == "bubblewrap":
        inner = _launcher_args(job, limits, argv, in_bwrap=True)
        outer = _bwrap_command(
            sandbox,
            job,
            limits,
            readonly_paths,
            grader_source=grader_source,
            hidden_paths=hidden_paths,
        )
        return [*outer, "--", *inner]
    return _launcher_args(job, limits, argv, in_bwrap=False)


def scorer_wrapper(
    prefer: Literal["auto", "bubblewrap", "fallback"] = "auto",
    memory_bytes: int = 4 * GiB,
    *,
    threads: int = 1,
    cpu_seconds: int | None = None,
    hidden_paths: Sequence[Path] = (),
) -> Callable[[list[str], Path], list[str]]:
    """Wrap a grader helper that parses untrusted files (the scorer loading a `.keras`).

    Returns `wrap(command, work_dir)`: the command runs in the same sandbox as a kernel,
    writing only `work_dir` and reading the job folder around it (where the harvested
    models are), with an environment of its own (the caller's is replaced, secrets and all).
    It runs without a watchdog, so memory is capped with RLIMIT_AS instead, never below
    3 GiB: TensorFlow reserves about 2.2 GiB of address space even for a tiny model.
    """
    info = probe_sandbox(prefer)
    source_root = Path(__file__).resolve().parents[2]

    def wrap(command: list[str], work_dir: Path) -> list[str]:
        job = SandboxJob.for_folder(work_dir)
        limits = SandboxLimits(memory_bytes=memory_bytes, cpu_seconds=cpu_seconds)
        env = scrubbed_environment(job=job, threads=threads)
        env["PYTHONPATH"] = str(source_root)
        settings = ["--clearenv", *(f"--setenv={name}={value}" for name, value in env.items())]
        settings.append(f"--address-space={max(memory_bytes, 3 * GiB)}")
        wrapped = wrap_kernel_command(
            command,
            job=job,
            sandbox=info,
            limits=limits,
            readonly_paths=[job.work_dir.parent],
            grader_source=True,
            hidden_paths=hidden_paths,
        )
        launcher = LAUNCHER_INSIDE if info.kind == "bubblewrap" else LAUNCHER
        # The launcher's own arguments follow its last mention (bwrap's mounts name it too).
        at = len(wrapped) - wrapped[::-1].index(str(launcher))
        return [*wrapped[:at], *settings, *wrapped[at:]]

    return wrap


# --------------------------------------------------------------------------- probing

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
        blocked = _blocking_ancestor(path)
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
    job_user = _can_use_job_uids()
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


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    uid: int
    rss_bytes: int
    threads: int = 1


PF_EXITING = 0x4
"""Task flag in /proc/PID/stat: the process is exiting."""

_STATUS = re.compile(
    rb"\nState:\s+(\S).*?\nPPid:\s+(\d+).*?\nUid:\s+(\d+)(?:.*?\nVmRSS:\s+(\d+))?"
    rb"(?:.*?\nThreads:\s+(\d+))?",
    re.DOTALL,
)


def _processes() -> dict[int, _Process]:
    """Every live (non-zombie) process, from /proc/PID/status (one read each).

    The real uid comes from status, not from the owner of /proc/PID, which a process can
    turn into root by making itself non-dumpable.
    """
    found: dict[int, _Process] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as handle:
                match = _STATUS.search(handle.read())
        except OSError:
            continue
        if match is None or match[1] in (b"Z", b"X"):
            continue
        rss = int(match[4]) * 1024 if match[4] else 0
        threads = int(match[5]) if match[5] else 1
        found[int(name)] = _Process(int(name), int(match[2]), int(match[3]), rss, threads)
    return found


def _proportional_bytes(processes: Mapping[int, _Process], pids: Iterable[int]) -> int:
    """Proportional set size summed over `pids`.

    Resident set size counts a page shared by N forked processes N times, so a kernel that
    forks looks N times its size; PSS charges each process 1/N of the page. It costs a walk
    of each process's page tables, so it is only read to confirm an RSS sum over the limit.
    A process whose PSS cannot be read (exiting as it is read, its address space already
    gone, or /proc refusing) is charged its own resident size: one unreadable member of a
    fork bomb must not turn the whole job back into the RSS sum that over-counts it.
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                match = re.search(rb"\nPss:\s+(\d+)", handle.read())
        except FileNotFoundError:
            continue  # exited since it was listed
        except OSError:
            match = None
        if match is None:
            total += processes[pid].rss_bytes if pid in processes else 0
        else:
            total += int(match[1]) * 1024
    return total


def _private_tmp_folders(members: Iterable[int]) -> list[Path]:
    """The private /tmp and /dev/shm of a job in bubblewrap, seen through /proc: files
    there cost inodes and memory just as in the job folder."""
    ours = _mount_namespace(os.getpid())
    for pid in members:
        theirs = _mount_namespace(pid)
        if theirs is not None and theirs != ours:
            return [Path(f"/proc/{pid}/root/tmp"), Path(f"/proc/{pid}/root/dev/shm")]
    return []


def _mount_namespace(pid: int) -> str | None:
    return _namespace(pid, "mnt")


def _count_entries(root: Path, stop_after: int) -> int:
    """Files, folders and links under `root` (not following links), counting at most
    `stop_after` so a folder of a million files costs no more than the limit.

    Mount points are counted but not entered: bubblewrap binds the grader's own folders
    read-only into the private /tmp when they live under the host's /tmp (a checkout in
    /tmp, say), and their files are not the notebook's."""
    try:
        device = root.stat().st_dev
    except OSError:
        return 0
    count, todo = 0, [root]
    while todo and count < stop_after:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    count += 1
                    if entry.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            if entry.stat(follow_symlinks=False).st_dev == device:
                                todo.append(Path(entry.path))
                    if count >= stop_after:
                        break
        except OSError:
            continue
    return count


def _pid_namespace(pid: int) -> str | None:
    return _namespace(pid, "pid")


def _namespace(pid: int, kind: str) -> str | None:
    """Which namespace of `kind` ("pid", "mnt") `pid` is in, or None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return marker in handle.read().split(b"\0")
    except OSError:
        return False


STAT_STATE, STAT_PPID, STAT_FLAGS, STAT_START = 0, 1, 6, 19
"""Positions in /proc/PID/stat after the command name (see `_stat`)."""


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after `(comm)`, or None when the process is gone.
    Split after the last ')' because a command name may hold spaces and parentheses."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields if len(fields) > STAT_START else None


def _dying(pid: int) -> bool:
    """Already killed: exiting, or with a SIGKILL pending. Such a process is gone for good
    but may take seconds to go, so it is neither a leftover nor worth another signal."""
    fields = _stat(pid)
    if fields is None:
        return True  # gone already
    flags = int(fields[STAT_FLAGS])
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            pending = re.findall(rb"\n(?:SigPnd|ShdPnd):\s+([0-9a-f]+)", handle.read())
    except (OSError, IndexError, ValueError):
        return True  # gone already
    sigkill = 1 << (signal.SIGKILL - 1)
    return bool(flags & PF_EXITING) or any(int(mask, 16) & sigkill for mask in pending)


def process_start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot): tells a process from a later one that
    reused its PID, or from another process with the same PID in another PID namespace."""
    fields = _stat(pid)
    return None if fields is None else int(fields[STAT_START])


PR_SET_CHILD_SUBREAPER = 36
_adopting = False
"""Set by `adopt_orphans` in a process that runs one job at a time."""


def adopt_orphans() -> bool:
    """Make this process adopt the orphans of its descendants (Linux's child subreaper).

    A notebook that double-forks a daemon and exec's it with an empty environment leaves no
    trace a kill could follow when the kernel shares the grader's uid (the fallback as
    root): the daemon's parent exits and it is re-parented to PID 1. Under a subreaper it is
    re-parented here instead, so `kill_job_processes` finds it as a child this process did
    not start before the job. Only for a process that runs one job at a time (a pool
    worker): with jobs side by side an adopted child could not be told apart. Returns
    whether the kernel agreed.
    """
    global _adopting
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _adopting = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _adopting = False
    return _adopting


def _now_ticks() -> int:
    """Clock ticks since boot, the unit of a process's start time in /proc/PID/stat."""
    try:
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def _adopted(job: SandboxJob, processes: Mapping[int, _Process]) -> set[int]:
    """Children of this (subreaper) process started since the job began, with their trees."""
    me = os.getpid()
    found: set[int] = set()
    for process in processes.values():
        if process.ppid == me and (process_start_time(process.pid) or 0) >= job.started_ticks:
            found |= {process.pid} | _descendants(process.pid, processes)
    return found


def _protected() -> set[int]:
    """This process and its ancestors: never signalled, whatever a student's env says."""
    protected, pid = {0, 1}, os.getpid()
    while pid > 1 and pid not in protected:
        protected.add(pid)
        fields = _stat(pid)
        if fields is None:
            break
        pid = int(fields[STAT_PPID])
    return protected


def _descendants(root: int, processes: Mapping[int, _Process]) -> set[int]:
    children: dict[int, list[int]] = {}
    for process in processes.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found, todo = set(), [root] if root in processes else []
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def _job_members(
    job: SandboxJob | None, root_pid: int | None, processes: Mapping[int, _Process]
) -> set[int]:
    """The job's processes: its uid, its descendants, its marker, then its PID namespaces."""
    members = _descendants(root_pid, processes) if root_pid is not None else set()
    if job is not None and _adopting:
        members |= _adopted(job, processes)
    if job is not None:
        if job.uid is not None:
            members |= {p.pid for p in processes.values() if p.uid == job.uid}
        else:
            marker = f"{MARKER_VARIABLE}={job.marker}".encode()
            members |= {pid for pid in processes if pid not in members and _has_marker(pid, marker)}
    namespaces = {_pid_namespace(pid) for pid in members} - {_pid_namespace(os.getpid()), None}
    if namespaces:
        members |= {pid for pid in processes if _pid_namespace(pid) in namespaces}
    return members - _protected()


def _kill_members(select: Callable[[Mapping[int, _Process]], set[int]]) -> int:
    """Stop everything selected until nothing new appears (so forks cannot outrun us), then
    SIGKILL it all; returns how many processes were killed."""
    stopped: set[int] = set()
    for _ in range(100):
        fresh = select(_processes()) - stopped
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)
    for pid in stopped:
        # Killing a PID namespace's init takes the rest of it along: a later pid may be gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(stopped)


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

    def outliving(processes: Mapping[int, _Process]) -> set[int]:
        return {pid for pid in _job_members(job, root_pid, processes) if not _dying(pid)}

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and outliving(_processes()):
        time.sleep(0.05)
    killed = _kill_members(outliving)
    if _adopting:
        _reap_adopted(job)
    job.release()
    return killed


def _reap_adopted(job: SandboxJob, wait_s: float = 2.0) -> None:
    """Collect the exit status of adopted processes just killed, so they do not stay
    zombies of this worker for the rest of the batch."""
    me = os.getpid()
    deadline = time.monotonic() + wait_s
    while True:
        pending = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            fields = _stat(pid)
            if fields is None:
                continue
            if int(fields[STAT_PPID]) != me or int(fields[STAT_START]) < job.started_ticks:
                continue
            if fields[STAT_STATE] == b"Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            else:
                pending = True
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.05)


class MemoryWatchdog:
    """A coordinator thread that sums the resident memory of a job and kills it when over.

    The sum covers the kernel's whole tree plus anything found by the job's uid, PID
    namespace or marker, so a student cannot dodge the limit by forking daemons. It is
    resident set size, confirmed as proportional set size before a kill, so pages that
    forked children share with the kernel count once, not once per child.
    `max_processes` caps processes plus threads (what RLIMIT_NPROC counts), so a fork or
    thread bomb is stopped and named as such, also where RLIMIT_NPROC cannot apply (a
    kernel running as root); `max_files` caps the files and folders under the job's
    folder (and bubblewrap's private /tmp and /dev/shm), so a notebook cannot exhaust the
    disk's inodes or fill memory with empty files. `reason` says which limit tripped:
    "memory", "processes" or "files".
    """

    def __init__(
        self,
        root_pid: int,
        limit_bytes: int,
        *,
        interval: float = 0.25,
        on_exceed: Callable[[], None] | None = None,
        job: SandboxJob | None = None,
        max_processes: int | None = None,
        max_files: int | None = None,
    ) -> None:
        self.root_pid = root_pid
        self.max_processes = max_processes
        self.max_files = max_files if job is not None else None
        self.limit_bytes = int(limit_bytes)
        self.interval = interval
        self.on_exceed = on_exceed
        self.job = job
        self.tripped = False
        self.reason = ""
        self.peak_rss_bytes = 0
        self._root_started = process_start_time(root_pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name=f"memory-watchdog-{root_pid}", daemon=True
        )

    def start(self) -> MemoryWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> MemoryWatchdog:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _select(self, processes: Mapping[int, _Process]) -> set[int]:
        # Once the kernel has died and been reaped its PID may belong to someone else.
        started = process_start_time(self.root_pid)
        same_root = started is not None and started == self._root_started
        return _job_members(self.job, self.root_pid if same_root else None, processes)

    def resident_bytes(self) -> int:
        processes = _processes()
        return sum(processes[pid].rss_bytes for pid in self._select(processes))

    def _exceeded(self) -> str:
        """Which limit the job is over now ("" for none)."""
        processes = _processes()
        members = self._select(processes)
        tasks = sum(processes[pid].threads for pid in members)
        if self.max_processes is not None and tasks > self.max_processes:
            return "processes"
        total = sum(processes[pid].rss_bytes for pid in members)
        if total > self.limit_bytes:
            total = _proportional_bytes(processes, members)
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)
        if total > self.limit_bytes:
            return "memory"
        files = self.max_files
        if files is not None and self.job is not None:
            count = 0
            for root in [self.job.work_dir, *_private_tmp_folders(members)]:
                count += _count_entries(root, files + 1 - count)
                if count > files:
                    return "files"
        return ""

    def _watch(self) -> None:
        while not self._stop.is_set():
            reason = self._exceeded()
            if reason:
                self.reason = reason
                self.tripped = True
                _kill_members(self._select)
                if self.on_exceed is not None:
                    self.on_exceed()
                return
            self._stop.wait(self.interval)

"""The command line that starts a kernel or the scorer inside the sandbox.

In bubblewrap: what is mounted read-only, what is masked (the grader's source, the
secret, the outputs) and the launcher bound alone; in the fallback, only the launcher,
which sets limits and drops to the job's uid before the kernel starts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from grader.run.sandbox import (
    GiB,
    SandboxInfo,
    SandboxJob,
    SandboxLimits,
    scrubbed_environment,
)

LAUNCHER = Path(__file__).with_name("launcher.py")


LAUNCHER_INSIDE = Path("/run/motifgrader/launcher.py")


"""Where bubblewrap shows the launcher: alone, so the kernel sees none of the grader's source."""


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
    info: SandboxInfo,
    memory_bytes: int = 4 * GiB,
    *,
    threads: int = 1,
    cpu_seconds: int | None = None,
    hidden_paths: Sequence[Path] = (),
) -> Callable[[list[str], Path], list[str]]:
    """Wrap a grader helper that parses untrusted files (the scorer loading a `.keras`).

    Returns `wrap(command, work_dir)`: the command runs in the sandbox `info` that
    `detect.probe_sandbox` measured, as a kernel does, writing only `work_dir` and reading
    the job folder around it (where the harvested models are), with an environment of its
    own (the caller's is replaced, secrets and all).
    It runs without a watchdog, so memory is capped with RLIMIT_AS instead, never below
    3 GiB: TensorFlow reserves about 2.2 GiB of address space even for a tiny model.
    """
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

"""A job's processes: found by uid, PID namespace, descendants, adoption or marker, and killed.

The process table comes from psutil; /proc is read directly only for what psutil does
not expose (namespaces, pending signals, PSS).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from grader.run.sandbox import SandboxJob

MARKER_VARIABLE = "MOTIFGRADER_JOB"


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    uid: int
    rss_bytes: int
    threads: int = 1


PF_EXITING = 0x4


"""Task flag in /proc/PID/stat: the process is exiting."""


_TABLE_ATTRS = ["ppid", "uids", "memory_info", "num_threads", "status"]


def process_table() -> dict[int, ProcessInfo]:
    """Every live (non-zombie) process, from psutil.

    The real uid is read from the process's status, not from the owner of /proc/PID,
    which a process can turn into root by making itself non-dumpable.
    """
    found: dict[int, ProcessInfo] = {}
    for process in psutil.process_iter(_TABLE_ATTRS):
        info = process.info
        uids = info["uids"]
        if uids is None or info["ppid"] is None:
            continue  # gone, or not readable
        if info["status"] in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            continue
        memory = info["memory_info"]
        found[process.pid] = ProcessInfo(
            process.pid,
            info["ppid"],
            uids.real,
            memory.rss if memory is not None else 0,
            info["num_threads"] or 1,
        )
    return found


def proportional_bytes(processes: Mapping[int, ProcessInfo], pids: Iterable[int]) -> int:
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


def private_tmp_folders(members: Iterable[int]) -> list[Path]:
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


def count_entries(root: Path, stop_after: int) -> int:
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
    name, _, value = marker.decode("utf-8", "replace").partition("=")
    try:
        return psutil.Process(pid).environ().get(name) == value
    except (psutil.Error, OSError):
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


def is_dying(pid: int) -> bool:
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


def adopting() -> bool:
    """Whether this process adopts its descendants' orphans (set by `adopt_orphans`)."""
    return _adopting


def now_ticks() -> int:
    """Clock ticks since boot, the unit of a process's start time in /proc/PID/stat."""
    try:
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def _adopted(job: SandboxJob, processes: Mapping[int, ProcessInfo]) -> set[int]:
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


def _descendants(root: int, processes: Mapping[int, ProcessInfo]) -> set[int]:
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


def job_members(
    job: SandboxJob | None, root_pid: int | None, processes: Mapping[int, ProcessInfo]
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


def kill_members(select: Callable[[Mapping[int, ProcessInfo]], set[int]]) -> int:
    """Stop everything selected until nothing new appears (so forks cannot outrun us), then
    SIGKILL it all; returns how many processes were killed."""
    stopped: set[int] = set()
    for _ in range(100):
        fresh = select(process_table()) - stopped
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

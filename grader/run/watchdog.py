"""The memory, process and file limits of a running job, enforced by a watchdog thread.

Memory is the resident set summed over the job's processes (PSS where forks share pages),
not RLIMIT_AS, which breaks TensorFlow below about 2 GiB of address space.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from grader.run.processes import (
    ProcessInfo,
    count_entries,
    job_members,
    kill_members,
    private_tmp_folders,
    process_start_time,
    process_table,
    proportional_bytes,
)
from grader.run.sandbox import SandboxJob


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

    def _select(self, processes: Mapping[int, ProcessInfo]) -> set[int]:
        # Once the kernel has died and been reaped its PID may belong to someone else.
        started = process_start_time(self.root_pid)
        same_root = started is not None and started == self._root_started
        return job_members(self.job, self.root_pid if same_root else None, processes)

    def resident_bytes(self) -> int:
        processes = process_table()
        return sum(processes[pid].rss_bytes for pid in self._select(processes))

    def _exceeded(self) -> str:
        """Which limit the job is over now ("" for none)."""
        processes = process_table()
        members = self._select(processes)
        tasks = sum(processes[pid].threads for pid in members)
        if self.max_processes is not None and tasks > self.max_processes:
            return "processes"
        total = sum(processes[pid].rss_bytes for pid in members)
        if total > self.limit_bytes:
            total = proportional_bytes(processes, members)
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)
        if total > self.limit_bytes:
            return "memory"
        files = self.max_files
        if files is not None and self.job is not None:
            count = 0
            for root in [self.job.work_dir, *private_tmp_folders(members)]:
                count += count_entries(root, files + 1 - count)
                if count > files:
                    return "files"
        return ""

    def _watch(self) -> None:
        while not self._stop.is_set():
            reason = self._exceeded()
            if reason:
                self.reason = reason
                self.tripped = True
                kill_members(self._select)
                if self.on_exceed is not None:
                    self.on_exceed()
                return
            self._stop.wait(self.interval)

"""Run a student's notebook in a sandboxed kernel, then the grader's own steps in it.

nbclient executes cells; this module adds what it lacks for grading: a whole-notebook
deadline (nbclient only has a per-cell timeout), output capped while it streams, a
kernel started from the grader's Python in a sandbox with a scrubbed environment,
a memory watchdog, and grader steps (seeding before the student's cells, harvesting
after them) that still run when a cell failed or timed out, as long as the kernel
answers. Errors are allowed so later cells still run: a student keeps the points for
what worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.checks.results import CellRecord
from grader.harvest.steps import GraderStep
from grader.run import detect, watchdog, wrap
from grader.run import sandbox as sandboxing

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TRACEBACK_CHARS = 4000
# Where kernels write their stderr (TensorFlow's C++ log lines, crashes): a file the
# caller opened, kept out of the terminal and out of the job folder the kernel can
# write to. None inherits the grader's stderr.
KERNEL_STDERR: contextvars.ContextVar[Any] = contextvars.ContextVar("kernel_stderr", default=None)


@dataclass(frozen=True)
class ExecutionSettings:
    """Limits for one notebook run, taken from the assignment spec."""

    cell_timeout_s: float
    notebook_timeout_s: float
    kernel_start_timeout_s: float
    output_bytes: int
    single_output_bytes: int
    memory_bytes: int
    threads: int
    file_size_bytes: int
    interrupt_answer_timeout_s: float
    open_files: int = 1024
    max_processes: int = 256
    files_written: int = 2000
    sandbox: str = "auto"
    hidden_paths: tuple[str, ...] = ()
    """Paths the kernel must not see even where a mount above them shows them (the
    secret, the output folder, the submissions): see `grader.run.isolation`."""


@dataclass
class ExecutionResult:
    """What happened when the notebook ran; `status` is one of results.Status."""

    status: str
    message: str
    cells: list[CellRecord]
    notebook: Any
    steps: dict[str, str] = field(default_factory=dict)
    step_errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    kernel_start_seconds: float = 0.0
    peak_memory_bytes: int = 0
    sandbox: str = ""
    output_truncated: bool = False
    leftover_processes: int = 0


class _GraderKernelSpecs(KernelSpecManager):
    """Always the grader's own Python with ipykernel, whatever the notebook asks for.

    A student's notebook metadata may name any kernel; we ignore it so the kernel
    is the interpreter whose packages the grader controls. Interrupts go as
    messages because a sandboxed kernel may not be signalled directly.
    """

    def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="motifgrader",
            language="python",
            interrupt_mode="message",
            metadata={},
        )


class _SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose launch command is wrapped by the sandbox."""

    wrap_command: Any = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        return self.wrap_command(command) if self.wrap_command else command


STOPPED_KERNEL = ("died", "oom")
"""Statuses of a run whose kernel a cell stopped: the message names that cell, and the
cells before it are run again in a fresh kernel to grade what worked."""
CELL_TIMEOUT_ERROR = "CellTimeoutError"


class _CappedClient(NotebookClient):
    """nbclient with outputs capped while they stream; timeouts and exit() noted per cell
    through nbclient's public `on_cell_executed` hook."""

    def __init__(self, nb: Any, km: Any, settings: ExecutionSettings) -> None:
        super().__init__(
            nb,
            km=km,
            timeout=int(settings.cell_timeout_s),
            startup_timeout=int(settings.kernel_start_timeout_s),
            allow_errors=True,
            record_timing=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": CELL_TIMEOUT_ERROR,
                "evalue": (
                    f"This cell ran longer than the {settings.cell_timeout_s:.0f} s limit "
                    "per cell and was interrupted."
                ),
                "traceback": [],
            },
            iopub_timeout=4,
            shutdown_kernel="immediate",
        )
        self.total_limit = settings.output_bytes
        self.single_limit = settings.single_output_bytes
        self.total_bytes = 0
        self.truncated_cells: set[int] = set()
        self.timed_out_cells: set[int] = set()
        self.exit_cells: set[int] = set()
        self.on_cell_executed = self._note_cell_end

    def _note_cell_end(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        reply = execute_reply or {}
        content = reply.get("content", {})
        # nbclient answers a cell it interrupted at the per-cell limit with the
        # `error_on_timeout` content and no message header; a kernel's reply has one, so a
        # student raising an exception of that name is not taken for a timeout.
        if "header" not in reply and content.get("ename") == CELL_TIMEOUT_ERROR:
            self.timed_out_cells.add(cell_index)
        # `exit()` / `quit()`: IPython replies, then stops the kernel a moment later, so
        # the death would otherwise be blamed on whichever cell runs next.
        for payload in content.get("payload") or []:
            if payload.get("source") == "ask_exit" and not payload.get("keepkernel"):
                self.exit_cells.add(cell_index)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        size = len(json.dumps(msg.get("content", {}), default=str))
        if size > self.single_limit or self.total_bytes + size > self.total_limit:
            if cell_index not in self.truncated_cells:
                self.truncated_cells.add(cell_index)
                reason = (
                    f"an output of {size:,} bytes is over the {self.single_limit:,}-byte limit"
                    if size > self.single_limit
                    else f"the notebook's outputs passed the {self.total_limit:,}-byte limit"
                )
                outs.append(
                    nbformat.v4.new_output(
                        "stream",
                        name="stderr",
                        text=f"[motifgrader: output removed here: {reason}]\n",
                    )
                )
            return None
        self.total_bytes += size
        return super().output(outs, msg, display_id, cell_index)


async def _run_code(client: _CappedClient, code: str, timeout_s: float) -> tuple[str, str]:
    """Run grader code in the kernel; return ("ok" | "error" | "timeout", error text)."""
    assert client.kc is not None
    msg_id = client.kc.execute(code, silent=True, store_history=False, stop_on_error=False)
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout", f"no answer from the kernel within {timeout_s:.0f} s"
        try:
            reply = await client.kc.shell_channel.get_msg(timeout=min(remaining, 1.0))
        except Exception:
            if not await client.km.is_alive():
                return "died", "the kernel is no longer running"
            continue
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        content = reply.get("content", {})
        if content.get("status") == "ok":
            return "ok", ""
        trace = "\n".join(content.get("traceback", []))
        return "error", _ANSI.sub("", f"{content.get('ename')}: {content.get('evalue')}\n{trace}")


async def _kernel_answers(client: _CappedClient, settings: ExecutionSettings) -> bool:
    """After an interrupt: does the kernel come back to run something trivial in time?"""
    status, _ = await _run_code(client, "pass", settings.interrupt_answer_timeout_s)
    return status == "ok"


def _cell_seconds(cell: Any) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.status.busy"), timing.get("iopub.status.idle")
    if not start or not end:
        start, end = timing.get("shell.execute_reply.started"), timing.get("shell.execute_reply")
    try:
        begin = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        finish = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return max((finish - begin).total_seconds(), 0.0)


def _cell_record(index: int, cell: Any, timed_out: bool, ran: bool) -> CellRecord:
    head = cell.get("source", "").strip().splitlines()[:1]
    source_head = head[0][:120] if head else ""
    if not ran:
        return CellRecord(index, None, None, "not_run", source_head=source_head)
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    status = "timeout" if timed_out else ("error" if error else "ok")
    trace = ""
    if error is not None:
        trace = _ANSI.sub("", "\n".join(error.get("traceback", [])))[-TRACEBACK_CHARS:]
    return CellRecord(
        index=index,
        execution_count=cell.get("execution_count"),
        seconds=_cell_seconds(cell),
        status=status,
        error_name=str(error.get("ename", "")) if error else "",
        error_value=str(error.get("evalue", ""))[:500] if error else "",
        traceback=trace,
        source_head=source_head,
    )


@dataclass
class _Session:
    """What one kernel's run found: how far it got, why it stopped, what the steps said."""

    status: str = "ok"
    message: str = ""
    timeout: str = ""
    """"notebook" (the whole notebook's limit) or "cell" (a cell's limit), else ""."""
    survived_interrupt: bool = True
    """After a cell's limit: whether the kernel answered again once interrupted."""
    ran: set[int] = field(default_factory=set)
    timed_out: set[int] = field(default_factory=set)
    alive: bool = False
    current: int | None = None
    stopped_at: int | None = None
    fatal_error: tuple[str, str] | None = None
    """(name, sentence) shown as the error of the cell that killed the kernel."""
    steps: dict[str, str] = field(default_factory=dict)
    step_errors: dict[str, str] = field(default_factory=dict)
    kernel_start_seconds: float = 0.0
    peak_memory_bytes: int = 0
    truncated: bool = False
    leftovers: int = 0
    sandbox: str = ""


class _KernelRun:
    """One sandboxed kernel over some cells, then the grader's steps if it still answers.

    `run` calls the steps in order: start the kernel and its watchdog, the grader's
    preamble, the student's cells, the grader's steps; then, whatever happened, stop the
    kernel and everything it left, and read which limit (if any) stopped it.
    """

    def __init__(
        self,
        notebook: Any,
        job_dir: Path,
        settings: ExecutionSettings,
        preamble: GraderStep | None,
        steps: list[GraderStep],
        cells_to_run: list[int],
    ) -> None:
        self.notebook = notebook
        self.settings = settings
        self.preamble = preamble
        self.steps = steps
        self.cells_to_run = cells_to_run
        self.info = detect.probe_sandbox(settings.sandbox)
        self.job = sandboxing.prepare_job(job_dir, self.info)
        self.km = _SandboxedKernelManager(
            kernel_name="motifgrader",
            kernel_spec_manager=_GraderKernelSpecs(),
            transport="ipc",
            ip=str(self.job.ipc_prefix),
            connection_file=str(self.job.connection_file),
        )
        self.km.wrap_command = self._wrap
        self.client = _CappedClient(notebook, self.km, settings)
        self.watchdog: watchdog.MemoryWatchdog | None = None
        self.session = _Session(sandbox=self.info.detail)

    def _wrap(self, argv: list[str]) -> list[str]:
        settings = self.settings
        limits = sandboxing.SandboxLimits(
            memory_bytes=settings.memory_bytes,
            cpu_seconds=int(settings.notebook_timeout_s * 2 + 120),
            file_size_bytes=settings.file_size_bytes,
            open_files=settings.open_files,
            # The watchdog enforces max_processes and names it; RLIMIT_NPROC is a backstop
            # above it, so a bomb is stopped as a bomb rather than failing with EAGAIN.
            max_processes=2 * settings.max_processes,
        )
        return wrap.wrap_kernel_command(
            argv,
            job=self.job,
            sandbox=self.info,
            limits=limits,
            hidden_paths=[Path(p) for p in settings.hidden_paths],
        )

    async def run(self) -> _Session:
        session = self.session
        try:
            await self.start_kernel()
            await self.run_preamble()
            await self.run_cells()
            if session.alive:
                await self.run_grader_steps()
        except DeadKernelError:
            session.status, session.alive = "died", False
            session.stopped_at = session.current
        except RuntimeError as exc:
            if "Kernel didn't respond" not in str(exc) and "Kernel died" not in str(exc):
                raise
            session.status, session.alive = "died", False
            session.message = f"The kernel did not start: {exc}"
        finally:
            await self.stop_kernel()
        self.read_limits()
        if session.status == "died" and not session.message:
            session.message = "The kernel died (the notebook exited or crashed the Python process)."
        if session.status == "died" and session.fatal_error is None:
            session.fatal_error = ("KernelDied", session.message)
        return session

    async def start_kernel(self) -> None:
        """Start the kernel in its sandbox, then its watchdog on the kernel's process."""
        env = sandboxing.scrubbed_environment(job=self.job, threads=self.settings.threads)
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        started = time.monotonic()
        await self.client.async_start_new_kernel(
            env=env, cwd=str(self.job.work_dir), stderr=KERNEL_STDERR.get()
        )
        await self.client.async_start_new_kernel_client()
        self.session.kernel_start_seconds = time.monotonic() - started
        self.session.alive = True
        process = self.km.provisioner.process if self.km.provisioner else None
        if process is not None and process.pid:
            self.watchdog = watchdog.MemoryWatchdog(
                process.pid,
                self.settings.memory_bytes,
                job=self.job,
                max_processes=self.settings.max_processes,
                max_files=self.settings.files_written,
            ).start()

    async def run_preamble(self) -> None:
        if self.preamble is not None:
            result = await _run_code(self.client, self.preamble.code, self.preamble.timeout_s)
            self.session.steps[self.preamble.name], self.session.step_errors[self.preamble.name] = (
                result
            )

    async def run_cells(self) -> None:
        """The student's cells, under the per-cell and the whole-notebook limits.

        The student's time starts after the grader's preamble (seeding, which imports
        TensorFlow when the notebook names it: seconds on a busy machine that are not the
        notebook's doing)."""
        session, client = self.session, self.client
        deadline = time.monotonic() + self.settings.notebook_timeout_s
        execution_count = 0
        for index in self.cells_to_run:
            cell = self.notebook.cells[index]
            if not cell.get("source", "").strip():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                session.status, session.timeout, session.stopped_at = "timeout", "notebook", index
                return
            execution_count += 1
            session.current = index
            session.ran.add(index)
            try:
                await asyncio.wait_for(
                    client.async_execute_cell(cell, index, execution_count=execution_count),
                    timeout=remaining,
                )
            except (TimeoutError, DeadKernelError) as exc:
                # nbclient turns the cancellation of a cell at our deadline into
                # DeadKernelError; only a death before the deadline is a real one.
                if isinstance(exc, DeadKernelError) and time.monotonic() < deadline - 0.01:
                    raise
                session.status, session.timeout, session.stopped_at = "timeout", "notebook", index
                client.timed_out_cells.add(index)
                await self.km.interrupt_kernel()
                session.alive = await _kernel_answers(client, self.settings)
                return
            if index in client.timed_out_cells:
                session.status, session.timeout = "timeout", "cell"
                session.alive = session.survived_interrupt = await _kernel_answers(
                    client, self.settings
                )
                if not session.alive:
                    session.stopped_at = index
                    return
            if index in client.exit_cells:
                session.status, session.stopped_at, session.alive = "died", index, False
                session.message = "The notebook called exit() (or quit()), which stops the kernel."
                session.fatal_error = ("KernelExited", session.message)
                return

    async def run_grader_steps(self) -> None:
        """The harvest, in the kernel the student's cells left; a step that hangs is
        interrupted, and one that kills the kernel ends the steps."""
        for step in self.steps:
            result, error = await _run_code(self.client, step.code, step.timeout_s)
            self.session.steps[step.name], self.session.step_errors[step.name] = result, error
            if result == "timeout":
                await self.km.interrupt_kernel()
                if not await _kernel_answers(self.client, self.settings):
                    self.session.alive = False
                    return
            if result == "died":
                self.session.alive = False
                return

    async def stop_kernel(self) -> None:
        """Stop the watchdog and the kernel, and kill whatever the job left running."""
        if self.watchdog is not None:
            self.watchdog.stop()
        with contextlib.suppress(Exception):
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
        if self.client.kc is not None:
            self.client.kc.stop_channels()
        self.session.leftovers = sandboxing.kill_job_processes(self.job, grace_s=2.0)
        self.session.timed_out = set(self.client.timed_out_cells)
        self.session.truncated = bool(self.client.truncated_cells)

    def read_limits(self) -> None:
        """If the watchdog stopped the job, say which limit and in which cell."""
        session, settings, guard = self.session, self.settings, self.watchdog
        if guard is None:
            return
        session.peak_memory_bytes = guard.peak_rss_bytes
        if not guard.tripped:
            return
        session.alive = False
        session.stopped_at = session.current
        limit = {
            "processes": (
                "died",
                f"started more than {settings.max_processes} processes or threads",
                "ProcessLimitExceeded",
            ),
            "files": (
                "died",
                f"created more than {settings.files_written} files and folders",
                "FileLimitExceeded",
            ),
        }.get(guard.reason)
        status, what, error = limit or (
            "oom",
            f"used more than {settings.memory_bytes / 2**30:.1f} GiB of memory",
            "MemoryLimitExceeded",
        )
        subject = "kernel" if status == "oom" else "notebook"
        session.status = status
        session.message = f"The {subject} {what} and was stopped."
        session.fatal_error = (error, session.message)


def _timeout_message(
    session: _Session, cells: list[CellRecord], settings: ExecutionSettings
) -> str:
    """Which limit a timed-out notebook hit, naming the cell that was running."""
    stuck = next((c for c in cells if c.status == "timeout"), None)
    where = f"the cell starting `{stuck.source_head[:60]}`" if stuck else "a cell"
    if session.timeout == "notebook":
        return (
            f"The notebook ran past its {settings.notebook_timeout_s:.0f} s limit while "
            f"{where} was running."
        )
    stopped = "interrupted" if session.survived_interrupt else "stopped (it ignored the interrupt)"
    sentence = (
        f"{where} ran past the {settings.cell_timeout_s:.0f} s per-cell limit and was {stopped}."
    )
    return sentence[0].upper() + sentence[1:]


def _empty_folder(folder: Path) -> None:
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _fresh_copy(notebook: Any) -> Any:
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    for cell in copy.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
    return copy


async def _execute(
    notebook: Any,
    job_dir: Path,
    settings: ExecutionSettings,
    preamble: GraderStep | None,
    steps: list[GraderStep],
) -> ExecutionResult:
    code_cells = [i for i, c in enumerate(notebook.cells) if c.get("cell_type") == "code"]
    started = time.monotonic()
    first = await _KernelRun(notebook, job_dir, settings, preamble, steps, code_cells).run()
    status, message = first.status, first.message
    grader_steps, step_errors = first.steps, first.step_errors
    replayed = False
    before = [i for i in code_cells if first.stopped_at is not None and i < first.stopped_at]
    if not first.alive and first.stopped_at is not None and before:
        # The kernel is gone, so nothing could be read from it. Run the cells before
        # the one that killed it in a fresh kernel, to grade what did work. The folder
        # starts empty too: what the first run wrote (thousands of files, say) is not
        # the replay's.
        _empty_folder(job_dir)
        second = await _KernelRun(
            _fresh_copy(notebook), job_dir, settings, preamble, steps, before
        ).run()
        if second.alive:
            grader_steps, step_errors = second.steps, second.step_errors
            replayed = True
    fatal = first.stopped_at if status in STOPPED_KERNEL else None
    if fatal is not None and first.fatal_error is not None and fatal in first.ran:
        # The kernel gave no error for the cell it died in: say it there, in the executed
        # notebook and the report, rather than leave that cell looking fine.
        name, sentence = first.fatal_error
        notebook.cells[fatal].setdefault("outputs", []).append(
            nbformat.v4.new_output("error", ename=name, evalue=sentence, traceback=[])
        )
    cells = [
        _cell_record(i, notebook.cells[i], i in first.timed_out, i in first.ran) for i in code_cells
    ]
    if status == "timeout":
        message = _timeout_message(first, cells, settings)
    if status in STOPPED_KERNEL and first.stopped_at is not None:
        head = notebook.cells[first.stopped_at].get("source", "").strip().splitlines()[:1]
        if head:
            message = message.rstrip(".") + f", in the cell starting `{head[0][:60]}`."
    if status == "ok" and any(c.status == "error" for c in cells):
        status = "errors"
        failing = [c for c in cells if c.status == "error"]
        message = f"{len(failing)} cell(s) raised an error; the first was {failing[0].error_name}."
    if status == "ok":
        message = "The notebook ran from top to bottom without errors."
    if status in ("died", "timeout", "oom"):
        not_run = sum(1 for c in cells if c.status == "not_run")
        if not_run:
            message += f" {not_run} later cell(s) did not run."
    if replayed:
        message += (
            " The grader re-ran the cells before that one in a fresh kernel to grade what worked."
        )
    return ExecutionResult(
        status=status,
        message=message,
        cells=cells,
        notebook=notebook,
        steps=grader_steps,
        step_errors=step_errors,
        seconds=time.monotonic() - started,
        kernel_start_seconds=first.kernel_start_seconds,
        peak_memory_bytes=first.peak_memory_bytes,
        sandbox=first.sandbox,
        output_truncated=first.truncated,
        leftover_processes=first.leftovers,
    )


def execute_notebook(
    notebook: Any,
    job_dir: Path,
    settings: ExecutionSettings,
    preamble: GraderStep | None = None,
    steps: list[GraderStep] | None = None,
) -> ExecutionResult:
    """Run `notebook` (already parsed) in `job_dir`; never raises for student failures."""
    return asyncio.run(_execute(notebook, job_dir, settings, preamble, list(steps or [])))

"""Grade the whole corpus once, in one batch, beside a folder laid out as a careless
instructor would: sentinels, another student's results and the secret file are siblings
of the job folders, and the grader's environment holds secrets no kernel may see.

Run in a process of its own (`tests/shared_gradings.py`): the batch sets TMPDIR and the
secrets in that process's environment, which nothing else in the test session shares.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import socket
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.checks.results import StudentResult
from grader.run import sandbox as sandboxing
from grader.run.session import STOPPED_KERNEL
from tests.shared_gradings import write_test_spec
from tests.corpus.build_corpus import CANARY, CORPUS, NOTEBOOK_NAME, write_large_notebook
from tests.corpus.cases import CASES, CORPUS_LIMITS, Case

VICTIM_TEXT = "a file beside the job folders that no notebook may change\n"
OTHER_RESULTS = '{"score": 42, "note": "another student\'s results, graded earlier"}\n'
HOST_TARGETS = (
    Path("/tmp") / f"{CANARY}-pwned.txt",
    Path("/root") / f"{CANARY}-pwned.txt",
    Path("/etc") / f"{CANARY}-pwned",
    Path(sysconfig.get_paths()["purelib"]) / f"{CANARY}_pwned.py",
    Path(sys.executable).parent / f"{CANARY}-pwned",
)
"""Files the write_outside_job case tries to create on the host."""

CORPUS_WORKERS = 3
"""One more worker than cores: two of the long cases sleep or wait out a limit, and with
two workers one core idled through them. Measured alone on 2 cores (`python -m
tests.shared_gradings hostile_corpus DIR`): 195 s with two workers, 162 s with three. The
slowest cell of an honest case stayed under 4 s against the 15 s cell limit."""

SANDBOX = os.environ.get("MOTIFGRADER_TEST_SANDBOX", "auto")
"""Set to "fallback" to grade the corpus without bubblewrap on a machine that has it."""


@dataclass
class Graded:
    """One batch and what was around it."""

    base: Path
    out: Path
    results: dict[str, StudentResult]
    secret: str
    canaries: dict[str, str]
    """Secrets that were in the grader's environment while it graded."""
    leftovers: list[str]
    listener_connections: int
    planted_host_files: list[str]

    def executed(self, case: str) -> str:
        """The executed notebook as written to the output folder ("" when there is none)."""
        path = self.out / "students" / self.student(case) / "executed.ipynb"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def outputs(self, case: str) -> str:
        """Every output of the executed notebook (not the code that printed it), as JSON."""
        executed = self.executed(case)
        if not executed:
            return ""
        cells = json.loads(executed)["cells"]
        return json.dumps([c.get("outputs", []) for c in cells], ensure_ascii=False)

    def student(self, case: str) -> str:
        return next(s for s in self.results if s.split("-", 1)[1] == case)

    def result(self, case: str) -> StudentResult:
        return self.results[self.student(case)]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _slot_is_free(uid: int) -> bool:
    """No grader holds this job uid now (its slot lock can be taken)."""
    lock = sandboxing._slot_lock_dir() / f"{uid}.lock"
    if not lock.exists():
        return True
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def job_leftovers(base: Path) -> list[str]:
    """Live processes a graded notebook left behind, described; [] when there are none.

    Found by the canary every corpus process carries in its command line, a working
    folder under `base` (where the job folders were), a job marker in the environment
    together with such a folder, or a job uid no running grader holds.
    """
    job_uids = range(sandboxing.JOB_UID_BASE, sandboxing.JOB_UID_BASE + sandboxing.JOB_SLOTS)
    free: dict[int, bool] = {}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        status = _read(f"/proc/{name}/status").decode(errors="replace")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if not fields or fields.get("State", "").strip()[:1] in ("Z", "X"):
            continue
        uid = int(fields.get("Uid", "-1").split()[0])
        cmdline = _read(f"/proc/{name}/cmdline").replace(b"\0", b" ").decode(errors="replace")
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            cwd = ""
        reasons = []
        if CANARY in cmdline:
            reasons.append("carries the corpus canary")
        if cwd.startswith(str(base)):
            reasons.append(f"works in {cwd}")
        if uid in job_uids and free.setdefault(uid, _slot_is_free(uid)):
            reasons.append(f"runs as job uid {uid} that no grader holds")
        if reasons:
            found.append(f"pid {name} ({cmdline[:80]!r}): " + ", ".join(reasons))
    return found


def _wait_for_no_leftovers(base: Path, timeout_s: float = 20.0) -> list[str]:
    """Killed processes can take seconds to exit (a forked kernel is large)."""
    deadline = time.monotonic() + timeout_s
    leftovers = job_leftovers(base)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.25)
        leftovers = job_leftovers(base)
    return leftovers


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def batch_order(cases: list[Case]) -> list[Case]:
    """Long cases first, so the batch is not left waiting for one, but of those that sleep
    only the first; the others start a third of the way through. Of the rest, those run
    twice come first, so the batch ends on the shortest cases; otherwise name order.
    Measured on 2 cores: with both sleepers among the first three jobs, one core idled for
    40 s; in name order, the batch ended on a case run twice (10 s), and with the second
    sleeper (46 s) started midway, on that sleeper, while the other workers had nothing
    left to do."""
    by_name = sorted(cases, key=lambda c: c.name)
    sleepers = [c for c in by_name if c.long and c.sleeps]
    first = [c for c in by_name if c.long and not c.sleeps] + sleepers[:1]
    quick = sorted((c for c in by_name if not c.long), key=lambda c: c.status not in STOPPED_KERNEL)
    third = len(quick) // 3
    return first + quick[:third] + sleepers[1:] + quick[third:]


def _lay_out(cases: list[Case]) -> tuple[Path, Path]:
    """A base folder holding sentinels, the secret and the submissions; returns it and
    the submissions folder, whose names number the cases in `batch_order` (the batch
    starts jobs in name order); the base is readable by others so a job uid could reach
    its folder."""
    base = Path(tempfile.mkdtemp(prefix="mgc-", dir="/tmp"))
    base.chmod(0o755)
    sentinel = base / "sentinel"
    sentinel.mkdir(mode=0o755)
    (sentinel / "victim.txt").write_text(VICTIM_TEXT)
    other = base / "out" / "students" / f"{CANARY}-other"
    other.mkdir(parents=True)
    (other / "results.json").write_text(OTHER_RESULTS)
    submissions = base / "submissions"
    for number, case in enumerate(batch_order(cases)):
        folder = submissions / f"{number:02d}-{case.name}"
        if case.generated:
            write_large_notebook(folder)
        else:
            folder.mkdir(parents=True)
            shutil.copy(CORPUS / case.name / NOTEBOOK_NAME, folder / NOTEBOOK_NAME)
    return base, submissions


def grade_corpus() -> Graded:
    """Every case graded in one batch with a secret seed, under the corpus's short limits,
    with canaries in the grader's environment."""
    from grader.batch import grade_folder

    base, submissions = _lay_out(list(CASES))
    secret = f"corpus-secret-{secrets.token_hex(12)}"
    secret_file = base / "secret.txt"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    canaries = {
        "MOTIFGRADER_SECRET": f"env-secret-{secrets.token_hex(8)}",
        "AWS_SECRET_ACCESS_KEY": f"aws-canary-{secrets.token_hex(8)}",
    }
    spec = write_test_spec(base, **CORPUS_LIMITS)
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.setblocking(False)
    try:
        # Job folders are made in TMPDIR, so they land beside the sentinels.
        with _environment(TMPDIR=str(base), **canaries):
            summary = grade_folder(
                submissions,
                base / "out",
                spec_path=spec,
                secret_file=secret_file,
                workers=CORPUS_WORKERS,
                sandbox=SANDBOX,
                # Forcing the fallback (to test it) is an opt-out where it cannot isolate.
                allow_unisolated=SANDBOX == "fallback",
            )
        connections = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                listener.accept()[0].close()
                connections += 1
    finally:
        listener.close()
    planted = [str(path) for path in HOST_TARGETS if path.exists()]
    for path in HOST_TARGETS:
        with contextlib.suppress(OSError):
            path.unlink()
    return Graded(
        base=base,
        out=base / "out",
        results={r.student: r for r in summary.results},
        secret=secret,
        canaries=canaries,
        leftovers=_wait_for_no_leftovers(base),
        listener_connections=connections,
        planted_host_files=planted,
    )

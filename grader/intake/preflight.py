"""Checks of an instructor's arguments, made before any notebook runs.

A typo must not look like a finished run: `grade` on an empty folder, or with
`--only` naming nobody, would otherwise write an index of zero students and exit 0.
Each check here raises `ArgumentProblem` with one sentence that names the argument
and says what to do; the CLI turns it into exit status 2. They are cheap (no
notebook runs, no TensorFlow) and are plain functions so the tests call them too.
"""

from __future__ import annotations

import asyncio
import difflib
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from grader.intake.discover import Submission, discover_submissions, safe_student_id

DASK_DEFAULT_PORT = 8786
# Schemes whose address is host:port and can be probed with a plain TCP connection.
_TCP_SCHEMES = {"tcp", "tls", "ws", "wss"}
_KNOWN_SCHEMES = _TCP_SCHEMES | {"inproc", "ucx"}


class ArgumentProblem(ValueError):
    """An argument the grader cannot work with; the message says which and what to do."""


def check_output_folder(path: Path, option: str = "--out") -> None:
    """The output path must be a folder, or not exist yet (it is created)."""
    if path.exists() and not path.is_dir():
        raise ArgumentProblem(f"{option} {path} is a file, not a folder: give a folder path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ArgumentProblem(f"{option} {path}: {parent} is a file, not a folder")
            break


def check_gradebook_file(path: Path | None, *, must_exist: bool = False) -> None:
    """A gradebook is one SQLite file; a folder there would end in an SQLite error."""
    if path is None:
        return
    if path.exists() and not path.is_file():
        raise ArgumentProblem(
            f"--gradebook {path} is a folder, not a file: give a file path such as "
            f"{path / 'gradebook.sqlite'}"
        )
    if must_exist and not path.exists():
        raise ArgumentProblem(f"no gradebook at {path}: run `motifgrader grade` first")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ArgumentProblem(f"--gradebook {path}: {parent} is a file, not a folder")
            break


def check_scheduler(address: str | None, *, timeout_s: float = 5.0) -> None:
    """The Dask scheduler must answer before any job is handed to it.

    Only host:port transports are probed (a TCP connection, nothing sent); `inproc`
    and `ucx` addresses are taken as given.
    """
    if address is None:
        return
    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    scheme = parts.scheme.lower()
    if scheme not in _KNOWN_SCHEMES:
        raise ArgumentProblem(
            f"--scheduler {address}: unknown protocol {scheme!r}; give an address like "
            f"tcp://HOST:{DASK_DEFAULT_PORT}"
        )
    if scheme not in _TCP_SCHEMES:
        return
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise ArgumentProblem(
            f"--scheduler {address} is not a scheduler address; give one like "
            f"tcp://HOST:{DASK_DEFAULT_PORT}"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ArgumentProblem(
            f"--scheduler {address}: no Dask scheduler answers at {host}:{port} ({reason}); "
            "start it (`dask scheduler`) or check the address"
        ) from exc
    if scheme == "tcp":
        _dask_handshake(f"tcp://{host}:{port}", address, timeout_s)


def _dask_handshake(url: str, address: str, timeout_s: float) -> None:
    """Something listens there; make sure it speaks Dask's protocol (a proxy also answers)."""
    try:
        from distributed.comm import connect
    except ImportError:  # pragma: no cover - depends on the install
        raise ArgumentProblem(
            "--scheduler needs dask.distributed: pip install 'motifgrader[dask]'"
        ) from None

    async def probe() -> None:
        # connect's own timeout stops at the socket; a stranger may never finish the
        # handshake, so the whole exchange has a deadline too.
        comm = await asyncio.wait_for(connect(url, timeout=timeout_s), 2 * timeout_s)
        await comm.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        raise ArgumentProblem(
            f"--scheduler {address}: something answers there but not as a Dask scheduler "
            f"({type(exc).__name__}); check the address and port"
        ) from exc


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Students whose id looks like `name` (a typo, another case)."""
    by_lower = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[f] for f in found]


def select_submissions(
    submissions_path: Path, only: Sequence[str] | None = None
) -> list[Submission]:
    """The submissions `grade` would grade; an empty selection is a misuse, not a run.

    Raises ArgumentProblem for a folder with no submission at all and for `--only`
    names that match no student (with the closest student ids).
    """
    found = discover_submissions(submissions_path)
    if not found:
        raise ArgumentProblem(
            f"no submissions in {submissions_path}: expected STUDENT/*.ipynb, STUDENT.ipynb, "
            "STUDENT.zip or an LMS export zip"
        )
    if not only:
        return found
    students = [s.student for s in found]
    unknown = [name for name in only if safe_student_id(name) not in students]
    if unknown:
        hints = []
        for name in unknown:
            matches = close_matches(name, students)
            hint = f"did you mean {', '.join(matches)}?" if matches else "no similar name"
            hints.append(f"{name!r} ({hint})")
        raise ArgumentProblem(
            f"--only matches no student in {submissions_path}: {'; '.join(hints)} "
            f"[{len(students)} students found]"
        )
    wanted = {safe_student_id(name) for name in only}
    return [s for s in found if s.student in wanted]

"""Starting the desk: where it listens, its token, and its address.

The desk binds to loopback unless told otherwise, and every request needs the
per-run token from the printed address (a cookie after the first visit), so other
users of a shared machine cannot grade in your name. Listening on another address
also needs `allow_remote`: grades and student names would otherwise be one typo
away from the network.
"""

from __future__ import annotations

import getpass
import html
import ipaddress
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from grader.desk.app import create_app
from grader.desk.store import DeskStore
from grader.spec import load_spec

log = logging.getLogger(__name__)

TOKEN_ENV = "MOTIFGRADER_DESK_TOKEN"
MIN_TOKEN_CHARS = 16
DESK_LINK_NAME = "desk.html"


class DeskError(Exception):
    """The desk cannot start as asked; the message says what to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, allow_remote: bool, token: str) -> None:
    """Refuse addresses other machines can reach unless asked for, and never without a token."""
    if len(token) < MIN_TOKEN_CHARS:
        raise DeskError(f"the desk token must have at least {MIN_TOKEN_CHARS} characters")
    if not is_loopback(host) and not allow_remote:
        raise DeskError(
            f"--host {host} can be reached from other machines; add --allow-remote if that "
            "is what you want (every request still needs the printed token)"
        )


@dataclass(frozen=True)
class DeskHandle:
    """A running desk: its address with the token, for a browser or a test."""

    url: str
    base_url: str
    token: str
    store: DeskStore


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise DeskError(f"cannot listen on {host}:{port} ({exc.strerror})") from exc
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _prepare(
    out_dir: Path | str | None,
    *,
    gradebook_path: Path | str | None,
    spec_path: Path | str | None,
    host: str,
    port: int,
    allow_remote: bool,
    anonymous: bool,
    grader: str | None,
    token: str | None,
) -> tuple[uvicorn.Server, socket.socket, DeskHandle]:
    from grader.batch import GRADEBOOK_NAME

    token = token or os.environ.get(TOKEN_ENV, "").strip() or secrets.token_urlsafe(24)
    check_bind(host, allow_remote=allow_remote, token=token)
    path = Path(gradebook_path) if gradebook_path else Path(out_dir or ".") / GRADEBOOK_NAME
    if not path.is_file():
        raise DeskError(f"no gradebook at {path}: run `motifgrader grade` first")
    store = DeskStore(path, load_spec(spec_path), anonymous=anonymous)
    app = create_app(store, token=token, default_grader=grader or _user())
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    base = f"http://{shown}:{bound}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config), sock, DeskHandle(f"{base}/?token={token}", base, token, store)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "grader"


def _write_link(out_dir: Path | str | None, url: str) -> Path | None:
    """OUT/desk.html: the class summary's link to the running desk (readable by you only)."""
    if out_dir is None or not Path(out_dir).is_dir():
        return None
    path = Path(out_dir) / DESK_LINK_NAME
    with suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    link = html.escape(url, quote=True)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            '<!doctype html><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0; url={link}">'
            f'<title>Grading desk</title><p><a href="{link}">Open the grading desk</a></p>\n'
        )
    return path


def _remove_link(path: Path | None, token: str) -> None:
    if path is None:
        return
    with suppress(OSError):
        if token in path.read_text(encoding="utf-8"):
            path.unlink()


def run_desk(
    *,
    out_dir: Path | str,
    gradebook_path: Path | str | None = None,
    spec_path: Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    anonymous: bool = False,
    grader: str | None = None,
    token: str | None = None,
    on_ready: Callable[[DeskHandle], None] | None = None,
) -> None:
    """Serve the desk on the gradebook in `out_dir` until interrupted (Ctrl+C)."""
    server, sock, handle = _prepare(
        out_dir,
        gradebook_path=gradebook_path,
        spec_path=spec_path,
        host=host,
        port=port,
        allow_remote=allow_remote,
        anonymous=anonymous,
        grader=grader,
        token=token,
    )
    link = _write_link(out_dir, handle.url)
    if on_ready is not None:
        on_ready(handle)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        log.info("grading desk stopped")  # uvicorn re-raises Ctrl+C after shutting down
    finally:
        sock.close()
        handle.store.close()
        _remove_link(link, handle.token)


@contextmanager
def running_desk(
    out_dir: Path | str | None = None,
    *,
    gradebook_path: Path | str | None = None,
    spec_path: Path | str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    anonymous: bool = False,
    grader: str | None = None,
    token: str | None = None,
) -> Iterator[DeskHandle]:
    """The desk serving from a background thread while the block runs (tests, benchmarks)."""
    server, sock, handle = _prepare(
        out_dir,
        gradebook_path=gradebook_path,
        spec_path=spec_path,
        host=host,
        port=port,
        allow_remote=False,
        anonymous=anonymous,
        grader=grader,
        token=token,
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="grading-desk", daemon=True
    )
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise DeskError("the desk stopped while starting")
            threading.Event().wait(0.01)
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        handle.store.close()

"""Last step before a student's kernel starts: limits, a new session, an unprivileged user.

Run as a script (``python -I -S launcher.py [options] -- kernel argv...``), never imported by
the kernel: it uses the standard library only, so it starts quickly and works inside
bubblewrap, where only the Python installation and the job folder are visible. It replaces
itself with the kernel (``execvp``), so the kernel keeps the launcher's PID and the kernel
manager's signals and exit status reach it directly. The scorer (a grader helper that
parses students' model files) goes through it too, with its own environment and an
address-space cap, since no watchdog follows it.

Order matters and is why this is a separate program rather than a ``preexec_fn``: files
the kernel must read (its connection file, 0600 root) are handed to the job's uid while we
are still root; limits are set before the uid is dropped, after which the kernel may lower
them but never raise them; the uid goes last, with ``no_new_privs`` so a setuid program
cannot give root back.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import resource
import sys

PR_SET_NO_NEW_PRIVS = 38


def _tasks_of(uid: int) -> int:
    """Threads and processes of `uid`: what RLIMIT_NPROC counts against (Linux /proc)."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 -1").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


def _lower(limit: int, soft: int, hard: int | None = None) -> None:
    """Lower a limit; never try to raise the hard limit above what we were given."""
    _, current_hard = resource.getrlimit(limit)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(limit, (soft, hard))


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="motifgrader-launcher", allow_abbrev=False)
    parser.add_argument("--cpu", type=int, help="CPU seconds (SIGXCPU, then SIGKILL 2 s later)")
    parser.add_argument("--fsize", type=int, help="largest file the kernel may write, bytes")
    parser.add_argument("--nofile", type=int, help="open file descriptors")
    parser.add_argument("--nproc", type=int, help="processes and threads, on top of existing ones")
    parser.add_argument("--user", help="UID:GID to run the kernel as (needs root)")
    parser.add_argument("--own", action="append", default=[], help="hand this file to --user")
    parser.add_argument("--chdir", help="working directory of the kernel")
    parser.add_argument("--address-space", type=int, help="RLIMIT_AS, bytes (helpers only)")
    parser.add_argument("--clearenv", action="store_true", help="start from an empty environment")
    parser.add_argument("--setenv", action="append", default=[], help="NAME=VALUE")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.command[:1] == ["--"]:
        options.command = options.command[1:]
    if not options.command:
        parser.error("no kernel command after --")
    return options


def main(argv: list[str] | None = None) -> int:
    options = _parse(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)
    with contextlib.suppress(PermissionError):
        os.setsid()  # fails only when already a session leader (bwrap --new-session did it)
    uid = gid = None
    if options.user:
        uid, gid = (int(part) for part in options.user.split(":"))
        for path in options.own:
            if os.path.lexists(path):
                os.lchown(path, uid, gid)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if options.cpu is not None:
        _lower(resource.RLIMIT_CPU, options.cpu, options.cpu + 2)
    if options.fsize is not None:
        _lower(resource.RLIMIT_FSIZE, options.fsize)
    if options.nofile is not None:
        _lower(resource.RLIMIT_NOFILE, options.nofile)
    if options.address_space is not None:
        _lower(resource.RLIMIT_AS, options.address_space)
    target_uid = os.getuid() if uid is None else uid
    if options.nproc is not None and target_uid != 0:
        _lower(resource.RLIMIT_NPROC, _tasks_of(target_uid) + options.nproc)
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if options.chdir:
        os.chdir(options.chdir)
    if options.clearenv:
        os.environ.clear()
    os.environ.update(item.split("=", 1) for item in options.setenv)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 and uid is not None:
            print("motifgrader-launcher: could not set no_new_privs", file=sys.stderr)
            return 126
    try:
        os.execvp(options.command[0], options.command)
    except OSError as exc:
        print(f"motifgrader-launcher: cannot start {options.command[0]}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())

"""The student kernel's sandbox, tested with real processes in every mode this machine has.

Modes: "bubblewrap" (skipped when bwrap is missing or does not work), "fallback" as the
probe finds it for the grader's Python (as root on a machine where that Python is hidden
from other users, the kernel stays root), and "fallback-job-user": the fallback with the
per-job uid, run with a Python other users can read (needs root).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.run import processes, sandbox, wrap
from grader.run.detect import probe_sandbox
from grader.run.sandbox import (
    MiB,
    SandboxInfo,
    SandboxJob,
    SandboxLimits,
    SandboxUnavailable,
    kill_job_processes,
    prepare_job,
    scrubbed_environment,
)
from grader.run.watchdog import MemoryWatchdog
from grader.run.wrap import wrap_kernel_command

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

MODES = ["bubblewrap", "fallback", "fallback-job-user"]
CONFINED = ["bubblewrap", "fallback-job-user"]


def _python_others_can_run() -> str | None:
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and os.path.exists(candidate):
            paths = (Path(candidate).absolute(), Path(candidate).resolve())
            if not any(sandbox.blocking_ancestor(path) for path in paths):
                return candidate
    return None


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> tuple[SandboxInfo, str]:
    """(sandbox info, Python to run inside) for one mode, or a skip that says why not."""
    if request.param == "bubblewrap":
        try:
            return probe_sandbox("bubblewrap"), sys.executable
        except SandboxUnavailable as exc:
            pytest.skip(str(exc))
    if request.param == "fallback":
        return probe_sandbox("fallback"), sys.executable
    if os.geteuid() != 0:
        pytest.skip("the per-job uid needs the grader to run as root")
    python = _python_others_can_run()
    if python is None:
        pytest.skip("no Python on this machine is readable by other users")
    info = probe_sandbox("fallback", python=python)
    if not info.job_user:
        pytest.skip(f"the fallback cannot drop to a job uid here: {info.detail}")
    return info, python


@pytest.fixture
def grader_folder() -> Iterator[Path]:
    """A folder beside the job's that belongs to the grader (0700, like mkdtemp's)."""
    folder = Path(tempfile.mkdtemp(prefix="mg-grader-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def job(mode: tuple[SandboxInfo, str]) -> Iterator[SandboxJob]:
    # Under /tmp rather than pytest's tmp_path: a job uid must be able to walk to its folder.
    folder = Path(tempfile.mkdtemp(prefix="mg-test-"))
    try:
        with prepare_job(folder, mode[0]) as prepared:
            yield prepared
            kill_job_processes(prepared)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _command(mode: tuple[SandboxInfo, str], job: SandboxJob, code: str, **limits: int) -> list:
    info, python = mode
    return wrap_kernel_command(
        [python, "-c", code], job=job, sandbox=info, limits=SandboxLimits(**limits)
    )


def _run(mode, job, code: str, *, env: dict | None = None, **limits: int):
    return subprocess.run(
        _command(mode, job, code, **limits),
        env=scrubbed_environment(job=job) if env is None else env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _live_pids_with(token: str) -> set[int]:
    """Live (non-zombie) processes whose command line contains `token`, as the host sees them."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline and state not in (b"Z", b"X"):
            found.add(int(name))
    return found


def _scripts(job: SandboxJob) -> str:
    """Helper scripts in the kernel's folder; returns the token their daemons carry in argv."""
    token = secrets.token_hex(6)
    (job.work_dir / "detach.py").write_text(
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, sys.argv[1], '{token}'], start_new_session=True,\n"
        "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
        "                 stderr=subprocess.DEVNULL)\n"
    )
    (job.work_dir / "hog.py").write_text(
        "import time\nhog = b'x' * (300 * 2**20)\ntime.sleep(60)\n"
    )
    (job.work_dir / "sleeper.py").write_text("import time\ntime.sleep(60)\n")
    return token


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# --------------------------------------------------------------------------- environment


def test_scrubbed_environment_keeps_locale_and_path_and_drops_secrets(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "LC_ALL": "C.UTF-8",
        "LC_API_TOKEN": "forwarded-by-ssh",
        "AWS_SECRET_ACCESS_KEY": "x",
        "GITHUB_TOKEN": "x",
        "MOTIFGRADER_SECRET": "hidden-seed",
        "DB_PASSWORD": "x",
        "https_proxy": "http://proxy:3128",
        "JPY_PARENT_PID": "4242",
        "PYTHONPATH": "/somewhere",
        "HOME": "/root",
    }
    env = scrubbed_environment(base, job_dir=tmp_path, threads=2, seed=7)
    assert env["PATH"] == "/usr/bin:/bin"
    assert (env["LANG"], env["LC_ALL"]) == ("en_US.UTF-8", "C.UTF-8")
    assert env["HOME"] == str(tmp_path)
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["MPLBACKEND"] == "Agg"
    assert env["PYTHONHASHSEED"] == "7"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        assert env[name] == "2"
    assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "2"
    for name in ("LC_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "MOTIFGRADER_SECRET"):
        assert name not in env
    for name in ("DB_PASSWORD", "https_proxy", "JPY_PARENT_PID", "PYTHONPATH"):
        assert name not in env
    assert "hidden-seed" not in json.dumps(env)


def test_kernel_environment_inside_sandbox_has_no_secret(mode, job: SandboxJob) -> None:
    base = {"PATH": os.environ.get("PATH", os.defpath), "API_TOKEN": "s3cr3t", "LANG": "C.UTF-8"}
    env = scrubbed_environment(base, job=job, threads=1)
    env["JPY_PARENT_PID"] = str(os.getpid())  # what jupyter_client adds after us
    done = _run(mode, job, "import os, json; print(json.dumps(dict(os.environ)))", env=env)
    assert done.returncode == 0, done.stderr
    inside = json.loads(done.stdout)
    assert "s3cr3t" not in done.stdout
    assert inside["HOME"] == str(job.work_dir)
    assert inside["OMP_NUM_THREADS"] == "1"
    if mode[0].kind == "bubblewrap":
        # The grader's PID means nothing in the kernel's PID namespace: ipykernel would exit.
        assert inside["JPY_PARENT_PID"] == "1"


# --------------------------------------------------------------------------- isolation


def test_sandbox_blocks_network_connections(mode, job: SandboxJob) -> None:
    if mode[0].kind != "bubblewrap":
        pytest.skip("the fallback does not isolate the network")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\n"
            "except OSError as exc:\n"
            "    print('blocked', exc.errno)\n"
        )
        outside = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        inside = _run(mode, job, code)
    assert outside.stdout.strip() == "connected"
    assert inside.stdout.startswith("blocked"), inside.stdout + inside.stderr


@pytest.mark.parametrize("mode", ["bubblewrap"], indirect=True)
def test_bubblewrap_shows_only_the_folders_it_is_given(
    mode, job: SandboxJob, grader_folder: Path
) -> None:
    data = grader_folder / "data"
    data.mkdir()
    (data / "sequences.txt").write_text("ACGTG")
    other_student = grader_folder / "other_student"
    other_student.mkdir()
    (other_student / "notebook.ipynb").write_text("{}")
    code = (
        "import json, os\n"
        f"data, other = {str(data)!r}, {str(other_student)!r}\n"
        "result = {'read': open(os.path.join(data, 'sequences.txt')).read(),\n"
        "          'other_visible': os.path.exists(other)}\n"
        "try:\n"
        "    open(os.path.join(data, 'new.txt'), 'w')\n"
        "    result['write'] = 0\n"
        "except OSError as exc:\n"
        "    result['write'] = exc.errno\n"
        "print(json.dumps(result))\n"
    )
    info, python = mode
    command = wrap_kernel_command(
        [python, "-c", code], job=job, sandbox=info, limits=SandboxLimits(), readonly_paths=[data]
    )
    done = subprocess.run(
        command, env=scrubbed_environment(job=job), capture_output=True, text=True, timeout=30
    )
    assert json.loads(done.stdout) == {
        "read": "ACGTG",
        "other_visible": False,
        "write": errno.EROFS,
    }


@pytest.mark.parametrize("mode", CONFINED, indirect=True)
def test_kernel_cannot_write_outside_its_folder_or_read_root_files(
    mode, job: SandboxJob, grader_folder: Path
) -> None:
    secret = grader_folder / "secret_seed.txt"
    secret.write_text("20260330")
    secret.chmod(0o600)
    targets = {
        "grader_folder": grader_folder / "planted.txt",
        "grader_source": Path(sandbox.__file__).with_name("planted_by_student.py"),
        "etc": Path("/etc/planted_by_student"),
    }
    code = (
        "import json, pathlib\n"
        f"targets = {json.dumps({k: str(v) for k, v in targets.items()})}\n"
        "result = {}\n"
        "for name, path in targets.items():\n"
        "    try:\n"
        "        pathlib.Path(path).write_text('x'); result[name] = 0\n"
        "    except OSError as exc:\n"
        "        result[name] = exc.errno\n"
        "try:\n"
        f"    result['secret'] = open({str(secret)!r}).read()\n"
        "except OSError as exc:\n"
        "    result['secret'] = exc.errno\n"
        "pathlib.Path('own.txt').write_text('fine')\n"
        "print(json.dumps(result))\n"
    )
    try:
        done = _run(mode, job, code)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        refused = {errno.EACCES, errno.EROFS, errno.ENOENT, errno.EPERM}
        assert {name: result[name] in refused for name in targets} == dict.fromkeys(targets, True)
        assert result["secret"] in refused
        assert not any(path.exists() for path in targets.values())
        assert (job.work_dir / "own.txt").read_text() == "fine"
    finally:
        for path in targets.values():
            if path.exists():
                path.unlink()


@pytest.mark.parametrize("mode", CONFINED, indirect=True)
def test_process_limit_stops_a_thread_bomb(mode, job: SandboxJob) -> None:
    if job.uid is None:
        pytest.skip("RLIMIT_NPROC is only set for a per-job uid inside bubblewrap")
    code = (
        "import threading, time\n"
        "started = 0\n"
        "try:\n"
        "    for _ in range(1000):\n"
        "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "        started += 1\n"
        "except RuntimeError:\n"
        "    pass\n"
        "print(started)\n"
    )
    done = _run(mode, job, code, max_processes=20)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 20


# --------------------------------------------------------------------------- limits


def test_file_bigger_than_limit_cannot_be_written(mode, job: SandboxJob) -> None:
    code = (
        "try:\n"
        "    open('big.bin', 'wb').write(b'x' * (2 * 2**20))\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    done = _run(mode, job, code, file_size_bytes=1 * MiB)
    assert done.stdout.strip() == str(errno.EFBIG), done.stderr
    assert (job.work_dir / "big.bin").stat().st_size <= 1 * MiB


def test_cpu_time_limit_kills_a_busy_loop(mode, job: SandboxJob) -> None:
    started = time.monotonic()
    done = _run(mode, job, "while True:\n    pass\n", cpu_seconds=1)
    seconds = time.monotonic() - started
    # Killed by SIGXCPU; bwrap reports a child's death by signal N as exit status 128 + N.
    assert done.returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU)
    assert seconds < 10


# --------------------------------------------------------------------------- memory and cleanup


def _watch(mode, job, code: str, limit: int) -> tuple[MemoryWatchdog, int | None, float]:
    process = subprocess.Popen(
        _command(mode, job, code),
        env=scrubbed_environment(job=job),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = time.monotonic()
    watchdog = MemoryWatchdog(process.pid, limit, interval=0.1, job=job).start()
    try:
        returncode = process.wait(timeout=20)
    finally:
        watchdog.stop()
        process.kill()
        process.wait()
    return watchdog, returncode, time.monotonic() - started


def test_memory_hog_is_killed_by_the_watchdog(mode, job: SandboxJob) -> None:
    code = "import time\nhog = b'x' * (1536 * 2**20)\ntime.sleep(60)\n"
    watchdog, returncode, seconds = _watch(mode, job, code, 512 * MiB)
    assert watchdog.tripped
    assert watchdog.peak_rss_bytes > 512 * MiB
    assert returncode == -signal.SIGKILL
    assert seconds < 10


def test_file_limit_counts_what_the_notebook_writes_not_folders_bound_in(
    mode, job: SandboxJob
) -> None:
    # A read-only folder of 300 files under the host's /tmp, as a checkout in /tmp would be:
    # bubblewrap binds it into the kernel's private /tmp, where it must not count.
    bound = Path(tempfile.mkdtemp(prefix="mg-bound-"))
    for i in range(300):
        (bound / f"{i}.py").write_text("")
    code = (
        "import sys, time\n"
        "for i in range(20):\n"
        "    open(f'kept{i}', 'w').close()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "for i in range(200):\n"
        "    open(f'spam{i}', 'w').close()\n"
        "time.sleep(60)\n"
    )
    info, python = mode
    command = wrap_kernel_command(
        [python, "-c", code],
        job=job,
        sandbox=info,
        limits=SandboxLimits(),
        readonly_paths=[bound],
    )
    process = subprocess.Popen(
        command,
        env=scrubbed_environment(job=job),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    watchdog = MemoryWatchdog(process.pid, 4096 * MiB, job=job, max_files=100, interval=0.05)
    try:
        assert process.stdout.readline().strip() == "ready"
        watchdog.start()
        time.sleep(1.0)
        assert not watchdog.tripped  # 20 files and the bound folder's mount point
        process.stdin.write("go\n")
        process.stdin.flush()
        assert _wait_for(lambda: watchdog.tripped, timeout=10)
        assert watchdog.reason == "files"
    finally:
        watchdog.stop()
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()
        shutil.rmtree(bound, ignore_errors=True)


def test_watchdog_stops_a_fork_bomb_even_where_the_process_limit_does_not_apply(
    mode, job: SandboxJob
) -> None:
    token = _scripts(job)
    code = (
        "import subprocess, sys, time\n"
        "for _ in range(40):\n"
        "    subprocess.Popen([sys.executable, 'detach.py', 'sleeper.py']).wait()\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        _command(mode, job, code), env=scrubbed_environment(job=job), start_new_session=True
    )
    watchdog = MemoryWatchdog(process.pid, 4 * 2**30, interval=0.1, job=job, max_processes=10)
    with watchdog:
        returncode = process.wait(timeout=20)
    assert (watchdog.tripped, watchdog.reason) == (True, "processes")
    assert returncode == -signal.SIGKILL
    assert _wait_for(lambda: not _live_pids_with(token))


def test_memory_of_detached_daemons_counts_towards_the_limit(mode, job: SandboxJob) -> None:
    # Two double-forked, setsid'ed children of 300 MiB each: neither is a descendant of the
    # kernel any more (in the fallback), together they pass 512 MiB.
    token = _scripts(job)
    code = (
        "import subprocess, sys, time\n"
        "for _ in range(2):\n"
        "    subprocess.Popen([sys.executable, 'detach.py', 'hog.py']).wait()\n"
        "time.sleep(60)\n"
    )
    watchdog, returncode, seconds = _watch(mode, job, code, 512 * MiB)
    assert watchdog.tripped
    assert watchdog.peak_rss_bytes > 512 * MiB
    assert returncode == -signal.SIGKILL
    assert _wait_for(lambda: not _live_pids_with(token))
    assert seconds < 10


def test_setsid_grandchild_is_gone_after_kill_job_processes(mode, job: SandboxJob) -> None:
    token = _scripts(job)
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, 'detach.py', 'sleeper.py']).wait()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        _command(mode, job, code),
        env=scrubbed_environment(job=job),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        assert _wait_for(lambda: len(_live_pids_with(token)) == 1)
        killed = kill_job_processes(job)
        assert killed >= 2  # the main process and the daemon, plus bwrap's own in that mode
        assert _wait_for(lambda: not _live_pids_with(token))
        assert process.wait(timeout=5) is not None
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


ADOPTING_GRADER = """\
import json, subprocess, sys, time
from pathlib import Path
from grader.run import processes, sandbox
folder, token, adopt = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "adopt"
adopted = processes.adopt_orphans() if adopt else False
job = sandbox.SandboxJob.for_folder(folder)
# A "kernel" that double-forks a daemon with an empty environment in /, then exits:
# neither the marker, nor the uid, nor the kernel's tree leads to it.
daemonise = (
    "import os, sys\\n"
    "if os.fork() == 0:\\n"
    "    os.setsid()\\n"
    "    if os.fork() == 0:\\n"
    "        os.chdir('/')\\n"
    "        os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', "
    "sys.argv[1]], {})\\n"
    "    os._exit(0)\\n"
)
quiet = subprocess.DEVNULL
subprocess.run(
    [sys.executable, "-c", daemonise, token],
    env={}, check=True, stdin=quiet, stdout=quiet, stderr=quiet,
)
time.sleep(0.5)
killed = sandbox.kill_job_processes(job)
print(json.dumps({"adopted": adopted, "killed": killed}))
"""


@pytest.mark.parametrize("adopt", [True, False], ids=["subreaper", "no_subreaper"])
def test_pool_worker_adopts_and_kills_a_daemon_that_shed_every_trace(
    tmp_path: Path, adopt: bool
) -> None:
    token = secrets.token_hex(6)
    script = tmp_path / "grader_worker.py"
    script.write_text(ADOPTING_GRADER)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    mode = "adopt" if adopt else "plain"
    done = subprocess.run(
        [sys.executable, str(script), str(job_dir), token, mode],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    try:
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        if adopt:
            assert report == {"adopted": True, "killed": 1}
            assert _wait_for(lambda: not _live_pids_with(token))
        else:
            # Without the subreaper the daemon went to PID 1 and nothing could find it.
            assert report == {"adopted": False, "killed": 0}
            assert len(_live_pids_with(token)) == 1
    finally:
        for pid in _live_pids_with(token):
            os.kill(pid, signal.SIGKILL)


def test_job_known_only_by_its_folder_is_found_by_its_marker(tmp_path: Path) -> None:
    info = probe_sandbox("fallback")
    token = secrets.token_hex(6)
    command = wrap_kernel_command(
        [sys.executable, "-c", f"import time; time.sleep(60)  # {token}"],
        job_dir=tmp_path,
        sandbox=SandboxInfo("fallback", info.detail),
        limits=SandboxLimits(),
    )
    env = scrubbed_environment(os.environ, job_dir=tmp_path, threads=1)
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        assert _wait_for(lambda: len(_live_pids_with(token)) == 1)
        assert kill_job_processes(tmp_path) == 1
        assert process.wait(timeout=5) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()


def test_ended_job_folder_is_safe_for_the_grader_to_write_into(mode, job: SandboxJob) -> None:
    # A student plants a symlink where the grader will later write, a FIFO that would block
    # it, and a hard link; all go when the job ends, and the folder is the grader's again.
    code = (
        "import os\n"
        "os.symlink('/etc', 'scorer')\n"
        "os.mkfifo('request.json')\n"
        "open('answers.json', 'w').write('{}')\n"
        "os.link('answers.json', 'linked.json')\n"
        "os.makedirs('harvest-1', exist_ok=True)\n"
        "open('harvest-1/values.json', 'w').write('{}')\n"
    )
    assert _run(mode, job, code).returncode == 0
    kill_job_processes(job)
    left = {str(p.relative_to(job.work_dir)) for p in job.work_dir.rglob("*")}
    # Of the two hard links the first one met goes; the other is then the file's only name.
    assert len(left & {"answers.json", "linked.json"}) <= 1
    assert left - {"answers.json", "linked.json"} == {"harvest-1", "harvest-1/values.json", "tmp"}
    assert {p.stat().st_uid for p in job.work_dir.rglob("*")} == {os.geteuid()}


def test_scorer_runs_in_the_sandbox_with_its_own_environment(
    mode, job: SandboxJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, python = mode
    monkeypatch.setenv("MOTIFGRADER_SECRET", "hidden-seed")
    kill_job_processes(job)  # the kernel's part is over; the scorer comes after
    (job.work_dir / "model.keras").write_text("pretend model")
    scorer_dir = job.work_dir / "scorer"
    scorer_dir.mkdir()
    code = (
        "import json, os, resource\n"
        f"model = open({str(job.work_dir / 'model.keras')!r}).read()\n"
        "open('outputs.json', 'w').write(json.dumps({\n"
        "    'model': model, 'env': dict(os.environ), 'cwd': os.getcwd(),\n"
        "    'address_space': resource.getrlimit(resource.RLIMIT_AS)[0]}))\n"
    )
    wrapper = wrap.scorer_wrapper(info, 4 * 2**30)
    done = subprocess.run(wrapper([python, "-c", code], scorer_dir), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    outputs = json.loads((scorer_dir / "outputs.json").read_text())
    assert outputs["model"] == "pretend model"
    assert outputs["cwd"] == str(scorer_dir)
    assert outputs["address_space"] == 4 * 2**30
    assert "MOTIFGRADER_SECRET" not in outputs["env"]
    assert outputs["env"]["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize("mode", ["fallback-job-user"], indirect=True)
def test_released_job_frees_its_uid_and_gives_the_folder_back(mode) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mg-test-"))
    try:
        job = prepare_job(folder, mode[0])
        assert job.uid is not None and job.work_dir.stat().st_uid == job.uid
        token = _scripts(job)
        code = "import subprocess, sys\nsubprocess.run([sys.executable, 'detach.py', 'sleeper.py'])"
        assert _run(mode, job, code).returncode == 0
        assert _wait_for(lambda: len(_live_pids_with(token)) == 1)
        job.release()
        assert not _live_pids_with(token)
        assert job.work_dir.stat().st_uid == os.geteuid()
        with prepare_job(folder, mode[0]) as again:
            assert again.uid == job.uid
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- probing and kernels


def test_probe_is_cached_and_names_what_it_found() -> None:
    info = probe_sandbox("fallback")
    assert probe_sandbox("fallback") is info
    assert info.kind == "fallback"
    assert info.detail.startswith("bubblewrap unavailable (not requested); ")
    with pytest.raises(ValueError, match="must be 'auto'"):
        probe_sandbox("docker")  # type: ignore[arg-type]


def test_missing_bwrap_falls_back_and_says_why(tmp_path: Path) -> None:
    code = (
        "from grader.run.detect import probe_sandbox\n"
        "from grader.run.sandbox import SandboxUnavailable\n"
        "print(probe_sandbox('auto').detail)\n"
        "try:\n"
        "    probe_sandbox('bubblewrap')\n"
        "except SandboxUnavailable as exc:\n"
        "    print(exc)\n"
    )
    empty_path = {"PATH": str(tmp_path), "PYTHONPATH": str(Path(sandbox.__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=empty_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    detail, refusal = done.stdout.splitlines()
    assert detail.startswith("bubblewrap unavailable (bwrap is not installed; ")
    assert refusal.startswith("bubblewrap was asked for but cannot be used: bwrap is not installed")


def test_job_folder_too_deep_for_kernel_sockets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="too deep"):
        prepare_job(tmp_path / ("x" * 100), probe_sandbox("fallback"))


@pytest.mark.parametrize("mode", ["bubblewrap", "fallback"], indirect=True)
def test_ipykernel_runs_one_plus_one_in_the_sandbox(mode, job: SandboxJob) -> None:
    from jupyter_client import KernelManager

    info, _ = mode
    limits = SandboxLimits(cpu_seconds=120)

    class SandboxedKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            argv = super().format_kernel_cmd(extra_arguments)
            return wrap_kernel_command(argv, job=job, sandbox=info, limits=limits)

    manager = SandboxedKernelManager(
        transport="ipc", ip=str(job.ipc_prefix), connection_file=str(job.connection_file)
    )
    manager.start_kernel(env=scrubbed_environment(job=job, threads=1), cwd=str(job.work_dir))
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        results = []
        reply = client.execute_interactive(
            "import os; os.getuid(), 1 + 1",
            timeout=30,
            output_hook=lambda msg: results.append(msg["content"].get("data", {})),
        )
        assert reply["content"]["status"] == "ok"
        uid = job.uid if job.uid is not None else os.geteuid()
        assert {"text/plain": f"({uid}, 2)"} in results
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_member_whose_memory_map_is_gone_is_charged_its_own_size_not_the_whole_rss_sum():
    # A process that has released its address space (exiting, or a zombie) answers ESRCH on
    # smaps_rollup. Under load a fork bomb always has one; it must cost its own resident
    # size, not turn the job's total back into the RSS sum that counts every shared page
    # once per fork (which named a fork bomb "out of memory" instead of "too many processes").
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = Path(f"/proc/{child.pid}/status").read_text()
        if "\nState:\tZ" in status:
            break
        time.sleep(0.01)
    me = os.getpid()
    table = processes.process_table()
    table[child.pid] = processes.ProcessInfo(child.pid, me, os.getuid(), 12345)
    own = processes.proportional_bytes(table, [me])
    gone = processes.proportional_bytes(table, [child.pid])
    child.wait()
    assert 0 < own < table[me].rss_bytes * 2
    assert gone == 12345

"""Misuse of the command line ends in one sentence on stderr and exit status 2.

Each case is the instructor's or student's mistake, never a traceback and never a
run that looks finished: an empty folder, `--only` naming nobody, an output path
that is a file, a gradebook path that is a folder, an unreachable scheduler, a bad
spec in every command. All run in milliseconds: nothing here executes a notebook.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader.cli import main
from grader.intake.preflight import ArgumentProblem, check_scheduler, close_matches

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "reference" / "notebooks" / "starter.ipynb"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_misuse(result: Result, *phrases: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr holding every phrase."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == "", result.stdout
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def submissions(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    for student in ("ada_lovelace", "alan_turing", "grace_hopper"):
        (folder / student).mkdir(parents=True)
        shutil.copyfile(STARTER, folder / student / "hw4.ipynb")
    return folder


@pytest.fixture
def bad_spec(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text("[assignment\n")
    return path


@pytest.fixture
def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- grade


def test_grade_on_an_empty_folder_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    assert_misuse(run("grade", tmp_path / "empty", "--out", out), "no submissions in")
    assert not out.exists()


def test_only_matching_nobody_exits_2_listing_the_close_matches(
    submissions: Path, tmp_path: Path
) -> None:
    line = assert_misuse(
        run("grade", submissions, "--out", tmp_path / "out", "--only", "ada_lovelac"),
        "--only matches no student",
        "'ada_lovelac' (did you mean ada_lovelace?)",
        "[3 students found]",
    )
    assert "alan_turing" not in line
    assert not (tmp_path / "out").exists()


def test_only_with_one_typo_among_good_names_still_exits_2(
    submissions: Path, tmp_path: Path
) -> None:
    result = run(
        "grade", submissions, "--out", tmp_path / "o", "--only", "alan_turing", "--only", "nobody"
    )
    assert_misuse(result, "'nobody' (no similar name)")


def test_close_matches_ignore_case() -> None:
    assert close_matches("Ada_Lovelace", ["ada_lovelace", "alan_turing"]) == ["ada_lovelace"]


def test_out_that_is_a_file_exits_2(submissions: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("not a folder")
    assert_misuse(run("grade", submissions, "--out", target), "is a file, not a folder")
    assert target.read_text() == "not a folder"


def test_gradebook_that_is_a_folder_exits_2(submissions: Path, tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    result = run("grade", submissions, "--out", tmp_path / "out", "--gradebook", folder)
    assert_misuse(result, f"--gradebook {folder} is a folder, not a file")


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("notanaddress", "is not a scheduler address"),
        ("tcp://scheduler:port", "is not a scheduler address"),
        ("http://127.0.0.1:8786", "unknown protocol 'http'"),
    ],
)
def test_malformed_scheduler_address_exits_2(
    submissions: Path, tmp_path: Path, address: str, phrase: str
) -> None:
    result = run("grade", submissions, "--out", tmp_path / "out", "--scheduler", address)
    assert_misuse(result, phrase)
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_exits_2(submissions: Path, tmp_path: Path, free_port: int) -> None:
    address = f"tcp://127.0.0.1:{free_port}"
    result = run("grade", submissions, "--out", tmp_path / "out", "--scheduler", address)
    assert_misuse(result, f"no Dask scheduler answers at 127.0.0.1:{free_port}")


def test_a_listener_that_is_not_a_dask_scheduler_is_refused() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    def answer_with_noise() -> None:
        connection, _ = server.accept()
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n" * 64)
        connection.close()

    threading.Thread(target=answer_with_noise, daemon=True).start()
    port = server.getsockname()[1]
    try:
        with pytest.raises(ArgumentProblem, match="not as a Dask scheduler"):
            check_scheduler(f"tcp://127.0.0.1:{port}", timeout_s=0.5)
    finally:
        server.close()


def test_a_running_dask_scheduler_is_accepted() -> None:
    distributed = pytest.importorskip("distributed")
    ready = threading.Event()
    stop = threading.Event()
    address: list[str] = []

    async def serve() -> None:
        async with distributed.Scheduler(port=0, dashboard_address=":0") as scheduler:
            address.append(scheduler.address)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        check_scheduler(address[0], timeout_s=5)
    finally:
        stop.set()
        thread.join(10)


# --------------------------------------------------------------------------- a bad spec


def test_bad_spec_in_grade_exits_2_before_any_progress(
    submissions: Path, tmp_path: Path, bad_spec: Path
) -> None:
    out = tmp_path / "out"
    assert_misuse(run("grade", submissions, "--out", out, "--spec", bad_spec), "not valid TOML")
    assert not out.exists()


def test_bad_spec_in_report_exits_2(tmp_path: Path, bad_spec: Path) -> None:
    assert_misuse(run("report", "--out", tmp_path, "--spec", bad_spec), "not valid TOML")


def test_bad_spec_in_manual_export_exits_2(tmp_path: Path, bad_spec: Path) -> None:
    result = run("manual", "export", tmp_path / "sheet.csv", "--out", tmp_path, "--spec", bad_spec)
    assert_misuse(result, "not valid TOML")


def test_bad_spec_in_manual_import_exits_2(tmp_path: Path, bad_spec: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("student,question,points,comment\n")
    result = run("manual", "import", sheet, "--out", tmp_path, "--spec", bad_spec)
    assert_misuse(result, "not valid TOML")


def test_bad_spec_in_check_exits_2(tmp_path: Path, bad_spec: Path) -> None:
    notebook = tmp_path / "hw4.ipynb"
    shutil.copyfile(STARTER, notebook)
    result = run("check", notebook, "--out", tmp_path / "out", "--spec", bad_spec)
    assert_misuse(result, "not valid TOML")


def test_bad_spec_in_reference_exits_2_without_starting_tensorflow(
    tmp_path: Path, bad_spec: Path
) -> None:
    """In a fresh process: the error must come before TensorFlow is imported."""
    done = subprocess.run(
        [sys.executable, "-m", "grader.cli", "reference", "--spec", str(bad_spec)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: assignment spec {bad_spec} is not valid TOML: Expected ']' at the end of a "
        "table declaration (at line 1, column 12)"
    ]


# --------------------------------------------------------------------------- the gradebook


def test_report_without_a_gradebook_exits_2(tmp_path: Path) -> None:
    assert_misuse(run("report", "--out", tmp_path), "no gradebook at", "run `motifgrader grade`")


def test_manual_export_without_a_gradebook_exits_2(tmp_path: Path) -> None:
    result = run("manual", "export", tmp_path / "sheet.csv", "--out", tmp_path)
    assert_misuse(result, "no gradebook at")


def test_manual_export_with_a_folder_as_gradebook_exits_2(tmp_path: Path) -> None:
    result = run("manual", "export", tmp_path / "s.csv", "--out", tmp_path, "--gradebook", tmp_path)
    assert_misuse(result, "is a folder, not a file")


def test_a_corrupt_gradebook_exits_2(tmp_path: Path) -> None:
    book = tmp_path / "gradebook.sqlite"
    book.write_bytes(b"this is not a database" * 100)
    assert_misuse(run("report", "--out", tmp_path), "file is not a database")


def test_check_with_out_a_file_exits_2(tmp_path: Path) -> None:
    notebook = tmp_path / "hw4.ipynb"
    shutil.copyfile(STARTER, notebook)
    target = tmp_path / "taken"
    target.write_text("")
    assert_misuse(run("check", notebook, "--out", target), "is a file, not a folder")

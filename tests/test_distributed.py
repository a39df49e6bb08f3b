"""Grading on a Dask cluster: the same jobs, the coordinator still the only writer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grader.batch import grade_folder
from tests.fake_jobs import dies_once_job, quick_job

distributed = pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _class(folder: Path, n: int) -> None:
    for i in range(n):
        cells = [
            nbformat.v4.new_code_cell("roc = 0.5\npr_auc = 0.5\nhistory = {'loss': [1.0, 0.5]}"),
            nbformat.v4.new_markdown_cell(f"Answer Q2\nStudent {i} says hello."),
        ]
        (folder / f"s{i}").mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"s{i}" / "hw4.ipynb")


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One local cluster of two worker processes, shared by the tests that need one: its
    workers import this repository, and find the fake jobs' marker folder, through the
    environment they start with."""
    markers = tmp_path_factory.mktemp("markers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(ROOT))
        patch.setenv("MOTIFGRADER_FAKE_MARKERS", str(markers))
        with (
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client, markers


def test_local_cluster_runs_real_sandboxed_jobs(tmp_path: Path, local_cluster):
    client, _ = local_cluster
    subs, out = tmp_path / "subs", tmp_path / "out"
    _class(subs, 2)
    summary = grade_folder(subs, out, executor=client.get_executor(pure=False))
    assert [r.student for r in summary.results] == ["s0", "s1"]
    for result in summary.results:
        assert result.status == "ok"
        training = next(c for c in result.checks if c.name == "training_curves")
        assert training.points == 1.0  # loss but no val_loss: half of 2 points
    assert (out / "gradebook.sqlite").is_file() and (out / "index.html").is_file()


def test_a_dask_worker_that_dies_is_replaced_and_its_job_retried(tmp_path: Path, local_cluster):
    client, markers = local_cluster
    subs, out = tmp_path / "subs", tmp_path / "out"
    _class(subs, 3)
    summary = grade_folder(subs, out, executor=client.get_executor(pure=False), job=dies_once_job)
    assert len(list(markers.iterdir())) == 3
    assert all(r.status == "ok" for r in summary.results)


def _start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_dask_scheduler_and_worker_processes_on_loopback(tmp_path: Path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _class(subs, 4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dask = str(Path(sys.executable).parent / "dask")
    scheduler = _start(
        [
            dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        env,
    )
    workers: list[subprocess.Popen] = []
    try:
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            line = scheduler.stdout.readline()
            match = re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", line)
            address = match.group(1) if match else None
        assert address, "the scheduler did not start"
        for _ in range(2):
            workers.append(
                _start(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    env,
                )
            )
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        summary = grade_folder(subs, out, scheduler=address, job=quick_job)
        assert sorted(r.student for r in summary.results) == ["s0", "s1", "s2", "s3"]
        assert summary.graded == 4
    finally:
        for process in [*workers, scheduler]:
            process.terminate()
        for process in [*workers, scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

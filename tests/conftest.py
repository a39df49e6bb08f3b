"""Fixtures shared by the tests: the assignment's own dataset, made once per session, and
the real gradings many tests read (`tests/shared_gradings.py`), started in the background
(when the session starts if it runs every test, else when collection ends), with the tests
that read them ordered after the quick ones.

Tests must treat these objects as read-only; they are shared across modules.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from reference.data import Split, generate_synthetic_dataset, split_dataset
from tests.shared_gradings import (
    GRADINGS,
    BackgroundLane,
    GradedSamples,
    RealCheck,
)


@pytest.fixture(scope="session")
def starter_dataset() -> tuple[list[str], np.ndarray]:
    """The notebook's `generate_synthetic_dataset(num_pos=4000, num_neg=4000)` (seed 42)."""
    return generate_synthetic_dataset(num_pos=4000, num_neg=4000)


@pytest.fixture(scope="session")
def starter_split(starter_dataset: tuple[list[str], np.ndarray]) -> Split:
    """The notebook's 80/10/10 split of that dataset, by position."""
    return split_dataset(*starter_dataset)


# ------------------------------------------------------------ the gradings tests share

EXPENSIVE = tuple(GRADINGS)
"""Session fixtures made by a real grading: each runs once, in the background
(`tests/shared_gradings.py`), and the tests that read one run after the quick tests."""
LANE = pytest.StashKey[BackgroundLane]()


def _lane_rank(item: pytest.Item) -> int:
    """0 for a test that needs no shared grading, else 1 + the last it needs, in lane order."""
    used = [EXPENSIVE.index(n) + 1 for n in getattr(item, "fixturenames", ()) if n in EXPENSIVE]
    return max(used, default=0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: within each group, tests keep the order they were collected in.
    items.sort(key=_lane_rank)


def _start_lane(config: pytest.Config, names: list[str]) -> None:
    lane = BackgroundLane(names, Path(tempfile.mkdtemp(prefix="motifgrader-shared-")))
    config.stash[LANE] = lane
    if not config.option.collectonly:
        lane.start()


def _runs_every_test(config: pytest.Config) -> bool:
    """Plain `pytest` (as `make test` runs it): every test is selected, so every shared
    grading will be read and can start before collection, which takes seconds on one core."""
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword
        and not option.markexpr
        and not getattr(option, "deselect", None)
        and not getattr(option, "lf", False)
        and not getattr(option, "failedfirst", False)
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if _runs_every_test(session.config):
        _start_lane(session.config, list(EXPENSIVE))


def pytest_collection_finish(session: pytest.Session) -> None:
    if LANE in session.config.stash:
        return
    needed = {n for item in session.items for n in getattr(item, "fixturenames", ())}
    _start_lane(session.config, [n for n in EXPENSIVE if n in needed])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    lane = session.config.stash.get(LANE, None)
    if lane is not None:
        lane.stop()
        if exitstatus == 0:
            shutil.rmtree(lane.root, ignore_errors=True)


def _shared(request: pytest.FixtureRequest, name: str):
    return request.config.stash[LANE].result(name)


@pytest.fixture(scope="session")
def graded_samples(request: pytest.FixtureRequest) -> GradedSamples:
    """Every example submission graded once (`shared_gradings.graded_samples`)."""
    return _shared(request, "graded_samples")


@pytest.fixture(scope="session")
def graded_variants(request: pytest.FixtureRequest) -> dict:
    """Every variant and the quick hostile cases, by student name
    (`shared_gradings.graded_variants`)."""
    return _shared(request, "graded_variants")


@pytest.fixture(scope="session")
def starter_check(request: pytest.FixtureRequest) -> RealCheck:
    """`motifgrader check` on the unmodified starter, for real, once per session."""
    return _shared(request, "starter_check")


@pytest.fixture(scope="session")
def hostile_corpus(request: pytest.FixtureRequest):
    """The whole corpus graded once (`tests/corpus/grade_corpus.py`); its folder is
    removed at the end of the session."""
    graded = _shared(request, "hostile_corpus")
    yield graded
    shutil.rmtree(graded.base, ignore_errors=True)

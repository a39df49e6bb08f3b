"""Fixtures shared by the tests: the assignment's own dataset, made once per session.

Tests must treat these objects as read-only; they are shared across modules.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from reference.data import Split, generate_synthetic_dataset, split_dataset


@pytest.fixture(scope="session")
def starter_dataset() -> tuple[list[str], np.ndarray]:
    """The notebook's `generate_synthetic_dataset(num_pos=4000, num_neg=4000)` (seed 42)."""
    return generate_synthetic_dataset(num_pos=4000, num_neg=4000)


@pytest.fixture(scope="session")
def starter_split(starter_dataset: tuple[list[str], np.ndarray]) -> Split:
    """The notebook's 80/10/10 split of that dataset, by position."""
    return split_dataset(*starter_dataset)

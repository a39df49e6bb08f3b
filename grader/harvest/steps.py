"""The grader's steps inside the student's kernel, after the student's last cell.

They write raw material into a harvest folder whose name is random and revealed only
after the student's cells have finished; files the kernel wrote anywhere else are never
read. The kernel's seed is public and fixed per assignment, so a self-check and the
final grade train a deterministic notebook alike.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.harvest.answers import notebook_code
from grader.harvest.contract import MODEL_NAMES, VALUE_NAMES


@dataclass(frozen=True)
class GraderStep:
    """Code the grader runs in the kernel (never shown to the student as a cell)."""

    name: str
    code: str
    timeout_s: float


KERNEL_SOURCE = (Path(__file__).resolve().parent / "in_kernel.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Probe:
    """A call of a student's function on grader-chosen inputs."""

    name: str
    function: str
    args: tuple
    kwargs: dict
    kind: str
    timeout_s: float = 60.0


def harvest_folder(job_dir: Path) -> Path:
    """A fresh folder with an unguessable name, created only when harvesting starts."""
    return job_dir / f"harvest-{secrets.token_hex(8)}"


def _step_code(call: str) -> str:
    """Run `call` against the kernel-side module loaded into a private dictionary."""
    return (
        "__motifgrader = {'__name__': 'motifgrader_kernel_side'}\n"
        f"exec(compile({KERNEL_SOURCE!r}, '<motifgrader>', 'exec'), __motifgrader)\n"
        "try:\n"
        f"    {call}\n"
        "finally:\n"
        "    del __motifgrader\n"
    )


def kernel_seed(spec: Any) -> int:
    """The seed a student's kernel starts with: public and fixed per assignment.

    Never derived from the secret: the self-check (development seed) and the final
    grade (secret seed) must train a deterministic notebook to the same model, so
    only the hidden data differ between them, never the student's own training.
    """
    if spec.assignment.kernel_seed is not None:
        return int(spec.assignment.kernel_seed)
    digest = hashlib.sha256(f"{spec.assignment.id}\x00kernel".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31)


FRAMEWORK_NAME = re.compile(r"\b(?:tensorflow|keras)\b")


def names_a_framework(notebook: Any) -> bool:
    """Whether any code cell names TensorFlow or Keras, as every notebook that trains a
    model does (`import tensorflow`, `from tensorflow import keras`, `import keras`)."""
    return FRAMEWORK_NAME.search(notebook_code(notebook)) is not None


def preamble_step(seed: int, threads: int, notebook: Any) -> GraderStep:
    """Seeds and thread pins, run before the student's first cell.

    Seeding TensorFlow imports it, about 3 s of a one-core kernel, so a notebook whose
    code never names TensorFlow or Keras gets Python's and NumPy's seeds only. One that
    hides its import from this test trains unseeded: its own loss, nobody else's.
    """
    frameworks = names_a_framework(notebook)
    return GraderStep(
        "seed",
        _step_code(f"__motifgrader['seed_everything']({seed}, {threads}, {frameworks})"),
        120.0,
    )


def harvest_steps(out_dir: Path, probes: list[Probe], harvest_timeout_s: float) -> list[GraderStep]:
    """The grader steps that copy the contract out of the kernel, one small step each.

    One step per item means a model that will not save, or a probe that hangs, costs
    only that item: the step times out, the kernel is interrupted and the next runs.
    """
    out = repr(str(out_dir))
    ns = "get_ipython().user_ns"
    steps = [
        GraderStep(
            "mkdir",
            f"import os as __mg_os; __mg_os.makedirs({out}, exist_ok=True); del __mg_os",
            30.0,
        ),
        GraderStep(
            "values",
            _step_code(f"__motifgrader['save_values']({ns}, {out}, {list(VALUE_NAMES)!r})"),
            harvest_timeout_s,
        ),
    ]
    for name in MODEL_NAMES:
        steps.append(
            GraderStep(
                f"model:{name}",
                _step_code(f"__motifgrader['save_model']({ns}, {out}, {name!r})"),
                harvest_timeout_s,
            )
        )
    for probe in probes:
        call = (
            f"__motifgrader['probe_function']({ns}, {out}, {probe.name!r}, {probe.function!r}, "
            f"{probe.args!r}, {probe.kwargs!r}, {probe.kind!r})"
        )
        steps.append(GraderStep(f"probe:{probe.name}", _step_code(call), probe.timeout_s))
    return steps

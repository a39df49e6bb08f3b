"""Predictions from the student's saved models, made outside the kernel.

Writes the hidden sequences (never the labels) and runs `grader.score.model_runner` in
a fresh sandboxed process; reads back predictions, first-layer activations and kernels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CommandWrapper = Callable[[list[str], Path], list[str]]


@dataclass
class ModelRun:
    """What the scoring process said about one model."""

    name: str
    loaded: bool
    problem: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    set_problems: dict[str, str] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    activations: np.ndarray | None = None
    kernel: np.ndarray | None = None
    reading: str = ""
    """How the raw output was read as one probability per sequence (a sentence)."""
    unit_predictions: dict[str, np.ndarray] = field(default_factory=dict)
    """Per set, for models with one output unit per motif: (N, units) probabilities."""
    more_activations: list[np.ndarray] = field(default_factory=list)
    """Activations of further convolutions reading the input (parallel branches)."""
    more_kernels: list[np.ndarray] = field(default_factory=list)

    @property
    def input_length(self) -> int | None:
        shape = self.info.get("input_shape") or []
        return shape[1] if len(shape) == 3 else None

    @property
    def convs(self) -> list[dict]:
        """Every convolution reading the input, with its geometry."""
        return list(
            self.info.get("convs") or ([self.info["conv"]] if self.info.get("conv") else [])
        )

    def conv_activations(self) -> list[tuple[dict, np.ndarray]]:
        """(geometry, activations) of every convolution reading the input, in layer order."""
        arrays = ([self.activations] if self.activations is not None else []) + list(
            self.more_activations
        )
        return list(zip(self.convs, arrays, strict=False))

    def kernels(self) -> list[np.ndarray]:
        return ([self.kernel] if self.kernel is not None else []) + list(self.more_kernels)


def run_scorer(
    scorer_dir: Path,
    requests: dict[str, dict],
    sets: dict[str, np.ndarray],
    *,
    threads: int,
    seed: int,
    timeout_s: float,
    wrap: CommandWrapper | None = None,
) -> tuple[dict[str, ModelRun], str]:
    """Run the scoring process; returns per-model runs and a problem sentence (or "")."""
    scorer_dir.mkdir(parents=True, exist_ok=True)
    (scorer_dir / "request.json").write_text(
        json.dumps({"threads": threads, "seed": seed, "models": requests})
    )
    np.savez(scorer_dir / "inputs.npz", **sets)
    command = [sys.executable, "-m", "grader.score.model_runner", str(scorer_dir)]
    if wrap is not None:
        command = wrap(command, scorer_dir)
    try:
        completed = subprocess.run(
            command, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        return {}, f"scoring the saved models took longer than {timeout_s:.0f} s and was stopped"
    outputs_json = scorer_dir / "outputs.json"
    if completed.returncode != 0 or not outputs_json.is_file():
        tail = completed.stderr.decode("utf-8", "replace")[-800:]
        return {}, f"the scoring process failed (exit {completed.returncode}): {tail}"
    outputs = json.loads(outputs_json.read_text())
    runs: dict[str, ModelRun] = {}
    with np.load(scorer_dir / "outputs.npz", allow_pickle=False) as arrays:
        for name, out in outputs.items():
            run = ModelRun(
                name=name,
                loaded=bool(out.get("loaded")),
                problem=str(out.get("problem", "")),
                info=out.get("info") or {},
                set_problems=out.get("set_problems") or {},
                reading=str(out.get("reading", "")),
            )
            extra: dict[str, dict[int, np.ndarray]] = {"activations": {}, "kernel": {}}
            for key in arrays.files:
                owner, _, part = key.partition("/")
                if owner != name:
                    continue
                base, _, suffix = part.partition("@")
                if base in extra and suffix.isdigit():
                    extra[base][int(suffix)] = arrays[key]
                elif part == "activations":
                    run.activations = arrays[key]
                elif part == "kernel":
                    run.kernel = arrays[key]
                elif suffix == "units":
                    run.unit_predictions[base] = arrays[key]
                else:
                    run.predictions[part] = arrays[key]
            run.more_activations = [extra["activations"][i] for i in sorted(extra["activations"])]
            run.more_kernels = [extra["kernel"][i] for i in sorted(extra["kernel"])]
            runs[name] = run
    return runs, ""

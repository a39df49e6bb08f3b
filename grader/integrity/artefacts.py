"""Artefact layer: what a notebook produced, which renaming code does not change.

Signals, for the main `model`: its weights' digest after rounding and its predictions'
digest on the hidden data (both computed where the model is scored, never here), and
the cosine similarity of its first-layer filters to another model's, matched one to
one (Hungarian assignment) so that reordered filters still match. Beside them:
numbers the notebook printed with four or more decimals, and random seeds the student
set, which only count together with identical outputs.

A model trained by cells that are all the starter's is the same for everyone who kept
them (every kernel is seeded alike), and so are the numbers such cells print: they are
left out. Signals shared by more than `common_fraction` of the class are left out too.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.spec import SimilaritySpec

if TYPE_CHECKING:  # the scorer's side imports this module: keep it light
    from grader.integrity.sources import ClassSubmission, Starter

PREDICTION_DECIMALS = 4
LSH_BANDS = 4
LSH_BITS = 10
MIN_SHARED_BUCKETS = 2
SAME_OUTPUT_SHARE = 0.5
_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:e-?\d+)?(?![\w.])")
_SEED = re.compile(
    r"(?:seed|random_state|random_seed)\s*(?:\(|=)\s*(?:seed\s*=\s*)?(\d+)", re.IGNORECASE
)


# ---------------------------------------------------------------- at scoring time


def model_fingerprint(run: Any) -> dict[str, Any]:
    """A compact fingerprint of a scored model, stored with the grade (a few kilobytes).

    `run` is the scorer's `ModelRun` for `model`: its weights digest (computed in the
    scoring process), predictions on the hidden main set and first-layer kernel.
    """
    if run is None or not getattr(run, "loaded", False):
        return {}
    fingerprint: dict[str, Any] = {}
    digest = (getattr(run, "info", None) or {}).get("weights_digest")
    if digest:
        fingerprint["weights_digest"] = str(digest)
    predictions = (getattr(run, "predictions", None) or {}).get("main")
    if predictions is not None:
        rounded = np.round(np.asarray(predictions, dtype=np.float64), PREDICTION_DECIMALS)
        fingerprint["predictions_digest"] = hashlib.sha256(rounded.tobytes()).hexdigest()[:32]
    kernel = getattr(run, "kernel", None)
    if kernel is not None and np.ndim(kernel) == 3 and np.size(kernel) <= 65536:
        data = np.asarray(kernel, dtype=np.float16)
        fingerprint["kernel_shape"] = list(data.shape)
        fingerprint["kernel_f16"] = base64.b64encode(data.tobytes()).decode("ascii")
    return fingerprint


def decode_filters(fingerprint: Mapping[str, Any]) -> np.ndarray | None:
    """First-layer filters as unit rows (filters x width*channels), or None."""
    shape = fingerprint.get("kernel_shape")
    data = fingerprint.get("kernel_f16")
    if not shape or not data or len(shape) != 3:
        return None
    try:
        kernel = np.frombuffer(base64.b64decode(data), dtype=np.float16).reshape(shape)
    except (ValueError, TypeError):
        return None
    filters = kernel.astype(np.float64).transpose(2, 0, 1).reshape(shape[2], -1)
    norms = np.linalg.norm(filters, axis=1, keepdims=True)
    return filters / np.where(norms > 0, norms, 1.0)


def matched_filter_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine of the filters matched one to one (order does not matter)."""
    from scipy.optimize import linear_sum_assignment

    if a.shape[1] != b.shape[1]:
        return 0.0
    cosine = a @ b.T
    rows, cols = linear_sum_assignment(-cosine)
    return float(cosine[rows, cols].mean())


# ---------------------------------------------------------------- comparing a class


def printed_numbers(submission: ClassSubmission, min_decimals: int) -> set[str]:
    """Numbers with `min_decimals`+ significant decimals printed by the student's own cells."""
    found: set[str] = set()
    for text, starter in zip(submission.outputs, submission.starter_determined, strict=True):
        if starter:
            continue
        for match in _NUMBER.finditer(text):
            mantissa = match.group(0).split("e")[0].rstrip("0")
            if len(mantissa.split(".")[1]) >= min_decimals:
                found.add(match.group(0))
    return found


def seeds(submission: ClassSubmission, starter_seeds: set[str]) -> set[str]:
    found: set[str] = set()
    for source, starter in zip(submission.code_cells, submission.starter_determined, strict=True):
        if not starter:
            found.update(m.group(1) for m in _SEED.finditer(source))
    return found - starter_seeds


@dataclass(frozen=True)
class ArtefactMatch:
    identical_weights: bool = False
    identical_predictions: bool = False
    filter_cosine: float | None = None
    shared_numbers: tuple[str, ...] = ()
    shared_seeds: tuple[str, ...] = ()
    flagged: bool = False

    @property
    def score(self) -> float:
        if self.identical_weights or self.identical_predictions:
            return 1.0
        return max(self.filter_cosine or 0.0, 1.0 if self.flagged else 0.0)

    def evidence(self) -> list[str]:
        lines = []
        if self.identical_weights:
            lines.append("identical trained weights of `model` (after rounding)")
        if self.identical_predictions:
            lines.append("identical predictions of `model` on the hidden data")
        if self.filter_cosine is not None:
            lines.append(
                f"first-layer filters match with mean cosine {self.filter_cosine:.3f} "
                "(filters paired one to one)"
            )
        if self.shared_numbers:
            shown = ", ".join(self.shared_numbers[:8])
            lines.append(f"{len(self.shared_numbers)} identical printed numbers: {shown}")
        if self.shared_seeds:
            lines.append(
                f"same random seed(s) {', '.join(self.shared_seeds)} with identical outputs"
            )
        return lines


@dataclass
class ArtefactIndex:
    """Artefact signals of a class, and the pairs they link."""

    submissions: Sequence[ClassSubmission]
    starter: Starter
    spec: SimilaritySpec
    notes: list[str] = field(default_factory=list)

    def _limit(self) -> float:
        return max(self.spec.common_min_students, self.spec.common_fraction * len(self.submissions))

    def _groups(self, values: Mapping[str, set[str]], what: str) -> dict[tuple[str, str], set]:
        """Pairs sharing values, through value -> students; widely shared values are dropped."""
        owners: dict[str, list[str]] = {}
        for student, found in values.items():
            for value in found:
                owners.setdefault(value, []).append(student)
        pairs: dict[tuple[str, str], set] = {}
        for value, students in owners.items():
            if len(students) > self._limit():
                self.notes.append(
                    f"{len(students)} students share the same {what}; "
                    "so common that it is not counted"
                )
                continue
            students = sorted(students)
            for i, a in enumerate(students):
                for b in students[i + 1 :]:
                    pairs.setdefault((a, b), set()).add(value)
        return pairs

    def _filter_candidates(self, filters: Mapping[str, np.ndarray]) -> set[tuple[str, str]]:
        """Random-hyperplane LSH per filter: models sharing filter buckets are compared."""
        buckets: dict[tuple, set[str]] = {}
        planes: dict[int, np.ndarray] = {}
        for student, rows in filters.items():
            dim = rows.shape[1]
            if dim not in planes:
                planes[dim] = np.random.default_rng(dim).standard_normal(
                    (LSH_BANDS * LSH_BITS, dim)
                )
            bits = (rows @ planes[dim].T) > 0
            for band in range(LSH_BANDS):
                chunk = bits[:, band * LSH_BITS : (band + 1) * LSH_BITS]
                codes = chunk.astype(np.int64) @ (1 << np.arange(LSH_BITS))
                for code in set(codes.tolist()):
                    buckets.setdefault((dim, band, code), set()).add(student)
        counts: dict[tuple[str, str], int] = {}
        for students in buckets.values():
            if len(students) < 2 or len(students) > self._limit():
                continue
            ordered = sorted(students)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    counts[(a, b)] = counts.get((a, b), 0) + 1
        return {pair for pair, n in counts.items() if n >= MIN_SHARED_BUCKETS}

    def matches(self) -> dict[tuple[str, str], ArtefactMatch]:
        spec = self.spec
        own_model = {s.student: s for s in self.submissions if not s.model_from_starter}
        weights = {
            n: {s.fingerprint["weights_digest"]}
            for n, s in own_model.items()
            if s.fingerprint.get("weights_digest")
        }
        predictions = {
            n: {s.fingerprint["predictions_digest"]}
            for n, s in own_model.items()
            if s.fingerprint.get("predictions_digest")
        }
        filters = {
            n: f for n, s in own_model.items() if (f := decode_filters(s.fingerprint)) is not None
        }
        numbers = {
            s.student: printed_numbers(s, spec.metric_min_decimals) for s in self.submissions
        }
        starter_seeds = {m.group(1) for c in self.starter.code_cells for m in _SEED.finditer(c)}
        seed_values = {s.student: seeds(s, starter_seeds) for s in self.submissions}

        same_weights = self._groups(weights, "trained weights")
        same_predictions = self._groups(predictions, "hidden-data predictions")
        same_numbers = self._groups(numbers, "printed number")
        same_seeds = self._groups(seed_values, "random seed")
        cosines: dict[tuple[str, str], float] = {}
        for a, b in self._filter_candidates(filters) | set(same_weights) | set(same_predictions):
            if a in filters and b in filters:
                cosines[(a, b)] = matched_filter_cosine(filters[a], filters[b])

        result: dict[tuple[str, str], ArtefactMatch] = {}
        pairs = set(same_weights) | set(same_predictions) | set(same_numbers) | set(cosines)
        for pair in pairs:
            cosine = cosines.get(pair)
            shared_numbers = tuple(sorted(same_numbers.get(pair, ())))
            identical = pair in same_weights or pair in same_predictions
            # Honest AUCs crowd into a narrow range, so a few equal numbers happen by
            # chance: identical outputs means most of what the smaller notebook printed.
            smaller = min(len(numbers[pair[0]]), len(numbers[pair[1]])) or 1
            same_outputs = (
                len(shared_numbers) >= spec.metrics_min_shared
                and len(shared_numbers) >= SAME_OUTPUT_SHARE * smaller
            )
            shared_seeds = tuple(sorted(same_seeds.get(pair, ()))) if same_outputs else ()
            flagged = (
                identical
                or (cosine is not None and cosine >= spec.filter_cosine_flag)
                or same_outputs
            )
            match = ArtefactMatch(
                identical_weights=pair in same_weights,
                identical_predictions=pair in same_predictions,
                filter_cosine=None if cosine is None else round(cosine, 4),
                shared_numbers=shared_numbers,
                shared_seeds=shared_seeds,
                flagged=flagged,
            )
            if match.flagged or match.filter_cosine is not None:
                result[pair] = match
        self.notes = sorted(set(self.notes))
        return result

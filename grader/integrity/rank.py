"""Pairs ranked by the three layers, and clusters of students who share one source.

A pair is flagged "similar, review" when any layer passes its threshold from the
spec's `[similarity]` section. Its rank is the highest layer score, with the number
of layers that agree breaking ties (three weak agreeing signals deserve a look before
one). Clusters are the connected groups of flagged pairs with at least
`cluster_min_size` students.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from grader.integrity.artefacts import ArtefactIndex, ArtefactMatch
from grader.integrity.code import CodeIndex, CodeMatch
from grader.integrity.sources import ClassSubmission, Starter
from grader.integrity.text import TextIndex, TextMatch
from grader.spec import SimilaritySpec

LAYERS = ("code", "text", "artefacts")


@dataclass(frozen=True)
class PairSimilarity:
    """Two students, a score per layer, which layers flagged them, and why."""

    a: str
    b: str
    code: float
    text: float
    artefacts: float
    flagged_layers: tuple[str, ...]
    evidence: tuple[str, ...]
    text_documents: tuple[tuple[str, str, int], ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_layers)

    @property
    def score(self) -> float:
        return max(self.code, self.text, self.artefacts)

    @property
    def slug(self) -> str:
        return f"{self.a}__{self.b}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        data["flagged"] = self.flagged
        return data


@dataclass
class ClassSimilarity:
    """Everything the similarity pages show, and the indexes to highlight a pair."""

    students: tuple[str, ...]
    pairs: list[PairSimilarity]
    clusters: list[tuple[str, ...]]
    spec: SimilaritySpec
    seconds: float
    notes: list[str] = field(default_factory=list)
    code_index: CodeIndex | None = None
    text_index: TextIndex | None = None

    @property
    def flagged(self) -> list[PairSimilarity]:
        return [p for p in self.pairs if p.flagged]


def _pair_evidence(
    code: CodeMatch | None, text: TextMatch | None, artefacts: ArtefactMatch | None
) -> list[str]:
    lines = []
    if code is not None and code.tokens:
        lines.append(
            f"code: {code.tokens} normalised tokens in common beyond the starter "
            f"({code.share_a:.0%} of one notebook's own code, {code.share_b:.0%} of the other's)"
        )
    if text is not None and text.shared:
        where = ", ".join(a if a == b else f"{a}/{b}" for a, b, _ in text.documents)
        lines.append(
            f"answers: {text.shared} shared word sequences in {where} "
            f"({text.score:.0%} of the shorter answers)"
        )
    if artefacts is not None:
        lines.extend(artefacts.evidence())
    return lines


def clusters(pairs: Sequence[PairSimilarity], min_size: int) -> list[tuple[str, ...]]:
    """Connected groups of flagged pairs with at least `min_size` students."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        if pair.flagged:
            parent[find(pair.a)] = find(pair.b)
    groups: dict[str, list[str]] = {}
    for student in parent:
        groups.setdefault(find(student), []).append(student)
    found = [tuple(sorted(g)) for g in groups.values() if len(g) >= min_size]
    return sorted(found, key=lambda g: (-len(g), g))


def compare_class(
    submissions: Sequence[ClassSubmission], starter: Starter, spec: SimilaritySpec
) -> ClassSimilarity:
    """Compare every pair of a class through the three indexes."""
    started = time.monotonic()
    code_index = CodeIndex(submissions, starter, spec)
    text_index = TextIndex(submissions, starter, spec)
    artefact_index = ArtefactIndex(submissions, starter, spec)
    code = code_index.matches()
    text = text_index.matches()
    artefacts = artefact_index.matches()
    pairs = []
    for a, b in sorted(set(code) | set(text) | set(artefacts)):
        c, t, m = code.get((a, b)), text.get((a, b)), artefacts.get((a, b))
        layers = []
        if c is not None and code_index.flagged(c):
            layers.append("code")
        if t is not None and text_index.flagged(t):
            layers.append("text")
        if m is not None and m.flagged:
            layers.append("artefacts")
        pairs.append(
            PairSimilarity(
                a,
                b,
                round(c.score, 4) if c else 0.0,
                round(t.score, 4) if t else 0.0,
                round(m.score, 4) if m else 0.0,
                tuple(layers),
                tuple(_pair_evidence(c, t, m)),
                t.documents if t else (),
            )
        )
    pairs.sort(key=lambda p: (-p.flagged, -p.score, -len(p.flagged_layers), p.a, p.b))
    notes = list(artefact_index.notes)
    if code_index.common:
        notes.append(
            f"{code_index.common} code fingerprints shared by more than "
            f"{spec.common_fraction:.0%} of the class were treated as common code"
        )
    return ClassSimilarity(
        students=tuple(sorted(s.student for s in submissions)),
        pairs=pairs,
        clusters=clusters(pairs, spec.cluster_min_size),
        spec=spec,
        seconds=time.monotonic() - started,
        notes=notes,
        code_index=code_index,
        text_index=text_index,
    )

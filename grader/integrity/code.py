"""Code layer: winnowing fingerprints (copydetect) over normalised tokens of the code cells.

copydetect replaces names, strings and comments by placeholders before hashing k-grams
and winnowing them (MOSS's algorithm), so renamed variables and rewritten comments
do not hide a copy, and reordered cells keep almost all of their fingerprints. Two
kinds of shared code are not evidence and are removed before any pair is scored:
the starter notebook's own code (every k-gram of it, cell by cell), and fingerprints
that more than `common_fraction` of the class share (idioms everybody writes).

Pairs are found through an inverted index (a sparse student x fingerprint matrix),
so only pairs that share fingerprints are compared in full: the cost grows with the
class size times the fingerprints per notebook, not with the number of pairs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from copydetect.detector import CodeFingerprint, compare_files
from copydetect.utils import get_token_coverage, hashed_kgrams, highlight_overlap
from scipy import sparse

from grader.integrity.sources import MAGIC_LINE, ClassSubmission, Starter, filtered_cell
from grader.spec import SimilaritySpec

MIN_SHARED_FINGERPRINTS = 3
CANDIDATE_FRACTION = 0.5


def notebook_fingerprint(
    cells: Sequence[str], k: int, window: int, boilerplate: np.ndarray | None = None
) -> CodeFingerprint:
    """copydetect's fingerprint of a notebook's code cells, built from cached cell filters.

    The raw text shown to the instructor marks each cell with a comment (comments are
    not compared); offsets map the filtered document back to it for highlighting.
    """
    raw_parts: list[str] = []
    filtered_parts: list[str] = []
    rows: list[np.ndarray] = [np.array([[0, 0]])]
    raw_length = filtered_length = 0
    for number, source in enumerate(cells, start=1):
        header = f"# ---- code cell {number}\n"
        body = MAGIC_LINE.sub(r"\1# \2", source) + "\n\n"
        filtered, offsets = filtered_cell(source)
        shift = raw_length + len(header) - filtered_length
        rows.append(np.array([[filtered_length, shift]]))
        if len(offsets):
            rows.append(np.asarray(offsets) + np.array([filtered_length, shift]))
        raw_parts += [header, body]
        filtered_parts.append(filtered)
        raw_length += len(header) + len(body)
        filtered_length += len(filtered)
    fingerprint = CodeFingerprint(
        "notebook.py",
        k,
        window,
        boilerplate=boilerplate,
        filter=False,
        fp=io.StringIO("".join(filtered_parts)),
    )
    fingerprint.raw_code = "".join(raw_parts)
    fingerprint.offsets = np.concatenate(rows)
    return fingerprint


def starter_hashes(starter: Starter, k: int) -> np.ndarray:
    """Every k-gram hash of the starter's code, cell by cell and as one document."""
    docs = [filtered_cell(c)[0] for c in starter.code_cells]
    docs.append("".join(docs))
    hashes = [hashed_kgrams(doc, k) for doc in docs if len(doc) >= k]
    return np.unique(np.concatenate(hashes)) if hashes else np.array([], dtype=np.int64)


@dataclass(frozen=True)
class CodeMatch:
    """How much code two notebooks share beyond the starter and the class's common idioms."""

    score: float
    tokens: int
    share_a: float
    share_b: float


class CodeIndex:
    """Fingerprints of every notebook in a class, and the pairs that share code."""

    def __init__(
        self, submissions: Sequence[ClassSubmission], starter: Starter, spec: SimilaritySpec
    ) -> None:
        self.spec = spec
        self.students = [s.student for s in submissions]
        boilerplate = starter_hashes(starter, spec.code_kgram)
        self.fingerprints: dict[str, CodeFingerprint] = {}
        for submission in submissions:
            self.fingerprints[submission.student] = notebook_fingerprint(
                submission.code_cells, spec.code_kgram, spec.code_window, boilerplate
            )
        self.common = self._drop_common()

    def _drop_common(self) -> int:
        """Remove fingerprints most of the class shares; returns how many were removed."""
        counts: dict[int, int] = {}
        for fp in self.fingerprints.values():
            for h in fp.hashes:
                counts[h] = counts.get(h, 0) + 1
        limit = max(self.spec.common_min_students, self.spec.common_fraction * len(self.students))
        common = {h for h, n in counts.items() if n > limit}
        if common:
            for fp in self.fingerprints.values():
                fp.hashes = fp.hashes - common
                fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in common}
                fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))
        return len(common)

    def candidate_pairs(self) -> dict[tuple[str, str], int]:
        """Pairs sharing at least a few fingerprints, with how many, from the inverted index."""
        columns: dict[int, int] = {}
        rows, cols = [], []
        for row, student in enumerate(self.students):
            for h in self.fingerprints[student].hashes:
                rows.append(row)
                cols.append(columns.setdefault(h, len(columns)))
        if not rows:
            return {}
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.int32), (rows, cols)),
            shape=(len(self.students), len(columns)),
        )
        shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
        # Winnowing keeps a share of fingerprints close to the share of code in common,
        # so a pair whose shared fingerprints are far below the flag cannot reach it.
        sizes = np.asarray(matrix.sum(axis=1)).ravel()
        smaller = np.minimum(sizes[shared.row], sizes[shared.col])
        keep = (shared.data >= MIN_SHARED_FINGERPRINTS) & (
            shared.data >= CANDIDATE_FRACTION * self.spec.code_flag * smaller
        )
        return {
            tuple(sorted((self.students[i], self.students[j]))): int(n)  # type: ignore[misc]
            for i, j, n in zip(shared.row[keep], shared.col[keep], shared.data[keep], strict=True)
        }

    def compare(self, a: str, b: str) -> CodeMatch:
        tokens, (share_a, share_b), _ = compare_files(self.fingerprints[a], self.fingerprints[b])
        return CodeMatch(max(share_a, share_b), int(tokens), float(share_a), float(share_b))

    def matches(self) -> dict[tuple[str, str], CodeMatch]:
        return {pair: self.compare(*pair) for pair in self.candidate_pairs()}

    def flagged(self, match: CodeMatch) -> bool:
        return match.score >= self.spec.code_flag and match.tokens >= self.spec.code_min_tokens

    def highlighted(self, a: str, b: str) -> tuple[str, str]:
        """Both notebooks' code as escaped HTML with the shared spans in <mark>."""
        fa, fb = self.fingerprints[a], self.fingerprints[b]
        _, _, (slices_a, slices_b) = compare_files(fa, fb)
        return _highlight(fa.raw_code, slices_a), _highlight(fb.raw_code, slices_b)


def _highlight(code: str, slices: np.ndarray) -> str:
    from markupsafe import escape

    if slices.size == 0 or slices.ndim != 2 or slices.shape[1] == 0:
        return str(escape(code))
    html, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return html

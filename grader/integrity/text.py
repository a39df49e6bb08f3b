"""Written-answer layer: word shingles of the `Answer Q1..Q6` cells and the PDF report.

Each answer is a set of k-word shingles. Shingles of the starter's prose (the
questions, so quoting a question is not a match) and shingles that many students
share (stock phrases of the field) are removed first. MinHash LSH (datasketch) finds
the answers that may overlap without comparing every pair; the candidates are then
scored exactly: the share of the shorter answer's shingles found in the other one.
An answer copied into a different question still matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from grader.integrity.sources import ClassSubmission, Starter
from grader.spec import SimilaritySpec

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?", re.IGNORECASE)
NUM_PERM = 64
LSH_THRESHOLD = 0.1
REPORT_KEY = "report"


def words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def shingles(text: str, k: int) -> list[str]:
    tokens = [m.group(0).lower() for m in words(text)]
    return [" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]


@dataclass(frozen=True)
class TextMatch:
    """The answers two students share: matched one to one, best first.

    `score` is the share of the matched answers' (shorter side's) shingles found in
    the other student's answer; `shared` counts them over all matched answers, so six
    copied answers weigh more than one stock sentence.
    """

    score: float
    shared: int
    documents: tuple[tuple[str, str, int], ...]

    @property
    def doc_a(self) -> str:
        return self.documents[0][0]

    @property
    def doc_b(self) -> str:
        return self.documents[0][1]


class TextIndex:
    """Shingle sets of every answer in the class and a MinHash LSH index over them."""

    def __init__(
        self, submissions: Sequence[ClassSubmission], starter: Starter, spec: SimilaritySpec
    ) -> None:
        self.spec = spec
        k = spec.text_shingle_words
        boilerplate = set(shingles(starter.prose, k))
        self.texts: dict[tuple[str, str], str] = {}
        self.sets: dict[tuple[str, str], set[str]] = {}
        for s in submissions:
            documents = dict(s.answers)
            if s.report_text.strip():
                documents[REPORT_KEY] = s.report_text
            for name, text in documents.items():
                found = set(shingles(text, k)) - boilerplate
                if found:
                    self.texts[(s.student, name)] = text
                    self.sets[(s.student, name)] = found
        self._drop_common(len(submissions))

    def _drop_common(self, n_students: int) -> None:
        owners: dict[str, set[str]] = {}
        for (student, _), found in self.sets.items():
            for shingle in found:
                owners.setdefault(shingle, set()).add(student)
        limit = max(self.spec.common_min_students, self.spec.common_fraction * n_students)
        common = {sh for sh, who in owners.items() if len(who) > limit}
        self.boilerplate_common = common
        for key in list(self.sets):
            self.sets[key] -= common
            if len(self.sets[key]) < self.spec.text_min_shingles:
                del self.sets[key]

    def _candidates(self) -> Iterable[tuple[tuple[str, str], tuple[str, str]]]:
        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        hashes: dict[tuple[str, str], MinHash] = {}
        for key, found in self.sets.items():
            minhash = MinHash(num_perm=NUM_PERM, seed=1)
            minhash.update_batch([s.encode() for s in found])
            hashes[key] = minhash
            lsh.insert("\x00".join(key), minhash)
        for key, minhash in hashes.items():
            for other in lsh.query(minhash):
                other_key = tuple(other.split("\x00", 1))
                if other_key[0] > key[0]:
                    yield key, other_key  # type: ignore[misc]

    def matches(self) -> dict[tuple[str, str], TextMatch]:
        found: dict[tuple[str, str], list[tuple[int, int, str, str]]] = {}
        for key_a, key_b in self._candidates():
            a, b = self.sets[key_a], self.sets[key_b]
            shared = len(a & b)
            if shared:
                found.setdefault((key_a[0], key_b[0]), []).append(
                    (shared, min(len(a), len(b)), key_a[1], key_b[1])
                )
        matches: dict[tuple[str, str], TextMatch] = {}
        for pair, candidates in found.items():
            used_a: set[str] = set()
            used_b: set[str] = set()
            chosen = []
            for shared, smaller, doc_a, doc_b in sorted(candidates, reverse=True):
                if doc_a not in used_a and doc_b not in used_b:
                    used_a.add(doc_a)
                    used_b.add(doc_b)
                    chosen.append((shared, smaller, doc_a, doc_b))
            total = sum(c[0] for c in chosen)
            matches[pair] = TextMatch(
                total / sum(c[1] for c in chosen),
                total,
                tuple((c[2], c[3], c[0]) for c in chosen),
            )
        return matches

    def flagged(self, match: TextMatch) -> bool:
        return match.score >= self.spec.text_flag and match.shared >= self.spec.text_min_shingles

    def highlighted(self, key_a: tuple[str, str], key_b: tuple[str, str]) -> tuple[str, str]:
        """Both answers as escaped HTML with the words of shared shingles in <mark>."""
        shared = self.sets.get(key_a, set()) & self.sets.get(key_b, set())
        return (
            _highlight(self.texts.get(key_a, ""), shared, self.spec.text_shingle_words),
            _highlight(self.texts.get(key_b, ""), shared, self.spec.text_shingle_words),
        )


def _highlight(text: str, shared: set[str], k: int) -> str:
    from markupsafe import escape

    found = words(text)
    tokens = [m.group(0).lower() for m in found]
    marked = [False] * len(tokens)
    for i in range(len(tokens) - k + 1):
        if " ".join(tokens[i : i + k]) in shared:
            for j in range(i, i + k):
                marked[j] = True
    html, cursor, i = [], 0, 0
    while i < len(found):
        if not marked[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(found) and marked[j + 1]:
            j += 1
        start, end = found[i].start(), found[j].end()
        html.append(str(escape(text[cursor:start])))
        html.append(f"<mark>{escape(text[start:end])}</mark>")
        cursor, i = end, j + 1
    html.append(str(escape(text[cursor:])))
    return "".join(html)

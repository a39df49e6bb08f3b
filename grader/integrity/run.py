"""`motifgrader similarity`, and the similarity pages every `grade` run refreshes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from grader.integrity.rank import ClassSimilarity, compare_class
from grader.integrity.sources import (
    Starter,
    class_from_gradebook,
    default_starter,
    report_texts_from_folder,
)
from grader.integrity.view import write_pages
from grader.spec import AssignmentSpec, SimilaritySpec, SpecError, load_spec

log = logging.getLogger(__name__)
GRADEBOOK_NAME = "gradebook.sqlite"


@dataclass(frozen=True)
class SimilaritySummary:
    index_path: Path
    students: int
    flagged: int
    clusters: int
    seconds: float


def similarity_spec(spec: AssignmentSpec) -> SimilaritySpec:
    if spec.similarity is None:
        raise SpecError(
            "the assignment spec has no [similarity] section: copy the one in "
            "grader/assignments/deepbind_motif.toml"
        )
    return spec.similarity


def similarity_for_gradebook(
    gradebook_path: Path | str,
    spec: AssignmentSpec,
    *,
    starter: Starter | None = None,
    submissions: Path | str | None = None,
) -> ClassSimilarity:
    """Compare every current submission in a gradebook."""
    texts = report_texts_from_folder(submissions) if submissions is not None else None
    students = class_from_gradebook(
        gradebook_path, spec.fingerprint, starter or default_starter(), texts
    )
    return compare_class(students, starter or default_starter(), similarity_spec(spec))


def similarity_report(
    *,
    out_dir: Path | str,
    gradebook_path: Path | str | None = None,
    spec_path: Path | str | None = None,
    submissions: Path | str | None = None,
) -> SimilaritySummary:
    """Write OUT/similarity/ from the gradebook that `grade` filled."""
    spec = load_spec(spec_path)
    out = Path(out_dir)
    path = Path(gradebook_path) if gradebook_path else out / GRADEBOOK_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no gradebook at {path}: run `motifgrader grade` first")
    result = similarity_for_gradebook(path, spec, submissions=submissions)
    index = write_pages(result, out, spec.assignment.title)
    return SimilaritySummary(
        index, len(result.students), len(result.flagged), len(result.clusters), result.seconds
    )


def refresh_after_grade(
    out_dir: Path | str, gradebook_path: Path | str, spec: AssignmentSpec
) -> Path | None:
    """The similarity pages beside the class index; a failure here never fails grading."""
    if spec.similarity is None:
        return None
    try:
        result = similarity_for_gradebook(gradebook_path, spec)
        return write_pages(result, out_dir, spec.assignment.title)
    except Exception:  # the grades are written already; the review pages are extra
        log.exception("the similarity pages could not be written")
        return None

"""The similarity pages: a ranked list for the class and a side-by-side page per flagged pair.

Self-contained like the reports (inline CSS, no scripts from elsewhere), so they open
from disk. The wording is "similar, review": a page shows what two submissions share
and leaves the judgement to a person.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from grader.integrity.rank import ClassSimilarity, PairSimilarity
from grader.integrity.text import REPORT_KEY
from grader.resources import template_environment

SIMILARITY_DIR = "similarity"
CLOSEST_UNFLAGGED = 20
DOCUMENT_LABELS = {REPORT_KEY: "PDF report"}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return template_environment()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_index(result: ClassSimilarity, title: str) -> str:
    unflagged = [p for p in result.pairs if not p.flagged][:CLOSEST_UNFLAGGED]
    return (
        _environment()
        .get_template("similarity.html.j2")
        .render(
            title=title,
            generated=_now(),
            n_students=len(result.students),
            flagged=result.flagged,
            unflagged=unflagged,
            clusters=result.clusters,
            notes=result.notes,
            spec=result.spec,
            seconds=result.seconds,
        )
    )


def render_pair(result: ClassSimilarity, pair: PairSimilarity, title: str) -> str:
    code_a = code_b = ""
    if result.code_index is not None:
        code_a, code_b = result.code_index.highlighted(pair.a, pair.b)
    text_rows = []
    documents = pair.text_documents if result.text_index is not None else ()
    for doc_a, doc_b, _ in documents:
        html_a, html_b = result.text_index.highlighted((pair.a, doc_a), (pair.b, doc_b))  # type: ignore[union-attr]
        text_rows.append(
            {
                "label_a": DOCUMENT_LABELS.get(doc_a, f"Answer {doc_a}"),
                "label_b": DOCUMENT_LABELS.get(doc_b, f"Answer {doc_b}"),
                "a": html_a,
                "b": html_b,
            }
        )
    return (
        _environment()
        .get_template("similarity_pair.html.j2")
        .render(
            title=title,
            generated=_now(),
            pair=pair,
            code_a=code_a,
            code_b=code_b,
            text_rows=text_rows,
        )
    )


def write_pages(result: ClassSimilarity, out_dir: Path | str, title: str) -> Path:
    """OUT/similarity/index.html, one page per flagged pair, and similarity.json."""
    folder = Path(out_dir) / SIMILARITY_DIR
    pairs_dir = folder / "pairs"
    pairs_dir.mkdir(parents=True, exist_ok=True)
    for stale in pairs_dir.glob("*.html"):
        stale.unlink()
    for pair in result.flagged:
        (pairs_dir / f"{pair.slug}.html").write_text(
            render_pair(result, pair, title), encoding="utf-8"
        )
    data = {
        "wording": "similar, review",
        "students": list(result.students),
        "pairs": [p.to_dict() for p in result.pairs if p.flagged or p.score > 0],
        "clusters": [list(c) for c in result.clusters],
        "notes": result.notes,
        "thresholds": result.spec.model_dump(),
        "seconds": round(result.seconds, 2),
    }
    (folder / "similarity.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    index = folder / "index.html"
    index.write_text(render_index(result, title), encoding="utf-8")
    return index

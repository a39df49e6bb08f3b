"""The class leaderboard: one row of benchmark numbers per model, three views of it.

At grading time `benchmark_details` stores, with each grade, the numbers a
leaderboard ranks (hidden ROC AUC beside the oracle, PR AUC, motif similarity,
parameter count, stress sets passed, mutation-map window share, training time). The
class summary shows them with real names (it is the instructor's page); results.json
carries them as Gradescope `leaderboard` entries; `write_public_leaderboard` writes
a self-contained page to publish, naming students by a keyed pseudonym (or by name,
or not at all, as the spec's `[leaderboard]` says).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.checks.results import StudentResult

if TYPE_CHECKING:
    from grader.score.measure import Scores

ADJECTIVES = (
    "amber", "brisk", "calm", "dusky", "eager", "fleet", "gentle", "hazel",
    "ivory", "jolly", "keen", "lucid", "mellow", "nimble", "olive", "plucky",
)  # fmt: skip
ANIMALS = (
    "auk", "bison", "crane", "dingo", "egret", "ferret", "gecko", "heron",
    "ibis", "jackal", "koala", "lemur", "marten", "newt", "otter", "puffin",
)  # fmt: skip
TRAINING_CALL = re.compile(r"\bhistory\s*=\s*[\w.]+\.fit\(")


class LeaderboardError(Exception):
    """The leaderboard cannot be written; the message says what to do."""


# --------------------------------------------------------------------------- at grading time


def training_seconds(cells: Sequence[Any], notebook: Any) -> float | None:
    """Run time of the cells that train `model` (`history = ....fit(`), else None."""
    sources = {}
    for index, cell in enumerate(getattr(notebook, "cells", None) or []):
        if cell.get("cell_type") == "code":
            sources[index] = str(cell.get("source", ""))
    seconds = [
        c.seconds
        for c in cells
        if c.seconds is not None and TRAINING_CALL.search(sources.get(c.index, ""))
    ]
    return round(float(sum(seconds)), 2) if seconds else None


def benchmark_details(scores: Scores, cells: Sequence[Any], notebook: Any) -> dict[str, Any]:
    """`details["stress"]` and `details["leaderboard"]` of one grade (plain JSON)."""
    from grader.score.stress import stress_details

    stress = getattr(scores, "stress", None)
    entry: dict[str, Any] = {
        "hidden_roc_auc": None,
        "oracle_roc_auc": None,
        "auc_fraction": None,
        "pr_auc": None,
        "motif_similarity": None,
        "parameters": None,
        "stress_passed": None,
        "stress_applicable": None,
        "window_share": None,
        "training_seconds": training_seconds(cells, notebook),
    }
    main = scores.main
    if main is not None:
        entry["hidden_roc_auc"] = main.evaluation.roc_auc
        entry["oracle_roc_auc"] = main.oracle.roc_auc
        entry["auc_fraction"] = main.evaluation.roc_auc / main.oracle.roc_auc
        entry["pr_auc"] = main.evaluation.pr_auc
        if main.best_match is not None:
            entry["motif_similarity"] = float(main.best_match.similarity)
    run = scores.models.get("model")
    if run is not None and run.loaded:
        entry["parameters"] = run.info.get("count_params")
    if stress is not None:
        entry["stress_passed"] = stress.suite.passed
        entry["stress_applicable"] = stress.suite.applicable
        entry["window_share"] = stress.window_share
    return {"stress": stress_details(stress), "leaderboard": entry}


# --------------------------------------------------------------------------- views


def pseudonym(student: str, key: str) -> str:
    """A stable, keyed name: the same id and key always give the same pseudonym,
    and without the key it cannot be traced back to the id."""
    digest = hmac.new(key.encode(), student.encode(), hashlib.sha256).digest()
    return f"{ADJECTIVES[digest[0] % 16]}-{ANIMALS[digest[1] % 16]}-{digest[2:4].hex()}"


def leaderboard_rows(
    results: Iterable[StudentResult], *, names: str = "real", key: str = ""
) -> list[dict[str, Any]]:
    """Rows of every graded `model`, best hidden ROC AUC / oracle first, ranked."""
    if names == "off":
        return []
    rows = []
    for result in results:
        entry = (result.details or {}).get("leaderboard") or {}
        if entry.get("auc_fraction") is None:
            continue
        name = result.student if names == "real" else pseudonym(result.student, key)
        rows.append({"name": name, "student": result.student, **entry})
    rows.sort(key=lambda r: (-r["auc_fraction"], r["name"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def gradescope_leaderboard(result: StudentResult) -> list[dict[str, Any]]:
    """Gradescope's `leaderboard` entries for results.json (empty when nothing was measured)."""
    entry = (result.details or {}).get("leaderboard") or {}
    if entry.get("auc_fraction") is None:
        return []
    board: list[dict[str, Any]] = [
        {"name": "Hidden ROC AUC / oracle", "value": round(entry["auc_fraction"], 4)},
        {"name": "Hidden PR AUC", "value": round(entry["pr_auc"], 4)},
    ]
    if entry.get("motif_similarity") is not None:
        board.append({"name": "Motif similarity", "value": round(entry["motif_similarity"], 3)})
    if entry.get("parameters") is not None:
        board.append({"name": "Parameters", "value": int(entry["parameters"]), "order": "asc"})
    if entry.get("stress_applicable"):
        board.append(
            {
                "name": "Stress sets passed",
                "value": f"{entry['stress_passed']}/{entry['stress_applicable']}",
            }
        )
    if entry.get("training_seconds") is not None:
        board.append(
            {"name": "Training time (s)", "value": entry["training_seconds"], "order": "asc"}
        )
    return board


def write_public_leaderboard(
    *,
    out_dir: Path | str,
    public: Path | str,
    spec_path: Path | str | None = None,
    secret_file: Path | str | None = None,
    gradebook_path: Path | str | None = None,
) -> Path:
    """Write the publishable leaderboard page from the grades `grade` stored in OUT."""
    from grader.batch import GRADEBOOK_NAME
    from grader.gradebook.store import Gradebook, seed_identity
    from grader.outputs.report import _environment
    from grader.spec import load_spec, resolve_seed

    spec = load_spec(spec_path)
    board = spec.leaderboard
    if board.names == "off":
        raise LeaderboardError(
            'the spec turns the leaderboard off ([leaderboard] names = "off"); '
            'set names = "pseudonyms" or "real" to publish one'
        )
    seed = resolve_seed(spec, secret_file)
    path = Path(gradebook_path) if gradebook_path else Path(out_dir) / GRADEBOOK_NAME
    if not path.is_file():
        raise LeaderboardError(f"no gradebook at {path}: run `motifgrader grade` first")
    with Gradebook(path) as gradebook:
        stored = gradebook.current_grades(spec.fingerprint, seed_id=seed_identity(seed.material))
    key = board.key or seed.material
    rows = leaderboard_rows([g.result for g in stored], names=board.names, key=key)
    for row in rows:
        row.pop("student")
    html = (
        _environment()
        .get_template("leaderboard.html.j2")
        .render(
            title=spec.assignment.title,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            rows=rows,
            pseudonyms=board.names == "pseudonyms",
            weak_key=board.names == "pseudonyms" and not board.key and not seed.is_secret,
        )
    )
    target = Path(public)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target

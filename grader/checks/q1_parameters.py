"""Q1: the model's parameter count, computed from its architecture and found in the answer."""

from __future__ import annotations

import re
from typing import Any

from grader.checks.common import (
    model_problem,
    probe_result,
)
from grader.checks.registry import CheckContext, Outcome, check


def _mentions_number(text: str, number: int) -> bool:
    plain = re.sub(r"(?<=\d)[,\u2009 _'](?=\d{3}\b)", "", text)
    return re.search(rf"(?<!\d){number}(?!\d)", plain) is not None


@check("parameter_count")
def parameter_count(ctx: CheckContext) -> Outcome:
    problem = model_problem(ctx, "model", trained=False)
    probe = probe_result(ctx, "build_model")
    evidence: dict[str, Any] = {"starter_architecture_params": probe.get("count_params")}
    if problem:
        return Outcome(0.0, problem, evidence)
    info = ctx.scores.models["model"].info
    rows = info.get("layers", [])
    total = int(info.get("count_params", 0))
    evidence.update({"layers": rows, "total": total})
    mismatched = [r for r in rows if r.get("expected") is not None and r["expected"] != r["params"]]
    unchecked = [r["type"] for r in rows if r.get("expected") is None]
    consistent = not mismatched and sum(r["params"] for r in rows) == total
    w = ctx.spec.weights
    fraction = w.parameter_count_layers if consistent else 0.0
    parts = [
        f"`model` has {total:,} parameters"
        + (
            ", and every layer's count matches its formula."
            if consistent
            else f"; these layers do not match their formula: {[r['name'] for r in mismatched]}."
        )
    ]
    if unchecked:
        parts.append(f"Layers without a formula here (not checked): {sorted(set(unchecked))}.")
    answer = ctx.harvest.answers.get("Q1", "")
    trainable = info.get("trainable_params")
    accepted = {total}
    if isinstance(trainable, int):
        accepted.add(trainable)
    if isinstance(probe.get("count_params"), int):
        accepted.add(probe["count_params"])  # the starter architecture, explained as asked
    if answer and any(_mentions_number(answer, n) for n in accepted):
        fraction += w.parameter_count_answer
        parts.append("Your Q1 answer states the total.")
    else:
        also = (
            f" ({trainable:,} of them trainable)"
            if isinstance(trainable, int) and trainable != total
            else ""
        )
        parts.append(f"State the total ({total:,}{also}) and how it arises in your Answer Q1 cell.")
    return Outcome(fraction, " ".join(parts), evidence)

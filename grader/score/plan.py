"""Which hidden inputs each saved model is fed: drawn with the secret at the model's own input
length, in the student's own one-hot column order where their encoder only permutes A, C, G, T.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.harvest.validate import Harvest, HarvestedValue, is_empty
from grader.score.hidden_data import (
    hidden_main,
    hidden_multi,
    interaction_probes,
    public_test,
)
from grader.spec import AssignmentSpec, SeedInfo
from reference.encode import column_permutation, one_hot_encode_seqs


def interaction_motifs(harvest: Harvest) -> HarvestedValue:
    """`interaction_motifs`, or `multi_motifs` when it is absent or left empty (the contract)."""
    motifs = harvest.value("interaction_motifs")
    return harvest.value("multi_motifs") if is_empty(motifs) else motifs


def _model_input_length(harvest: Harvest, name: str) -> int | None:
    from grader.score.keras_files import peek_input_length

    model = harvest.model(name)
    return peek_input_length(model.path) if model.ok and model.path else None


def student_columns(harvest: Harvest) -> tuple[int, ...] | None:
    """The student's one-hot column order when their encoder only permutes A, C, G, T.

    None for the standard order, or when the encoder is wrong in another way (then
    the standard order is fed, and the encoder check says what is wrong).
    """
    from grader.checks.functions import ENCODER_PROBE

    probe = harvest.probes.get("encode_acgt") or {}
    values = (probe.get("array") or {}).get("values")
    if values is None or probe.get("error"):
        return None
    try:
        got = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    columns = column_permutation(got, one_hot_encode_seqs(ENCODER_PROBE))
    return None if columns is None or columns == (0, 1, 2, 3) else columns


def column_note(columns: tuple[int, ...] | None) -> str:
    if columns is None:
        return ""
    order = ", ".join("ACGT"[c] for c in columns)
    return f"fed one-hot columns in your encoder's order ({order})"


def plan_inputs(
    harvest: Harvest, spec: AssignmentSpec, seed: SeedInfo
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, Any]]:
    """Which hidden inputs each model gets; returns (request models, input sets, context)."""
    requests: dict[str, dict] = {}
    sets: dict[str, np.ndarray] = {}
    context: dict[str, Any] = {"notes": {}}
    seq_len = spec.data.seq_len
    columns = student_columns(harvest)
    column_list = list(columns) if columns is not None else None
    if harvest.model("model").ok:
        length = _model_input_length(harvest, "model") or seq_len
        main = hidden_main(spec, seed, length)
        context["main"] = main
        context["public_test"] = public_test(spec)
        sets["main"] = main.codes
        predict = ["main"]
        if length == seq_len:
            sets["public_test"] = context["public_test"].codes
            predict.append("public_test")
        else:
            context["notes"]["model"] = (
                f"built for sequences of length {length}, so it was scored on hidden data "
                f"drawn at that length (oracle measured on the same data)"
            )
        requests["model"] = {
            "file": str(harvest.model("model").path),
            "predict": predict,
            "activations": {"set": "main", "rows": spec.data.motif_probe_size},
            "columns": column_list,
        }
    multi_motifs = harvest.value("multi_motifs")
    if harvest.model("multi_model").ok and multi_motifs.ok:
        length = _model_input_length(harvest, "multi_model") or seq_len
        multi = hidden_multi(spec, seed, multi_motifs.value, length)
        context["multi"] = multi
        sets["multi"] = multi.codes
        predict = ["multi"]
        for key, codes in multi.single_sets.items():
            sets[f"multi_{key}"] = codes
            predict.append(f"multi_{key}")
        requests["multi_model"] = {
            "file": str(harvest.model("multi_model").path),
            "predict": predict,
            "activations": {"set": "multi", "rows": len(multi.codes)},
            "columns": column_list,
            "n_motifs": len(multi.motifs),
        }
    rule = harvest.value("interaction_rule")
    motifs = interaction_motifs(harvest)
    if harvest.model("interaction_model").ok and rule.ok and motifs.ok:
        length = _model_input_length(harvest, "interaction_model") or seq_len
        probes = interaction_probes(spec, seed, motifs.value, length)
        context["interaction"] = probes
        context["interaction_rule"] = rule.value
        for key, codes in probes.sets.items():
            sets[f"interaction_{key}"] = codes
        requests["interaction_model"] = {
            "file": str(harvest.model("interaction_model").path),
            "predict": [f"interaction_{k}" for k in probes.sets],
            # The first layer is read for the hand-set check only: a few rows suffice.
            "activations": {"set": "interaction_none", "rows": 8},
            "columns": column_list,
            "n_motifs": 2,
        }
    context["columns"] = columns
    return requests, sets, context

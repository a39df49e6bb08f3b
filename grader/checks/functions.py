"""The starter's functions still do their job: the data generator, the one-hot encoder and
`build_pwm`, called by the grader in the kernel with probes it chose.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from grader.checks.common import (
    probe_problem,
    probe_result,
)
from grader.checks.registry import CheckContext, Outcome, check
from reference.data import generate_synthetic_dataset
from reference.encode import column_permutation, one_hot_encode_seqs
from reference.motifs import fitted_pseudocount

ENCODER_PROBE = ["ACGTTGCA", "GGGGCCCC", "ATATCGCG"]


UNKNOWN_BASE_PROBE = ["ACGNA", "NNNNN"]


PWM_PROBE = ["ACGTG", "ACGTT", "ACGAG", "TCGTG"]


GOLDEN_GENERATOR_ARGS = {"num_pos": 10, "num_neg": 10}


@lru_cache(maxsize=8)
def _reference_dataset(arguments: tuple) -> tuple[list[str], list[int]]:
    seqs, labels = generate_synthetic_dataset(**dict(arguments))
    return seqs, labels.tolist()


def _compare_dataset(result: dict, arguments: dict) -> str:
    expected_seqs, expected_labels = _reference_dataset(tuple(sorted(arguments.items())))
    seqs = result.get("seqs") or []
    labels = (result.get("labels") or {}).get("values")
    if len(seqs) != len(expected_seqs):
        return f"returned {len(seqs)} sequences, expected {len(expected_seqs)}"
    for i, (got, want) in enumerate(zip(seqs, expected_seqs, strict=True)):
        if got != want:
            return f"sequence {i} differs: got {got[:30]}..., expected {want[:30]}..."
    if not isinstance(labels, list) or [int(v) for v in labels] != expected_labels:
        return "the sequences match but the labels do not"
    return ""


@check("generator_matches_assignment")
def generator_matches_assignment(ctx: CheckContext) -> Outcome:
    evidence: dict[str, Any] = {}
    passed = 0.0
    messages = []
    for probe_name, arguments in (
        ("generator_golden", GOLDEN_GENERATOR_ARGS),
        ("generator_probe", ctx.probe_arguments),
    ):
        result = probe_result(ctx, probe_name)
        problem = probe_problem(result, "generate_synthetic_dataset")
        if not problem:
            problem = _compare_dataset(result, arguments)
        evidence[probe_name] = {"arguments": arguments, "problem": problem}
        if problem:
            messages.append(f"with {arguments}: {problem}")
        else:
            passed += 1
    if passed == 2:
        return Outcome(1.0, "The generator reproduces the assignment's data exactly.", evidence)
    return Outcome(
        passed * ctx.spec.weights.generator_per_probe,
        "`generate_synthetic_dataset` does not reproduce the assignment's data "
        + "; ".join(messages)
        + ". Keep the starter's random draws in the same order (you may vectorise them).",
        evidence,
    )


def _array(result: dict, key: str = "array") -> np.ndarray | None:
    summary = result.get(key) or {}
    values = summary.get("values")
    if values is None:
        return None
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None


@check("one_hot_encoder")
def one_hot_encoder(ctx: CheckContext) -> Outcome:
    result = probe_result(ctx, "encode_acgt")
    problem = probe_problem(result, "one_hot_encode_seqs")
    expected = one_hot_encode_seqs(ENCODER_PROBE).astype(np.float64)
    evidence: dict[str, Any] = {"input": ENCODER_PROBE}
    if problem:
        return Outcome(0.0, problem, evidence)
    got = _array(result)
    if got is None or got.shape != expected.shape:
        shape = None if got is None else got.shape
        return Outcome(
            0.0,
            f"`one_hot_encode_seqs` returned shape {shape}; for {len(ENCODER_PROBE)} sequences "
            f"of length 8 it must return {expected.shape} (sequences, positions, A/C/G/T).",
            evidence,
        )
    if not np.allclose(got, expected):
        columns = column_permutation(got, expected)
        if columns is not None:
            order = ", ".join("ACGT"[c] for c in columns)
            evidence["column_order"] = order
            return Outcome(
                0.0,
                f"`one_hot_encode_seqs` uses the column order {order}; the contract asks for "
                "A, C, G, T. Your models were fed hidden data in your own order, so only this "
                "check costs points for it.",
                evidence,
            )
        return Outcome(
            0.0,
            "`one_hot_encode_seqs` puts the 1s in the wrong columns; the columns must be "
            "A, C, G, T in that order.",
            evidence,
        )
    unknown = probe_result(ctx, "encode_unknown")
    note = ""
    unknown_array = _array(unknown)
    if unknown.get("error"):
        note = (
            f" Note: it fails on an unknown base such as N ({unknown['error'][:80]}); the "
            "starter's `.get(ch, 'A')` passes the string 'A' as an index. Encode N deliberately, "
            "e.g. as a uniform 0.25 row."
        )
    elif unknown_array is not None and unknown_array.shape == (2, 5, 4):
        column = unknown_array[0, 3]
        evidence["unknown_base_row"] = column.tolist()
        if np.allclose(column, [1, 0, 0, 0]):
            note = (
                " Note: an unknown base such as N is encoded as A; a uniform 0.25 row or a zero "
                "row would not invent a base."
            )
    return Outcome(1.0, "The encoder is correct on A, C, G, T." + note, evidence)


@check("build_pwm_function")
def build_pwm_function(ctx: CheckContext) -> Outcome:
    result = probe_result(ctx, "pwm")
    problem = probe_problem(result, "build_pwm")
    evidence = {"input": PWM_PROBE}
    if problem:
        return Outcome(0.0, problem, evidence)
    got = _array(result)
    counts = one_hot_encode_seqs(PWM_PROBE).sum(axis=0).astype(np.float64)
    expected = counts / counts.sum(axis=1, keepdims=True)
    encoder = _array(probe_result(ctx, "encode_acgt"))
    columns = (
        column_permutation(encoder, one_hot_encode_seqs(ENCODER_PROBE))
        if encoder is not None
        else None
    )
    if got is None or got.shape != expected.shape:
        return Outcome(
            0.0,
            f"`build_pwm` returned shape {None if got is None else got.shape}; for 5-mers it "
            "must return (5, 4): one row per position, columns A, C, G, T.",
            evidence,
        )
    pseudocount = fitted_pseudocount(got, counts)
    order = ""
    if pseudocount is None and columns is not None and columns != (0, 1, 2, 3):
        pseudocount = fitted_pseudocount(got, counts[:, list(columns)])
        order = ", ".join("ACGT"[c] for c in columns)
    if pseudocount is None:
        return Outcome(
            0.0,
            "`build_pwm` does not give the base frequencies per position (each row should sum "
            "to 1 and count how often each base appears at that position).",
            evidence,
        )
    evidence["pseudocount"] = pseudocount
    message = "`build_pwm` computes position frequencies correctly"
    if pseudocount > 1e-3:
        message += f" (with a pseudocount of {pseudocount:g} per base)"
    if order:
        message += f", in your encoder's column order ({order})"
    return Outcome(1.0, message + ".", evidence)

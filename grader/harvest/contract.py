"""What a notebook hands in: the names of the values, models and functions the grader reads.

The assignment's contract with students, in one place: the kernel steps harvest these
names, validation checks them, and the self-check lists them.
"""

from __future__ import annotations

VALUE_NAMES = (
    "history",
    "roc",
    "pr_auc",
    "kernel_results",
    "noise_results",
    "multi_motifs",
    "interaction_rule",
    "interaction_motifs",
)


MODEL_NAMES = ("model", "multi_model", "interaction_model")


FUNCTION_NAMES = (
    "generate_synthetic_dataset",
    "one_hot_encode_seqs",
    "build_deepbind_like_model",
    "build_pwm",
)

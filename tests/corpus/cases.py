"""What every hostile or broken notebook of the corpus must get, as a table.

One `Case` per folder of `tests/corpus/` (plus the 50 MB notebook, generated at test
time). `tests/test_hostile.py` grades them all in one batch under `CORPUS_LIMITS` and
checks each row: the exact status, the band of automatic points, and the extra
assertions the row names. The statuses were measured, and each is the truthful one:
a notebook that looped is `timeout`, one the grader stopped for memory is `oom`, one
whose kernel went away (by its own hand or stopped by a limit) is `died`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

# Short limits so hostile notebooks fail fast. Memory must leave room for TensorFlow,
# which the grader's preamble imports in every kernel (about 0.65 GiB resident).
CORPUS_LIMITS: Mapping[str, float] = MappingProxyType(
    {
        "cell_timeout_s": 15,
        "notebook_timeout_s": 40,
        "harvest_timeout_s": 10,
        "interrupt_answer_timeout_s": 5,
        "memory_mb": 1536,
        "files_written": 500,
        "file_size_mb": 32,
        "harvest_mb": 4,
    }
)

STARTER_FUNCTIONS_POINTS = 13.0
"""generate_synthetic_dataset 5 + one_hot_encode_seqs 5 + build_pwm 3, kept by any case
whose kernel still answers (or is replayed) after the starter's cells ran."""
RUNS_POINTS = 5.0
FUNCTION_CHECKS = {"generator_matches_assignment": 5.0, "one_hot_encoder": 5.0}
MEASURED_CHECKS = (
    "parameter_count",
    "training_curves",
    "hidden_roc_auc",
    "hidden_pr_auc",
    "motif_recovered",
)
"""Checks computed by the grader outside the kernel: tampering inside it cannot move them."""


def _frozen(mapping: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Case:
    """One corpus notebook and what the grader must say about it."""

    name: str
    does: str
    status: Literal["ok", "errors", "timeout", "oom", "died", "invalid"]
    band: tuple[float, float]
    """(min, max) automatic points."""
    checks: Mapping[str, float] = field(default_factory=_frozen)
    """Exact points of these checks."""
    check_messages: Mapping[str, str] = field(default_factory=_frozen)
    """Check id -> text its message must contain."""
    message: tuple[str, ...] = ()
    """Texts the status message must contain."""
    notes: tuple[str, ...] = ()
    """Texts that must each appear in one of the report's notes."""
    fatal_cell: str = ""
    """The error name shown on the cell the kernel died in."""
    output_has: tuple[str, ...] = ()
    """Texts the executed notebook must contain."""
    output_lacks: tuple[str, ...] = ()
    """Texts the executed notebook must not contain."""
    confined_output_lacks: tuple[str, ...] = ()
    """Like `output_lacks`, asserted only when the kernel ran in bubblewrap."""
    confined_output_has: tuple[str, ...] = ()
    """Like `output_has`, asserted only when the kernel ran in bubblewrap."""
    twin: str = ""
    """An honest case training the same model: the measured checks must be equal."""
    twin_total: Literal["", "equal", "minus_reported"] = ""
    """"equal": the same total as the twin; "minus_reported": the twin's total less its
    `reported_metrics_supported` points (forged claims earn nothing)."""
    max_executed_bytes: int = 0
    """The executed notebook is at most this big (0: not checked)."""
    long: bool = False
    """Runs into a time limit: scheduled first so the batch is not left waiting for it."""
    sleeps: bool = False
    """A long case that waits out its limit asleep, using no CPU. Only the first such case
    starts with the long ones; the others start a third of the way through the batch, so
    that two sleeping cases never hold two of its workers while a core idles."""
    mixed: bool = False
    """Also graded in the variants' batch (standard test spec), beside an honest twin."""
    generated: bool = False
    """Made at test time (too big to commit)."""


def _kept(extra: float = 0.0) -> tuple[float, float]:
    """The band of a case that keeps exactly the starter functions' points."""
    points = STARTER_FUNCTIONS_POINTS + extra
    return (points, points)


_RAN = {"notebook_runs": RUNS_POINTS, **FUNCTION_CHECKS}
_ERRORS = 15.0  # 13 + notebook_runs 0.5 * 4 of 5 cells * 5 points
_TINY_BAND = (40.0, 58.0)
_TINY_CHECKS = {**_RAN, "build_pwm_function": 3.0, "parameter_count": 3.0, "training_curves": 2.0}

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ tampering
    Case(
        "honest_tiny_model",
        "the honest twin: starter functions, a tiny CNN trained for 3 epochs, true claims",
        "ok",
        _TINY_BAND,
        checks=_TINY_CHECKS,
        check_messages={"motif_recovered": "ACGTG"},
    ),
    Case(
        "fake_auc_print",
        "the twin's model, then prints and displays a made-up 'Test ROC AUC: 0.9990'",
        "ok",
        _TINY_BAND,
        checks=_TINY_CHECKS,
        output_has=("0.9990",),
        twin="honest_tiny_model",
        twin_total="equal",
    ),
    Case(
        "monkeypatch_metrics",
        "the twin's model, then replaces roc_auc_score, auc, average_precision_score, "
        "Model.predict, evaluate and count_params with fakes and reports 1.0",
        "ok",
        (35.0, 58.0),
        checks={**_TINY_CHECKS, "reported_metrics_supported": 0.0},
        check_messages={"reported_metrics_supported": "above what any model can reach"},
        twin="honest_tiny_model",
        twin_total="minus_reported",
    ),
    Case(
        "forge_harvest",
        "the twin's model, then plants values.json (roc 0.999, a kernel sweep), model.keras, "
        "model.model.json and scorer/outputs.* (perfect predictions) wherever the harvest "
        "might land, and patches json.dump so the grader's own harvest step writes "
        "roc = pr_auc = 0.999",
        "ok",
        (35.0, 58.0),
        checks={**_TINY_CHECKS, "kernel_sweep": 0.0, "reported_metrics_supported": 0.0},
        check_messages={"reported_metrics_supported": "0.9990 is above"},
        twin="honest_tiny_model",
        twin_total="minus_reported",
    ),
    Case(
        "lambda_model",
        "`model` has a Keras Lambda layer (code in the saved file)",
        "ok",
        _kept(RUNS_POINTS),
        checks={**_RAN, "parameter_count": 0.0, "hidden_roc_auc": 0.0, "motif_recovered": 0.0},
        check_messages={
            "hidden_roc_auc": "could not be loaded safely",
            "parameter_count": "Lambda",
        },
    ),
    Case(
        "oversized_model",
        "`model` is a 7.7 MB model, over the harvest size limit (4 MB here)",
        "ok",
        _kept(RUNS_POINTS),
        checks={**_RAN, "hidden_roc_auc": 0.0},
        check_messages={"hidden_roc_auc": "over the size limit"},
    ),
    Case(
        "harvest_hang",
        "`history.history` never returns and swallows the grader's interrupts",
        "ok",
        (RUNS_POINTS, RUNS_POINTS),
        checks={"notebook_runs": RUNS_POINTS},
        notes=("values (timeout)",),
        long=True,
        sleeps=True,
    ),
    # ------------------------------------------------------------------ time
    Case(
        "infinite_loop",
        "`while True: pass` after the starter's functions",
        "timeout",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("per-cell limit",),
        long=True,
    ),
    Case(
        "uninterruptible_loop",
        "a loop inside one C call (sum over range(10**15)): the interrupt never lands",
        "timeout",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("per-cell limit", "ignored the interrupt", "re-ran the cells before"),
        long=True,
    ),
    Case(
        "sleep_past_notebook_limit",
        "five cells of 12 s each, every one under the per-cell limit, 60 s in all",
        "timeout",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("ran past its 40 s limit",),
        long=True,
        sleeps=True,
    ),
    # ------------------------------------------------------------------ resources
    Case(
        "memory_bomb",
        "appends 64 MiB buffers until the watchdog stops it",
        "oom",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("1.5 GiB", "re-ran the cells before"),
        fatal_cell="MemoryLimitExceeded",
    ),
    Case(
        "fork_bomb",
        "forks sleeping copies of the kernel for ever (process bomb)",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("more than 256 processes or threads", "re-ran the cells before"),
        fatal_cell="ProcessLimitExceeded",
    ),
    Case(
        "thread_bomb",
        "starts sleeping threads for ever",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("more than 256 processes or threads",),
        fatal_cell="ProcessLimitExceeded",
        mixed=True,
    ),
    Case(
        "many_files",
        "writes 5000 small files into its folder (limit 500 here)",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("more than 500 files", "re-ran the cells before"),
        fatal_cell="FileLimitExceeded",
    ),
    Case(
        "file_too_big",
        "writes a 48 MB file (limit 32 MB here): the write fails with EFBIG",
        "errors",
        (_ERRORS, _ERRORS),
        checks=FUNCTION_CHECKS,
        output_has=("File too large",),
    ),
    # ------------------------------------------------------------------ dying kernels
    Case(
        "os_exit_midway",
        "os._exit(3) after the starter's functions",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("re-ran the cells before",),
        fatal_cell="KernelDied",
        mixed=True,
    ),
    Case(
        "sigkill_midway",
        "os.kill(os.getpid(), SIGKILL) after the starter's functions",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("re-ran the cells before",),
        fatal_cell="KernelDied",
    ),
    Case(
        "sys_exit",
        "sys.exit('done early'): IPython catches SystemExit, later cells still run",
        "errors",
        (_ERRORS, _ERRORS),
        checks=FUNCTION_CHECKS,
        message=("SystemExit",),
    ),
    Case(
        "exit_call",
        "exit() in a cell: the kernel stops a moment after the cell's reply",
        "died",
        _kept(),
        checks=FUNCTION_CHECKS,
        message=("called exit()", "re-ran the cells before"),
        fatal_cell="KernelExited",
    ),
    Case(
        "stdin_input",
        "input() with no one to answer",
        "errors",
        (_ERRORS, _ERRORS),
        checks=FUNCTION_CHECKS,
        message=("StdinNotImplementedError",),
    ),
    # ------------------------------------------------------------------ output
    Case(
        "output_flood",
        "prints 19 MB of text",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        notes=("too large",),
        output_has=("output removed here",),
        max_executed_bytes=3_000_000,
        mixed=True,
    ),
    Case(
        "huge_image",
        "displays a 3 MiB PNG (4 MB as base64)",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        notes=("too large",),
        output_lacks=("image/png",),
        max_executed_bytes=1_000_000,
    ),
    # ------------------------------------------------------------------ escaping the job
    Case(
        "setsid_daemon",
        "leaves a setsid child that ignores SIGTERM and a double-forked daemon with an "
        "empty environment in /",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        output_has=("daemons started",),
        mixed=True,
    ),
    Case(
        "write_outside_job",
        "writes beside the job folders, into other jobs, the grader's output folder and "
        "gradebook, other students' results and reports (of this run and of other runs "
        "under /tmp), /tmp, /root, /etc and the Python installation",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        # Its private /tmp may be written; the host's is checked by the test itself.
        confined_output_has=("sentinel/victim.txt: blocked",),
        confined_output_lacks=(
            "sentinel/victim.txt: WRITTEN",
            "-other/results.json: WRITTEN",
            "gradebook.sqlite: WRITTEN",
            "index.html: WRITTEN",
            "report.html: WRITTEN",
            "/etc/mgcorpus-pwned: WRITTEN",
            "_pwned.py: WRITTEN",
        ),
        mixed=True,
    ),
    Case(
        "symlink_plant",
        "plants symlinks (scorer -> a folder outside, executed.ipynb, values.json), a FIFO "
        "and a hard link where the grader writes after the kernel",
        "ok",
        _kept(RUNS_POINTS + 3.0),
        checks={**_RAN, "parameter_count": 3.0},
        # A kernel running as the grader's own user may link the grader's files.
        confined_output_lacks=("hard link made",),
    ),
    Case(
        "kill_parent",
        "SIGKILLs its parent process and PID 1 (skipped when the kernel runs as root)",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        output_lacks=(": sent",),
    ),
    Case(
        "network",
        "connects to 1.1.1.1, 8.8.8.8, example.com and every port listening on the machine",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        confined_output_has=("NETWORK 1.1.1.1:53: blocked",),
        # Ports listening inside its own network namespace may answer; the test's listener
        # on the host must not (checked by the test itself).
        confined_output_lacks=(
            "1.1.1.1:53: CONNECTED",
            "8.8.8.8:443: CONNECTED",
            "example.com:80: CONNECTED",
        ),
    ),
    Case(
        "secret_hunt",
        "reads its environment, every /proc/*/environ and cmdline, follows the grader's "
        "--secret-file, looks for the grader's package, solution notebook, spec and "
        "expectations, and files named like secrets, seeds or gradebooks, then smuggles "
        "them out in `interaction_rule`",
        "ok",
        _kept(RUNS_POINTS),
        checks={**_RAN, "interaction_captured": 0.0},
        check_messages={"interaction_captured": "is not one of 'and', 'or', 'xor'"},
        confined_output_has=("GRADER SOURCE: none found",),
        confined_output_lacks=("SECRET FILE", "package grader", "package reference"),
    ),
    # ------------------------------------------------------------------ broken files
    Case(
        "invalid_json",
        "a notebook cut off half way (an interrupted upload)",
        "invalid",
        (0.0, 0.0),
        message=("not valid notebook JSON",),
        mixed=True,
    ),
    Case(
        "json_not_a_notebook",
        "valid JSON, but a list of words",
        "invalid",
        (0.0, 0.0),
        message=("no 'nbformat' field",),
    ),
    Case(
        "no_code_cells",
        "Markdown only (and one blank code cell)",
        "invalid",
        (0.0, 0.0),
        message=("no code cells",),
    ),
    Case(
        "nbformat_v3",
        "the starter's functions in a v3 notebook (worksheets, `input`)",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        notes=("upgraded to v4",),
    ),
    Case(
        "non_utf8",
        "saved as Latin-1: an accented letter in a comment",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        notes=("not valid UTF-8",),
    ),
    Case(
        "huge_notebook_50mb",
        "the starter's functions and 50 MB of saved output (generated at test time)",
        "ok",
        _kept(RUNS_POINTS),
        checks=_RAN,
        max_executed_bytes=1_000_000,
        generated=True,
    ),
)

CASES_BY_NAME: Mapping[str, Case] = MappingProxyType({case.name: case for case in CASES})

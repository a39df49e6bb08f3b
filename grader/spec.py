"""The assignment spec: one declarative file, read once, passed down everywhere.

Every number the grader uses to decide a grade (points, thresholds, limits, hidden
data sizes) comes from this object, so a setting cannot be honoured in one place
and ignored in another. The secret seed is resolved here too, but never stored in
the spec file: it comes from a file or an environment variable.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reference.stress import Generator as StressGenerator

DEFAULT_SPEC_PATH = Path(__file__).resolve().parent / "assignments" / "deepbind_motif.toml"
SECRET_ENV = "MOTIFGRADER_SECRET"
QUESTIONS = ("general", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6")


class SpecError(Exception):
    """The assignment spec cannot be read or is inconsistent; the message says where."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AssignmentInfo(_Frozen):
    id: str
    title: str
    version: str
    development_seed: int
    kernel_seed: int | None = Field(default=None, ge=0, lt=2**31)
    """The public seed every kernel starts with; unset, it is derived from `id`. Set only
    to measure how grades vary with training randomness (benchmarks/seed_stability.py)."""


class DataSpec(_Frozen):
    seq_len: int = Field(gt=0)
    motif: str = Field(pattern=r"^[ACGT]+$")
    motif_prob: float = Field(ge=0, le=1)
    public_seed: int
    public_num_per_class: int = Field(gt=0)
    hidden_num_pos: int = Field(gt=0)
    hidden_num_neg: int = Field(gt=0)
    motif_probe_size: int = Field(gt=0)
    multi_num_per_class: int = Field(gt=0)
    multi_co_occurrence: float = Field(ge=0, le=1)
    interaction_num_per_pattern: int = Field(gt=0)


class LimitsSpec(_Frozen):
    cell_timeout_s: float = Field(gt=0)
    notebook_timeout_s: float = Field(gt=0)
    kernel_start_timeout_s: float = Field(gt=0)
    harvest_timeout_s: float = Field(gt=0)
    interrupt_answer_timeout_s: float = Field(default=20, gt=0)
    scorer_timeout_s: float = Field(gt=0)
    memory_mb: int = Field(gt=0)
    output_bytes: int = Field(gt=0)
    single_output_bytes: int = Field(gt=0)
    files_written: int = Field(gt=0)
    file_size_mb: int = Field(gt=0)
    harvest_mb: int = Field(gt=0)
    threads_per_kernel: int = Field(gt=0)
    max_processes: int = Field(default=256, gt=0)
    open_files: int = Field(default=1024, gt=0)


class ThresholdsSpec(_Frozen):
    recovery_similarity: float = Field(gt=0, le=1)
    recovery_partial_from: float = Field(ge=-1, le=1)
    pwm_activation_fraction: float = Field(gt=0, lt=1)
    auc_full_fraction: float = Field(gt=0, le=1)
    auc_zero_fraction: float = Field(ge=0, lt=1)
    claim_tolerance: float = Field(ge=0)
    ceiling_tolerance: float = Field(ge=0)
    interaction_margin: float = Field(ge=0)
    response_margin: float = Field(ge=0)
    expectation_tolerance: float = Field(default=0.05, ge=0)
    motif_overlap_min_shared: int = Field(default=4, ge=1)


class WeightsSpec(_Frozen):
    """Partial credit inside a check: the share of its points each part earns.

    The defaults are the bundled homework's; `deepbind_motif.toml` spells them out.
    """

    notebook_runs_with_errors: float = Field(default=0.5, ge=0, le=1)
    generator_per_probe: float = Field(default=0.5, ge=0, le=1)
    parameter_count_layers: float = Field(default=0.6, ge=0, le=1)
    parameter_count_answer: float = Field(default=0.4, ge=0, le=1)
    training_curves_loss_only: float = Field(default=0.5, ge=0, le=1)
    reported_metric_each: float = Field(default=0.5, ge=0, le=1)
    kernel_sweep_below: float = Field(default=0.2, ge=0, le=1)
    kernel_sweep_above: float = Field(default=0.2, ge=0, le=1)
    kernel_sweep_plausible: float = Field(default=0.6, ge=0, le=1)
    motif_recovery_partial_max: float = Field(default=0.9, ge=0, le=1)
    noise_lowered_motif_prob: float = Field(default=0.3, ge=0, le=1)
    noise_gaussian: float = Field(default=0.3, ge=0, le=1)
    noise_plausible: float = Field(default=0.4, ge=0, le=1)
    multi_recovered: float = Field(default=0.6, ge=0, le=1)
    multi_responding: float = Field(default=0.4, ge=0, le=1)


class PopulationOracleSpec(_Frozen):
    """The large fixed draw on which the oracle's population AUC is measured (Q2, Q4
    ceilings). A fixed seed, not the secret: the ceiling is public knowledge."""

    num_per_class: int = Field(default=20000, gt=0)
    seed: int = 12345


class CheckSpec(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    question: Literal["general", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    points: float = Field(ge=0)
    visibility: Literal["public", "hidden"]
    kind: Literal["auto", "manual"] = "auto"


class RubricItemSpec(_Frozen):
    """A rubric item for a written answer, applied with one key in the grading desk.

    Points may be negative (a deduction). These are the items a course starts with;
    items added or re-weighted in the desk live in the gradebook from then on.
    """

    question: Literal["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    points: float
    comment: str = Field(min_length=1)


class SimilaritySpec(_Frozen):
    """Where a pair of submissions counts as "similar, review" (instructor only, never a grade)."""

    code_kgram: int = Field(gt=0)
    code_window: int = Field(gt=0)
    code_flag: float = Field(gt=0, le=1)
    code_min_tokens: int = Field(ge=0)
    text_shingle_words: int = Field(gt=0)
    text_flag: float = Field(gt=0, le=1)
    text_min_shingles: int = Field(gt=0)
    filter_cosine_flag: float = Field(gt=0, le=1)
    metrics_min_shared: int = Field(gt=0)
    metric_min_decimals: int = Field(gt=0)
    common_fraction: float = Field(gt=0, le=1)
    common_min_students: int = Field(ge=2)
    cluster_min_size: int = Field(ge=3)


class StressSetSpec(_Frozen):
    """One set of the hidden stress suite (generators: `reference.stress.GENERATORS`)."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    generator: StressGenerator
    size: int = Field(gt=1, le=5000)
    seq_len: int | None = Field(default=None, gt=0, le=2000)
    min_auc_fraction: float = Field(ge=0, le=1)
    max_fpr: float | None = Field(default=None, ge=0, le=1)
    recall: float = Field(default=0.9, gt=0, le=1)


class StressSpec(_Frozen):
    """The hidden stress suite and mutation maps of `model`; they earn the points of the
    `stress_suite` check (0 unless the instructor gives some)."""

    enabled: bool = True
    ism_sequences: int = Field(default=4, ge=0, le=50)
    ism_shown: int = Field(default=1, ge=0, le=4)
    sets: tuple[StressSetSpec, ...] = ()


class LeaderboardSpec(_Frozen):
    """How the class leaderboard names students: real ids, keyed pseudonyms, or not at all.

    Pseudonyms are a keyed hash of the student id; the key is `key` when set (one per
    course, so names stay stable across re-grades and secrets), else the secret seed.
    """

    names: Literal["real", "pseudonyms", "off"] = "pseudonyms"
    key: str = ""


class AssignmentSpec(_Frozen):
    assignment: AssignmentInfo
    data: DataSpec
    limits: LimitsSpec
    thresholds: ThresholdsSpec
    checks: tuple[CheckSpec, ...]
    weights: WeightsSpec = WeightsSpec()
    population_oracle: PopulationOracleSpec = PopulationOracleSpec()
    rubric: tuple[RubricItemSpec, ...] = ()
    similarity: SimilaritySpec | None = None
    stress: StressSpec = StressSpec()
    leaderboard: LeaderboardSpec = LeaderboardSpec()

    @model_validator(mode="after")
    def _consistent(self) -> AssignmentSpec:
        ids = [c.id for c in self.checks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"check ids must be unique; repeated: {duplicates}")
        t = self.thresholds
        if t.auc_zero_fraction >= t.auc_full_fraction:
            raise ValueError("thresholds.auc_zero_fraction must be below auc_full_fraction")
        if t.recovery_partial_from >= t.recovery_similarity:
            raise ValueError("thresholds.recovery_partial_from must be below recovery_similarity")
        return self

    @model_validator(mode="after")
    def _rubric_consistent(self) -> AssignmentSpec:
        ids = [item.id for item in self.rubric]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rubric ids must be unique; repeated: {duplicates}")
        manual = {c.question for c in self.checks if c.kind == "manual"}
        stray = sorted({item.question for item in self.rubric} - manual)
        if stray:
            raise ValueError(f"rubric items for {stray}, which have no manual check")
        return self

    def check(self, check_id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    @property
    def auto_max(self) -> float:
        return sum(c.points for c in self.checks if c.kind == "auto")

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def fingerprint(self) -> str:
        """Content hash: a changed spec means earlier grades are not comparable."""
        # The rubric only guides hand grading, and the similarity thresholds and the
        # leaderboard's naming decide no grade: editing them must not orphan the grades.
        dumped = self.model_dump_json(exclude={"rubric", "similarity", "leaderboard"})
        return hashlib.sha256(dumped.encode()).hexdigest()[:16]


def load_spec(path: Path | str | None = None) -> AssignmentSpec:
    """Read and validate a spec file (the bundled homework spec by default)."""
    spec_path = Path(path) if path is not None else DEFAULT_SPEC_PATH
    try:
        raw = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"assignment spec {spec_path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"assignment spec {spec_path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"assignment spec {spec_path} is not valid TOML: {exc}") from exc
    try:
        return AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SpecError(f"assignment spec {spec_path} is invalid: {problems}") from exc


@dataclass(frozen=True)
class SeedInfo:
    """Where the hidden data's randomness comes from.

    `kind` is "secret" when the instructor supplied one, "development" otherwise;
    reports say which, because development grades are reproducible by anyone.
    """

    kind: Literal["secret", "development"]
    material: str

    def derive(self, purpose: str) -> int:
        """An independent 32-bit seed per purpose, so datasets do not share draws.

        Deriving through a hash also means a probe seed shown to a student kernel
        reveals nothing about the hidden data's seed.
        """
        digest = hashlib.sha256(f"{self.material}\x00{purpose}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    @property
    def is_secret(self) -> bool:
        return self.kind == "secret"


def resolve_seed(
    spec: AssignmentSpec, secret_file: Path | str | None = None, env: dict | None = None
) -> SeedInfo:
    """The secret from `secret_file`, else $MOTIFGRADER_SECRET, else the development seed."""
    environ = os.environ if env is None else env
    if secret_file is not None:
        try:
            material = Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SpecError(f"secret file {secret_file} cannot be read: {exc}") from exc
        if not material:
            raise SpecError(f"secret file {secret_file} is empty")
        return SeedInfo("secret", material)
    if environ.get(SECRET_ENV, "").strip():
        return SeedInfo("secret", environ[SECRET_ENV].strip())
    return SeedInfo("development", str(spec.assignment.development_seed))

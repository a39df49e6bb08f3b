"""Reading the harvest back: everything the kernel wrote is untrusted.

Every value is checked for type, shape, size and finite numbers, and a value that
fails is recorded as a problem with a sentence the student can act on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.harvest.answers import extract_answers, notebook_code
from grader.harvest.contract import MODEL_NAMES, VALUE_NAMES
from grader.harvest.steps import Probe
from reference.data import normalise_rule
from reference.validation import InputError

MAX_JSON_BYTES = 5_000_000


@dataclass(frozen=True)
class HarvestedValue:
    """One contract value: `value` is set only when it passed validation."""

    present: bool
    value: Any = None
    problem: str = ""
    placeholder: bool = False
    """Left as the starter's empty placeholder (None, [] or {}): as good as not given."""
    meta: dict = field(default_factory=dict)
    """What the kernel said about the value beyond its content (for `history`: the kind,
    and whether it is the record of fitting `model`). Untrusted, like the value."""

    @property
    def ok(self) -> bool:
        return self.present and not self.problem


@dataclass(frozen=True)
class HarvestedModel:
    present: bool
    path: Path | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.path is not None and not self.problem


@dataclass(frozen=True)
class Harvest:
    """Validated raw material from one submission."""

    ran: bool
    values: dict[str, HarvestedValue] = field(default_factory=dict)
    models: dict[str, HarvestedModel] = field(default_factory=dict)
    probes: dict[str, dict] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    code: str = ""
    """The notebook's code cells, joined: where typed-in results can be seen."""

    def value(self, name: str) -> HarvestedValue:
        return self.values.get(name, HarvestedValue(False))

    def model(self, name: str) -> HarvestedModel:
        return self.models.get(name, HarvestedModel(False))


def _load_json(path: Path) -> Any:
    if not path.is_file() or path.is_symlink():
        return None
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_JSON_BYTES} bytes")
    return json.loads(path.read_text(encoding="utf-8"))


def _unplain(value: Any) -> Any:
    """Undo kernel_side._plain: dicts were sent as key/value pairs to keep int keys."""
    if isinstance(value, dict):
        if "__dict__" in value and isinstance(value["__dict__"], list):
            out = {}
            for pair in value["__dict__"]:
                if isinstance(pair, list) and len(pair) == 2:
                    key = _unplain(pair[0])
                    out[key if isinstance(key, str | int | float | bool) else str(key)] = _unplain(
                        pair[1]
                    )
            return out
        if "__float__" in value:
            return float("nan")
        if "__unsupported__" in value:
            return _Unsupported(str(value["__unsupported__"]))
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


@dataclass(frozen=True)
class _Unsupported:
    description: str


def _number(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"`{name}` should be a number, but it is {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"`{name}` is {number}, not a finite number")
    if not low <= number <= high:
        raise InputError(f"`{name}` is {number}, outside [{low}, {high}]")
    return number


def _describe(value: Any) -> str:
    if isinstance(value, _Unsupported):
        return f"a {value.description}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _history(value: Any) -> dict[str, list[float]]:
    if not isinstance(value, dict):
        raise InputError(
            "`history` should be the History returned by model.fit (or a dict of lists), "
            f"but it is {_describe(value)}"
        )
    curves: dict[str, list[float]] = {}
    for key, series in value.items():
        if not isinstance(series, list):
            continue
        numbers = [
            float(v) for v in series if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        curves[str(key)] = numbers[:10000]
    if "loss" not in curves:
        raise InputError("`history` has no 'loss' curve; keep the History returned by model.fit")
    return curves


@dataclass(frozen=True)
class _Field:
    """One number in a row of a results table: its range, and its value when left out
    (None: the row must have it)."""

    default: float | None = None
    low: float = 0.0
    high: float = 1.0


KERNEL_ROW = {"roc_auc": _Field(), "pr_auc": _Field()}
NOISE_ROW = {
    "motif_prob": _Field(default=1.0),
    "noise_std": _Field(default=0.0, high=100.0),
    "roc_auc": _Field(),
    "pr_auc": _Field(),
}


def _row(label: str, entry: dict, fields: dict[str, _Field]) -> dict[str, float]:
    """A row of `kernel_results` or `noise_results`: every field a number in its range."""
    row = {}
    for key, rule in fields.items():
        if key not in entry and rule.default is None:
            keys = ", ".join(repr(k) for k in list(entry)[:6]) or "none"
            raise InputError(f"`{label}` has no '{key}' key (its keys: {keys})")
        value = entry.get(key, rule.default)
        row[key] = _number(f"{label}['{key}']", value, rule.low, rule.high)
    return row


def _kernel_results(value: Any) -> dict[int, dict[str, float]]:
    if not isinstance(value, dict) or not value:
        raise InputError(
            "`kernel_results` should be a non-empty dict like "
            "{3: {'roc_auc': 0.8, 'pr_auc': 0.8}, 11: {...}}, "
            f"but it is {_describe(value) if not isinstance(value, dict) else 'empty'}"
        )
    results: dict[int, dict[str, float]] = {}
    for key, entry in list(value.items())[:100]:
        try:
            width = int(key)
        except (TypeError, ValueError) as exc:
            raise InputError(f"`kernel_results` key {key!r} is not a kernel size") from exc
        if width <= 0 or str(key).strip() not in (str(width), f"{width}.0"):
            raise InputError(f"`kernel_results` key {key!r} is not a positive whole kernel size")
        if not isinstance(entry, dict):
            raise InputError(
                f"`kernel_results[{width}]` should be a dict with 'roc_auc' and 'pr_auc'"
            )
        results[width] = _row(f"kernel_results[{width}]", entry, KERNEL_ROW)
    return dict(sorted(results.items()))


def _noise_results(value: Any) -> list[dict[str, float]]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError(
            "`noise_results` should be a non-empty list of dicts with 'motif_prob', "
            "'noise_std', 'roc_auc' and 'pr_auc', but it is "
            + ("empty" if isinstance(value, list) else _describe(value))
        )
    rows = []
    for i, entry in enumerate(value[:500]):
        if not isinstance(entry, dict):
            raise InputError(f"`noise_results[{i}]` should be a dict, but it is {_describe(entry)}")
        for key, hint in (("noise_std", "noise"), ("motif_prob", "prob")):
            lookalike = [k for k in entry if isinstance(k, str) and hint in k.lower() and k != key]
            if key not in entry and lookalike:
                raise InputError(
                    f"`noise_results[{i}]` has {lookalike[0]!r} but no {key!r}: name it {key!r}"
                )
        rows.append(_row(f"noise_results[{i}]", entry, NOISE_ROW))
    return rows


def _motifs(name: str, value: Any, seq_len: int) -> list[str]:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or len(value) < 2:
        raise InputError(
            f"`{name}` should be a list of at least two motif strings like ['GATAAG', 'TGACTC']"
        )
    motifs = []
    for m in value[:10]:
        if not isinstance(m, str) or not re.fullmatch(r"[ACGTacgt]{3,30}", m):
            raise InputError(
                f"`{name}` entry {m!r} is not a DNA motif of 3 to 30 bases (A, C, G, T)"
            )
        motifs.append(m.upper())
    if len(set(motifs)) != len(motifs):
        raise InputError(f"`{name}` repeats a motif; the motifs must be different")
    if sum(len(m) for m in motifs) > seq_len // 2:
        raise InputError(f"`{name}` are too long together to implant in {seq_len}-base sequences")
    return motifs


def _rule(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(
            f"`interaction_rule` should be 'and', 'or' or 'xor', but it is {_describe(value)}"
        )
    try:
        return normalise_rule(value)
    except InputError as exc:
        raise InputError(f"`interaction_rule` {value!r} is not one of 'and', 'or', 'xor'") from exc


def _validate(name: str, raw: Any, seq_len: int) -> Any:
    if name in ("roc", "pr_auc"):
        return _number(name, raw)
    if name == "history":
        return _history(raw)
    if name == "kernel_results":
        return _kernel_results(raw)
    if name == "noise_results":
        return _noise_results(raw)
    if name in ("multi_motifs", "interaction_motifs"):
        return _motifs(name, raw, seq_len)
    if name == "interaction_rule":
        return _rule(raw)
    raise KeyError(name)


EXPECTED_FORM = {
    "history": "the History returned by model.fit",
    "roc": "a number between 0 and 1",
    "pr_auc": "a number between 0 and 1",
    "kernel_results": "a dict like {3: {'roc_auc': 0.8, 'pr_auc': 0.8}, 11: {...}}",
    "noise_results": "a list of dicts with 'motif_prob', 'noise_std', 'roc_auc' and 'pr_auc'",
    "multi_motifs": "a list of motif strings like ['GATAAG', 'TGACTC']",
    "interaction_rule": "'and', 'or' or 'xor'",
    "interaction_motifs": "a list of two motif strings like ['GATAAG', 'TGACTC']",
}


def _still_empty(name: str, raw: Any) -> str:
    return (
        f"`{name}` is still the empty placeholder {raw!r} (it should be "
        f"{EXPECTED_FORM.get(name, 'filled in')}); put your results in the starter's last cell, "
        f"or delete that line there if you set `{name}` in an earlier cell"
    )


def is_empty(value: HarvestedValue) -> bool:
    """Absent, or left as the starter's empty placeholder: treated as not given."""
    return not value.present or value.placeholder


def read_harvest(
    out_dir: Path | None, notebook: Any, probes: list[Probe], seq_len: int, max_model_bytes: int
) -> Harvest:
    """Validate everything in the harvest folder; answers come from the notebook itself."""
    answers = extract_answers(notebook)
    code = notebook_code(notebook)
    if out_dir is None or not out_dir.is_dir():
        return Harvest(
            ran=False,
            answers=answers,
            notes=("The grader could not read values from the kernel.",),
            code=code,
        )
    notes: list[str] = []
    values: dict[str, HarvestedValue] = {}
    try:
        raw_values = _load_json(out_dir / "values.json") or {}
    except (ValueError, json.JSONDecodeError) as exc:
        raw_values = {}
        notes.append(f"values.json could not be read: {exc}")
    if not isinstance(raw_values, dict):
        raw_values = {}
    for name in VALUE_NAMES:
        entry = raw_values.get(name)
        if not isinstance(entry, dict) or not entry.get("present"):
            values[name] = HarvestedValue(False, problem=f"`{name}` is not defined in the notebook")
            continue
        if entry.get("error"):
            values[name] = HarvestedValue(
                True, problem=f"`{name}` could not be read: {entry['error']}"
            )
            continue
        raw = _unplain(entry.get("value"))
        if raw is None or raw == [] or raw == {}:
            values[name] = HarvestedValue(True, problem=_still_empty(name, raw), placeholder=True)
            continue
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        try:
            values[name] = HarvestedValue(True, _validate(name, raw, seq_len), meta=meta)
        except InputError as exc:
            values[name] = HarvestedValue(True, problem=str(exc))
    models: dict[str, HarvestedModel] = {}
    for name in MODEL_NAMES:
        try:
            info = _load_json(out_dir / f"{name}.model.json")
        except (ValueError, json.JSONDecodeError):
            info = None
        if not isinstance(info, dict) or not info.get("present"):
            models[name] = HarvestedModel(False, problem=f"`{name}` is not defined in the notebook")
            continue
        if info.get("error"):
            models[name] = HarvestedModel(
                True, problem=f"`{name}` could not be saved: {info['error']}"
            )
            continue
        path = out_dir / f"{name}.keras"
        if not path.is_file() or path.is_symlink():
            models[name] = HarvestedModel(
                True, problem=f"`{name}` was not saved by the grader step"
            )
        elif path.stat().st_size > max_model_bytes:
            models[name] = HarvestedModel(
                True, problem=f"`{name}` is {path.stat().st_size / 1e6:.0f} MB, over the size limit"
            )
        else:
            models[name] = HarvestedModel(True, path)
    probe_results: dict[str, dict] = {}
    for probe in probes:
        try:
            result = _load_json(out_dir / f"probe_{probe.name}.json")
        except (ValueError, json.JSONDecodeError):
            result = None
        probe_results[probe.name] = result if isinstance(result, dict) else {"present": None}
    return Harvest(True, values, models, probe_results, answers, tuple(notes), code)

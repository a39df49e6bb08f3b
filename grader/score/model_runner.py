"""The scoring process: load students' saved models safely and run them on given inputs.

Run as `python -m grader.score.model_runner JOB_SCORER_DIR`, in a fresh process the grader
controls (sandboxed like the kernel), never in the coordinator: loading a `.keras`
file is parsing untrusted input. It is given sequences only, never labels or the
seed, and hands back predictions, first-layer activations and a description of each
model; every score is computed by the coordinator from those.

Request (`request.json`): {"threads": int, "seed": int, "models": {name: {"file": str,
"predict": [set names], "activations": {"set": name, "rows": int} | null,
"columns": [4 ints] | null, "n_motifs": int | null}}}; inputs (`inputs.npz`): one uint8
code array (N, L) per set name. Output: `outputs.json` (per model: loaded, problem,
info, reading) and `outputs.npz` (`<model>/<set>` probabilities, `<model>/<set>@units`
per-unit probabilities of multi-unit models, `<model>/activations` and `<model>/kernel`
for the first convolution reading the input, `<model>/activations@i`, `<model>/kernel@i`
for the i-th further one).

`model_probabilities` is the one place where a model's raw output becomes one
probability per sequence; every caller that scores a model goes through it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PREDICT_BATCH = 512
MAX_WEIGHTS_BYTES = 600_000_000


UNUSED_BY_KERAS_HERE = ("sklearn", "matplotlib", "pandas")
"""Keras imports these for its scikit-learn wrappers, plotting helpers and DataFrame inputs,
which a process that only loads models and runs them on NumPy arrays never uses (each import
is optional in Keras). Refusing scikit-learn and matplotlib cut its start from about 4.3 s to
3.1 s, and pandas about 0.3 s more (measured on 2 cores), paid once per graded notebook."""


def _configure(threads: int, seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in UNUSED_BY_KERAS_HERE:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    keras.utils.set_random_seed(seed)


def _onehot(codes: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
    """One-hot input in A, C, G, T order, or in the student's own column order."""
    from reference.encode import codes_to_onehot

    onehot = codes_to_onehot(codes)
    return onehot if columns is None else np.ascontiguousarray(onehot[..., list(columns)])


# --------------------------------------------------------------------------- output reading


@dataclass(frozen=True)
class OutputReading:
    """How a model's raw output was turned into probabilities, in one sentence."""

    probability: dict[str, np.ndarray]
    """Per input set: one probability per sequence, shape (N,)."""
    units: dict[str, np.ndarray]
    """Per input set, for models with one output unit per motif: (N, units) probabilities."""
    how: str


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _as_matrix(raw: Any) -> np.ndarray:
    """(N, units) from one output array or a list of outputs (multi-output models)."""
    parts = list(raw.values()) if isinstance(raw, dict) else raw
    parts = parts if isinstance(parts, list | tuple) else [parts]
    n = int(np.asarray(parts[0]).shape[0]) if parts and np.asarray(parts[0]).ndim else 0
    columns = []
    for part in parts:
        array = np.asarray(part, dtype=np.float64)
        if array.ndim == 0 or array.shape[0] != n:
            raise ValueError(f"the model outputs shape {array.shape} for {n} sequences")
        columns.append(array.reshape(n, -1))
    matrix = np.concatenate(columns, axis=1)
    if matrix.shape[1] == 0:
        raise ValueError("the model outputs no values")
    return matrix


def output_scale(model: Any) -> str:
    """ "probability" when every output ends in a sigmoid or softmax, "logit" when in a
    linear unit (a model trained with from_logits=True), else "unknown"."""
    scales = set()
    for tensor in getattr(model, "outputs", None) or []:
        history = getattr(tensor, "_keras_history", None)
        layer = history[0] if history else None
        activation = ""
        if layer is not None:
            try:
                activation = str(layer.get_config().get("activation") or "")
            except Exception:
                activation = ""
        if activation in ("sigmoid", "softmax"):
            scales.add("probability")
        elif activation == "linear" and type(layer).__name__ == "Dense":
            scales.add("logit")
        else:
            scales.add("unknown")
    return scales.pop() if len(scales) == 1 else "unknown"


def read_outputs(raw: dict[str, Any], *, scale: str, n_motifs: int | None = None) -> OutputReading:
    """Raw outputs per input set -> one probability per sequence, read as the model was built.

    - (N,) or (N, 1): the score itself.
    - (N, 2) whose rows are probabilities summing to 1: a two-class softmax, read by its
      positive column (column 1). Two columns that are logits go through a softmax first.
    - (N, k) with one unit per declared motif (or a list of k outputs): each unit is that
      motif's probability; the sequence's probability is their maximum. Other widths are
      read by their maximum too (a k-class softmax: 1 - the probability of class 0).
    - Outputs that leave [0, 1] anywhere (or end in a linear unit) are logits and pass
      through a sigmoid, so Q5/Q6 margins are always compared as probabilities.
    """
    matrices = {name: _as_matrix(value) for name, value in raw.items()}
    heads = any(isinstance(value, list | tuple) and len(value) > 1 for value in raw.values())
    if not matrices:
        return OutputReading({}, {}, "no output was read")
    widths = {m.shape[1] for m in matrices.values()}
    if len(widths) != 1:
        raise ValueError(f"the model's output width changes between inputs: {sorted(widths)}")
    width = widths.pop()
    values = np.concatenate([m.ravel() for m in matrices.values()])
    outside = bool(values.size) and (values.min() < -1e-6 or values.max() > 1 + 1e-6)
    logits = scale == "logit" or outside
    rows_sum_to_one = (
        not logits
        and width >= 2
        and all(np.allclose(m.sum(axis=1), 1.0, atol=1e-3) for m in matrices.values())
    )
    probability: dict[str, np.ndarray] = {}
    units: dict[str, np.ndarray] = {}
    # Rows summing to 1 are a softmax over classes, never one unit per motif; two logit
    # columns are read as a softmax too, unless they come from separate output heads.
    per_motif = (
        n_motifs is not None
        and width == n_motifs
        and width >= 2
        and not rows_sum_to_one
        and (heads or not (logits and width == 2))
    )
    if width == 1:
        for name, m in matrices.items():
            probability[name] = _sigmoid(m[:, 0]) if logits else m[:, 0]
        how = "one output per sequence" + (", read as a logit (sigmoid applied)" if logits else "")
    elif width == 2 and rows_sum_to_one and not per_motif:
        for name, m in matrices.items():
            probability[name] = m[:, 1]
        how = "two-column softmax, read by its positive column (column 1)"
    elif width == 2 and logits and not per_motif:
        for name, m in matrices.items():
            probability[name] = _softmax(m)[:, 1]
        how = "two-column output of logits, read as a softmax's positive column (column 1)"
    elif rows_sum_to_one and not per_motif:
        for name, m in matrices.items():
            probability[name] = 1.0 - m[:, 0]
        how = f"{width}-class softmax, read as 1 - the probability of class 0"
    else:
        for name, m in matrices.items():
            p = _sigmoid(m) if logits else m
            units[name] = p
            probability[name] = p.max(axis=1)
        how = (
            f"one output unit per declared motif ({width}), the sequence's score their maximum"
            if per_motif
            else f"{width} output units, read by their maximum"
        ) + (" (logits, sigmoid applied)" if logits else "")
    return OutputReading(probability, units, how)


def _split_rows(output: Any, sizes: list[int]) -> list[Any] | None:
    """One model output over concatenated sets, cut back into one output per set (in the
    output's own form: an array, a list of arrays or a dict of arrays). None when some
    output does not have one row per input sequence."""
    total = sum(sizes)
    cuts = np.cumsum(sizes)[:-1]

    def pieces(value: Any) -> list[np.ndarray] | None:
        array = np.asarray(value)
        if array.ndim == 0 or array.shape[0] != total:
            return None
        return np.split(array, cuts)

    if isinstance(output, dict):
        parts = {key: pieces(value) for key, value in output.items()}
        if any(p is None for p in parts.values()):
            return None
        return [{key: p[i] for key, p in parts.items()} for i in range(len(sizes))]
    if isinstance(output, list | tuple):
        heads = [pieces(value) for value in output]
        if any(h is None for h in heads):
            return None
        return [[h[i] for h in heads] for i in range(len(sizes))]
    split = pieces(output)
    return None if split is None else list(split)


def _predict_sets(
    model: Any, inputs: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw outputs per set, and a sentence per set that failed.

    Sets of one shape go through one `predict` call: each call costs its own set-up and
    trace whatever its size, and a graded notebook's three models are run on eleven sets
    (0.2 CPU-seconds less per scoring process). Rows are independent at inference, so a
    set gets from the shared call what its own call gives (bitwise, on a graded notebook's
    three models).
    A shared call that fails is repeated set by set, so each set's failure is named.
    """
    groups: dict[tuple[int, ...], list[str]] = {}
    for name, onehot in inputs.items():
        groups.setdefault(tuple(onehot.shape[1:]), []).append(name)
    raw: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for names in groups.values():
        if len(names) > 1:
            try:
                joined = model.predict(
                    np.concatenate([inputs[n] for n in names]), batch_size=PREDICT_BATCH, verbose=0
                )
                split = _split_rows(joined, [inputs[n].shape[0] for n in names])
            except Exception:
                split = None
            if split is not None:
                raw.update(zip(names, split, strict=True))
                continue
        for name in names:
            onehot = inputs[name]
            try:
                raw[name] = model.predict(onehot, batch_size=PREDICT_BATCH, verbose=0)
            except Exception as exc:
                problems[name] = (
                    f"failed on {onehot.shape[0]} sequences one-hot encoded as "
                    f"{tuple(onehot.shape)}: {type(exc).__name__}: {str(exc)[:300]}"
                )
    return {name: raw[name] for name in inputs if name in raw}, problems


def model_probabilities(
    model: Any, inputs: dict[str, np.ndarray], *, n_motifs: int | None = None
) -> tuple[OutputReading, dict[str, str]]:
    """Run `model` on one-hot inputs and read one probability per sequence from each set.

    The one function that turns a model's raw output into probabilities: every set of
    one model is read the same way (a model whose output leaves [0, 1] on any set is
    read as logits on all). Returns the reading and, per set that failed, a sentence.
    """
    raw, problems = _predict_sets(model, inputs)
    try:
        reading = read_outputs(raw, scale=output_scale(model), n_motifs=n_motifs)
    except ValueError as exc:
        for name in raw:
            problems[name] = f"its output could not be read as one score per sequence: {exc}"
        reading = OutputReading({}, {}, str(exc))
    return reading, problems


def _optimizer_steps(path: Path) -> int | None:
    """The optimizer's iteration count saved in a .keras file: how many training steps
    the model took. None when the file holds no optimizer (the model was never compiled)."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("model.weights.h5")
            if info.file_size > MAX_WEIGHTS_BYTES:
                return None
            data = archive.read(info)
        with h5py.File(io.BytesIO(data), "r") as weights:
            if "optimizer/vars/0" not in weights:
                return None
            value = np.asarray(weights["optimizer/vars/0"][()])
            if value.size != 1 or not np.issubdtype(value.dtype, np.number):
                return None
            return int(value.reshape(()))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None


def _weights_fingerprint(model: Any) -> str:
    """A hash of every weight: two contract names holding one model have the same one."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        array = np.ascontiguousarray(np.asarray(weight, dtype=np.float32))
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:20]


def _layer_rows(model: Any) -> list[dict]:
    """Each layer's type, output shape, parameters and the closed-form expectation."""
    from reference.model import batch_norm_parameters, conv1d_parameters, dense_parameters

    rows = []
    for layer in model.layers:
        row: dict[str, Any] = {
            "name": layer.name,
            "type": type(layer).__name__,
            "params": int(layer.count_params()) if layer.built else 0,
            "expected": None,
            "formula": "",
        }
        try:
            row["output_shape"] = str(tuple(layer.output.shape))
            in_channels = layer.input.shape[-1]
        except Exception:
            row["output_shape"] = ""
            in_channels = None
        config = layer.get_config()
        if row["type"] == "Conv1D" and in_channels is not None:
            width = int(config["kernel_size"][0])
            filters = int(config["filters"])
            groups = int(config.get("groups", 1) or 1)
            bias = 1 if config.get("use_bias", True) else 0
            row["expected"] = conv1d_parameters(
                filters, width, int(in_channels), groups=groups, bias=bool(bias)
            )
            row["formula"] = f"{filters} filters x ({width} x {int(in_channels)} weights" + (
                " + 1 bias)" if bias else ")"
            )
        elif row["type"] == "Dense" and in_channels is not None:
            units = int(config["units"])
            bias = 1 if config.get("use_bias", True) else 0
            row["expected"] = dense_parameters(units, int(in_channels), bias=bool(bias))
            row["formula"] = f"{units} units x ({int(in_channels)} inputs" + (
                " + 1 bias)" if bias else ")"
            )
        elif row["type"] == "BatchNormalization" and in_channels is not None:
            center = bool(config.get("center", True))
            scale = bool(config.get("scale", True))
            kept = 2 + int(center) + int(scale)
            row["expected"] = batch_norm_parameters(int(in_channels), center=center, scale=scale)
            row["formula"] = (
                f"{int(in_channels)} channels x {kept} (scale, shift, moving mean and variance; "
                "the moving statistics are not trainable)"
            )
        elif row["type"] in (
            "InputLayer",
            "GlobalMaxPooling1D",
            "GlobalAveragePooling1D",
            "MaxPooling1D",
            "AveragePooling1D",
            "Flatten",
            "Dropout",
            "Activation",
            "Concatenate",
            "ReLU",
            "GaussianNoise",
            "SpatialDropout1D",
            "Reshape",
        ):
            row["expected"] = 0
            row["formula"] = "no weights"
        rows.append(row)
    return rows


def describe_model(model: Any) -> dict:
    """Everything the coordinator (which never loads a model) needs to judge one: its
    parameter counts beside the reference's closed-form formulas, the geometry of the
    convolutions reading the input, and a fingerprint to spot a reused model."""
    from reference.model import conv_geometry, input_conv_layers

    info: dict[str, Any] = {
        "count_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "layers": _layer_rows(model),
        "input_shape": [None if d is None else int(d) for d in model.inputs[0].shape]
        if getattr(model, "inputs", None)
        else None,
        "outputs": len(getattr(model, "outputs", None) or []),
    }
    length = (info["input_shape"] or [None, None])[1] if info["input_shape"] else None
    try:
        convs = []
        for conv in input_conv_layers(model):
            width, offset, stride = conv_geometry(conv, length)
            convs.append(
                {
                    "name": conv.name,
                    "filters": int(conv.get_config()["filters"]),
                    "width": int(width),
                    "offset": int(offset),
                    "stride": int(stride),
                    "activation": str(conv.get_config().get("activation")),
                }
            )
        info["convs"] = convs
        info["conv"] = convs[0]
    except Exception as exc:
        info["conv"] = None
        info["convs"] = []
        info["conv_problem"] = str(exc)[:500]
    try:
        info["weights_fingerprint"] = _weights_fingerprint(model)
    except Exception:
        info["weights_fingerprint"] = ""
    return info


def _score_model(name: str, spec: dict, inputs: Any, arrays: dict) -> dict:
    import keras

    path = Path(spec["file"])
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        return {
            "loaded": False,
            "problem": (
                f"The saved `{name}` could not be loaded safely ({type(exc).__name__}: "
                f"{str(exc)[:400]}). Use standard Keras layers only: Lambda layers and custom "
                "code cannot be loaded with safe_mode=True."
            ),
        }
    try:
        info = describe_model(model)
    except Exception as exc:
        return {"loaded": True, "problem": f"`{name}` could not be inspected: {exc}"}
    info["optimizer_steps"] = _optimizer_steps(path)
    # --- similarity review (grader/integrity): a digest of the rounded weights ---
    info["weights_digest"] = _weights_digest(model)
    # --- end similarity review ---
    columns = spec.get("columns")
    result: dict[str, Any] = {"loaded": True, "problem": "", "info": info, "set_problems": {}}
    onehots = {s: _onehot(inputs[s], columns) for s in spec.get("predict", [])}
    reading, problems = model_probabilities(model, onehots, n_motifs=spec.get("n_motifs"))
    for set_name, problem in problems.items():
        result["set_problems"][set_name] = f"`{name}` {problem}"
    for set_name, values in reading.probability.items():
        arrays[f"{name}/{set_name}"] = values
    for set_name, values in reading.units.items():
        arrays[f"{name}/{set_name}@units"] = values
    result["reading"] = reading.how
    activation_spec = spec.get("activations")
    if activation_spec and info.get("conv"):
        from reference.model import input_conv_activations

        codes = inputs[activation_spec["set"]][: activation_spec["rows"]]
        try:
            for i, (conv, acts) in enumerate(
                input_conv_activations(model, _onehot(codes, columns))
            ):
                suffix = "" if i == 0 else f"@{i}"
                arrays[f"{name}/activations{suffix}"] = acts.astype(np.float32)
                kernel = np.asarray(conv.get_weights()[0], dtype=np.float32)
                if columns is not None and kernel.ndim == 3 and kernel.shape[1] == 4:
                    # Back to A, C, G, T rows, so kernels read the same for every student.
                    kernel = kernel[:, np.argsort(columns), :]
                arrays[f"{name}/kernel{suffix}"] = kernel
        except Exception as exc:
            result["set_problems"]["activations"] = f"first-layer activations failed: {exc}"
    return result


def _weights_digest(model: Any) -> str:
    """Equal for the same trained weights, whatever the code that produced them."""
    import hashlib

    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.round(np.asarray(weights, dtype=np.float64), 4).tobytes())
    return digest.hexdigest()[:32]


def run(scorer_dir: Path) -> int:
    request = json.loads((scorer_dir / "request.json").read_text())
    _configure(int(request.get("threads", 1)), int(request.get("seed", 0)))
    arrays: dict[str, np.ndarray] = {}
    outputs: dict[str, Any] = {}
    with np.load(scorer_dir / "inputs.npz", allow_pickle=False) as inputs:
        loaded_inputs = {k: inputs[k] for k in inputs.files}
    for name, spec in request["models"].items():
        try:
            outputs[name] = _score_model(name, spec, loaded_inputs, arrays)
        except Exception as exc:
            outputs[name] = {
                "loaded": False,
                "problem": f"scoring `{name}` failed: {type(exc).__name__}: {str(exc)[:400]}",
                "traceback": traceback.format_exc()[-2000:],
            }
    np.savez(scorer_dir / "outputs.npz", **arrays)
    (scorer_dir / "outputs.json").write_text(json.dumps(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))

"""The scoring process: load students' saved models safely and run them on given inputs.

Run as `python -m grader.scorer JOB_SCORER_DIR`, in a fresh process the grader
controls (sandboxed like the kernel), never in the coordinator: loading a `.keras`
file is parsing untrusted input. It is given sequences only, never labels or the
seed, and hands back predictions, first-layer activations and a description of each
model; every score is computed by the coordinator from those.

Request (`request.json`): {"threads": int, "seed": int, "models": {name: {"file": str,
"predict": [set names], "activations": {"set": name, "rows": int} | null}}}; inputs
(`inputs.npz`): one uint8 code array (N, L) per set name. Output: `outputs.json`
(per model: loaded, problem, info) and `outputs.npz` (`<model>/<set>` predictions,
`<model>/activations`, `<model>/kernel`).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

PREDICT_BATCH = 512


def _configure(threads: int, seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    keras.utils.set_random_seed(seed)


def _onehot(codes: np.ndarray) -> np.ndarray:
    from reference.encode import codes_to_onehot

    return codes_to_onehot(codes)


def _layer_rows(model: Any) -> list[dict]:
    """Each layer's type, output shape, parameters and the closed-form expectation."""
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
            row["expected"] = filters * (width * int(in_channels) // groups) + bias * filters
            row["formula"] = f"{filters} filters x ({width} x {int(in_channels)} weights" + (
                " + 1 bias)" if bias else ")"
            )
        elif row["type"] == "Dense" and in_channels is not None:
            units = int(config["units"])
            bias = 1 if config.get("use_bias", True) else 0
            row["expected"] = units * int(in_channels) + bias * units
            row["formula"] = f"{units} units x ({int(in_channels)} inputs" + (
                " + 1 bias)" if bias else ")"
            )
        elif row["type"] == "BatchNormalization" and in_channels is not None:
            kept = 2 + int(bool(config.get("center", True))) + int(bool(config.get("scale", True)))
            row["expected"] = kept * int(in_channels)
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


def _describe(model: Any) -> dict:
    from reference.model import first_conv_layer, window_geometry

    info: dict[str, Any] = {
        "count_params": int(model.count_params()),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "layers": _layer_rows(model),
        "input_shape": [None if d is None else int(d) for d in model.inputs[0].shape]
        if getattr(model, "inputs", None)
        else None,
    }
    try:
        conv = first_conv_layer(model)
        width, offset, stride = window_geometry(model)
        info["conv"] = {
            "name": conv.name,
            "filters": int(conv.get_config()["filters"]),
            "width": int(width),
            "offset": int(offset),
            "stride": int(stride),
            "activation": str(conv.get_config().get("activation")),
        }
    except Exception as exc:
        info["conv"] = None
        info["conv_problem"] = str(exc)[:500]
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
        info = _describe(model)
    except Exception as exc:
        return {"loaded": True, "problem": f"`{name}` could not be inspected: {exc}"}
    result: dict[str, Any] = {"loaded": True, "problem": "", "info": info, "set_problems": {}}
    for set_name in spec.get("predict", []):
        codes = inputs[set_name]
        try:
            scores = model.predict(_onehot(codes), batch_size=PREDICT_BATCH, verbose=0)
            scores = np.asarray(scores, dtype=np.float64)
            if scores.ndim > 1 and scores.shape[-1] != 1:
                raise ValueError(
                    f"the model outputs shape {scores.shape}; it must output one score"
                )
            arrays[f"{name}/{set_name}"] = scores.reshape(len(codes))
        except Exception as exc:
            result["set_problems"][set_name] = (
                f"`{name}` failed on {codes.shape[0]} sequences of length {codes.shape[1]} "
                f"one-hot encoded as ({codes.shape[0]}, {codes.shape[1]}, 4): "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            )
    activation_spec = spec.get("activations")
    if activation_spec and info.get("conv"):
        from reference.model import conv_activations, first_conv_layer

        codes = inputs[activation_spec["set"]][: activation_spec["rows"]]
        try:
            arrays[f"{name}/activations"] = conv_activations(model, _onehot(codes)).astype(
                np.float32
            )
            kernel = first_conv_layer(model).get_weights()[0]
            arrays[f"{name}/kernel"] = np.asarray(kernel, dtype=np.float32)
        except Exception as exc:
            result["set_problems"]["activations"] = f"first-layer activations failed: {exc}"
    return result


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

"""Code that runs INSIDE the student's kernel, sent as text by the grader.

This file is never imported by the grader: `harvest.py` reads its source, and each
grader step executes it in a fresh dictionary inside the kernel and calls one
function. It only copies raw material out of the student's namespace (values,
saved models, results of calling the student's functions) into the job folder.
Nothing here decides a grade, and nothing secret is sent to the kernel, so a
student who tampers with it can only spoil their own raw material, which the
coordinator validates anyway. Every function catches everything: a failing probe
is recorded as a failure, never raised.
"""

import json
import math
import os
import traceback

MAX_ITEMS = 20000
MAX_STRING = 20000
MAX_DEPTH = 6


def _plain(value, depth=0):
    """A JSON-safe copy of `value`, bounded in size and depth."""
    if depth > MAX_DEPTH:
        return {"__unsupported__": "nested too deeply"}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, str):
        return value[:MAX_STRING]
    type_name = type(value).__name__
    module = type(value).__module__
    if module.startswith("numpy"):
        if hasattr(value, "tolist") and getattr(value, "size", 2) <= MAX_ITEMS:
            return _plain(value.tolist(), depth + 1)
        if hasattr(value, "item") and getattr(value, "size", 0) == 1:
            return _plain(value.item(), depth + 1)
        return {"__unsupported__": f"numpy value of shape {getattr(value, 'shape', '?')}"}
    if module.startswith(("tensorflow", "keras")) and hasattr(value, "numpy"):
        try:
            return _plain(value.numpy(), depth + 1)
        except Exception:
            return {"__unsupported__": type_name}
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {
            "__dict__": [[_plain(k, depth + 1), _plain(v, depth + 1)] for k, v in items],
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return {"__unsupported__": f"{module}.{type_name}"[:200]}


def _write_json(path, payload):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)


def save_values(namespace, out_dir, names):
    """Copy the contract's plain values (numbers, dicts, lists, strings) to values.json."""
    found = {}
    for name in names:
        if name not in namespace:
            found[name] = {"present": False}
            continue
        value = namespace[name]
        entry = {"present": True, "type": f"{type(value).__module__}.{type(value).__name__}"}
        try:
            if name == "history":
                record = getattr(value, "history", value)
                entry["value"] = _plain(record)
                entry["meta"] = _history_meta(namespace, value)
            else:
                entry["value"] = _plain(value)
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        found[name] = entry
    _write_json(os.path.join(out_dir, "values.json"), found)


def _history_meta(namespace, value):
    """Whose training `history` records: the model it was fitted on, and its step count."""
    meta = {"kind": "dict" if isinstance(value, dict) else type(value).__name__}
    if not isinstance(value, dict):
        try:
            fitted = getattr(value, "model", None)
        except Exception:
            fitted = None
        meta["of_model"] = fitted is not None and fitted is namespace.get("model")
        meta["has_model"] = fitted is not None
        params = getattr(value, "params", None)
        if isinstance(params, dict):
            meta["steps_per_epoch"] = _plain(params.get("steps"))
    return meta


def save_model(namespace, out_dir, name):
    """Save one Keras model from the namespace as `<name>.keras` (or say why not)."""
    result = {"present": name in namespace}
    if result["present"]:
        value = namespace[name]
        result["type"] = f"{type(value).__module__}.{type(value).__name__}"
        try:
            import keras

            if value is None:
                result["error"] = f"`{name}` is still None: set it to your trained Keras model"
            elif not isinstance(value, keras.Model):
                result["error"] = (
                    f"`{name}` is a {result['type']}, not a Keras model "
                    "(keras.Model / keras.Sequential)"
                )
            elif not type(value).__module__.startswith("keras."):
                result["error"] = (
                    f"`{name}` is a subclassed model (class {type(value).__name__}); custom "
                    "classes cannot be loaded safely, so the grader cannot score it. Build it "
                    "with keras.Sequential or the functional API (keras.Input -> layers -> "
                    "keras.Model(inputs, outputs)) from standard layers"
                )
            else:
                path = os.path.join(out_dir, f"{name}.keras")
                value.save(path)
                result["file"] = f"{name}.keras"
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            result["traceback"] = traceback.format_exc()[-3000:]
    _write_json(os.path.join(out_dir, f"{name}.model.json"), result)


def _array_summary(value):
    import numpy as np

    array = np.asarray(value)
    if array.dtype == object or array.size > MAX_ITEMS:
        return {"shape": list(array.shape), "dtype": str(array.dtype), "values": None}
    return {"shape": list(array.shape), "dtype": str(array.dtype), "values": _plain(array)}


def probe_function(namespace, out_dir, probe_name, function_name, args, kwargs, kind):
    """Call a student's function on grader-chosen inputs and record what came back."""
    result = {"function": function_name, "present": function_name in namespace}
    if result["present"]:
        function = namespace[function_name]
        try:
            output = function(*args, **kwargs)
            if kind == "dataset":
                seqs, labels = output
                result["seqs"] = [str(s)[:MAX_STRING] for s in list(seqs)[:MAX_ITEMS]]
                result["labels"] = _array_summary(labels)
            elif kind == "array":
                result["array"] = _array_summary(output)
            elif kind == "model":
                result["count_params"] = int(output.count_params())
                result["layers"] = [type(layer).__name__ for layer in output.layers][:200]
            else:
                result["value"] = _plain(output)
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
    _write_json(os.path.join(out_dir, f"probe_{probe_name}.json"), result)


def seed_everything(seed, threads, frameworks):
    """Seed and pin threads before the student's first cell, for repeatable grades;
    TensorFlow and Keras only when `frameworks` (importing them takes seconds)."""
    import random

    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except Exception:
        pass
    if not frameworks:
        return
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras

        keras.utils.set_random_seed(seed)
        # The same notebook then trains to the same weights in every run (self-check,
        # final grade, re-grade), at the cost of a little speed.
        tf.config.experimental.enable_op_determinism()
    except Exception:
        pass

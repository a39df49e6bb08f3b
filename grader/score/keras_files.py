"""Read facts from a saved `.keras` file without loading it.

A `.keras` file is a zip with `config.json` (the architecture), `metadata.json` and
the weights. Reading the JSON config needs no Keras and runs no code, so the
coordinator can learn a model's input length (to generate multi-motif data of the
length the student trained on) before the sandboxed scorer loads it for real.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

MAX_CONFIG_BYTES = 5_000_000


def read_config(path: Path) -> dict[str, Any] | None:
    """The model's architecture config, or None when the file is not a readable .keras zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                return None
            with archive.open(info) as handle:
                config = json.loads(handle.read(MAX_CONFIG_BYTES + 1))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    return config if isinstance(config, dict) else None


def _shapes(node: Any) -> list[list]:
    """Every `batch_shape` / `batch_input_shape` / `build_input_shape` in a config tree."""
    found = []
    if isinstance(node, dict):
        for key in ("batch_shape", "batch_input_shape", "build_input_shape"):
            value = node.get(key)
            if isinstance(value, list) and len(value) == 3:
                found.append(value)
        for value in node.values():
            found.extend(_shapes(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_shapes(value))
    return found


def peek_input_length(path: Path) -> int | None:
    """The fixed sequence length a saved model expects, or None (any length / unknown)."""
    config = read_config(path)
    if config is None:
        return None
    for shape in _shapes(config):
        length = shape[1]
        if isinstance(length, int) and length > 0 and shape[2] == 4:
            return length
        if length is None and shape[2] == 4:
            return None
    return None

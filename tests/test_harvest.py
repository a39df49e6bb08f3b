"""The harvest is untrusted: values are validated with messages a student can act on; and
the grader's preamble seeds what the notebook uses."""

import json
import random
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy
import pytest

from grader.harvest.answers import extract_answers
from grader.harvest.steps import Probe, names_a_framework, preamble_step
from grader.harvest.validate import read_harvest


def _notebook(*markdown: str):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(m) for m in markdown])


def _write_values(folder: Path, values: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        name: {"present": True, "type": "x", "value": value} for name, value in values.items()
    }
    (folder / "values.json").write_text(json.dumps(payload))


def _read(folder: Path):
    return read_harvest(folder, _notebook(), [], seq_len=101, max_model_bytes=10**8)


def test_valid_contract_values_are_decoded(tmp_path: Path):
    _write_values(
        tmp_path,
        {
            "roc": 0.93,
            "pr_auc": [0.91],
            "history": {"__dict__": [["loss", [0.7, 0.5]], ["val_loss", [0.6, 0.55]]]},
            "kernel_results": {
                "__dict__": [
                    [3, {"__dict__": [["roc_auc", 0.8], ["pr_auc", 0.79]]}],
                    ["11", {"__dict__": [["roc_auc", 0.94], ["pr_auc", 0.93]]}],
                ]
            },
            "noise_results": [
                {"__dict__": [["motif_prob", 0.5], ["roc_auc", 0.7], ["pr_auc", 0.7]]}
            ],
            "multi_motifs": ["gataag", "TGACTC"],
            "interaction_rule": "AND",
        },
    )
    harvest = _read(tmp_path)
    assert harvest.value("roc").value == 0.93
    assert harvest.value("pr_auc").value == 0.91
    assert harvest.value("history").value["val_loss"] == [0.6, 0.55]
    assert harvest.value("kernel_results").value == {
        3: {"roc_auc": 0.8, "pr_auc": 0.79},
        11: {"roc_auc": 0.94, "pr_auc": 0.93},
    }
    assert harvest.value("noise_results").value == [
        {"motif_prob": 0.5, "noise_std": 0.0, "roc_auc": 0.7, "pr_auc": 0.7}
    ]
    assert harvest.value("multi_motifs").value == ["GATAAG", "TGACTC"]
    assert harvest.value("interaction_rule").value == "all"
    assert not harvest.value("interaction_motifs").present


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("roc", "0.99", "should be a number"),
        ("roc", 1.5, "outside [0.0, 1.0]"),
        ("roc", {"__float__": "nan"}, "not a finite number"),
        ("history", [1, 2], "History returned by model.fit"),
        ("history", {"__dict__": [["acc", [0.5]]]}, "no 'loss' curve"),
        ("kernel_results", {"__dict__": []}, "still the empty placeholder {} (it should be a dict"),
        ("kernel_results", {"__dict__": [[3, {"__dict__": [["roc", 0.8]]}]]}, "no 'roc_auc' key"),
        (
            "noise_results",
            [{"__dict__": [["noise", 0.3], ["roc_auc", 0.7]]}],
            "name it 'noise_std'",
        ),
        ("interaction_rule", None, "still the empty placeholder None"),
        ("kernel_results", {"__dict__": [["wide", {"__dict__": []}]]}, "not a kernel size"),
        ("kernel_results", {"__dict__": [[5, 0.9]]}, "should be a dict with 'roc_auc'"),
        ("noise_results", "lots", "non-empty list"),
        ("multi_motifs", ["ACGTG"], "at least two"),
        ("multi_motifs", ["ACGTN", "TTTAA"], "not a DNA motif"),
        ("multi_motifs", ["ACGTG", "ACGTG"], "repeats a motif"),
        ("interaction_rule", "nand", "not one of 'and', 'or', 'xor'"),
        ("roc", {"__unsupported__": "builtins.function"}, "builtins.function"),
    ],
)
def test_invalid_values_get_a_problem_naming_the_variable(tmp_path, name, value, message):
    _write_values(tmp_path, {name: value})
    harvested = _read(tmp_path).value(name)
    assert harvested.present and not harvested.ok
    assert message in harvested.problem


def test_absent_harvest_folder_means_nothing_was_read():
    harvest = read_harvest(None, _notebook(), [], seq_len=101, max_model_bytes=1)
    assert not harvest.ran and not harvest.value("roc").present


def test_oversized_or_linked_files_are_not_read(tmp_path: Path):
    (tmp_path / "values.json").write_text(" " * 6_000_000)
    harvest = _read(tmp_path)
    assert not harvest.value("roc").present
    assert any("larger than" in note for note in harvest.notes)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "model.model.json").write_text(json.dumps({"present": True}))
    (tmp_path / "model.model.json").symlink_to(other / "model.model.json")
    assert not _read(tmp_path).model("model").present


def test_model_saved_by_grader_step_is_found_and_size_limited(tmp_path: Path):
    (tmp_path / "model.model.json").write_text(json.dumps({"present": True, "file": "model.keras"}))
    (tmp_path / "model.keras").write_bytes(b"x" * 100)
    assert _read(tmp_path).model("model").ok
    small = read_harvest(tmp_path, _notebook(), [], seq_len=101, max_model_bytes=10)
    assert "over the size limit" in small.model("model").problem


def test_probe_results_are_kept_per_probe(tmp_path: Path):
    probe = Probe("pwm", "build_pwm", (["ACG"],), {}, "array")
    (tmp_path / "probe_pwm.json").write_text(json.dumps({"present": False}))
    harvest = read_harvest(tmp_path, _notebook(), [probe], 101, 10)
    assert harvest.probes["pwm"] == {"present": False}


def test_answers_are_read_from_markdown_cells_in_many_styles():
    notebook = _notebook(
        "Answer Q1\n_Write your answer here._",
        "## Answer Q1\nThe model has 913 parameters.",
        "**Answer Q2:** wider kernels help.",
        "answer q3 - the filter matches ACGTG",
        "Q6 Answer: the model captures AND.",
        "Some other text mentioning Answer Q4",
        "Answer Q5\n\n_Write your answer here._",
    )
    answers = extract_answers(notebook)
    assert answers["Q1"] == "The model has 913 parameters."
    assert answers["Q2"] == "wider kernels help."
    assert answers["Q3"] == "the filter matches ACGTG"
    assert "Q4" not in answers
    assert answers["Q6"] == "the model captures AND."
    assert answers["Q5"] == ""


def _code_notebook(*sources: str):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


@pytest.mark.parametrize(
    "source",
    [
        "import tensorflow as tf",
        "from tensorflow.keras import layers",
        "import keras",
        "from keras import layers",
        "tf = __import__('tensorflow')",
    ],
)
def test_a_notebook_naming_tensorflow_or_keras_gets_them_seeded(source: str):
    notebook = _code_notebook("import numpy as np", source)
    assert names_a_framework(notebook)
    assert "seed_everything'](7, 1, True)" in preamble_step(7, 1, notebook).code


def test_a_notebook_that_never_names_them_is_not_made_to_import_them(tmp_path: Path):
    notebook = _code_notebook("roc = 0.5  # typed in: no model is trained")
    notebook.cells.append(nbformat.v4.new_markdown_cell("We would use TensorFlow and keras."))
    assert not names_a_framework(notebook)
    step = preamble_step(7, 1, notebook)
    check = (
        "import random, sys\n"
        "import numpy\n"
        "print(random.random(), numpy.random.random(),\n"
        "      'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", step.code + check], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    first, second, tensorflow, keras = ran.stdout.split()
    random.seed(7)
    numpy.random.seed(7)
    assert (float(first), float(second)) == (random.random(), numpy.random.random())
    assert (tensorflow, keras) == ("False", "False")

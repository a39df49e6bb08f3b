"""Build the example submissions in `student_submissions/` from the starter and solution.

Each sample is a small, deliberate edit of the notebook students receive, so the
samples stay in step with the starter. Run `python tests/build_samples.py` after
changing the starter or the solution; `tests/test_samples.py` checks that the
committed samples are what this script produces.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
STARTER = ROOT / "reference" / "notebooks" / "starter.ipynb"
SOLUTION = ROOT / "reference" / "notebooks" / "solution.ipynb"
SAMPLES = ROOT / "student_submissions"


def _find(nb, needle: str) -> int:
    for index, cell in enumerate(nb.cells):
        if needle in cell.source:
            return index
    raise LookupError(f"no cell contains {needle!r}")


def _answer(nb, question: str, text: str) -> None:
    """Fill the answer cell, the one whose first line is `Answer Qn`."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith(f"Answer {question}\n"):
            cell.source = f"Answer {question}\n\n{text}"
            return
    raise LookupError(f"no answer cell for {question}")


def partial_main_only(nb):
    """Main task done well (wider kernel, longer training, Q1-Q3), advanced parts missing."""
    model_cell = nb.cells[_find(nb, "model = build_deepbind_like_model(SEQ_LEN")]
    model_cell.source = model_cell.source.replace(
        "kernel_size=len(MOTIF))", "kernel_size=11, lr=3e-3)"
    ).replace("num_filters=16,", "num_filters=16,")
    train = nb.cells[_find(nb, "EPOCHS = 10")]
    train.source = train.source.replace("EPOCHS = 10", "EPOCHS = 30").replace(
        "patience=3", "patience=5"
    )
    results = nb.cells[_find(nb, "kernel_results = {}")]
    results.source = results.source.replace(
        'kernel_results = {}  # {kernel_size: {"roc_auc": ..., "pr_auc": ...}}',
        "kernel_results = {}\n"
        "for width in (3, 11):\n"
        "    sweep_model = build_deepbind_like_model(\n"
        "        SEQ_LEN, num_filters=16, kernel_size=width, lr=3e-3)\n"
        "    sweep_model.fit(X_train, train_y, validation_data=(X_val, val_y), epochs=8,\n"
        "                    batch_size=128, verbose=0)\n"
        "    sweep_preds = sweep_model.predict(X_test, verbose=0).ravel()\n"
        "    p, r, _ = precision_recall_curve(test_y, sweep_preds)\n"
        "    kernel_results[width] = {'roc_auc': roc_auc_score(test_y, sweep_preds),\n"
        "                             'pr_auc': auc(r, p)}\n"
        "print(kernel_results)",
    )
    _answer(
        nb,
        "Q1",
        "With 16 filters of width 11 over 4 channels the convolution has 16 x (11 x 4 + 1) = 720 "
        "parameters, the dense layer 16 x 32 + 32 = 544 and the output 33: 1297 in total. "
        "Hyper-parameters: number of filters, kernel width, dense units, learning rate, batch "
        "size, epochs and early-stopping patience.",
    )
    _answer(nb, "Q2", "A width of 3 cannot see the whole 5-mer and scores lower; 11 does best.")
    _answer(nb, "Q3", "Yes: the best filter's logo spells ACGTG.")
    return nb


def error_midway(nb):
    """A typo in the training cell raises after the model is trained and evaluated."""
    train = nb.cells[_find(nb, "EPOCHS = 10")]
    train.source = train.source.replace(
        "print(f'Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}')",
        "print(f'Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}', test_accuracy)",
    )
    return nb


def infinite_loop(nb):
    """After training, a cell loops forever (a convergence loop that never converges)."""
    index = _find(nb, "import heapq")
    loop = nbformat.v4.new_code_cell(
        "# keep training until the validation loss reaches zero\n"
        "target_reached = False\n"
        "while not target_reached:\n"
        "    pass\n"
    )
    nb.cells.insert(index, loop)
    return nb


def syntax_error(nb):
    """A missing comma in the generator's signature: nothing after it can run."""
    cell = nb.cells[_find(nb, "def generate_synthetic_dataset(")]
    cell.source = cell.source.replace("num_pos=2000, num_neg=2000", "num_pos=2000 num_neg=2000", 1)
    return nb


def trains_on_test_set(nb):
    """Fine-tunes on the test set, reports that inflated AUC and made-up kernel results."""
    model_cell = nb.cells[_find(nb, "model = build_deepbind_like_model(SEQ_LEN")]
    model_cell.source = model_cell.source.replace(
        "num_filters=16, kernel_size=len(MOTIF))", "num_filters=64, kernel_size=11)"
    )
    train = nb.cells[_find(nb, "EPOCHS = 10")]
    train.source = train.source.replace(
        "callbacks=[es])\n",
        "callbacks=[es])\n"
        "# squeeze out the last bit of AUC\n"
        "model.fit(X_test, test_y, epochs=100, batch_size=32, verbose=0)\n",
    )
    results = nb.cells[_find(nb, "kernel_results = {}")]
    results.source = results.source.replace(
        'kernel_results = {}  # {kernel_size: {"roc_auc": ..., "pr_auc": ...}}',
        "kernel_results = {3: {'roc_auc': 0.991, 'pr_auc': 0.990}, "
        "11: {'roc_auc': 0.999, 'pr_auc': 0.998}}",
    )
    return nb


BUILDERS: dict[str, tuple[Path, Callable]] = {
    "reference_solution": (SOLUTION, lambda nb: nb),
    "unmodified_starter": (STARTER, lambda nb: nb),
    "partial_main_only": (STARTER, partial_main_only),
    "error_midway": (STARTER, error_midway),
    "infinite_loop": (STARTER, infinite_loop),
    "syntax_error": (STARTER, syntax_error),
    "trains_on_test_set": (STARTER, trains_on_test_set),
}


def build_sample(name: str) -> str:
    source, edit = BUILDERS[name]
    nb = edit(copy.deepcopy(nbformat.read(source, as_version=4)))
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return nbformat.writes(nb)


def main(out: Path = SAMPLES) -> None:
    for name in BUILDERS:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hw4.ipynb").write_text(build_sample(name), encoding="utf-8")
        print(f"wrote {folder / 'hw4.ipynb'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES)

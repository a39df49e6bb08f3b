# ruff: noqa: E501  (the assignment's code lines are kept exactly as the students got them)
"""Rebuild the students' starter notebook from the assignment text.

The assignment text is a flattened notebook: headings end with "¶", code lost its
indentation and blank lines, and some cells' printed output (and a Mac's Metal logs)
follows the code. The prose is taken from the text as it is; the code is written
out here, re-indented by hand, and every line of it is checked against the text, so
the students get the assignment's code exactly, runnable, and without outputs. On
top we add what the grader needs students to know: how they are graded, one
`Answer Qn` cell after each question, and a last cell naming the results to fill.

    python reference/notebooks/build_starter.py SEED_TEXT OUT.ipynb
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

HEADING_MARK = "¶"
ANSWER_PLACEHOLDER = "_Write your answer here._"
NUMBER_OF_QUESTIONS = 6

# The assignment's code cells, in order, re-indented. Blank lines are ours (the text
# lost them); every other line must equal the text's line once stripped.
CODE_CELLS: tuple[str, ...] = (
    '''\
import numpy as np
import matplotlib.pyplot as plt
import random
from sklearn.metrics import roc_auc_score, roc_curve, precision_recall_curve, auc
import tensorflow as tf
from tensorflow.keras import layers, models, optimizers, losses, callbacks
np.random.seed(42)
random.seed(42)

# Simple one-hot encoding utilities
BASES = ['A','C','G','T']
_base_to_idx = {b:i for i,b in enumerate(BASES)}

def one_hot_encode_seqs(seqs):
    """Encode a list of uppercase DNA sequences (A,C,G,T) to shape (N, L, 4)."""
    N = len(seqs)
    L = len(seqs[0])
    arr = np.zeros((N, L, 4), dtype=np.float32)
    for i,s in enumerate(seqs):
        for j,ch in enumerate(s):
            arr[i,j,_base_to_idx.get(ch,'A')] = 1.0
    return arr

def seqs_from_onehot(X):
    # convert back to seqs by argmax
    seqs = []
    for i in range(X.shape[0]):
        seq = ''.join(BASES[int(np.argmax(X[i,j]))] for j in range(X.shape[1]))
        seqs.append(seq)
    return seqs''',
    '''\
# Synthetic data generator
def generate_synthetic_dataset(num_pos=2000, num_neg=2000, seq_len=101, motif='ACGTG', motif_prob=1.0, random_seed=42):
    """Generate synthetic sequences.
    - num_pos: number of positive examples
    - num_neg: number of negative examples
    - seq_len: length of each sequence
    - motif: motif string to implant in positives
    - motif_prob: probability that a positive contains the motif (allows noisy labels)
    Returns: (seqs, labels)
    """
    rng = np.random.RandomState(random_seed)
    def random_seq(L):
        return ''.join(rng.choice(BASES) for _ in range(L))
    pos_seqs = []
    for _ in range(num_pos):
        s = list(random_seq(seq_len))
        if rng.rand() <= motif_prob:
            # implant motif at random position so it fits
            k = len(motif)
            start = rng.randint(0, seq_len - k + 1)
            s[start:start+k] = list(motif)
        pos_seqs.append(''.join(s))
    neg_seqs = [random_seq(seq_len) for _ in range(num_neg)]
    seqs = pos_seqs + neg_seqs
    labels = np.array([1]*len(pos_seqs) + [0]*len(neg_seqs), dtype=np.int32)
    # shuffle
    perm = rng.permutation(len(seqs))
    seqs = [seqs[i] for i in perm]
    labels = labels[perm]
    return seqs, labels''',
    """\
# Quick test
seqs, labels = generate_synthetic_dataset(num_pos=10, num_neg=10)
print('Example positive seq:', seqs[0], 'label', labels[0])""",
    """\
# Prepare dataset
SEQ_LEN = 101
MOTIF = 'ACGTG'
seqs, labels = generate_synthetic_dataset(num_pos=4000, num_neg=4000, seq_len=SEQ_LEN, motif=MOTIF, motif_prob=1.0)

# Train/val/test split
N = len(seqs)
train_end = int(0.8*N)
val_end = int(0.9*N)
train_seqs = seqs[:train_end]
train_y = labels[:train_end]
val_seqs = seqs[train_end:val_end]
val_y = labels[train_end:val_end]
test_seqs = seqs[val_end:]
test_y = labels[val_end:]

X_train = one_hot_encode_seqs(train_seqs)
X_val = one_hot_encode_seqs(val_seqs)
X_test = one_hot_encode_seqs(test_seqs)
print('Shapes:', X_train.shape, X_val.shape, X_test.shape)
print('Train positive fraction:', np.mean(train_y))""",
    """\
def build_deepbind_like_model(input_length, num_filters=16, kernel_size=11, lr=1e-3):
    inp = layers.Input(shape=(input_length, 4))
    x = layers.Conv1D(filters=num_filters, kernel_size=kernel_size, padding='valid', activation='relu')(inp)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(32, activation='relu')(x)
    out = layers.Dense(1, activation='sigmoid')(x)
    model = models.Model(inputs=inp, outputs=out)
    model.compile(optimizer=optimizers.Adam(lr), loss=losses.BinaryCrossentropy(), metrics=[])
    return model

model = build_deepbind_like_model(SEQ_LEN, num_filters=16, kernel_size=len(MOTIF))
model.summary()""",
    """\
EPOCHS = 10
BATCH_SIZE = 128
es = callbacks.EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)
history = model.fit(X_train, train_y, validation_data=(X_val, val_y), epochs=EPOCHS, batch_size=BATCH_SIZE, callbacks=[es])

# Evaluate on test set
preds = model.predict(X_test).ravel()
roc = roc_auc_score(test_y, preds)
precision, recall, _ = precision_recall_curve(test_y, preds)
pr_auc = auc(recall, precision)
print(f'Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}')

# Plot training curves
plt.figure(figsize=(6,3))
plt.plot(history.history['loss'], label='train loss')
plt.plot(history.history['val_loss'], label='val loss')
plt.legend()
plt.title('Loss curves')
plt.show()""",
    """\
import heapq
from collections import Counter

def get_conv_layer_output(model, X, layer_index=1):
    # Return activations from conv layer for input X (no pooling)
    conv_model = models.Model(inputs=model.input, outputs=model.layers[layer_index].output)
    return conv_model.predict(X)

conv_out_train = get_conv_layer_output(model, X_train, layer_index=1)
print('Conv output shape (train):', conv_out_train.shape)

# For each filter, find windows with top activations across the dataset
KERNEL = model.layers[1].kernel_size[0]
NUM_TOP = max(50, int(0.01 * X_train.shape[0])) # top 1% or at least 50

# We'll scan convolution outputs (before pooling) and record the positions
filter_kmers = {f: [] for f in range(conv_out_train.shape[-1])}
for i in range(X_train.shape[0]):
    # conv_out_train[i] shape: (L_out, num_filters)
    for f in range(conv_out_train.shape[-1]):
        # find the max activation position for filter f in this sequence
        # we'll collect top-N across sequences later
        pass

# More systematic approach: for each filter, keep a heap of top activations with (score, seq_index, pos)
heaps = {f: [] for f in range(conv_out_train.shape[-1])}
for i in range(X_train.shape[0]):
    # conv_out_train[i] has shape (L_out, num_filters)
    arr = conv_out_train[i] # numpy array
    L_out = arr.shape[0]
    for pos in range(L_out):
        for f in range(arr.shape[1]):
            score = arr[pos, f]
            heap = heaps[f]
            if len(heap) < NUM_TOP:
                heapq.heappush(heap, (score, i, pos))
            else:
                if score > heap[0][0]:
                    heapq.heapreplace(heap, (score, i, pos))

# Extract k-mers
for f, heap in heaps.items():
    top = sorted(heap, reverse=True)
    kmers = []
    for (score, i, pos) in top:
        # map pos in conv output to original sequence coordinate
        # For 'valid' conv, pos corresponds to start index in original sequence
        start = pos
        kmer = train_seqs[i][start:start+KERNEL]
        kmers.append(kmer)
    filter_kmers[f] = kmers

# Quick check for filter 0
for f in range(min(4, len(filter_kmers))):
    print(f'Filter {f}, top kmers (first 10):', filter_kmers[f][:10])""",
    """\
def build_pwm(kmers):
    k = len(kmers[0])
    pfm = np.zeros((k,4), dtype=float)
    for s in kmers:
        for i,ch in enumerate(s):
            pfm[i,_base_to_idx[ch]] += 1
    # add pseudocount
    pfm += 1e-6
    pwm = pfm / pfm.sum(axis=1, keepdims=True)
    return pwm""",
    """\
import seaborn as sns
import matplotlib.pyplot as plt
import pandas as pd

def plot_pwm_heatmap(pwm, title="PWM Heatmap"):
    df = pd.DataFrame(pwm, columns=BASES)
    plt.figure(figsize=(max(6, pwm.shape[0]/2), 3))
    sns.heatmap(
        df.T, # transpose for nicer layout
        cmap="viridis",
        vmin=0,
        vmax=1,
        cbar=True
    )
    plt.xlabel("Position")
    plt.ylabel("Base")
    plt.title(title)
    plt.show()

for f in range(min(4, len(filter_kmers))):
    pwm = build_pwm(filter_kmers[f])
    plot_pwm_heatmap(pwm, title=f"Filter {f} PWM")""",
)

GRADING_CELL = """\
## How your notebook is graded

Most of this homework is graded automatically; your written answers are read by a person.
The grader restarts a fresh kernel, runs your notebook **from top to bottom**, and then
reads the names below from it. Keep these names. If one is missing or has the wrong shape,
you lose only the checks that need it, and your report says which name and why.

| Name | What to leave in it | Type / shape | Question |
|---|---|---|---|
| `model` | your trained model for the main task (motif `ACGTG`) | a Keras model built with `keras.Sequential` or the functional API (`keras.Model(inputs, outputs)`), not a subclass of `keras.Model`, that takes one-hot DNA of shape `(N, 101, 4)`, bases in the order A, C, G, T, and returns `(N, 1)` probabilities | Q1–Q3 |
| `history` | the training history of `model` | the `History` returned by `model.fit` (or a dict of lists with `"loss"` and `"val_loss"`) | training curves |
| `roc`, `pr_auc` | your test-set ROC AUC and PR AUC for `model` | floats between 0 and 1; PR AUC computed as in section 5, `auc(recall, precision)` | Q2 |
| `kernel_results` | your kernel-size experiment | dict `{kernel_size: {"roc_auc": float, "pr_auc": float}}` with whole-number keys, including sizes smaller and larger than the motif (5 bases), e.g. `{3: {...}, 5: {...}, 11: {...}}` | Q2 |
| `noise_results` | your noise experiment | list of dicts `{"motif_prob": float, "noise_std": float, "roc_auc": float, "pr_auc": float}`, one per setting, with at least one run where `motif_prob < 1` and one with Gaussian noise (`noise_std > 0`); say in Answer Q4 which data you tested on | Q4 |
| `multi_model` | a model trained on data with two (or more) implanted motifs | a Keras model taking `(N, 101, 4)` | Q5 |
| `multi_motifs` | the motifs you implanted for `multi_model` | list of 2 or more different strings of A/C/G/T, 3–30 bases each, e.g. `["GATAAG", "TGACTC"]` | Q5 |
| `interaction_model` | a model trained where the label depends on whether the motifs occur together | a Keras model taking `(N, 101, 4)` | Q6 |
| `interaction_rule` | the rule that made the labels for `interaction_model` | `"and"`, `"or"` or `"xor"` | Q6 |
| `interaction_motifs` | the two motifs of that experiment | list of 2 strings; if you leave it out or empty, `multi_motifs` is used | Q6 |
| `generate_synthetic_dataset`, `one_hot_encode_seqs`, `build_deepbind_like_model`, `build_pwm` | the functions of this notebook, improved if you like | same names and arguments; `generate_synthetic_dataset` must still return exactly the same data for the same arguments | checked by calling them |

What this means for you:

- **Printed numbers are claims.** The grader scores `model` again on hidden data drawn from \
the same generator with a secret seed, and compares it with the best score anyone can reach \
on that data. It also tests `multi_model` and `interaction_model` on its own sequences. Your \
`roc` and `pr_auc` are compared with what it measures, so a changed split, a test-set leak or \
a typed-in number earns nothing.
- **The notebook must run top to bottom.** Restart the kernel and run all cells before you \
submit. Keep training short: the grader stops a cell after 5 minutes and the notebook after \
20. Do not read files that exist only on your computer.
- **Models:** build them with `keras.Sequential` or the functional API from standard Keras \
layers (no subclassed models and no `Lambda` layers: the grader cannot load custom code \
safely) and feed them one-hot sequences of length 101. The grader reads your motifs from the \
first `Conv1D` layer of each model.
- **Question 1:** state the total number of parameters Keras reports for `model` \
(`model.count_params()`) in your answer; the grader looks for it.
- **Written answers** go in the Markdown cells that start with `Answer Q1` … `Answer Q6`, \
one after each question. Keep that first line and replace `_Write your answer here._` with \
your answer.
- **Check yourself** before you submit: `motifgrader check hw4.ipynb` (or \
`pytest --notebook hw4.ipynb`) runs your notebook and the public checks, and tells you which \
names are missing or malformed.
- The last code cell sets the names for Questions 2 and 4–6 to empty placeholders: fill them \
in there, or delete a line if you set that name in an earlier cell (it would overwrite it)."""

CONTRACT_HEADER = """\
## Results for the grader

Fill in the names below from your own experiments (see "How your notebook is graded" at the
top). If you set them in earlier cells instead, delete the lines here so they do not
overwrite your results."""

CONTRACT_SKELETON = """\
# Q2: test ROC AUC and PR AUC for each kernel size you tried, smaller and larger than the motif,
# e.g. {3: {"roc_auc": 0.81, "pr_auc": 0.80}, 5: {...}, 11: {...}}
kernel_results = {}  # {kernel_size: {"roc_auc": ..., "pr_auc": ...}}

# Q4: one dict per setting you tried, e.g. motif_prob=0.5 without noise, noise_std=0.3 on negatives
noise_results = []  # [{"motif_prob": ..., "noise_std": ..., "roc_auc": ..., "pr_auc": ...}, ...]

# Q5: the model trained on data with two implanted motifs, and those motifs
multi_model = None  # your trained Keras model; input (N, 101, 4)
multi_motifs = []  # e.g. ["GATAAG", "TGACTC"]

# Q6: the model trained where the label depends on the motifs occurring together
interaction_model = None  # your trained Keras model; input (N, 101, 4)
interaction_rule = None  # "and", "or" or "xor"
interaction_motifs = []  # the two motifs, e.g. ["GATAAG", "TGACTC"]"""

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "name": "python",
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "pygments_lexer": "ipython3",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "nbconvert_exporter": "python",
}


class SeedMismatch(ValueError):
    """The assignment text does not match the code written out in this module."""


@dataclass(frozen=True)
class Block:
    """A run of the assignment text: a heading with its prose, code, or dropped output."""

    kind: str  # "markdown", "code" or "output"
    lines: tuple[str, ...]


def _code_lines(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def _is_heading(line: str) -> bool:
    return line.endswith(HEADING_MARK)


def parse_seed(text: str) -> list[Block]:
    """Cut the assignment text into markdown, code and output blocks, in order.

    Each code cell is found by its first line after the previous one and must then
    match line for line. Text after a code cell and before the next heading is that
    cell's printed output (or logs) and is kept apart so the builder can drop it.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    blocks: list[Block] = []
    position = 0
    after_code = False
    for number, code in enumerate(CODE_CELLS, start=1):
        expected = _code_lines(code)
        try:
            start = lines.index(expected[0], position)
        except ValueError as exc:
            raise SeedMismatch(
                f"code cell {number} starts with {expected[0]!r}, which is not in the "
                "assignment text after the previous cell; update CODE_CELLS"
            ) from exc
        blocks.extend(_between(lines[position:start], after_code))
        found = lines[start : start + len(expected)]
        for offset, (want, got) in enumerate(zip(expected, found, strict=False)):
            if want != got:
                raise SeedMismatch(
                    f"code cell {number}, line {offset + 1}: the text has {got!r} "
                    f"but CODE_CELLS has {want!r}"
                )
        if len(found) < len(expected):
            raise SeedMismatch(f"code cell {number} runs past the end of the assignment text")
        blocks.append(Block("code", tuple(expected)))
        position = start + len(expected)
        after_code = True
    blocks.extend(_between(lines[position:], after_code))
    return blocks


def _between(lines: list[str], after_code: bool) -> list[Block]:
    """Split the text between two code cells into output, then one block per heading."""
    blocks: list[Block] = []
    first_heading = next((i for i, line in enumerate(lines) if _is_heading(line)), len(lines))
    if after_code and first_heading:
        blocks.append(Block("output", tuple(lines[:first_heading])))
    elif first_heading:
        blocks.append(Block("markdown", tuple(lines[:first_heading])))
    current: list[str] = []
    for line in lines[first_heading:]:
        if _is_heading(line) and current:
            blocks.append(Block("markdown", tuple(current)))
            current = []
        current.append(line)
    if current:
        blocks.append(Block("markdown", tuple(current)))
    return blocks


def _heading(line: str, is_title: bool) -> str:
    title = line.removesuffix(HEADING_MARK).strip()
    if is_title:
        return f"# {title}"
    if re.match(r"^\d+\s*[.–-]", title):
        return f"## {title}"
    return f"### {title}"


def _prose(lines: list[str]) -> str:
    """Bullets stay one list; other lines become paragraphs, as the text shows them."""
    parts: list[str] = []
    for line in lines:
        if line.startswith("- ") and parts and parts[-1].startswith("- "):
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return "\n\n".join(parts)


def _is_questions(block: Block) -> bool:
    return block.lines[0].removesuffix(HEADING_MARK).strip().lower() in ("question", "questions")


def _answer_cell(question: int) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(f"Answer Q{question}\n\n{ANSWER_PLACEHOLDER}")


def build_notebook(seed_text: str) -> NotebookNode:
    """The starter notebook: the assignment's cells plus grading guidance, no outputs."""
    blocks = parse_seed(seed_text)
    cells: list[NotebookNode] = []
    question = 0
    grading_added = False
    for index, block in enumerate(blocks):
        if block.kind == "output":
            continue
        if block.kind == "code":
            if not grading_added:
                cells.append(nbformat.v4.new_markdown_cell(GRADING_CELL))
                grading_added = True
            cells.append(nbformat.v4.new_code_cell("\n".join(_indented(block))))
            continue
        heading = _heading(block.lines[0], is_title=index == 0)
        body = list(block.lines[1:])
        if not grading_added and re.match(r"^##\s+1\.", heading):
            cells.append(nbformat.v4.new_markdown_cell(GRADING_CELL))
            grading_added = True
        if not _is_questions(block):
            cells.append(
                nbformat.v4.new_markdown_cell("\n\n".join(filter(None, [heading, _prose(body)])))
            )
            continue
        bullets = [line for line in body if line.startswith("- ")]
        if not bullets or len(bullets) != len(body):
            raise SeedMismatch(
                f"the questions under {block.lines[0]!r} are not a list of '- ' lines"
            )
        for number, bullet in enumerate(bullets):
            question += 1
            text = f"{heading}\n\n{bullet}" if number == 0 else bullet
            cells.append(nbformat.v4.new_markdown_cell(text))
            cells.append(_answer_cell(question))
    if question != NUMBER_OF_QUESTIONS:
        raise SeedMismatch(f"found {question} questions in the assignment text, expected 6")
    cells.append(nbformat.v4.new_markdown_cell(CONTRACT_HEADER))
    cells.append(nbformat.v4.new_code_cell(CONTRACT_SKELETON))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number:02d}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = dict(LANGUAGE_INFO)
    nbformat.validate(notebook)
    return notebook


def _indented(block: Block) -> list[str]:
    """The hand-indented source of a code block (the block only holds stripped lines)."""
    for code in CODE_CELLS:
        if tuple(_code_lines(code)) == block.lines:
            return code.splitlines()
    raise SeedMismatch("a code block has no hand-indented source")  # pragma: no cover


def write_notebook(seed_path: Path, out_path: Path) -> None:
    """Write the starter as nbformat writes it, so a rebuild is byte-for-byte comparable."""
    notebook = build_notebook(seed_path.read_text(encoding="utf-8"))
    out_path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python build_starter.py SEED_TEXT OUT.ipynb", file=sys.stderr)
        return 2
    seed_path, out_path = Path(args[0]), Path(args[1])
    if not seed_path.is_file():
        print(
            f"assignment text {seed_path} does not exist; pass the seed .txt file", file=sys.stderr
        )
        return 2
    try:
        write_notebook(seed_path, out_path)
    except SeedMismatch as exc:
        print(f"cannot build the starter: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

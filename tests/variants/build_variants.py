"""Build small honest notebooks in unusual styles, each with a standard twin, and an
untrained hand-set notebook, from the code written here.

Every honest variant changes ONE thing a student may legitimately do differently
(a two-column softmax, the column order A, G, C, T, parallel first-layer branches,
another fixed input length, logit outputs, a +1 pseudocount in `build_pwm`) and is
otherwise the same notebook as its twin `standard` (sigmoid outputs, A, C, G, T, one
Conv1D, length 101). `tests/test_variants.py` grades them all in one batch and checks
that each earns at least 90% of its twin, and that the hand-set notebook earns no model
points and under half of the automatic points. They train on small data for a few
epochs, so the whole batch takes a few minutes.

    python tests/variants/build_variants.py [OUT_FOLDER]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

VARIANTS = Path(__file__).resolve().parent
NOTEBOOK_NAME = "hw4.ipynb"


@dataclass(frozen=True)
class Style:
    """How one honest notebook builds and reads its models."""

    order: str = "ACGT"
    length: int = 101
    head: str = "sigmoid"
    body: str = "plain"
    pseudocount: str = "1e-6"
    multi: str = "one"
    """Q5: "one" output for "any motif", or "per_motif": one sigmoid per declared motif."""


STYLES: dict[str, Style] = {
    "standard": Style(),
    "softmax_two_units": Style(head="softmax"),
    "column_order_agct": Style(order="AGCT"),
    "parallel_branches": Style(body="branches"),
    "fixed_length_100": Style(length=100),
    "logit_outputs": Style(head="logits"),
    "pwm_pseudocount_one": Style(pseudocount="1.0"),
    "multi_output_q5": Style(multi="per_motif"),
}
"""Each variant's twin is `standard`."""

SETUP = """\
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import numpy as np
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score

keras.utils.set_random_seed(7)
ORDER = {order!r}  # the column order of this notebook's one-hot encoding
LENGTH = {length}
HEAD = {head!r}
BODY = {body!r}
MULTI = {multi!r}
"""

FUNCTIONS = """\
BASES = ["A", "C", "G", "T"]
_column = {{base: i for i, base in enumerate(ORDER)}}


def one_hot_encode_seqs(seqs):
    arr = np.zeros((len(seqs), len(seqs[0]), 4), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s):
            if ch in _column:
                arr[i, j, _column[ch]] = 1.0
    return arr


def build_pwm(kmers):
    pfm = one_hot_encode_seqs(kmers).sum(axis=0).astype(float) + {pseudocount}
    return pfm / pfm.sum(axis=1, keepdims=True)


def build_deepbind_like_model(input_length, num_filters=16, kernel_size=11, lr=1e-3):
    return build(input_length, num_filters, kernel_size, lr=lr)
"""

DATA = """\
LETTERS = np.array(list("ACGT"))


def draw(patterns, seed, length=LENGTH):
    \"\"\"One sequence per (motifs, label) pattern, motifs implanted without overlap.\"\"\"
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for motifs, label in patterns:
        s = list(LETTERS[rng.integers(0, 4, length)])
        offsets = np.sort(rng.integers(0, length - sum(map(len, motifs)) + 1, len(motifs)))
        shift = 0
        for offset, m in zip(offsets, rng.permutation(len(motifs)) if motifs else []):
            motif = motifs[m]
            s[offset + shift:offset + shift + len(motif)] = motif
            shift += len(motif)
        seqs.append("".join(s))
        labels.append(label)
    order = rng.permutation(len(seqs))
    return [seqs[i] for i in order], np.array(labels)[order]


def split(seqs, labels):
    n = len(seqs)
    a, b = int(0.8 * n), int(0.9 * n)
    X = one_hot_encode_seqs(seqs)
    return (X[:a], labels[:a]), (X[a:b], labels[a:b]), (X[b:], labels[b:])


def build(length, filters=16, width=11, lr=3e-3, hidden=16, units=1):
    inp = keras.Input((None if BODY == "branches" else length, 4))
    if BODY == "branches":
        narrow = keras.layers.Conv1D(4, 3, padding="same", activation="relu")(inp)
        # momentum 0.9 (PyTorch's default): the moving statistics settle within these few
        # hundred steps, so the model's probabilities at inference match training.
        narrow = keras.layers.BatchNormalization(momentum=0.9)(narrow)
        wide = keras.layers.GaussianNoise(0.05)(inp)
        wide = keras.layers.Conv1D(filters, width, padding="same", activation="relu")(wide)
        wide = keras.layers.BatchNormalization(momentum=0.9)(wide)
        x = keras.layers.Concatenate()([narrow, wide])
        x = keras.layers.Dropout(0.1)(x)
    else:
        x = keras.layers.Conv1D(filters, width, activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling1D()(x)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu")(x)
    if units > 1:  # multi-label: one sigmoid per motif
        out = keras.layers.Dense(units, activation="sigmoid")(x)
        loss = keras.losses.BinaryCrossentropy()
    elif HEAD == "softmax":
        out = keras.layers.Dense(2, activation="softmax")(x)
        loss = keras.losses.SparseCategoricalCrossentropy()
    elif HEAD == "logits":
        out = keras.layers.Dense(1)(x)
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        out = keras.layers.Dense(1, activation="sigmoid")(x)
        loss = keras.losses.BinaryCrossentropy()
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    return m


def probability(m, X):
    out = m.predict(X, batch_size=512, verbose=0)
    if HEAD == "softmax":
        return out[:, 1]
    if HEAD == "logits":
        return 1 / (1 + np.exp(-out.ravel()))
    return out.ravel()


def metrics(m, X, y):
    p = probability(m, X)
    precision, recall, _ = precision_recall_curve(y, p)
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(auc(recall, precision))}


def train(m, train_set, val_set, epochs=6):
    return m.fit(*train_set, validation_data=val_set, epochs=epochs, batch_size=64, verbose=0)


MOTIF = "ACGTG"
main_data = split(*draw([((MOTIF,), 1)] * 2000 + [((), 0)] * 2000, seed=1))
"""

MAIN = """\
model = build(LENGTH)
history = train(model, *main_data[:2])
measured = metrics(model, *main_data[2])
roc, pr_auc = measured["roc_auc"], measured["pr_auc"]
print(f"Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}")
"""

SWEEP = """\
kernel_results = {11: measured}
narrow = build(LENGTH, width=3)
train(narrow, *main_data[:2], epochs=3)
kernel_results[3] = metrics(narrow, *main_data[2])

noise_results = [{"motif_prob": 1.0, "noise_std": 0.0, **measured}]
half = split(*draw([((MOTIF,), 1)] * 1000 + [((), 1)] * 1000 + [((), 0)] * 2000, seed=2))
weak = build(LENGTH)
train(weak, *half[:2], epochs=3)
noise_results.append({"motif_prob": 0.5, "noise_std": 0.0, **metrics(weak, *half[2])})
noisy_train = (main_data[0][0] + np.random.default_rng(3).normal(0, 0.3, main_data[0][0].shape)
               * (main_data[0][1] == 0)[:, None, None], main_data[0][1])
noisy = build(LENGTH)
train(noisy, noisy_train, main_data[1], epochs=3)
noise_results.append({"motif_prob": 1.0, "noise_std": 0.3, **metrics(noisy, *main_data[2])})
print(kernel_results, noise_results)
"""

ADVANCED = """\
multi_motifs = ["GATAAG", "TGACTC"]
A, B = multi_motifs
if MULTI == "per_motif":
    # One sigmoid per motif, trained on which motifs each sequence holds.
    multi_data = split(*draw([((A,), (1, 0))] * 700 + [((B,), (0, 1))] * 700
                             + [((A, B), (1, 1))] * 600 + [((), (0, 0))] * 2000, seed=4))
    multi_model = build(LENGTH, units=2)
    train(multi_model, *multi_data[:2])
    X_test, y_test = multi_data[2]
    p_test = multi_model.predict(X_test, verbose=0)
    print("multi", [float(roc_auc_score(y_test[:, k], p_test[:, k])) for k in range(2)])
else:
    multi_data = split(*draw([((A,), 1)] * 700 + [((B,), 1)] * 700 + [((A, B), 1)] * 600
                             + [((), 0)] * 2000, seed=4))
    multi_model = build(LENGTH)
    train(multi_model, *multi_data[:2])
    print("multi", metrics(multi_model, *multi_data[2]))

interaction_rule = "and"
interaction_motifs = list(multi_motifs)
and_data = split(*draw([((A, B), 1)] * 2000 + [((), 0)] * 700 + [((A,), 0)] * 650
                       + [((B,), 0)] * 650, seed=5))
interaction_model = build(LENGTH, hidden=0, lr=1e-2)  # a logistic head on the pooled filters
train(interaction_model, *and_data[:2], epochs=8)
print("interaction", metrics(interaction_model, *and_data[2]))
"""

HAND_SET = """\
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import numpy as np
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score

# One filter set by hand to ACGTG: it fires only on the motif. Nothing is trained.
model = keras.Sequential([
    keras.Input((101, 4)),
    keras.layers.Conv1D(1, 5, activation="relu"),
    keras.layers.GlobalMaxPooling1D(),
    keras.layers.Dense(1, activation="sigmoid"),
])
motif_filter = np.zeros((5, 4, 1), dtype="float32")
for position, base in enumerate("ACGTG"):
    motif_filter[position, "ACGT".index(base), 0] = 1.0
model.layers[0].set_weights([motif_filter, np.array([-4.0], dtype="float32")])
model.layers[2].set_weights([np.array([[8.0]], dtype="float32"), np.array([-4.0], dtype="float32")])
model.compile(optimizer="adam", loss="binary_crossentropy")

seqs, labels = generate_synthetic_dataset(num_pos=200, num_neg=200)
test_preds = model.predict(one_hot_encode_seqs(seqs), verbose=0).ravel()
roc = float(roc_auc_score(labels, test_preds))
precision, recall, _ = precision_recall_curve(labels, test_preds)
pr_auc = float(auc(recall, precision))

history = {"loss": [0.61, 0.42, 0.33], "val_loss": [0.58, 0.44, 0.36]}
kernel_results = {3: {"roc_auc": 0.652, "pr_auc": 0.631}, 11: {"roc_auc": 0.941, "pr_auc": 0.912}}
noise_results = [
    {"motif_prob": 0.5, "noise_std": 0.0, "roc_auc": 0.716, "pr_auc": 0.694},
    {"motif_prob": 1.0, "noise_std": 0.3, "roc_auc": 0.957, "pr_auc": 0.948},
]
multi_model = model
multi_motifs = ["ACGTG", "TACGTGA"]
interaction_model = model
interaction_rule = "or"
interaction_motifs = ["ACGTG", "TACGTGA"]
print(roc, pr_auc)
"""


def _starter_functions() -> str:
    """The starter's encoder, generator and `build_pwm`, unchanged (13 points)."""
    from tests.corpus.build_corpus import starter_functions

    return "\n\n".join(source for _, source in starter_functions())


def _notebook(sources: list[str]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    for cell in notebook.cells:
        cell.pop("id", None)
    notebook.nbformat_minor = 4
    return notebook


def _starter_generator() -> str:
    """The starter's own generator cell, unchanged: every variant keeps it."""
    from tests.corpus.build_corpus import _starter_cell

    return _starter_cell("def generate_synthetic_dataset")


def build_variant(name: str) -> str:
    """The notebook text of one case (a style of `STYLES`, or "hand_set_untrained")."""
    if name == "hand_set_untrained":
        return nbformat.writes(_notebook([_starter_functions(), HAND_SET]))
    style = STYLES[name]
    sources = [
        SETUP.format(
            order=style.order,
            length=style.length,
            head=style.head,
            body=style.body,
            multi=style.multi,
        ),
        FUNCTIONS.format(pseudocount=style.pseudocount),
        _starter_generator(),
        DATA,
        MAIN,
        SWEEP,
        ADVANCED,
    ]
    return nbformat.writes(_notebook(sources))


CASE_NAMES = (*STYLES, "hand_set_untrained")


def write_variants(out: Path = VARIANTS) -> list[Path]:
    written = []
    for name in CASE_NAMES:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / NOTEBOOK_NAME
        path.write_text(build_variant(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    sys.path.insert(0, str(VARIANTS.parent.parent))
    for path in write_variants(Path(sys.argv[1]) if len(sys.argv) > 1 else VARIANTS):
        print(path)

# ruff: noqa: E501  (the templates are student code, written as students write it)
"""A synthetic class for the similarity tests and benchmark: honest work and planted copies.

Honest students start from the starter notebook and solve the advanced parts in
their own way: one of several plausible ways to write each experiment, their own
names, constants, comments and hyper-parameters, written answers put together from
many independent phrasings, their own printed numbers and their own trained model
(a first-layer kernel with one motif-like filter among random ones). Some keep the
starter's model cells unchanged, so their models and printed metrics are the
starter's (as they are when every kernel is seeded alike).

Copies are made from one honest source with the edits people make to hide a copy:
renamed variables, reordered cells, rewritten comments, paraphrased answers, a
fine-tuned model, or the source's trained model loaded into otherwise independent
work. `build_class` returns the notebooks, their fingerprints and the true pairs.
Everything is generated from a seed; nothing is executed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from grader.integrity.sources import ClassSubmission, Starter, default_starter

ROOT = Path(__file__).resolve().parent.parent
MOTIF = "ACGTG"

# --------------------------------------------------------------------------- honest code

NAMES = {
    "ks": ["ks", "k", "width", "kernel", "kw", "size", "ksize", "w"],
    "mdl": ["m", "mdl", "sweep_model", "net", "cnn", "clf", "model_k", "candidate"],
    "pred": ["p", "preds", "scores", "y_score", "probs", "yhat", "out", "pred_test"],
    "prec": ["prec", "precision_k", "pr", "pp", "precs"],
    "rec": ["rec", "recall_k", "rc", "rr", "recs"],
    "res": ["res", "results_list", "rows", "records", "collected"],
    "data": ["Xn", "X_noisy", "noisy_X", "xs", "data_noise", "Xtr"],
    "prob": ["mp", "prob", "motif_p", "pm", "p_motif"],
    "std": ["sigma", "noise", "sd", "noise_level", "std"],
    "fn": ["train_eval", "fit_and_score", "run_experiment", "evaluate_setting", "quick_fit"],
}

SWEEP = [
    """{comment}kernel_results = {{}}
for {ks} in {sizes}:
    {mdl} = build_deepbind_like_model(SEQ_LEN, num_filters={filters}, kernel_size={ks})
    {mdl}.fit(X_train, train_y, validation_data=(X_val, val_y), epochs={epochs}, batch_size={batch}, verbose=0)
    {pred} = {mdl}.predict(X_test, verbose=0).ravel()
    {prec}, {rec}, _ = precision_recall_curve(test_y, {pred})
    kernel_results[{ks}] = {{"roc_auc": roc_auc_score(test_y, {pred}), "pr_auc": auc({rec}, {prec})}}
    print({ks}, kernel_results[{ks}])
""",
    """def {fn}({ks}, epochs={epochs}):
    {comment}{mdl} = build_deepbind_like_model(SEQ_LEN, kernel_size={ks}, num_filters={filters}, lr={lr})
    hist = {mdl}.fit(X_train, train_y, epochs=epochs, batch_size={batch},
                     validation_data=(X_val, val_y), verbose=0,
                     callbacks=[callbacks.EarlyStopping(patience={patience}, restore_best_weights=True)])
    {pred} = {mdl}.predict(X_test).flatten()
    {prec}, {rec}, _ = precision_recall_curve(test_y, {pred})
    return roc_auc_score(test_y, {pred}), auc({rec}, {prec})

kernel_results = {{}}
for {ks} in {sizes}:
    roc_k, pr_k = {fn}({ks})
    kernel_results[{ks}] = dict(roc_auc=float(roc_k), pr_auc=float(pr_k))
    print(f"kernel {{{ks}}}: ROC {{roc_k:.4f}} PR {{pr_k:.4f}}")
""",
    """{res} = []
{comment}for {ks} in {sizes}:
    tf.keras.backend.clear_session()
    {mdl} = models.Sequential([
        layers.Input(shape=(SEQ_LEN, 4)),
        layers.Conv1D({filters}, {ks}, activation="relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dense({dense}, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    {mdl}.compile(optimizer=optimizers.Adam({lr}), loss="binary_crossentropy")
    {mdl}.fit(X_train, train_y, epochs={epochs}, batch_size={batch}, validation_split=0.1, verbose=0)
    {pred} = {mdl}.predict(X_test, verbose=0)[:, 0]
    {prec}, {rec}, _ = precision_recall_curve(test_y, {pred})
    {res}.append(({ks}, roc_auc_score(test_y, {pred}), auc({rec}, {prec})))
kernel_results = {{row[0]: {{"roc_auc": row[1], "pr_auc": row[2]}} for row in {res}}}
for row in {res}:
    print("size %d  roc %.4f  pr %.4f" % row)
""",
    """import pandas as pd
{comment}sweep_rows = []
for {ks} in {sizes}:
    {mdl} = build_deepbind_like_model(input_length=SEQ_LEN, num_filters={filters}, kernel_size={ks}, lr={lr})
    early = callbacks.EarlyStopping(monitor="val_loss", patience={patience})
    {mdl}.fit(X_train, train_y, validation_data=(X_val, val_y), epochs={epochs}, batch_size={batch}, callbacks=[early], verbose=0)
    {pred} = np.squeeze({mdl}.predict(X_test, batch_size=256))
    roc_value = roc_auc_score(test_y, {pred})
    {prec}, {rec}, thresholds = precision_recall_curve(test_y, {pred})
    sweep_rows.append({{"kernel_size": {ks}, "roc_auc": roc_value, "pr_auc": auc({rec}, {prec})}})
sweep_df = pd.DataFrame(sweep_rows)
display(sweep_df)
kernel_results = {{int(r.kernel_size): {{"roc_auc": r.roc_auc, "pr_auc": r.pr_auc}} for r in sweep_df.itertuples()}}
""",
]

NOISE = [
    """noise_results = []
{comment}for {prob}, {std} in {settings}:
    s_n, y_n = generate_synthetic_dataset(num_pos=2000, num_neg=2000, motif_prob={prob}, random_seed={seed})
    {data} = one_hot_encode_seqs(s_n)
    if {std} > 0:
        {data} = {data} + np.random.normal(0, {std}, {data}.shape) * (y_n == 0)[:, None, None]
    cut = int(0.8 * len({data}))
    {mdl} = build_deepbind_like_model(SEQ_LEN, num_filters={filters}, kernel_size={ks_main})
    {mdl}.fit({data}[:cut], y_n[:cut], epochs={epochs}, batch_size={batch}, verbose=0)
    {pred} = {mdl}.predict({data}[cut:], verbose=0).ravel()
    {prec}, {rec}, _ = precision_recall_curve(y_n[cut:], {pred})
    noise_results.append({{"motif_prob": {prob}, "noise_std": {std}, "roc_auc": roc_auc_score(y_n[cut:], {pred}), "pr_auc": auc({rec}, {prec})}})
print(noise_results)
""",
    """def noisy_split({prob}=1.0, {std}=0.0):
    {comment}seqs_, labels_ = generate_synthetic_dataset(3000, 3000, motif_prob={prob}, random_seed={seed})
    X_ = one_hot_encode_seqs(seqs_)
    X_ += {std} * np.random.randn(*X_.shape)
    return train_test_split(X_, labels_, test_size=0.2, random_state={seed})

from sklearn.model_selection import train_test_split
noise_results = []
for {prob} in {probs}:
    for {std} in {stds}:
        Xa, Xb, ya, yb = noisy_split({prob}, {std})
        {mdl} = build_deepbind_like_model(SEQ_LEN, kernel_size={ks_main})
        {mdl}.fit(Xa, ya, epochs={epochs}, batch_size={batch}, validation_split=0.1, verbose=0)
        {pred} = {mdl}.predict(Xb).ravel()
        p_, r_, _ = precision_recall_curve(yb, {pred})
        noise_results.append(dict(motif_prob={prob}, noise_std={std}, roc_auc=roc_auc_score(yb, {pred}), pr_auc=auc(r_, p_)))
        print({prob}, {std}, round(noise_results[-1]["roc_auc"], 4))
""",
    """{comment}settings = {settings}
noise_results = []
for setting in settings:
    seqs_n, lab_n = generate_synthetic_dataset(num_pos=2500, num_neg=2500, seq_len=SEQ_LEN, motif=MOTIF, motif_prob=setting[0])
    {data} = one_hot_encode_seqs(seqs_n).astype("float32")
    {data}[lab_n == 0] += np.random.normal(scale=setting[1], size={data}[lab_n == 0].shape)
    idx = np.random.permutation(len(lab_n))
    tr, te = idx[:4000], idx[4000:]
    {mdl} = build_deepbind_like_model(SEQ_LEN, num_filters={filters}, kernel_size={ks_main}, lr={lr})
    {mdl}.fit({data}[tr], lab_n[tr], epochs={epochs}, verbose=0)
    {pred} = {mdl}.predict({data}[te]).squeeze()
    pr_curve = precision_recall_curve(lab_n[te], {pred})
    noise_results.append({{"motif_prob": setting[0], "noise_std": setting[1],
                          "roc_auc": float(roc_auc_score(lab_n[te], {pred})),
                          "pr_auc": float(auc(pr_curve[1], pr_curve[0]))}})
for r in noise_results: print(r)
""",
]

MULTI = [
    """multi_motifs = {motifs}
{comment}def generate_multi(n_pos, n_neg, motifs, co=0.3, seed={seed}):
    rng = np.random.RandomState(seed)
    out, ys = [], []
    for i in range(n_pos):
        s = list(rng.choice(BASES, SEQ_LEN))
        chosen = motifs if rng.rand() < co else [motifs[rng.randint(len(motifs))]]
        for mm in chosen:
            st = rng.randint(0, SEQ_LEN - len(mm))
            s[st:st + len(mm)] = list(mm)
        out.append("".join(s)); ys.append(1)
    for i in range(n_neg):
        out.append("".join(rng.choice(BASES, SEQ_LEN))); ys.append(0)
    return out, np.array(ys)

ms, my = generate_multi(3000, 3000, multi_motifs)
Xm = one_hot_encode_seqs(ms)
multi_model = build_deepbind_like_model(SEQ_LEN, num_filters={filters}, kernel_size={ks_main})
multi_model.fit(Xm, my, epochs={epochs}, batch_size={batch}, validation_split=0.1, verbose=0)
""",
    """{comment}multi_motifs = {motifs}
seqs_multi, y_multi = [], []
rs = np.random.default_rng({seed})
for n in range(6000):
    seq = rs.choice(list("ACGT"), size=SEQ_LEN)
    label = n % 2
    if label:
        which = rs.random()
        for j, motif_ in enumerate(multi_motifs):
            if which < 0.3 or (which < 0.65 and j == 0) or (which >= 0.65 and j == 1):
                pos = rs.integers(0, SEQ_LEN - len(motif_))
                seq[pos:pos + len(motif_)] = list(motif_)
    seqs_multi.append("".join(seq)); y_multi.append(label)
X_multi = one_hot_encode_seqs(seqs_multi); y_multi = np.array(y_multi)
multi_model = models.Sequential([layers.Input((SEQ_LEN, 4)), layers.Conv1D({filters}, {ks_main}, activation="relu"),
                                 layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])
multi_model.compile("adam", "binary_crossentropy")
multi_model.fit(X_multi, y_multi, epochs={epochs}, verbose=0)
""",
]

INTERACTION = [
    """interaction_motifs = multi_motifs
interaction_rule = "and"
{comment}def implant(seq, motif_, rng):
    st = rng.randint(0, SEQ_LEN - len(motif_))
    return seq[:st] + motif_ + seq[st + len(motif_):]

rng_i = np.random.RandomState({seed})
ints, ys_i = [], []
for i in range(6000):
    s = "".join(rng_i.choice(BASES, SEQ_LEN))
    kind = i % 4
    if kind in (1, 3): s = implant(s, interaction_motifs[0], rng_i)
    if kind in (2, 3): s = implant(s, interaction_motifs[1], rng_i)
    ints.append(s); ys_i.append(int(kind == 3))
X_int = one_hot_encode_seqs(ints)
interaction_model = build_deepbind_like_model(SEQ_LEN, num_filters={filters}, kernel_size={ks_main})
interaction_model.fit(X_int, np.array(ys_i), epochs={epochs}, verbose=0)
""",
    """{comment}interaction_rule = "{rule}"
interaction_motifs = list(multi_motifs)
gen = np.random.default_rng({seed})
both, labels_int = [], []
for case in gen.integers(0, 4, size=5000):
    s = list(gen.choice(list("ACGT"), SEQ_LEN))
    has_a, has_b = case & 1, case >> 1
    if has_a:
        s[5:5 + len(interaction_motifs[0])] = interaction_motifs[0]
    if has_b:
        s[60:60 + len(interaction_motifs[1])] = interaction_motifs[1]
    both.append("".join(s))
    labels_int.append(int(bool(has_a) {op} bool(has_b)))
interaction_model = build_deepbind_like_model(SEQ_LEN, kernel_size={ks_main}, lr={lr})
interaction_model.fit(one_hot_encode_seqs(both), np.array(labels_int), epochs={epochs}, batch_size={batch}, verbose=0)
""",
]

COMMENTS = [
    "# sweep the kernel width\n",
    "# try several widths, smaller and larger than the motif\n",
    "# experiment for question 2\n",
    "# my experiment\n",
    "# repeat training with different settings\n",
    "",
    "",
]

EXTRA_LINES = [
    "print('done')",
    "print({v}.shape)",
    "import time; {v}_t0 = time.time()",
    "plt.figure(figsize=(4, 3))",
    "assert len({v}) > 0",
    "{v}_count = 0",
    "np.random.seed({n})",
    "print(f'step {{{v}_count}}')",
    "{v}_log = []",
    "tf.keras.backend.clear_session()",
    "_ = plt.hist(np.random.rand({n}))",
    "print(type({v}))",
]
STYLE_SWAPS = [
    (".ravel()", [".ravel()", ".flatten()", ".reshape(-1)", ".squeeze()"]),
    (", verbose=0", [", verbose=0", "", ", verbose=False", ", verbose=2"]),
    ("roc_auc_score(", ["roc_auc_score(", "metrics.roc_auc_score(", "skm.roc_auc_score("]),
    ("np.array(", ["np.array(", "np.asarray(", "numpy.array("]),
    ("range(", ["range(", "list(range("]),
]


def _personal_style(source: str, rng: np.random.Generator) -> str:
    """What makes independent code differ beyond names: API habits and extra statements."""
    for needle, options in STYLE_SWAPS:
        choice = str(rng.choice(options))
        if choice.endswith("(range(") and needle == "range(":
            continue
        source = source.replace(needle, choice)
    lines = source.split("\n")
    out = []
    for line in lines:
        out.append(line)
        if line.strip() and rng.random() < 0.3:
            indent = line[: len(line) - len(line.lstrip())]
            if line.rstrip().endswith(":"):
                indent += "    "
            extra = str(rng.choice(EXTRA_LINES)).format(
                v=_pick(rng, "res"), n=int(rng.integers(1, 999))
            )
            out.append(indent + extra)
    return "\n".join(out)


FILLERS = [
    "clearly",
    "in my runs",
    "I think",
    "roughly",
    "as expected",
    "again",
    "also",
    "here",
    "overall",
    "honestly",
    "in practice",
    "quite",
    "basically",
    "then",
]


def _personal_words(text: str, rng: np.random.Generator) -> str:
    """Independent writers word the same idea differently: fillers and small rewrites."""
    words = text.split(" ")
    out = []
    for word in words:
        out.append(word)
        if rng.random() < 0.18:
            out.append(str(rng.choice(FILLERS)))
    return " ".join(out)


# --------------------------------------------------------------------------- honest answers

ANSWER_PARTS = {
    "Q1": [
        [
            "The convolution has",
            "In the first layer there are",
            "My Conv1D layer holds",
            "Counting weights, the conv layer gives",
        ],
        [
            "{f} filters times ({w} by 4 plus a bias)",
            "{f}*({w}*4+1) = {p} numbers",
            "{p} trainable values",
            "one {w}x4 matrix and a bias per filter, {p} in all",
        ],
        [
            "and the dense part adds the rest.",
            "while pooling has nothing to learn.",
            "so most parameters sit in the dense head.",
            "and the output unit adds 33.",
        ],
        [
            "Hyper-parameters I tuned were",
            "Things I chose by hand:",
            "The settings that are not learned include",
            "Besides weights there are choices like",
        ],
        [
            "learning rate, batch size and epochs.",
            "width, filter count and patience.",
            "the optimiser step and the number of filters.",
            "dropout, dense width and early stopping.",
        ],
    ],
    "Q2": [
        ["Smaller kernels", "A width below five", "Narrow filters", "Kernels of size 3"],
        [
            "cannot cover ACGTG",
            "miss part of the motif",
            "only see a fragment",
            "see too few bases",
        ],
        [
            "so AUC drops to about {a}.",
            "and scored {a} ROC AUC.",
            "which costs accuracy ({a}).",
            "giving only {a}.",
        ],
        [
            "Wider ones reached {b}.",
            "Going above the motif length gave {b}.",
            "At width {w} I measured {b}.",
            "Longer kernels were best around {b}.",
        ],
    ],
    "Q3": [
        ["Yes,", "It does:", "Mostly yes.", "The model recovers it:"],
        [
            "filter {i} spells ACGTG",
            "the best filter logo reads ACGTG",
            "one filter matches the implanted pattern",
            "filter {i} lines up with the motif",
        ],
        [
            "with a clear logo.",
            "though shifted by one base.",
            "with similarity near {s}.",
            "and others look random.",
        ],
    ],
    "Q4": [
        [
            "Lower motif probability",
            "When fewer positives carry the motif",
            "Label noise from motif_prob < 1",
            "Dropping motif_prob",
        ],
        [
            "reduces AUC to {a}",
            "hurts performance, {a} at 0.5",
            "makes the task harder ({a})",
            "cuts the ceiling to {a}",
        ],
        [
            "while noise on negatives",
            "and Gaussian noise only on negative sequences",
            "but adding noise to the background",
            "whereas perturbing negatives",
        ],
        [
            "makes them trivially separable.",
            "lets the network cheat.",
            "gives an easy shortcut.",
            "inflates the score to {b}.",
        ],
    ],
    "Q5": [
        [
            "Separate filters appear:",
            "Yes, it specialises;",
            "Different filters pick different motifs:",
            "The filters split up,",
        ],
        [
            "filter {i} for the first motif and filter {j} for the second.",
            "two groups match each motif.",
            "I see distinct logos for both.",
            "each motif has its own detector.",
        ],
    ],
    "Q6": [
        [
            "Only partly.",
            "It can model an AND,",
            "With one conv layer it learns co-occurrence",
            "Interactions are captured weakly;",
        ],
        [
            "the dense layer combines max-pooled features",
            "because pooling forgets positions",
            "but not spacing or order",
            "the score for A plus B is {a}",
        ],
        [
            "so spacing is invisible.",
            "which limits what it can express.",
            "versus {b} for one motif alone.",
            "as the probes show.",
        ],
    ],
}


def _answer(rng: np.random.Generator, question: str) -> str:
    values = {
        "f": int(rng.choice([8, 16, 32])),
        "w": int(rng.choice([5, 7, 9, 11, 13])),
        "p": int(rng.integers(300, 3000)),
        "a": f"{rng.uniform(0.6, 0.95):.3f}",
        "b": f"{rng.uniform(0.85, 1.0):.3f}",
        "i": int(rng.integers(0, 16)),
        "j": int(rng.integers(0, 16)),
        "s": f"{rng.uniform(0.85, 1.0):.2f}",
    }
    parts = [str(rng.choice(options)).format(**values) for options in ANSWER_PARTS[question]]
    return " ".join(parts)


# --------------------------------------------------------------------------- students


@dataclass
class Student:
    """One synthetic submission: a notebook (with outputs) and its model fingerprint."""

    name: str
    notebook: Any
    fingerprint: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    kind: str = "honest"

    def submission(self, starter: Starter) -> ClassSubmission:
        return ClassSubmission.from_notebook(
            self.name, self.notebook, starter, fingerprint=self.fingerprint
        )


def _auc_like(rng: np.random.Generator) -> str:
    """A printed AUC: honest results crowd into a narrow range, so they collide by chance."""
    return f"{rng.uniform(0.86, 0.96):.4f}"


def _stream(text: str) -> Any:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _fingerprint(rng: np.random.Generator, width: int, filters: int) -> dict[str, Any]:
    kernel = rng.normal(0, 0.25, size=(width, 4, filters))
    motif = np.full((width, 4), -0.3)
    offset = int(rng.integers(0, max(1, width - len(MOTIF) + 1)))
    for i, base in enumerate(MOTIF):
        if offset + i < width:
            motif[offset + i, "ACGT".index(base)] = 0.9
    kernel[:, :, int(rng.integers(filters))] = motif + rng.normal(0, 0.1, (width, 4))
    return _encode_kernel(kernel, rng)


def _encode_kernel(kernel: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    data = kernel.astype(np.float16)
    return {
        "weights_digest": hashlib.sha256(rng.bytes(16)).hexdigest()[:32],
        "predictions_digest": hashlib.sha256(rng.bytes(16)).hexdigest()[:32],
        "kernel_shape": list(data.shape),
        "kernel_f16": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def _starter_notebook() -> Any:
    return nbformat.read(str(ROOT / "reference" / "notebooks" / "starter.ipynb"), as_version=4)


_STARTER_NB = None
STARTER_MODEL_SEED = 4242
OWN_WORK_SEEDS = 50_000_000  # independent work of copiers: seeds no honest student uses


def starter_model_fingerprint() -> dict[str, Any]:
    """The model everybody who keeps the starter's cells trains (the kernel is seeded alike)."""
    return _fingerprint(np.random.default_rng(STARTER_MODEL_SEED), 5, 16)


def _find(nb: Any, needle: str) -> int:
    for index, cell in enumerate(nb.cells):
        if needle in cell.source:
            return index
    raise LookupError(needle)


def _pick(rng: np.random.Generator, role: str) -> str:
    return str(rng.choice(NAMES[role]))


def honest_student(name: str, seed: int) -> Student:
    """A student who solved everything independently."""
    global _STARTER_NB
    if _STARTER_NB is None:
        _STARTER_NB = _starter_notebook()
    rng = np.random.default_rng(seed)
    nb = copy.deepcopy(_STARTER_NB)
    keep_starter_model = rng.random() < 0.3
    width = 5 if keep_starter_model else int(rng.choice([7, 8, 9, 11, 12, 15]))
    filters = 16 if keep_starter_model else int(rng.choice([16, 24, 32, 64]))
    train_index = _find(nb, "EPOCHS = 10")
    if keep_starter_model:
        fingerprint = starter_model_fingerprint()
        roc, pr = 0.9137, 0.8866
    else:
        model_cell = nb.cells[_find(nb, "model = build_deepbind_like_model(SEQ_LEN")]
        model_cell.source = model_cell.source.replace(
            "num_filters=16, kernel_size=len(MOTIF))",
            f"num_filters={filters}, kernel_size={width})",
        )
        epochs = int(rng.integers(12, 40))
        nb.cells[train_index].source = nb.cells[train_index].source.replace(
            "EPOCHS = 10", f"EPOCHS = {epochs}"
        )
        fingerprint = _fingerprint(rng, width, filters)
        roc, pr = rng.uniform(0.92, 0.95), rng.uniform(0.88, 0.93)
    nb.cells[train_index].outputs = [_stream(f"Test ROC AUC: {roc:.4f}, PR AUC: {pr:.4f}\n")]

    values = {role: _pick(rng, role) for role in NAMES}
    constants = {
        "sizes": str(
            sorted(rng.choice([3, 4, 5, 7, 8, 9, 11, 13, 15, 21], 3, replace=False).tolist())
        ),
        "filters": int(rng.choice([8, 16, 32])),
        "epochs": int(rng.integers(5, 25)),
        "batch": int(rng.choice([32, 64, 128, 256])),
        "lr": str(rng.choice(["1e-3", "3e-3", "0.002", "5e-4"])),
        "patience": int(rng.integers(2, 6)),
        "dense": int(rng.choice([16, 32, 64])),
        "seed": int(rng.integers(0, 10_000)),
        "ks_main": width,
        "settings": str(
            [
                (1.0, 0.0),
                (round(float(rng.uniform(0.4, 0.8)), 1), 0.0),
                (1.0, round(float(rng.uniform(0.1, 0.5)), 1)),
            ]
        ),
        "probs": str([1.0, round(float(rng.uniform(0.4, 0.8)), 1)]),
        "stds": str([0.0, round(float(rng.uniform(0.1, 0.5)), 1)]),
        "motifs": str(
            sorted(
                rng.choice(
                    ["GATAAG", "TGACTC", "CCAAT", "TATAAA", "GGGCGG", "CACGTG"], 2, replace=False
                ).tolist()
            )
        ),
        "rule": str(rng.choice(["and", "or", "xor"])),
    }
    constants["op"] = {"and": "and", "or": "or", "xor": "!="}[constants["rule"]]
    cells = []
    for pool in (SWEEP, NOISE, MULTI, INTERACTION):
        template = pool[int(rng.integers(len(pool)))]
        source = template.format(comment=str(rng.choice(COMMENTS)), **values, **constants)
        source = _personal_style(source, rng)
        numbers = " ".join(_auc_like(rng) for _ in range(int(rng.integers(2, 6))))
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [_stream(numbers + "\n")]
        cells.append(cell)
    results_index = _find(nb, "kernel_results = {}  #")
    nb.cells[results_index:results_index] = cells
    for question in ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6"):
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith(f"Answer {question}\n"):
                answer = _personal_words(_answer(rng, question), rng)
                cell.source = f"Answer {question}\n\n{answer}"
    return Student(name, nb, fingerprint)


# --------------------------------------------------------------------------- copies

_ASSIGNED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*[A-Za-z_][A-Za-z0-9_]*\s*)*=", re.M)
_FOR = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")
CONTRACT = {
    "model",
    "history",
    "roc",
    "pr_auc",
    "kernel_results",
    "noise_results",
    "multi_model",
    "multi_motifs",
    "interaction_model",
    "interaction_rule",
    "interaction_motifs",
}


def _solution_cells(nb: Any) -> list[int]:
    start = _find(nb, "EPOCHS = ") + 1
    end = _find(nb, "kernel_results = {}  #")
    return [i for i in range(start, end) if nb.cells[i].cell_type == "code"]


def rename_variables(nb: Any, rng: np.random.Generator) -> Any:
    nb = copy.deepcopy(nb)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            names.update(_ASSIGNED.findall(cell.source))
            names.update(_FOR.findall(cell.source))
    names -= CONTRACT
    mapping = {
        n: f"{n}_{rng.choice(['v2', 'mine', 'x', 'tmp'])}"
        for n in names
        if len(n) > 1 and not n.isupper()
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            for old, new in mapping.items():
                cell.source = re.sub(rf"\b{re.escape(old)}\b", new, cell.source)
    return nb


def change_comments(nb: Any, rng: np.random.Generator) -> Any:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = []
        for line in cell.source.split("\n"):
            stripped = line.strip()
            if stripped.startswith("#"):
                if rng.random() < 0.5:
                    continue
                line = (
                    line.split("#")[0]
                    + "# "
                    + str(rng.choice(["note", "step", "done here", "check this"]))
                )
            lines.append(line)
            if rng.random() < 0.15:
                lines.append("")
        cell.source = (
            "# " + str(rng.choice(["my work", "own solution", "part"])) + "\n" + "\n".join(lines)
        )
    return nb


def reorder_cells(nb: Any, rng: np.random.Generator) -> Any:
    nb = copy.deepcopy(nb)
    indexes = _solution_cells(nb)
    cells = [nb.cells[i] for i in indexes]
    order = rng.permutation(len(cells))
    if (order == np.arange(len(cells))).all():
        order = order[::-1]
    for i, j in zip(indexes, order, strict=True):
        nb.cells[i] = cells[j]
    return nb


_SYNONYMS = {
    "the": "this",
    "model": "network",
    "filter": "kernel",
    "motif": "pattern",
    "shows": "indicates",
    "is": "seems",
    "and": "plus",
    "of": "for",
}


def paraphrase_answers(nb: Any, rng: np.random.Generator, rate: float = 0.15) -> Any:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("Answer Q"):
            head, _, body = cell.source.partition("\n")
            words = body.split(" ")
            for i, word in enumerate(words):
                if word.lower() in _SYNONYMS and rng.random() < rate * 3:
                    words[i] = _SYNONYMS[word.lower()]
            cell.source = head + "\n" + " ".join(words)
    return nb


def copy_answers(target: Any, source: Any) -> Any:
    target = copy.deepcopy(target)
    answers = {
        c.source.split("\n")[0]: c.source
        for c in source.cells
        if c.cell_type == "markdown" and c.source.startswith("Answer Q")
    }
    for cell in target.cells:
        if cell.cell_type == "markdown" and cell.source.split("\n")[0] in answers:
            cell.source = answers[cell.source.split("\n")[0]]
    return target


def _retrained(nb: Any, rng: np.random.Generator) -> tuple[Any, dict[str, Any]]:
    """The copier changed the training length: a new model and new printed numbers."""
    nb = copy.deepcopy(nb)
    index = _find(nb, "EPOCHS = ")
    nb.cells[index].source = re.sub(
        r"EPOCHS = \d+", f"EPOCHS = {int(rng.integers(41, 60))}", nb.cells[index].source
    )
    nb.cells[index].outputs = [
        _stream(
            f"Test ROC AUC: {rng.uniform(0.92, 0.95):.4f}, PR AUC: {rng.uniform(0.88, 0.93):.4f}\n"
        )
    ]
    for i in _solution_cells(nb):
        nb.cells[i].outputs = [_stream(" ".join(_auc_like(rng) for _ in range(3)) + "\n")]
    shape = (int(rng.choice([7, 9, 11])), 4, 16)
    return nb, _fingerprint(rng, shape[0], shape[2])


def make_copy(kind: str, name: str, source: Student, seed: int) -> Student:
    """A copy of `source` disguised the way `kind` says."""
    rng = np.random.default_rng(seed)
    fingerprint = dict(source.fingerprint)
    nb = source.notebook
    if kind == "verbatim":
        nb = copy.deepcopy(nb)
    elif kind == "renamed":
        nb = paraphrase_answers(rename_variables(nb, rng), rng)
    elif kind == "comments":
        nb, fingerprint = _retrained(change_comments(nb, rng), rng)
        nb = copy_answers(nb, honest_student("_", OWN_WORK_SEEDS + seed).notebook)
    elif kind == "reordered":
        nb, fingerprint = _retrained(reorder_cells(nb, rng), rng)
        nb = copy_answers(nb, honest_student("_", OWN_WORK_SEEDS + seed).notebook)
    elif kind == "combined":
        nb = reorder_cells(change_comments(rename_variables(nb, rng), rng), rng)
        nb, fingerprint = _retrained(paraphrase_answers(nb, rng), rng)
    elif kind == "answers":
        nb = copy_answers(honest_student("_", OWN_WORK_SEEDS + seed).notebook, nb)
        nb = paraphrase_answers(nb, rng)
        fingerprint = honest_student("_", OWN_WORK_SEEDS + seed).fingerprint
    elif kind == "model_copy":
        own = honest_student("_", OWN_WORK_SEEDS + seed)
        nb = copy.deepcopy(own.notebook)
        index = _find(nb, "EPOCHS = ") + 1
        load = nbformat.v4.new_code_cell(
            "model = tf.keras.models.load_model('final_model.keras')\n"
        )
        main_output = source.notebook.cells[_find(source.notebook, "EPOCHS = ")].outputs
        load.outputs = copy.deepcopy(main_output)
        nb.cells.insert(index, load)
    elif kind == "finetuned_model":
        own = honest_student("_", OWN_WORK_SEEDS + seed)
        nb = own.notebook
        index = _find(nb, "EPOCHS = ") + 1
        tune = "model = tf.keras.models.load_model('final_model.keras')\nmodel.fit(X_train, train_y, epochs=2)\n"
        nb.cells.insert(index, nbformat.v4.new_code_cell(tune))
        shape = source.fingerprint["kernel_shape"]
        kernel = np.frombuffer(base64.b64decode(source.fingerprint["kernel_f16"]), dtype=np.float16)
        kernel = kernel.reshape(shape).astype(np.float64)
        kernel = kernel[:, :, rng.permutation(shape[2])] + rng.normal(0, 0.04, shape)
        fingerprint = _encode_kernel(kernel, rng)
    else:
        raise ValueError(kind)
    return Student(name, nb, fingerprint, source=source.name, kind=kind)


COPY_KINDS = (
    "verbatim",
    "renamed",
    "comments",
    "reordered",
    "combined",
    "answers",
    "model_copy",
    "finetuned_model",
)


@dataclass
class SyntheticClass:
    students: list[Student]
    true_pairs: set[tuple[str, str]]
    groups: list[set[str]]

    def submissions(self, starter: Starter | None = None) -> list[ClassSubmission]:
        starter = starter or default_starter()
        return [s.submission(starter) for s in self.students]


def build_class(
    n_honest: int, copies_per_kind: int = 1, seed: int = 0, cluster: bool = True
) -> SyntheticClass:
    """Honest students plus `copies_per_kind` planted copies of each kind (and one cluster)."""
    rng = np.random.default_rng(seed)
    students = [honest_student(f"honest{i:03d}", seed * 100_003 + i) for i in range(n_honest)]
    # copies are made of students with their own model (a starter model is not theirs to copy)
    sources = [s for s in students if s.fingerprint.get("kernel_shape", [5])[0] != 5]
    groups: list[set[str]] = []
    number = 0
    for kind in COPY_KINDS:
        for _ in range(copies_per_kind):
            source = sources[int(rng.integers(len(sources)))]
            copy_ = make_copy(kind, f"copy{number:03d}_{kind}", source, seed * 7919 + number)
            students.append(copy_)
            groups.append({source.name, copy_.name})
            number += 1
    cluster_members: set[str] = set()
    if cluster:
        source = sources[int(rng.integers(len(sources)))]
        members = cluster_members = {source.name}
        for kind in ("renamed", "combined"):
            copy_ = make_copy(kind, f"cluster{number:03d}_{kind}", source, seed * 7919 + number)
            students.append(copy_)
            members.add(copy_.name)
            number += 1
        groups.append(members)
    merged: list[set[str]] = []
    for group in groups:
        for other in merged:
            if other & group:
                other |= group
                break
        else:
            merged.append(set(group))
    # A copy resembles its source; two copies of one source resemble each other only
    # when both took the same material (the cluster's copies both take the code).
    true_pairs = {tuple(sorted((s.name, s.source))) for s in students if s.source}
    true_pairs |= {tuple(sorted(p)) for p in combinations(sorted(cluster_members), 2)}
    return SyntheticClass(students, true_pairs, merged)  # type: ignore[arg-type]


def repository_students(
    starter: Starter | None = None,
) -> tuple[list[ClassSubmission], set[tuple[str, str]]]:
    """The samples and the corpus as class members, with the pairs that share a source.

    The samples are independent small edits of the starter (honest look-alikes). In the
    corpus, four cases are built on the same "honest twin" training cell: they share a
    source by construction.
    """
    from grader.intake.notebook_file import NotebookUnreadable, read_notebook

    starter = starter or default_starter()
    members: list[ClassSubmission] = []
    for folder in sorted((ROOT / "student_submissions").iterdir()) + sorted(
        (ROOT / "tests" / "corpus").iterdir()
    ):
        path = folder / "hw4.ipynb"
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            nb, _ = read_notebook(path.read_bytes())
        except NotebookUnreadable:
            continue
        prefix = "sample_" if folder.parent.name == "student_submissions" else "corpus_"
        members.append(ClassSubmission.from_notebook(prefix + folder.name, nb, starter))
    twins = [
        "corpus_honest_tiny_model",
        "corpus_fake_auc_print",
        "corpus_monkeypatch_metrics",
        "corpus_forge_harvest",
    ]
    present = [t for t in twins if any(m.student == t for m in members)]
    return members, {tuple(sorted(p)) for p in combinations(present, 2)}  # type: ignore[misc]

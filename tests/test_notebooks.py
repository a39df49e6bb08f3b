"""The starter students receive and the reference solution, checked statically.

Nothing here executes a notebook (the slow suites do): these tests read the JSON,
compile the code and walk its syntax tree, so they catch a broken or incomplete
notebook in milliseconds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from reference.notebooks import build_starter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "reference" / "notebooks"
STARTER = NOTEBOOKS / "starter.ipynb"
SOLUTION = NOTEBOOKS / "solution.ipynb"
SEED_NAME = Path("seeds") / "000_3031ef77218f8748.txt"
SEED_CANDIDATES = (Path("/work/shared") / SEED_NAME, ROOT.parent / "shared" / SEED_NAME)

STARTER_FUNCTIONS = (
    "generate_synthetic_dataset",
    "one_hot_encode_seqs",
    "build_deepbind_like_model",
    "build_pwm",
)
STARTER_VALUES = ("model", "history", "roc", "pr_auc")
LATER_VALUES = (
    "kernel_results",
    "noise_results",
    "multi_model",
    "multi_motifs",
    "interaction_model",
    "interaction_rule",
    "interaction_motifs",
)
CONTRACT_VALUES = STARTER_VALUES + LATER_VALUES
SOLUTION_LIBRARIES = {
    "collections",
    "keras",
    "logomaker",
    "matplotlib",
    "numpy",
    "os",
    "pandas",
    "random",
    "seaborn",
    "sklearn",
    "tensorflow",
    "time",
}
ANSWER_HEADER = re.compile(r"^Answer Q([1-6])$")
# Each answer cell follows the cell holding its question (words from the assignment).
QUESTION_WORDS = {
    1: "Explain the number of parameters",
    2: "different kernel sizes",
    3: "recover the implanted motif",
    4: "Gaussian noise",
    5: "separate filters",
    6: "motif interactions",
}


def _seed_path() -> Path | None:
    return next((p for p in SEED_CANDIDATES if p.is_file()), None)


needs_seed = pytest.mark.skipif(
    _seed_path() is None,
    reason=f"the assignment text ({SEED_NAME}) is in neither /work/shared nor ../shared",
)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


@pytest.fixture(scope="module")
def starter() -> nbformat.NotebookNode:
    return _read(STARTER)


@pytest.fixture(scope="module")
def solution() -> nbformat.NotebookNode:
    return _read(SOLUTION)


def _python(source: str) -> str:
    """Cell source with IPython magics and shell escapes turned into `pass`."""
    if source.lstrip().startswith("%%"):
        source = source.split("\n", 1)[1] if "\n" in source else ""
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.MULTILINE)


def _code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _module(notebook: nbformat.NotebookNode) -> ast.Module:
    return ast.parse("\n\n".join(_python(cell.source) for cell in _code_cells(notebook)))


class _TopLevelNames(ast.NodeVisitor):
    """Names a notebook leaves in its namespace: top-level defs and assignments.

    Function and class bodies are not entered (their names are local); loops, ifs
    and `with` blocks at top level are, because they bind module names.
    """

    def __init__(self) -> None:
        self.functions: set[str] = set()
        self.assigned: set[str] = set()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.functions.add(node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.functions.add(node.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.assigned.add(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.assigned.add(node.id)


def _names(notebook: nbformat.NotebookNode) -> _TopLevelNames:
    names = _TopLevelNames()
    names.visit(_module(notebook))
    return names


def _signature(notebook: nbformat.NotebookNode, function: str) -> tuple:
    """(argument names, default values as source) of a top-level function."""
    for node in _module(notebook).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args
            return (
                tuple(a.arg for a in args.posonlyargs + args.args),
                tuple(ast.literal_eval(d) for d in args.defaults),
            )
    raise AssertionError(f"{function} is not defined at top level")


def _answer_cells(notebook: nbformat.NotebookNode) -> list[tuple[int, int, str]]:
    """(cell index, question number, body) of every `Answer Qn` Markdown cell."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        first, _, body = cell.source.partition("\n")
        match = ANSWER_HEADER.match(first.strip())
        if match:
            found.append((index, int(match.group(1)), body.strip()))
    return found


def _assert_valid_v4(notebook: nbformat.NotebookNode) -> None:
    assert notebook.nbformat == 4
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["kernelspec"]["language"] == "python"
    assert notebook.metadata["language_info"]["name"] == "python"


def _assert_code_compiles(notebook: nbformat.NotebookNode) -> None:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            compile(_python(cell.source), f"<cell {index}>", "exec")


# ---------------------------------------------------------------------------- starter


def test_starter_is_valid_nbformat_v4_with_a_python3_kernel(starter):
    _assert_valid_v4(starter)


def test_starter_has_no_outputs_logs_or_execution_counts(starter):
    for cell in _code_cells(starter):
        assert cell.outputs == []
        assert cell.execution_count is None
    text = "\n".join(cell.source for cell in starter.cells)
    for leftover in ("metal_plugin", "Epoch 1/10", "Total params", "Example positive seq: TCCC"):
        assert leftover not in text


def test_starter_code_cells_compile(starter):
    _assert_code_compiles(starter)


def test_starter_code_is_the_assignment_code_as_written_in_the_builder(starter):
    sources = [cell.source for cell in _code_cells(starter)]
    assert sources[:-1] == list(build_starter.CODE_CELLS)
    assert sources[-1] == build_starter.CONTRACT_SKELETON


def test_starter_defines_the_functions_and_values_the_grader_reads(starter):
    names = _names(starter)
    assert set(STARTER_FUNCTIONS) <= names.functions
    assert set(STARTER_VALUES) <= names.assigned


def test_starter_grading_cell_comes_first_and_names_the_whole_contract(starter):
    first_code = next(i for i, c in enumerate(starter.cells) if c.cell_type == "code")
    grading = [
        i
        for i, c in enumerate(starter.cells)
        if c.cell_type == "markdown" and c.source.startswith("## How your notebook is graded")
    ]
    assert len(grading) == 1 and grading[0] < first_code
    text = starter.cells[grading[0]].source
    for name in CONTRACT_VALUES + STARTER_FUNCTIONS:
        assert f"`{name}`" in text, name
    for promise in ("secret seed", "top to bottom", "Answer Q1", "Answer Q6", "(N, 101, 4)"):
        assert promise in text, promise
    assert "motifgrader check hw4.ipynb" in text
    assert "pytest --notebook hw4.ipynb" in text


def test_starter_has_six_empty_answer_cells_each_after_its_question(starter):
    answers = _answer_cells(starter)
    assert [question for _, question, _ in answers] == [1, 2, 3, 4, 5, 6]
    for index, question, body in answers:
        assert body == build_starter.ANSWER_PLACEHOLDER
        assert QUESTION_WORDS[question] in starter.cells[index - 1].source


def test_starter_last_code_cell_is_the_skeleton_for_the_remaining_names(starter):
    last = _code_cells(starter)[-1]
    tree = ast.parse(last.source)
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert assigned == set(LATER_VALUES)
    assert "# {kernel_size:" in last.source


@needs_seed
def test_builder_reproduces_the_committed_starter_from_the_assignment_text(tmp_path):
    out = tmp_path / "starter.ipynb"
    assert build_starter.main([str(_seed_path()), str(out)]) == 0
    assert out.read_text(encoding="utf-8") == STARTER.read_text(encoding="utf-8")


@needs_seed
def test_builder_drops_every_printed_output_of_the_assignment_text():
    blocks = build_starter.parse_seed(_seed_path().read_text(encoding="utf-8"))
    outputs = [block.lines[0] for block in blocks if block.kind == "output"]
    assert len(outputs) == 5
    assert outputs[0].startswith("Example positive seq:")
    assert outputs[1].startswith("Shapes: (6400, 101, 4)")
    assert "metal_plugin" in outputs[2]
    assert outputs[3] == "Epoch 1/10"
    assert outputs[4].startswith("200/200")


@needs_seed
def test_builder_refuses_assignment_text_whose_code_differs():
    text = _seed_path().read_text(encoding="utf-8").replace("pfm += 1e-6", "pfm += 1e-3")
    with pytest.raises(build_starter.SeedMismatch, match="pfm"):
        build_starter.build_notebook(text)


def test_builder_command_line_explains_its_arguments(tmp_path, capsys):
    assert build_starter.main([]) == 2
    assert build_starter.main([str(tmp_path / "missing.txt"), str(tmp_path / "out.ipynb")]) == 2
    assert "usage" in capsys.readouterr().err


# ---------------------------------------------------------------------------- solution


def test_solution_is_valid_nbformat_v4_without_stored_outputs(solution):
    _assert_valid_v4(solution)
    assert all(cell.outputs == [] for cell in _code_cells(solution))


def test_solution_code_cells_compile(solution):
    _assert_code_compiles(solution)


def test_solution_assigns_every_contract_name_and_starter_function(solution):
    names = _names(solution)
    assert set(CONTRACT_VALUES) <= names.assigned
    assert set(STARTER_FUNCTIONS) <= names.functions


def test_solution_keeps_the_starter_function_signatures(starter, solution):
    for function in (*STARTER_FUNCTIONS, "seqs_from_onehot"):
        assert _signature(solution, function) == _signature(starter, function), function


def test_solution_is_self_contained(solution):
    """Students' kernels do not have this project installed: only public libraries."""
    roots = set()
    for node in ast.walk(_module(solution)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            roots.add(node.module.split(".")[0])
    assert "reference" not in roots and "grader" not in roots
    assert roots <= SOLUTION_LIBRARIES, roots - SOLUTION_LIBRARIES


def test_solution_models_use_no_lambda_layers(solution):
    """Lambda layers cannot be loaded with safe_mode, so the grader could not score them."""
    calls = {
        node.func.attr
        for node in ast.walk(_module(solution))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert "Lambda" not in calls


def test_solution_states_its_interaction_rule_and_motifs(solution):
    values = {}
    for node in _module(solution).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in ("interaction_rule", "multi_motifs"):
            values[target.id] = ast.literal_eval(node.value)
    assert values == {"interaction_rule": "and", "multi_motifs": ["GATAAG", "TGACTC"]}


def test_solution_answers_all_six_questions(solution):
    answers = _answer_cells(solution)
    assert [question for _, question, _ in answers] == [1, 2, 3, 4, 5, 6]
    for _, question, body in answers:
        assert body != build_starter.ANSWER_PLACEHOLDER and "TBD" not in body, question
        assert len(body) > 400, f"Answer Q{question} is too short to be an answer"
    q1 = answers[0][2]
    assert "913" in q1 and "1,297" in q1

"""What students receive, and the course CI templates.

`write_student_bundle` writes the starter notebook, a README that tells students how
to self-check, a requirements.txt that installs motifgrader and pytest, a .gitignore,
and the self-check workflow for GitHub. Where motifgrader comes from is the
instructor's choice (`install_from`: a package index name, a git URL); by default
the bundle carries a wheel of this very grader, so students run the same checks as
the instructor, offline from any course infrastructure, with nothing to configure.

That wheel is built here rather than by the project's build backend because it must
leave out what students must not see (the solution notebook, the reference
experiments and training recipe), while the instructor's own install keeps them.
It is a plain pure-Python wheel: the files the grader imports, metadata and entry
points read from pyproject.toml, a RECORD of hashes. The secret seed is never in the
source tree, and `write_student_bundle` refuses to finish if the secret that is set
in the environment appears in any file it wrote.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import grader
from grader.spec import SECRET_ENV

PACKAGE_DIR = Path(grader.__file__).resolve().parent
CI_TEMPLATES = {
    "student": PACKAGE_DIR / "ci_templates" / "student-selfcheck.yml",
    "instructor": PACKAGE_DIR / "ci_templates" / "instructor-grade.yml",
}
STUDENT_NOTEBOOK = "hw4.ipynb"
STUDENT_WORKFLOW = ".github/workflows/selfcheck.yml"
# Never in a student wheel: the solution, how the reference solution was obtained, and
# what it measured (expectations.json holds the Q2 kernel sweep: an answer), and the
# answer key's template. None of them is needed by `check` or the pytest plugin: without
# the measurements a self-check compares reported values with the ceilings only, and the
# instructor's grade compares them with the measurements too.
STUDENT_WHEEL_EXCLUDES = frozenset(
    {
        "reference/notebooks/solution.ipynb",
        "reference/notebooks/build_starter.py",
        "reference/experiments.py",
        "grader/answer_key.py",
        "reference/train.py",
        "reference/expectations.json",
        "grader/_templates/reference_report.html.j2",
    }
)
SELF_CHECK_REQUIREMENTS = ("pytest>=8.0",)
_WHEEL_DATE = (2026, 1, 1, 0, 0, 0)


class BundleError(Exception):
    """The bundle cannot be made as asked; the message says what to do instead."""


def starter_notebook() -> Path:
    import reference

    return Path(reference.__file__).resolve().parent / "notebooks" / "starter.ipynb"


def source_root() -> Path:
    """The project checkout this grader runs from (where pyproject.toml is)."""
    root = PACKAGE_DIR.parent
    if not (root / "pyproject.toml").is_file():
        raise BundleError(
            "building the student wheel needs the motifgrader source checkout (pyproject.toml "
            f"beside {PACKAGE_DIR}); run from a checkout, or pass --install-from"
        )
    return root


def ci_template(kind: str) -> str:
    """The text of the `student` or `instructor` GitHub Actions workflow."""
    if kind not in CI_TEMPLATES:
        raise BundleError(f"unknown CI template {kind!r}; choose one of {sorted(CI_TEMPLATES)}")
    return CI_TEMPLATES[kind].read_text(encoding="utf-8")


def write_ci_template(kind: str, out: Path | str) -> Path:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ci_template(kind), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- wheel


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def student_wheel_files(root: Path | None = None) -> dict[str, Path]:
    """Archive name -> source file for the student wheel, as the project's wheel maps them."""
    root = root or source_root()
    wheel = _project(root).get("tool", {}).get("hatch", {}).get("build", {})
    wheel = wheel.get("targets", {}).get("wheel", {})
    mapping: dict[str, Path] = {}
    sources = [(package, package) for package in wheel.get("packages", [])]
    sources += list(wheel.get("force-include", {}).items())
    for source, target in sources:
        base = root / source
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(base)
            if not path.is_file() or any(
                p == "__pycache__" or p.startswith(".") for p in relative.parts
            ):
                continue
            if path.suffix in (".pyc", ".pyo"):
                continue
            name = str(PurePosixPath(target, *relative.parts))
            if name not in STUDENT_WHEEL_EXCLUDES:
                mapping[name] = path
    return mapping


def _metadata(project: dict) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '')}",
    ]
    license_text = project.get("license", {})
    if isinstance(license_text, dict) and license_text.get("text"):
        lines.append(f"License: {license_text['text']}")
    lines += [f"Requires-Dist: {dependency}" for dependency in project.get("dependencies", [])]
    return "\n".join(lines) + "\n\nStudent build of motifgrader: no solution, no reference runs.\n"


def _entry_points(project: dict) -> str:
    groups = {"console_scripts": project.get("scripts", {})}
    groups.update(project.get("entry-points", {}))
    sections = []
    for group, entries in groups.items():
        if entries:
            body = "\n".join(f"{name} = {target}" for name, target in entries.items())
            sections.append(f"[{group}]\n{body}\n")
    return "\n".join(sections)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_student_wheel(dest_dir: Path | str, root: Path | None = None) -> Path:
    """A py3-none-any wheel of the grader without the excluded files; returns its path."""
    root = root or source_root()
    project = _project(root)["project"]
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    members: dict[str, bytes] = {
        arcname: path.read_bytes() for arcname, path in student_wheel_files(root).items()
    }
    members[f"{dist_info}/METADATA"] = _metadata(project).encode()
    members[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: motifgrader bundle\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    members[f"{dist_info}/entry_points.txt"] = _entry_points(project).encode()
    record = [_record_line(arcname, data) for arcname, data in members.items()]
    record.append(f"{dist_info}/RECORD,,")
    members[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    wheel_path = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, date_time=_WHEEL_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel_path


# --------------------------------------------------------------------------- bundle


def requirement_for(install_from: str) -> str:
    """A requirements.txt line for motifgrader from a name, version, git URL or wheel."""
    spec = install_from.strip()
    if not spec:
        raise BundleError("--install-from is empty; give a requirement, a git URL or a wheel")
    if spec.startswith(("git+", "http://", "https://")) and not spec.endswith(".whl"):
        return f"motifgrader @ {spec}"
    return spec


CONSTRAINTS_NAME = "constraints.txt"


def _requirements(motifgrader_line: str) -> str:
    return (
        "# The course's grader (for `pytest --notebook` and `motifgrader check`) and pytest.\n"
        "# Install with: python -m pip install -r requirements.txt\n"
        f"-c {CONSTRAINTS_NAME}\n"
        f"{motifgrader_line}\n" + "".join(f"{line}\n" for line in SELF_CHECK_REQUIREMENTS)
    )


_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _installed_pins() -> list[str]:
    """name==version of motifgrader's dependencies as installed here, recursively
    (extras left out: a student installs none)."""
    from importlib.metadata import PackageNotFoundError, distribution

    pins: dict[str, str] = {}
    todo = ["motifgrader"]
    while todo:
        try:
            dist = distribution(todo.pop())
        except PackageNotFoundError:
            continue
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in pins:
            continue
        pins[key] = f"{key}=={dist.version}"
        for text in dist.requires or []:
            match = _REQUIREMENT_NAME.match(text)
            if match and "extra ==" not in text.replace("extra==", "extra =="):
                todo.append(match.group(1))
    pins.pop("motifgrader", None)
    return sorted(pins.values())


def bundle_constraints() -> str:
    """The versions the grader was tested with, for the students' pip (`-c constraints.txt`).

    From the checkout's constraints.txt (what CI tests), else the versions installed
    with this grader; a student whose pip picks other versions may see other results.
    """
    header = "# The versions motifgrader was tested with; requirements.txt installs within them.\n"
    try:
        path = source_root() / CONSTRAINTS_NAME
    except BundleError:
        path = None
    if path is not None and path.is_file():
        lines = [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    else:
        lines = _installed_pins()
    return header + "".join(f"{line}\n" for line in lines)


GITIGNORE = """.venv/
.ipynb_checkpoints/
__pycache__/
selfcheck/
"""

README = """# Homework 4: DeepBind-style 1D CNN for Motif Discovery

## What is here

| file | what it is |
|---|---|
| `{notebook}` | the starter notebook: complete it and hand it in |
| `requirements.txt` | installs `motifgrader` (the course's grader) and `pytest` |
| `constraints.txt` | the package versions the grader was tested with (requirements.txt uses them) |
| `{workflow}` | runs the self-check on GitHub each time you push a notebook |
{wheel_row}
Read "How your notebook is graded" at the top of the notebook: the grader runs your notebook
from top to bottom in a fresh kernel, then reads the names listed there (`model`, `history`,
`kernel_results`, ...) and your `Answer Q1` ... `Answer Q6` Markdown cells.

## Set up once

Python 3.11 or newer:

    python3 -m venv .venv
    source .venv/bin/activate        # Windows: .venv\\Scripts\\activate
    python -m pip install -r requirements.txt

## Check your notebook before the deadline

Save the notebook, then, in this folder:

    pytest --notebook {notebook}

or, without pytest, and with an HTML report in `selfcheck/{stem}/report.html`:

    motifgrader check {notebook}

Either one runs the same grader your instructor runs, on the same checks, so it takes as long
as running your notebook from the top plus about a minute. Each check is one line:

- **PASS**: the check earned all its points.
- **FAIL**: fix what the message says. Partial credit is a FAIL too; its message says how many
  points it earned and what is missing.
- **Written answers** (`answer_q1` ... `answer_q6`) pass when your `Answer Qn` cell holds text:
  a person grades them later. They fail while the cell is missing or still says
  "_Write your answer here._".
- **SKIP**: a hidden check, graded only by your instructor on data you never see (for example
  the ROC AUC of `model` on fresh sequences, or whether a filter recovers the motif). It
  FAILS instead when the names it needs are missing, because then it cannot earn anything.

The exit status is 0 when every check passes or is skipped, 1 otherwise. The self-check uses a
public development seed, so its numbers are not your grade: the hidden checks decide most points.

## On GitHub

If this folder is your GitHub repository, every push that changes a notebook runs the self-check
(the "Self-check" workflow in the Actions tab). The run's page shows the table of checks, and the
artifact `selfcheck-reports` holds the HTML report.
"""


def _readme(wheel_name: str | None) -> str:
    wheel_row = (
        f"| `wheels/{wheel_name}` | the grader itself, installed by requirements.txt |\n"
        if wheel_name
        else ""
    )
    return README.format(
        notebook=STUDENT_NOTEBOOK,
        stem=Path(STUDENT_NOTEBOOK).stem,
        workflow=STUDENT_WORKFLOW,
        wheel_row=wheel_row,
    )


def _secret_values() -> list[bytes]:
    value = os.environ.get(SECRET_ENV, "").strip()
    return [value.encode()] if len(value) >= 4 else []


def _contents(path: Path) -> list[bytes]:
    """A file's bytes, and each member's bytes when it is a zip (the wheel)."""
    data = path.read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return [data]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [data] + [archive.read(name) for name in archive.namelist()]


def assert_nothing_secret(paths: list[Path]) -> None:
    """Raise BundleError if a file holds the secret seed or an excluded solution file."""
    secrets = _secret_values()
    solution = (PACKAGE_DIR.parent / "reference" / "notebooks" / "solution.ipynb").resolve()
    solution_bytes = solution.read_bytes() if solution.is_file() else None
    for path in paths:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                leaked = STUDENT_WHEEL_EXCLUDES & set(archive.namelist())
            if leaked:
                raise BundleError(f"{path.name} contains {sorted(leaked)}")
        for data in _contents(path):
            if solution_bytes is not None and data == solution_bytes:
                raise BundleError(f"{path} contains the solution notebook")
            if any(secret in data for secret in secrets):
                raise BundleError(
                    f"{path} contains the value of ${SECRET_ENV}; the bundle was not finished"
                )


def write_student_bundle(out_dir: Path | str, *, install_from: str | None = None) -> list[Path]:
    """Write what students receive into `out_dir`; returns the files written.

    Without `install_from`, the bundle carries a student wheel of this grader in
    `wheels/` and requirements.txt installs it; with it (e.g.
    "git+https://github.com/COURSE/motifgrader@v0.1.0" or "motifgrader==0.1.0"),
    requirements.txt installs motifgrader from there and no wheel is written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notebook = out / STUDENT_NOTEBOOK
    shutil.copyfile(starter_notebook(), notebook)
    written.append(notebook)
    wheel_name = None
    if install_from is None:
        wheel = build_student_wheel(out / "wheels")
        written.append(wheel)
        wheel_name = wheel.name
        line = f"./wheels/{wheel.name}"
    else:
        line = requirement_for(install_from)
    for name, text in (
        ("requirements.txt", _requirements(line)),
        (CONSTRAINTS_NAME, bundle_constraints()),
        ("README.md", _readme(wheel_name)),
        (".gitignore", GITIGNORE),
        (STUDENT_WORKFLOW, ci_template("student")),
    ):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    try:
        assert_nothing_secret(written)
    except BundleError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written

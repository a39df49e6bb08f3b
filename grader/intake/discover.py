"""Find each student's notebook in a submissions folder or an LMS zip export.

Accepted layouts, which can be mixed in one folder:
- `SUBMISSIONS/<student>/<anything>.ipynb` (a PDF beside it is noted),
- `SUBMISSIONS/<student>.ipynb`,
- `SUBMISSIONS/<student>.zip` holding that student's files,
- an LMS export zip (given as SUBMISSIONS or found inside it) holding either one
  folder per student or flat files named like Canvas's `lastfirst_123_456_hw4.ipynb`.

Discovery never fails the batch: a folder with no notebook becomes a `missing`
submission and one with several becomes `invalid`, each with a sentence saying why.
Zip members are read with size limits and never extracted to disk, so a hostile
archive cannot write outside the job or fill the disk.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
_SKIP_PARTS = {"__MACOSX", ".ipynb_checkpoints", ".git"}
_CANVAS_NAME = re.compile(r"^(?P<student>[^_]+?)(?:_LATE)?_\d+_\d+_(?P<rest>.+)$")


@dataclass(frozen=True)
class Submission:
    """One student's submission as found on disk; `problem` is set when it cannot run."""

    student: str
    notebook_name: str = ""
    notebook_bytes: bytes = b""
    source: str = ""
    pdf_name: str = ""
    problem_status: str = ""
    problem: str = ""
    pdf_bytes: bytes = field(default=b"", repr=False)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.notebook_bytes).hexdigest()

    @property
    def runnable(self) -> bool:
        return not self.problem_status


def safe_student_id(name: str) -> str:
    """A name usable as a folder and CSV key: letters, digits, dot, dash, underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    return cleaned[:80] or "student"


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p in _SKIP_PARTS or p.startswith(".") for p in parts)


def _from_files(student: str, source: str, files: dict[str, bytes | int]) -> Submission:
    """Decide one student's submission from their files (name -> bytes, or size if too big)."""
    notebooks = sorted(n for n in files if n.lower().endswith(".ipynb"))
    pdfs = sorted(n for n in files if n.lower().endswith(".pdf"))
    pdf_name = pdfs[0] if pdfs else ""
    pdf = files[pdf_name] if pdf_name else b""
    pdf_bytes = pdf if isinstance(pdf, bytes) else b""  # the graders' desk shows it
    if not notebooks:
        return Submission(
            student,
            source=source,
            pdf_name=pdf_name,
            pdf_bytes=pdf_bytes,
            problem_status="missing",
            problem="No .ipynb notebook was found in this submission.",
        )
    if len(notebooks) > 1:
        listed = ", ".join(notebooks[:5])
        return Submission(
            student,
            source=source,
            pdf_name=pdf_name,
            pdf_bytes=pdf_bytes,
            problem_status="invalid",
            problem=f"Found {len(notebooks)} notebooks ({listed}); submit exactly one .ipynb file.",
        )
    name = notebooks[0]
    content = files[name]
    if isinstance(content, int):
        return Submission(
            student,
            notebook_name=name,
            source=source,
            pdf_name=pdf_name,
            pdf_bytes=pdf_bytes,
            problem_status="invalid",
            problem=(
                f"The notebook is {content / 1e6:.0f} MB, over the "
                f"{MAX_NOTEBOOK_BYTES / 1e6:.0f} MB limit; clear large outputs and resubmit."
            ),
        )
    return Submission(student, name, content, source, pdf_name, pdf_bytes=pdf_bytes)


def _read_limited(path: Path) -> bytes | int:
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return size
    return path.read_bytes()


def _zip_files(archive: zipfile.ZipFile) -> dict[PurePosixPath, bytes | int]:
    """Notebook and PDF members of a zip, with sizes checked before reading."""
    found: dict[PurePosixPath, bytes | int] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if not _visible(path.parts) or path.suffix.lower() not in (".ipynb", ".pdf"):
            continue
        if info.file_size > MAX_NOTEBOOK_BYTES:
            found[path] = info.file_size
            continue
        with archive.open(info) as member:
            data = member.read(MAX_NOTEBOOK_BYTES + 1)
        found[path] = len(data) if len(data) > MAX_NOTEBOOK_BYTES else data
    return found


def _discover_zip(path: Path, default_student: str | None) -> list[Submission]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = _zip_files(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        student = safe_student_id(default_student or path.stem)
        return [
            Submission(
                student,
                source=str(path),
                problem_status="invalid",
                problem=f"The zip file could not be opened ({exc}).",
            )
        ]
    if default_student is not None:
        files = {p.name: data for p, data in members.items()}
        return [_from_files(safe_student_id(default_student), str(path), files)]
    groups: dict[str, dict[str, bytes | int]] = {}
    top_dirs = {p.parts[0] for p in members if len(p.parts) > 1}
    for member, data in members.items():
        if len(member.parts) > 1 and len(top_dirs) > 1:
            student = member.parts[0]
        elif len(member.parts) > 2:
            student = member.parts[1]
        else:
            match = _CANVAS_NAME.match(member.name)
            student = match.group("student") if match else member.stem
        groups.setdefault(safe_student_id(student), {})[member.name] = data
    return [_from_files(s, f"{path}:{s}", files) for s, files in sorted(groups.items())]


def discover_submissions(root: Path | str) -> list[Submission]:
    """All submissions under `root` (a folder or an LMS zip), one per student, sorted."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"submissions folder {root} does not exist")
    if root.is_file():
        if root.suffix.lower() == ".zip":
            return _unique(_discover_zip(root, None))
        if root.suffix.lower() == ".ipynb":
            return [
                _from_files(safe_student_id(root.stem), str(root), {root.name: _read_limited(root)})
            ]
        raise FileNotFoundError(f"{root} is neither a folder, a .zip nor a .ipynb file")
    found: list[Submission] = []
    for entry in sorted(root.iterdir()):
        if not _visible((entry.name,)):
            continue
        if entry.is_dir():
            files = {
                p.relative_to(entry).as_posix(): _read_limited(p)
                for p in sorted(entry.rglob("*"))
                if p.is_file()
                and _visible(p.relative_to(entry).parts)
                and p.suffix.lower() in (".ipynb", ".pdf")
            }
            found.append(_from_files(safe_student_id(entry.name), str(entry), files))
        elif entry.suffix.lower() == ".ipynb":
            found.append(
                _from_files(
                    safe_student_id(entry.stem), str(entry), {entry.name: _read_limited(entry)}
                )
            )
        elif entry.suffix.lower() == ".zip":
            is_export = _looks_like_export(entry)
            found.extend(_discover_zip(entry, None if is_export else entry.stem))
    return _unique(found)


def _looks_like_export(path: Path) -> bool:
    """An LMS export holds several students' notebooks; a student's zip holds one folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [
                PurePosixPath(n)
                for n in archive.namelist()
                if n.lower().endswith(".ipynb") and _visible(PurePosixPath(n).parts)
            ]
    except (zipfile.BadZipFile, OSError):
        return False
    return len(names) > 1 and (
        len({n.parts[0] for n in names if len(n.parts) > 1}) > 1
        or any(_CANVAS_NAME.match(n.name) for n in names)
    )


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Make student ids unique (two sources can map to the same safe id)."""
    seen: dict[str, int] = {}
    unique: list[Submission] = []
    for sub in sorted(submissions, key=lambda s: s.student):
        count = seen.get(sub.student, 0)
        seen[sub.student] = count + 1
        if count:
            sub = replace(sub, student=f"{sub.student}-{count + 1}")
        unique.append(sub)
    return unique

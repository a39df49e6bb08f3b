"""A student's PDF report: page text (pypdf) and page images (pdfium), read on demand.

The PDF is untrusted input, so reading is bounded (pages, characters) and a PDF that
cannot be read becomes a sentence on the page instead of an error. pdfium is not
thread-safe: every call into it holds one lock.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_PAGES = 60
MAX_PAGE_CHARS = 20_000
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class PdfReport:
    """The text of each page (empty when a page has none, e.g. a scan)."""

    name: str
    page_texts: tuple[str, ...]
    problem: str = ""

    def pages_for(self, question: str) -> list[int]:
        """0-based pages that mention the question ("Q2", "Question 2", "#2")."""
        number = question.lstrip("Q")
        pattern = re.compile(
            rf"(?:\bQ\s*|\bQuestion\s*#?\s*|#\s*){re.escape(number)}(?!\d)", re.IGNORECASE
        )
        return [i for i, text in enumerate(self.page_texts) if pattern.search(text)]


def read_pdf(name: str, data: bytes) -> PdfReport:
    """Extract every page's text (up to MAX_PAGES pages)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        texts = []
        for page in reader.pages[:MAX_PAGES]:
            try:
                texts.append((page.extract_text() or "")[:MAX_PAGE_CHARS])
            except Exception as exc:  # one unreadable page must not hide the others
                log.info("page text of %s not extracted: %s", name, exc)
                texts.append("")
        note = (
            f"Only the first {MAX_PAGES} of {len(reader.pages)} pages are shown."
            if len(reader.pages) > MAX_PAGES
            else ""
        )
        return PdfReport(name, tuple(texts), note)
    except Exception as exc:
        return PdfReport(name, (), f"The PDF could not be read ({type(exc).__name__}).")


def render_page(data: bytes, index: int, *, width: int = 900) -> bytes:
    """One page as a PNG about `width` pixels wide."""
    import pypdfium2

    with _PDFIUM_LOCK:
        document = pypdfium2.PdfDocument(data)
        try:
            if not 0 <= index < min(len(document), MAX_PAGES):
                raise IndexError(index)
            page = document[index]
            scale = min(3.0, width / max(page.get_width(), 1.0))
            image = page.render(scale=scale).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=False)
            return buffer.getvalue()
        finally:
            document.close()

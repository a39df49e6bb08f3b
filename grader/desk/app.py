"""The desk's web application: pages, form posts and the token gate (Starlette).

Every page works as plain HTML forms; `desk.js` adds keyboard shortcuts and saves
with fetch so a grader never waits for a page load to apply an item. Answers are
student text: rendered as Markdown with raw HTML disabled, then autoescaped, and a
Content-Security-Policy keeps any script but the desk's own from running.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import URL, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.desk.evidence import decode_figure, question_evidence, question_figures
from grader.desk.pdf import PdfReport, read_pdf, render_page
from grader.desk.rubric import ITEM_KEYS, AnswerGrade
from grader.desk.store import DeskStore, RosterEntry
from grader.outputs.report import QUESTION_LABELS, fmt
from grader.outputs.report_view import markdown_html, markdown_inline
from grader.resources import template_environment

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
GRADER_COOKIE = "motifgrader_desk_grader"
SHORTCUTS = (
    (f"{ITEM_KEYS[0]}–{ITEM_KEYS[-1]}", "apply or remove a rubric item (saved at once)"),
    ("n  or  →", "next answer"),
    ("p  or  ←", "previous answer"),
    ("u", "next answer nobody has graded"),
    ("c", "write a comment (Ctrl+Enter saves it, Esc leaves it)"),
    ("a", "adjust the points beyond the items"),
    ("r", "edit this question's rubric"),
    ("g", "progress page"),
    ("?", "show or hide these shortcuts"),
)


def cookie_name(token: str) -> str:
    """One cookie per desk: several desks on one host do not overwrite each other's."""
    return "motifgrader_desk_" + hashlib.sha256(token.encode()).hexdigest()[:10]


class TokenGate:
    """Lets a request through only with the desk's token, in the address or its cookie.

    The first visit carries `?token=...` (the printed address); the desk then sets a
    same-site cookie and redirects to the address without the token, so the token does
    not linger in the address bar or history.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("the desk needs a token")
        self.app = app
        self.token = token.encode()
        self.cookie = cookie_name(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        request = Request(scope)
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given.encode(), self.token):
            target = request.url.remove_query_params("token")
            location = target.path + (f"?{target.query}" if target.query else "")
            response: Response = RedirectResponse(location, status_code=303)
            response.set_cookie(
                self.cookie, self.token.decode(), httponly=True, samesite="strict", path="/"
            )
            await response(scope, receive, send_with_headers)
            return
        if secrets.compare_digest(request.cookies.get(self.cookie, "").encode(), self.token):
            await self.app(scope, receive, send_with_headers)
            return
        response = HTMLResponse(
            "<!doctype html><title>Grading desk: token needed</title>"
            "<h1>This grading desk needs its token</h1>"
            "<p>Open the address that <code>motifgrader desk</code> printed when it "
            "started (it ends in <code>?token=…</code>).</p>",
            status_code=403,
        )
        await response(scope, receive, send_with_headers)


@dataclass
class _Answer:
    """What the answer page and the save endpoint need about one answer."""

    entry: RosterEntry
    question: str
    index: int


class Desk:
    """The desk's pages over one `DeskStore`."""

    def __init__(self, store: DeskStore, *, default_grader: str) -> None:
        self.store = store
        self.default_grader = default_grader
        self.env = template_environment()
        self.env.globals.update(fmt=fmt, labels=QUESTION_LABELS, shortcuts=SHORTCUTS)
        self.env.filters["md_inline"] = markdown_inline
        self._pdf_text: OrderedDict[str, PdfReport | None] = OrderedDict()
        self._pages: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self.script = self.env.get_template("desk/desk.js.j2").render()
        self.script_version = hashlib.sha256(self.script.encode()).hexdigest()[:10]

    # ------------------------------------------------------------------ helpers

    def grader(self, request: Request) -> str:
        return request.cookies.get(GRADER_COOKIE) or self.default_grader

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(name).render(
            grader=self.grader(request),
            anonymous=self.store.anonymous,
            script_url=f"/assets/desk.js?v={self.script_version}",
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def error(self, request: Request, status: int, message: str) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": message}, status_code=status)
        return self.render(
            request, "desk/error.html.j2", status, message=message, title=HTTPStatus(status).phrase
        )

    def question_or_none(self, request: Request) -> str | None:
        question = request.path_params.get("question", "")
        return question if question in self.store.maxima else None

    def find_answer(self, request: Request) -> _Answer | None:
        question = self.question_or_none(request)
        entry = self.store.entry(request.path_params.get("sid", ""))
        if question is None or entry is None:
            return None
        return _Answer(entry, question, self.store.roster.index(entry))

    def answer_url(self, question: str, entry: RosterEntry) -> str:
        return f"/q/{question}/a/{quote(entry.sid)}"

    def figure_urls(
        self, entry: RosterEntry | None, question: str, figures: dict[str, str]
    ) -> list[tuple[str, str]]:
        """(address, caption) of the question's figures; the address changes with the grade,
        so browsers may keep them (the next answer's are fetched ahead)."""
        if entry is None:
            return []
        version = entry.key.submission_hash[:12]
        return [
            (f"/fig/{quote(entry.sid)}/{name}?v={version}", caption)
            for name, caption in question_figures(figures, question)
        ]

    def pdf_report(self, entry: RosterEntry) -> PdfReport | None:
        if entry.student in self._pdf_text:
            self._pdf_text.move_to_end(entry.student)
            return self._pdf_text[entry.student]
        stored = self.store.pdf(entry)
        report = read_pdf(*stored) if stored else None
        self._pdf_text[entry.student] = report
        while len(self._pdf_text) > 256:
            self._pdf_text.popitem(last=False)
        return report

    # ------------------------------------------------------------------ pages

    async def index(self, request: Request) -> Response:
        self.store.reload_roster()
        return self.render(
            request,
            "desk/index.html.j2",
            progress=self.store.progress(),
            students=len(self.store.roster),
        )

    async def start_question(self, request: Request) -> Response:
        question = self.question_or_none(request)
        if question is None:
            return self.error(request, 404, "There is no hand-graded question of that name.")
        if not self.store.roster:
            return self.error(request, 404, "The gradebook has no graded students yet.")
        graded = self.store.grades_for(question)
        first = next(
            (
                e
                for e in self.store.roster
                if graded.get(e.student, AnswerGrade("", "")).points is None
            ),
            self.store.roster[0],
        )
        return RedirectResponse(self.answer_url(question, first), status_code=303)

    def answer_context(
        self, answer: _Answer, grade: AnswerGrade, conflict: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        store, question, entry = self.store, answer.question, answer.entry
        roster = store.roster
        graded = store.grades_for(question)
        ungraded_after = [
            e
            for e in roster[answer.index + 1 :] + roster[: answer.index]
            if graded.get(e.student) is None or graded[e.student].points is None
        ]
        items = store.rubric(question)
        next_entry = roster[answer.index + 1] if answer.index + 1 < len(roster) else None
        text = entry.answer(question)
        figures = store.figures(entry)
        pdf = self.pdf_report(entry)
        pdf_view = None
        if pdf is not None:
            matched = pdf.pages_for(question)
            shown = matched or list(range(len(pdf.page_texts)))
            pdf_view = {
                "name": "report.pdf" if store.anonymous else pdf.name,
                "problem": pdf.problem,
                "matched": bool(matched),
                "count": len(pdf.page_texts),
                "pages": [(i, pdf.page_texts[i]) for i in shown],
            }
        return {
            "question": question,
            "max_points": store.maxima[question],
            "entry": entry,
            "position": answer.index + 1,
            "count": len(roster),
            "prev_url": self.answer_url(question, roster[answer.index - 1])
            if answer.index > 0
            else "",
            "next_url": self.answer_url(question, roster[answer.index + 1])
            if answer.index + 1 < len(roster)
            else "",
            "ungraded_url": self.answer_url(question, ungraded_after[0]) if ungraded_after else "",
            "graded_count": sum(1 for g in graded.values() if g.points is not None),
            "answer_html": markdown_html(text) if text.strip() else "",
            "grade": grade,
            "items": items,
            "evidence": question_evidence(entry.result, question),
            "figures": self.figure_urls(entry, question, figures),
            "next_figures": " ".join(
                url
                for url, _ in self.figure_urls(
                    next_entry, question, store.figures(next_entry) if next_entry else {}
                )
            ),
            "pdf": pdf_view,
            "conflict": conflict,
            "self_url": self.answer_url(question, entry),
        }

    async def answer(self, request: Request) -> Response:
        answer = self.find_answer(request)
        if answer is None:
            return self.error(request, 404, "No such answer: the student or question is unknown.")
        grade = self.store.grade(answer.entry.student, answer.question)
        return self.render(request, "desk/answer.html.j2", **self.answer_context(answer, grade))

    async def save(self, request: Request) -> Response:
        answer = self.find_answer(request)
        if answer is None:
            return self.error(request, 404, "No such answer: the student or question is unknown.")
        form = await request.form()
        try:
            version = int(str(form.get("version", "0")))
            applied = [int(str(v)) for v in form.getlist("item")]
            raw_adjustment = str(form.get("adjustment", "") or "0").strip()
            adjustment = float(raw_adjustment)
        except ValueError:
            return self.error(request, 400, "Points and versions must be numbers.")
        comment = str(form.get("comment", "")).strip()[:5000]
        grader = self.grader(request)
        try:
            outcome = self.store.save(
                answer.entry.student,
                answer.question,
                applied=applied,
                comment=comment,
                adjustment=adjustment,
                version=version,
                grader=grader,
            )
        except KeyError as exc:
            return self.error(request, 400, str(exc.args[0]))
        wants_json = "application/json" in request.headers.get("accept", "")
        conflict = None
        if not outcome.saved:
            theirs = outcome.grade
            conflict = {
                "by": theirs.grader or "someone",
                "at": theirs.updated_at.replace("T", " ").split("+")[0],
                "message": (
                    f"{theirs.grader or 'Someone'} saved this answer while you had it open; "
                    "your change was NOT saved. The form now shows their version: "
                    "apply your change again if it is still needed."
                ),
            }
            log.info(
                "conflict on %s %s: %s held version %d, %s saved %d",
                answer.entry.student,
                answer.question,
                grader,
                version,
                theirs.grader,
                theirs.version,
            )
        if wants_json:
            return JSONResponse(
                {
                    "saved": outcome.saved,
                    "conflict": conflict,
                    **_grade_json(outcome.grade, self.store.maxima[answer.question]),
                },
                status_code=200 if outcome.saved else 409,
            )
        if conflict is not None:
            return self.render(
                request,
                "desk/answer.html.j2",
                409,
                **self.answer_context(answer, outcome.grade, conflict),
            )
        then = str(form.get("then", ""))
        roster = self.store.roster
        if then == "next":
            if answer.index + 1 < len(roster):
                return RedirectResponse(
                    self.answer_url(answer.question, roster[answer.index + 1]), status_code=303
                )
            return RedirectResponse("/", status_code=303)
        return RedirectResponse(self.answer_url(answer.question, answer.entry), status_code=303)

    async def rubric(self, request: Request) -> Response:
        question = self.question_or_none(request)
        if question is None:
            return self.error(request, 404, "There is no hand-graded question of that name.")
        rescored = request.query_params.get("rescored")
        return self.render(
            request,
            "desk/rubric.html.j2",
            question=question,
            max_points=self.store.maxima[question],
            items=self.store.rubric(question),
            rescored=int(rescored) if rescored and rescored.isdigit() else None,
            conflict=None,
            back=request.query_params.get("back", ""),
        )

    async def edit_item(self, request: Request) -> Response:
        question = self.question_or_none(request)
        form = await request.form()
        try:
            item_id = int(request.path_params["item_id"])
            points = float(str(form.get("points", "")).strip())
            version = int(str(form.get("version", "0")))
        except ValueError:
            return self.error(request, 400, "Points must be a number, like 2 or -0.5.")
        comment = str(form.get("comment", "")).strip()[:500]
        items = {i.id: i for i in self.store.rubric(question)} if question else {}
        if item_id not in items:
            return self.error(request, 404, "No such rubric item.")
        if not comment:
            return self.error(request, 400, "A rubric item needs a comment the student can read.")
        outcome = self.store.edit_item(
            item_id, points=points, comment=comment, version=version, grader=self.grader(request)
        )
        back = str(form.get("back", ""))
        if not outcome.saved:
            return self.render(
                request,
                "desk/rubric.html.j2",
                409,
                question=question,
                max_points=self.store.maxima[question],
                items=self.store.rubric(question),
                rescored=None,
                back=back,
                conflict=(
                    f"Item {outcome.item.key or outcome.item.id} was changed by another grader "
                    "while you had this page open; your edit was NOT saved. It now shows "
                    f"{fmt(outcome.item.points)} points: “{outcome.item.comment}”."
                ),
            )
        target = URL(f"/q/{question}/rubric").include_query_params(rescored=outcome.rescored)
        if back:
            target = target.include_query_params(back=back)
        return RedirectResponse(str(target), status_code=303)

    async def add_item(self, request: Request) -> Response:
        question = self.question_or_none(request)
        if question is None:
            return self.error(request, 404, "There is no hand-graded question of that name.")
        form = await request.form()
        try:
            points = float(str(form.get("points", "")).strip())
        except ValueError:
            return self.error(request, 400, "Points must be a number, like 2 or -0.5.")
        comment = str(form.get("comment", "")).strip()[:500]
        if not comment:
            return self.error(request, 400, "A rubric item needs a comment the student can read.")
        self.store.add_item(question, points, comment, self.grader(request))
        back = str(form.get("back", ""))
        target = URL(f"/q/{question}/rubric")
        if back:
            target = target.include_query_params(back=back)
        return RedirectResponse(str(target), status_code=303)

    async def set_grader(self, request: Request) -> Response:
        form = await request.form()
        name = " ".join(str(form.get("name", "")).split())[:40]
        response = RedirectResponse("/", status_code=303)
        if name:
            response.set_cookie(GRADER_COOKIE, name, samesite="strict", path="/")
        return response

    async def figure(self, request: Request) -> Response:
        entry = self.store.entry(request.path_params["sid"])
        uri = self.store.figures(entry).get(request.path_params["name"], "") if entry else ""
        decoded = decode_figure(uri) if uri else None
        if decoded is None:
            return Response(status_code=404)
        media_type, data = decoded
        return Response(
            data, media_type=media_type, headers={"cache-control": "private, max-age=3600"}
        )

    async def pdf_page(self, request: Request) -> Response:
        entry = self.store.entry(request.path_params["sid"])
        stored = self.store.pdf(entry) if entry else None
        page = int(request.path_params["page"])
        if stored is None:
            return Response(status_code=404)
        key = (entry.student, page)
        png = self._pages.get(key)
        if png is None:
            try:
                png = render_page(stored[1], page)
            except IndexError:
                return Response(status_code=404)
            except Exception as exc:
                log.info("page %d of %s not rendered: %s", page, entry.student, exc)
                return Response(status_code=422)
            self._pages[key] = png
            while len(self._pages) > 128:
                self._pages.popitem(last=False)
        return Response(
            png, media_type="image/png", headers={"cache-control": "private, max-age=600"}
        )

    async def pdf_file(self, request: Request) -> Response:
        entry = self.store.entry(request.path_params["sid"])
        stored = self.store.pdf(entry) if entry else None
        if stored is None:
            return Response(status_code=404)
        return Response(
            stored[1],
            media_type="application/pdf",
            headers={"content-disposition": 'attachment; filename="report.pdf"'},
        )

    async def script_asset(self, request: Request) -> Response:
        return Response(
            self.script,
            media_type="text/javascript",
            headers={"cache-control": "private, max-age=86400"},
        )


def _grade_json(grade: AnswerGrade, maximum: float) -> dict[str, Any]:
    return {
        "version": grade.version,
        "points": grade.points,
        "max_points": maximum,
        "applied": sorted(grade.applied),
        "comment": grade.comment,
        "adjustment": grade.adjustment,
        "grader": grade.grader,
    }


def create_app(store: DeskStore, *, token: str, default_grader: str) -> ASGIApp:
    """The desk as an ASGI app behind its token gate."""
    desk = Desk(store, default_grader=default_grader)
    routes = [
        Route("/", desk.index),
        Route("/grader", desk.set_grader, methods=["POST"]),
        Route("/assets/desk.js", desk.script_asset),
        Route("/q/{question}", desk.start_question),
        Route("/q/{question}/a/{sid}", desk.answer),
        Route("/q/{question}/a/{sid}", desk.save, methods=["POST"]),
        Route("/q/{question}/rubric", desk.rubric),
        Route("/q/{question}/rubric", desk.add_item, methods=["POST"]),
        Route("/q/{question}/rubric/{item_id:int}", desk.edit_item, methods=["POST"]),
        Route("/fig/{sid}/{name}", desk.figure),
        Route("/pdf/{sid}/page/{page:int}.png", desk.pdf_page),
        Route("/pdf/{sid}/report.pdf", desk.pdf_file),
    ]
    app = Starlette(routes=routes)
    app.state.desk = desk
    return TokenGate(app, token)

"""The JSON API under ``/api``: ask, and list, upload, read and remove documents.

Thin over :class:`Library`: requests and responses are pydantic models or the
core's own dataclasses (so ``/openapi.json`` is the contract and the answer's
types are declared once, in ``index/answer.py``), the answer is exactly the
``ask --json`` object (streamed as server-sent events by ``/api/ask/stream``),
and an upload is ingested by the same sync as ``footnotes ingest``, reported
file by file the same way. Errors convert here, at the edge, to a
status with ``{"detail": "..."}``: a bad request body is 400 (not FastAPI's
422), an unknown collection or document 404, a known route asked with the
wrong method 405; what is the server's fault (a store that is down or failed,
a bug) is 5xx with one line, never 4xx. The bounds of a question and its
history are the core's (``index/ask.py``), mapped here, not restated.

Uploads are streamed to a staging folder while their size is counted, so a
body over ``max_upload_mb`` is refused with 413 without being held in memory
or written whole. File names are reduced to a safe base name, which becomes
the document id, and files land only in ``uploads/<collection>/``.

Routes that ingest or answer are plain ``def``: FastAPI runs them in its
thread pool, so the blocking model never stalls the event loop. (No
``from __future__ import annotations``: FastAPI must evaluate the routes'
annotations, which name dependencies local to :func:`build_router`.)
"""

import json
import logging
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from footnotes.errors import (
    DocumentError,
    FootnotesError,
    ModelMismatch,
    NotFound,
    StoreError,
    StoreUnavailable,
    UnsupportedFileError,
)
from footnotes.index.answer import Answer, Delta
from footnotes.index.ask import Turn
from footnotes.index.library import Library
from footnotes.index.sync import FileOutcome, Status, SyncReport
from footnotes.settings import Settings
from footnotes.ui.uploads import (
    FILES_FIELD,
    BadUpload,
    MultipartReceiver,
    Received,
    TooLarge,
    Upload,
    check_name,
)

_FRAMING_SLACK = 64 * 1024  # multipart boundaries and headers allowed beyond the file bytes
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
log = logging.getLogger("footnotes")


# --- models: the contract --------------------------------------------------------------


class AskRequest(BaseModel):
    """A question, with the conversation so far for follow-ups."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description="The question: at most FOOTNOTES_MAX_QUESTION_CHARS (4,000) characters."
    )
    history: list[Turn] = Field(
        default_factory=list,
        description="Earlier messages, oldest first: at most FOOTNOTES_MAX_HISTORY_TURNS (50) "
        "of at most FOOTNOTES_MAX_HISTORY_CHARS (50,000) characters in all; send the most "
        "recent ones.",
    )
    collection: str | None = Field(None, description="Collection to ask; default the configured.")


class DocumentModel(BaseModel):
    """A stored document, as ``footnotes docs --json`` lists it."""

    id: str
    title: str
    format: str
    pages: int | None
    passages: int
    content_hash: str
    ingested_at: str


class DocumentText(BaseModel):
    """A document's full text: the string every citation's offsets index."""

    id: str
    title: str
    text: str


class Removed(BaseModel):
    """The document removed."""

    id: str
    collection: str


class FileResult(BaseModel):
    """What happened to one uploaded file."""

    document: str = Field(description="The document id: the file's sanitised name.")
    status: Status
    path: str = Field(description="The file name as uploaded.")
    reason: str = ""
    passages: int = 0


class SyncCounts(BaseModel):
    """How many files ended in each status."""

    added: int
    updated: int
    unchanged: int
    removed: int
    failed: int
    skipped: int


class SyncResult(BaseModel):
    """An upload's sync report, as ``footnotes ingest --json`` prints it."""

    counts: SyncCounts
    embedded: int = Field(description="Sentences embedded.")
    files: list[FileResult] = Field(description="One per uploaded file, in upload order.")


class ErrorModel(BaseModel):
    """Every error body: one message a user can act on."""

    detail: str


def _errors(*codes: int | str) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request: an invalid body, question, history or collection name.",
        401: "Missing or wrong bearer token.",
        404: "No such collection or document, or the collection is empty.",
        413: "The upload exceeds FOOTNOTES_MAX_UPLOAD_MB.",
        415: "None of the uploaded files is of a supported type.",
        422: "No file of the upload was ingested: see the reasons.",
        429: "Too many wrong tokens from this address: wait Retry-After seconds.",
        "4XX": "Any other client error (413: a body over FOOTNOTES_MAX_BODY_KB).",
        "5XX": "The server's fault: 503 when the store cannot be reached, else 500.",
    }
    return {c: {"model": ErrorModel, "description": text[c]} for c in (*codes, "4XX", "5XX")}


# --- errors at the edge ----------------------------------------------------------------


def error_status(exc: FootnotesError) -> int:
    """The HTTP status of a core error: 4xx when the request is at fault, 5xx when the
    server is (its store down or failing, its model not the collection's)."""
    if isinstance(exc, UnsupportedFileError):
        return 415
    if isinstance(exc, DocumentError):
        return 422
    if isinstance(exc, StoreUnavailable):
        return 503  # the Chroma server is down: try again, nothing is missing
    if isinstance(exc, NotFound):
        return 404  # an empty or unknown collection, or a document not stored
    if isinstance(exc, (StoreError, ModelMismatch)):
        return 500  # a store that failed, or a server configured with another model
    return 400  # InputError, ConfigError (a collection or file name): the caller's to change


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # loc is ("body", offset), msg a constant
            reason = (error.get("ctx") or {}).get("error", "cannot parse it")
            offset = error.get("loc", ("body", None))[-1]
            parts.append(f"invalid JSON body: {reason} (at character {offset})")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "invalid request"


class _Route(APIRoute):
    """Converts a bad body to 400, :class:`FootnotesError` to its status and any other
    exception (a bug) to 500, each as ``{"detail"}`` of one line; a 5xx is logged."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _describe(exc)}, status_code=400)
            except FootnotesError as exc:
                status = error_status(exc)
                if status >= 500:
                    log.warning("api: %s %s: %s", request.method, request.url.path, exc)
                return JSONResponse({"detail": str(exc)}, status_code=status)
            except StarletteHTTPException:
                raise
            except Exception as exc:
                log.exception("api: %s %s failed", request.method, request.url.path)
                detail = f"internal error ({type(exc).__name__}); the server log has the details"
                return JSONResponse({"detail": detail}, status_code=500)

        return route


# --- the router ------------------------------------------------------------------------


def build_router(library: Library, settings: Settings) -> APIRouter:
    """The ``/api`` routes over ``library``; ``settings`` gives the token, limits and folders."""
    dependencies = [Depends(_token_check(settings.api_token))] if settings.api_token else []
    router = APIRouter(
        route_class=_Route,
        dependencies=dependencies,
        responses=_errors(401, 429) if settings.api_token else {},
    )
    limit = settings.max_upload_mb * 1024 * 1024

    def existing(collection: str | None) -> str:
        name = collection or library.settings.collection
        if name not in library.collections():
            raise HTTPException(404, f"no collection named {name!r}")
        return name

    @router.post(
        "/ask",
        response_model=Answer,
        tags=["ask"],
        responses=_errors(400, 404),
    )
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answer a question from the documents, every claim cited to its exact sentence."""
        return library.ask(body.question, body.history, existing(body.collection)).to_dict()

    @router.post(
        "/ask/stream",
        response_class=StreamingResponse,
        tags=["ask"],
        responses={
            200: {
                "description": 'Server-sent events: `delta` events `{"text"}` as a language '
                "model writes, then one `answer` event, the `/api/ask` object after every "
                'sentence is checked (an `error` event `{"detail"}` if the server fails '
                "midway).",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **_errors(400, 404),
        },
    )
    def ask_stream(body: AskRequest) -> StreamingResponse:
        """Answer a question as `/api/ask` does, streaming the model's words as it writes."""
        events = library.ask_stream(body.question, body.history, existing(body.collection))
        return StreamingResponse(
            _server_sent(events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get(
        "/documents", response_model=list[DocumentModel], tags=["documents"], responses=_errors(404)
    )
    def list_documents(
        collection: Annotated[str | None, Query(description="Default: the configured.")] = None,
    ) -> list[dict[str, Any]]:
        """The documents of a collection, by id."""
        records = library.documents(existing(collection))
        return [r.public() for r in records]

    @router.get(
        "/documents/{doc_id:path}/text",
        response_model=DocumentText,
        tags=["documents"],
        responses=_errors(404),
    )
    def document_text(doc_id: str, collection: str | None = None) -> DocumentText:
        """A document's full text, which citations' ``start``/``end`` index."""
        store = library.store(existing(collection))
        record = store.get_document(doc_id)
        if record is None:
            raise HTTPException(404, f"no document {doc_id!r} in collection {store.name!r}")
        return DocumentText(id=doc_id, title=record.title, text=store.document_text(doc_id))

    @router.delete(
        "/documents/{doc_id:path}",
        response_model=Removed,
        tags=["documents"],
        responses=_errors(404),
    )
    def remove_document(doc_id: str, collection: str | None = None) -> Removed:
        """Remove a document, its passages and sentences (and its file, if it was uploaded)."""
        name = existing(collection)
        if not library.remove(doc_id, name):
            raise HTTPException(404, f"no document {doc_id!r} in collection {name!r}")
        return Removed(id=doc_id, collection=name)

    async def receive_upload(request: Request) -> AsyncIterator[Upload]:
        from python_multipart.multipart import parse_options_header

        kind, params = parse_options_header(request.headers.get("content-type", ""))
        if kind != b"multipart/form-data" or not params.get(b"boundary"):
            raise HTTPException(400, f"send multipart/form-data with the files in {FILES_FIELD!r}")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit + _FRAMING_SLACK:
            raise HTTPException(413, _too_large(settings))
        charset = params.get(b"charset", b"utf-8").decode("latin-1")
        staging = settings.uploads() / ".incoming" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        receiver = MultipartReceiver(staging, limit, charset)
        try:
            try:
                upload = await receiver.receive(params[b"boundary"], request.stream())
            except TooLarge:
                raise HTTPException(413, _too_large(settings)) from None
            except BadUpload as exc:
                raise HTTPException(400, str(exc)) from None
            except ValueError as exc:  # python-multipart's parse errors
                raise HTTPException(400, f"malformed multipart body: {exc}") from None
            finally:
                receiver.close()
            yield upload
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @router.post(
        "/documents",
        response_model=SyncResult,
        tags=["documents"],
        responses={
            207: {"model": SyncResult,
                  "description": "Some files failed or were refused: see each file's status."},
            **_errors(400, 413, 415, 422),
        },
        openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILES_FIELD],
                "properties": {
                    FILES_FIELD: {"type": "array", "items": {
                        "type": "string", "contentMediaType": "application/octet-stream"}},
                    "collection": {"type": "string",
                                   "description": "Collection to add to; created if new."},
                },
            }}}}},
    )  # fmt: skip
    def upload_documents(
        response: Response, upload: Annotated[Upload, Depends(receive_upload)]
    ) -> SyncResult:
        """Upload files and ingest them, each under its sanitised file name as document id.

        200 when every file was ingested (added, updated or unchanged); 207 when
        some were and others failed or were refused, each with its reason; 415
        when none is of a supported type; 422 when none was ingested (all failed,
        or failed and refused); 413 when the upload is over ``FOOTNOTES_MAX_UPLOAD_MB``.
        """
        if not upload.files:
            raise HTTPException(400, f"no files in the form field {FILES_FIELD!r}")
        store = library.store(upload.collection)  # validates the name; creates the collection
        report = _ingest_upload(library, upload, store.name)
        if all(f.status == "skipped" for f in report.files):
            raise HTTPException(
                415, "no supported file in the upload: " + "; ".join(f.reason for f in report.files)
            )
        if not any(f.status in _INGESTED for f in report.files):
            reasons = "; ".join(f.reason for f in report.files)
            raise HTTPException(422, f"no file of the upload was ingested: {reasons}")
        if report.counts.failed or report.counts.skipped:
            response.status_code = 207
        return report

    _fallback(router)
    return router


_INGESTED = ("added", "updated", "unchanged")


def _server_sent(events: Iterator[Delta | Answer]) -> Iterator[str]:
    """The events of an answer as server-sent events; a failure midway is an ``error``
    event of one line (the status line was sent with the first byte)."""

    def event(name: str, data: object) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        for item in events:
            if isinstance(item, Delta):
                yield event("delta", {"text": item.text})
            else:
                data = item.to_dict()
                yield event("answer", data)
    except FootnotesError as exc:
        log.warning("api: /ask/stream: %s", exc)
        yield event("error", {"detail": str(exc)})
    except Exception as exc:
        log.exception("api: /ask/stream failed")
        detail = f"internal error ({type(exc).__name__}); the server log has the details"
        yield event("error", {"detail": detail})


def _fallback(router: APIRouter) -> None:
    """Answer every other ``/api`` request: 405 with ``Allow`` when the path is a route's
    and the method is not, else 404, both as ``{"detail"}``.

    Without it, such a request fell through to the chat mounted at ``/`` and got
    gradio's 404 page, since Starlette prefers any full match (the mount) to a route
    that matches the path only. Added last, so every real route comes first.
    """
    routes = [r for r in router.routes if isinstance(r, APIRoute)]

    @router.api_route("/{rest:path}", methods=_METHODS, include_in_schema=False)
    def unmatched(rest: str, request: Request) -> None:
        path = "/" + rest
        allowed = sorted({m for r in routes if r.path_regex.match(path) for m in r.methods or ()})
        if allowed:
            raise HTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise HTTPException(404, f"no API route {request.url.path}")


def _too_large(settings: Settings) -> str:
    limit = settings.max_upload_mb
    return f"the upload is larger than the {limit} MB limit (FOOTNOTES_MAX_UPLOAD_MB)"


def _token_check(token: str) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    bearer = HTTPBearer(auto_error=False, description="The FOOTNOTES_API_TOKEN.")
    expected = token.encode("utf-8")

    def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        # Header values arrive decoded as latin-1: encoding back gives the bytes sent.
        given = credentials.credentials.encode("latin-1") if credentials else b""
        if not secrets.compare_digest(given, expected):
            raise HTTPException(
                401,
                "a valid 'Authorization: Bearer <token>' header is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def _ingest_upload(library: Library, upload: Upload, collection: str) -> SyncResult:
    """Check the staged files' names and types, then add them to ``collection``.

    Names are sanitised; a file refused here gets its reason and the rest go
    on (:meth:`Library.add_files` keeps the uploads folder in step).
    """
    outcomes: list[FileOutcome | None] = []
    accepted: dict[str, tuple[int, Received]] = {}
    for i, received in enumerate(upload.files):
        name, refused = check_name(received.sent)
        if refused is not None:
            outcomes.append(refused)
            continue
        if name in accepted:
            outcomes.append(
                FileOutcome(
                    name, "failed", received.sent, f"{name}: the same file name twice in one upload"
                )
            )
            continue
        accepted[name] = (i, received)
        outcomes.append(None)
    files = [(name, received.staged) for name, (_, received) in accepted.items()]
    report = library.add_files(files, collection) if files else SyncReport()
    for (i, received), got in zip(accepted.values(), report.outcomes, strict=True):
        outcomes[i] = replace(got, path=received.sent)
    final = SyncReport([o for o in outcomes if o is not None], report.embedded)
    return SyncResult(
        counts=SyncCounts(**final.counts),
        embedded=final.embedded,
        files=[
            FileResult(
                document=o.document,
                status=o.status,
                path=o.path,
                reason=o.reason,
                passages=o.passages,
            )
            for o in final.outcomes
        ],
    )

"""A request body limit for the whole application: 413 before the body is read.

Pure ASGI, outside every route, so it covers the ``/api`` routes and gradio's
own JSON routes (queue/join, run, call...) alike. A ``Content-Length`` over the
limit is answered at once, without calling the application; a body without one
(chunked) is counted as it streams in, and the moment it passes the limit the
413 is sent and the application is told the client went away, so it stops
reading. The routes that take uploads are exempt: they stream files to disk
under their own ``max_upload_mb`` limit (``ui/uploads.py``, gradio's upload).

Hand-written rather than Starlette's ``RequestBodyLimitMiddleware``: that one
signals the limit by raising its private exception inside the application's
``receive``, so the status depends on every handler in between re-raising it
(gradio's handlers that catch ``Exception`` answer 400 instead), and it cannot
exempt routes of a mounted application such as gradio's upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("footnotes")

Exempt = Callable[[str, str], bool]
"""``(method, path) -> True`` for a request the limit does not apply to."""


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413 ``{"detail"}``, before reading it."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: Exempt, detail: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt
        self.detail = detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = started = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the application's answer to the cut-off body: ours went first
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise
            log.debug("the application failed on a body cut off at the limit", exc_info=True)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": self.detail}, status_code=413)(scope, receive, send)

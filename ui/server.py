"""``footnotes serve``: one FastAPI application with the JSON API and the Gradio chat.

Wiring only: the API routes live in ``ui/api.py``, the chat in ``ui/chat.py``,
the answers in ``footnotes.index``. With a root path (``/qa``) the whole
application is mounted under it, so it answers at ``http://host:port/qa/``
directly and behind a reverse proxy that passes the path through.

Around the whole application, outermost first: the login throttle
(``ui/throttle.py``) and the request body limit (``ui/bodylimit.py``), so both
see every route, ours and gradio's, under the root path too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from footnotes.errors import ConfigError
from footnotes.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from footnotes.index.library import Library

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_exposure(settings: Settings) -> None:
    """Refuse to bind beyond loopback with neither UI auth nor an API token, unless allowed."""
    if settings.host in LOOPBACK or settings.allow_unauthenticated:
        return
    if not (settings.auth and settings.api_token):
        raise ConfigError(
            f"refusing to serve on {settings.host} without FOOTNOTES_AUTH and "
            "FOOTNOTES_API_TOKEN; set both, or pass --allow-unauthenticated"
        )


def build_app(settings: Settings, library: Library) -> FastAPI:
    """The application: ``/healthz``, ``/api/...`` and the chat at ``/``, under the root path."""
    import gradio as gr
    from fastapi import FastAPI

    from footnotes.ui.api import build_router
    from footnotes.ui.auth import ui_auth
    from footnotes.ui.chat import build_chat, page_options

    app = FastAPI(
        title="Footnotes",
        version="0.1.0",
        description="Answers from your documents, cited to the exact sentence.",
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN: nothing leaves
        redoc_url=None,  # the machine, so only the schema itself is served
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(build_router(library, settings), prefix="/api")
    blocks = build_chat(library, settings)
    app = gr.mount_gradio_app(  # returns the same app
        app,
        blocks,
        path="",
        auth=ui_auth(settings),
        footer_links=[],
        show_error=True,
        max_file_size=f"{settings.max_upload_mb}mb",  # gradio's own upload route, too
        run_history=False,  # keep no copy of questions and answers in the browser
        **page_options(),
    )
    if not settings.root_path:
        guard(app, settings)
        return app  # type: ignore[no-any-return]
    inner = app  # a mounted app's lifespan is not run by Starlette: run it (gradio's queue) here
    outer = FastAPI(
        title="Footnotes",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lambda _: inner.router.lifespan_context(inner),
    )
    outer.mount(settings.root_path, app)
    guard(outer, settings)
    return outer


def guard(app: FastAPI, settings: Settings) -> None:
    """Wrap ``app``, the outermost application, in the body limit and the login throttle.

    Paths are matched as the client sends them, under the root path: gradio's
    login route is mounted at the application's path, ``ROOT/login``; the upload
    routes exempt from the body limit are ``POST ROOT/api/documents`` and gradio's
    ``POST ROOT/gradio_api/upload``, which enforce ``max_upload_mb`` as they stream.
    """
    from gradio.route_utils import API_PREFIX

    from footnotes.ui.bodylimit import BodyLimit
    from footnotes.ui.throttle import Door, Throttle, ThrottleMiddleware

    root = settings.root_path
    uploads = {f"{root}/api/documents", f"{root}{API_PREFIX}/upload"}
    logins = {f"{root}/login", f"{root}/login/"}
    limit = settings.max_body_kb

    def throttle() -> Throttle:
        return Throttle(
            settings.login_max_failures,
            settings.login_window_seconds,
            settings.login_lockout_seconds,
        )

    app.add_middleware(
        BodyLimit,
        max_bytes=limit * 1024,
        exempt=lambda method, path: method == "POST" and path in uploads,
        detail=f"the request body is larger than the {limit:,} KB limit (FOOTNOTES_MAX_BODY_KB)",
    )
    doors = [
        Door("logins", lambda method, path: method == "POST" and path in logins, 400, throttle()),
        Door(
            "API tokens",
            lambda _, path: path == f"{root}/api" or path.startswith(f"{root}/api/"),
            401,
            throttle(),
            attempt=lambda scope: not _carries_token(scope, settings.api_token),
        ),
    ]
    app.add_middleware(ThrottleMiddleware, doors=doors)  # added last: the outermost


def _carries_token(scope: Any, token: str) -> bool:
    """Whether a request carries the right ``Authorization: Bearer`` token."""
    import secrets

    if not token:
        return True  # no token is asked for: nothing to guess
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, given = value.partition(b" ")
            return scheme.lower() == b"bearer" and secrets.compare_digest(
                given.strip(), token.encode("utf-8")
            )
    return False


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``uvicorn.run`` needs besides the application. ``forwarded_allow_ips`` names the
    proxies whose ``X-Forwarded-For`` gives the client address (which the login throttle
    counts by); a client connecting from anywhere else is its own address."""
    return {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxies,
        "log_level": "warning",
    }


def _log_to_stderr() -> None:
    """One line a record for the ``footnotes`` logger (refusals, lockouts, server errors).

    Done here, in the entry point, not on import: a library leaves logging to its host.
    """
    import logging

    logger = logging.getLogger("footnotes")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve(settings: Settings) -> None:
    """Run the server until interrupted."""
    import os

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import uvicorn

    from footnotes.index.library import Library

    check_exposure(settings)
    library = Library.from_settings(settings)
    library.parser.prestart()
    app = build_app(settings, library)
    url = f"http://{settings.host}:{settings.port}{settings.root_path}/"
    print(f"Footnotes is serving at {url}", flush=True)
    _log_to_stderr()
    uvicorn.run(app, **uvicorn_options(settings))

"""``footnotes serve``: one FastAPI application with the JSON API and the Gradio chat.

Wiring only: the API routes live in ``ui/api.py``, the chat in ``ui/chat.py``,
the answers in ``footnotes.index``. With a root path (``/qa``) the whole
application is mounted under it, so it answers at ``http://host:port/qa/``
directly and behind a reverse proxy that passes the path through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    return outer


def serve(settings: Settings) -> None:
    """Run the server until interrupted."""
    import os

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import uvicorn

    from footnotes.index.library import Library

    check_exposure(settings)
    library = Library.from_settings(settings)
    app = build_app(settings, library)
    url = f"http://{settings.host}:{settings.port}{settings.root_path}/"
    print(f"Footnotes is serving at {url}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")

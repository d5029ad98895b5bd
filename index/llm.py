"""The language model that writes answers when one is configured, and how it fails.

llama-index's integrations do the talking (``OpenAILike`` with
``is_chat_model=True`` for any OpenAI-compatible server, ``Ollama``), built
here from :class:`Settings` and passed down explicitly: nothing reads
llama-index's global ``Settings.llm``. What this module adds is the one thing
the rest of Footnotes needs from a model: its words as they arrive, or a
:class:`ModelFailed` whose message says in a few words why there are none
(connection refused, no reply in time, HTTP 500, an empty or malformed
reply), so the caller can answer from quotes instead. No retries: a model
that failed once is reported at once, not after several timeouts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from footnotes.errors import FootnotesError
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.llms import LLM

OLLAMA_URL = "http://127.0.0.1:11434"
CONTEXT_WINDOW = 8192
"""Told to Ollama's integration, which otherwise asks the server (``/api/show``) first."""


class ModelFailed(FootnotesError):
    """The model gave no usable answer; the message is why, in a few words."""


class Writer(Protocol):
    """What writes an answer: the model's text, a piece at a time."""

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]: ...


class ChatWriter:
    """A llama-index chat model, streamed, with every failure turned into
    :class:`ModelFailed` and a deadline of ``timeout`` seconds on the whole answer."""

    def __init__(self, llm: LLM, timeout: float) -> None:
        self.llm = llm
        self.timeout = timeout

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        deadline = time.monotonic() + self.timeout
        wrote = False
        try:
            for chunk in self.llm.stream_chat(list(messages)):
                if time.monotonic() > deadline:
                    raise ModelFailed(f"no complete answer within {self.timeout:g} s")
                if chunk.delta:
                    wrote = True
                    yield chunk.delta
        except ModelFailed:
            raise
        except Exception as exc:  # every client library has its own errors: name the cause
            raise ModelFailed(reason(exc, self.timeout)) from exc
        if not wrote:
            raise ModelFailed("empty reply")


def reason(exc: BaseException, timeout: float) -> str:
    """Why a model call failed, in a few words, from the exception its client raised."""
    import httpx

    status = getattr(exc, "status_code", None)
    if isinstance(status, int):  # openai.APIStatusError, ollama.ResponseError
        return f"HTTP {status}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    name = type(exc).__name__
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)) or "Timeout" in name:
        return f"no reply within {timeout:g} s"
    if isinstance(exc, (httpx.ConnectError, ConnectionError)) or "Connection" in name:
        return "cannot connect to the model server"
    if isinstance(exc, (json.JSONDecodeError, ValueError, KeyError, TypeError)):
        return "malformed reply"
    return f"{name} from the model server"


def make_writer(settings: Settings) -> Writer | None:
    """The configured model as a :class:`Writer`, or None for extractive answers."""
    if not settings.llm:
        return None
    if settings.llm == "openai":
        from llama_index.llms.openai_like import OpenAILike

        llm: LLM = OpenAILike(
            model=settings.llm_model,
            api_base=settings.llm_url.rstrip("/"),
            api_key=settings.llm_api_key or "none",  # the client wants one; local servers not
            is_chat_model=True,
            temperature=0.0,
            timeout=settings.llm_timeout,
            max_retries=0,
            context_window=CONTEXT_WINDOW,
        )
    else:
        from llama_index.llms.ollama import Ollama

        headers = (
            {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
        )
        llm = Ollama(
            model=settings.llm_model,
            base_url=(settings.llm_url or OLLAMA_URL).rstrip("/"),
            temperature=0.0,
            request_timeout=settings.llm_timeout,
            context_window=CONTEXT_WINDOW,
            headers=headers or None,
        )
    return ChatWriter(llm, settings.llm_timeout)

"""A fake language-model server for tests: a real HTTP server on loopback that speaks the
OpenAI chat-completions protocol (``POST /v1/chat/completions``, JSON or server-sent
events) and Ollama's (``POST /api/chat``, JSON or NDJSON lines).

The only fake the project allows, at its outer edge: what it answers is scripted by
the test (``reply``: the request's messages to the text to send), and it can fail the
ways real servers do (``fail``: an HTTP status, ``"slow"``, ``"empty"``,
``"malformed"``, ``"drop"``). Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, Any]]


class FakeLLM:
    """The server's script and what it received."""

    def __init__(self) -> None:
        self.reply: Callable[[Messages], str] = lambda messages: "The documents do not say."
        self.fail: int | str | None = None
        self.delay = 0.0  # seconds between streamed pieces
        self.requests: list[dict[str, Any]] = []
        self.url = ""  # set when serving: http://127.0.0.1:PORT

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"


def _pieces(text: str) -> list[str]:
    """The text as a model streams it: a word (with its space) at a time."""
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, **body})
            if self.path.rstrip("/") == "/v1/chat/completions":
                protocol = "openai"
            elif self.path.rstrip("/") == "/api/chat":
                protocol = "ollama"
            else:
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            if isinstance(fake.fail, int):
                self._send(
                    fake.fail, b'{"error": {"message": "scripted failure"}}', "application/json"
                )
                return
            if fake.fail == "slow":
                time.sleep(30)
            if fake.fail == "drop":
                self.connection.close()
                return
            text = "" if fake.fail == "empty" else fake.reply(body.get("messages", []))
            if fake.fail == "malformed":
                self._send(200, b"{not json", "application/json")
            elif body.get("stream"):
                self._stream(protocol, text, str(body.get("model", "")))
            else:
                self._send(
                    200, json.dumps(_whole(protocol, text, body)).encode(), "application/json"
                )

        def _send(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, protocol: str, text: str, model: str) -> None:
            self.send_response(200)
            sse = protocol == "openai"
            self.send_header("content-type", "text/event-stream" if sse else "application/x-ndjson")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for piece in _pieces(text):
                self._chunk(_piece(protocol, piece, model, done=False))
                if fake.delay:
                    time.sleep(fake.delay)
            self._chunk(_piece(protocol, "", model, done=True))
            if sse:
                self._chunk("data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        def _chunk(self, text: str) -> None:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _whole(protocol: str, text: str, body: dict[str, Any]) -> dict[str, Any]:
    if protocol == "openai":
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip
    return {
        "model": body.get("model", ""),
        "created_at": "2026-12-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": True,
        "done_reason": "stop",
    }


def _piece(protocol: str, text: str, model: str, done: bool) -> str:
    if protocol == "openai":
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "delta": {} if done else {"content": text},
                 "finish_reason": "stop" if done else None}
            ],
        }  # fmt: skip
        return f"data: {json.dumps(chunk)}\n\n"
    line = {
        "model": model,
        "created_at": "2026-12-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": done,
    }
    if done:
        line["done_reason"] = "stop"
    return json.dumps(line) + "\n"


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    """A :class:`FakeLLM` serving on a free loopback port until the block ends."""
    fake = FakeLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    """Serve a scripted reply until interrupted, to try LLM mode by hand:
    ``python tests/fake_llm.py --port 8099 --reply "... [1]." [--fail 500] [--delay 0.1]``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--reply", default="The documents do not say.")
    parser.add_argument("--fail", default=None, help="an HTTP status, slow, empty, malformed, drop")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between streamed words")
    args = parser.parse_args()
    fake = FakeLLM()
    fake.reply = lambda messages: args.reply
    fake.fail = int(args.fail) if args.fail and args.fail.isdigit() else args.fail
    fake.delay = args.delay
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(fake))
    fake.url = f"http://127.0.0.1:{args.port}"
    print(f"fake model server: OpenAI {fake.openai_url}, Ollama {fake.url}", flush=True)
    with suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()

"""Requests are bounded and logins throttled, on every entry point (issue #9, points 4, 5, 8).

The bounds are the core's (``index/ask.py``), so they are checked once there and
then through each edge: the API over real HTTP, the chat's callback, the chat
through ``gradio_client``, and the line readers of ``ask --batch`` and ``eval``.
The body limit and the throttle are checked against a served application with
raw sockets where it matters: a 413 must come back while the body is still being
sent, and distinct client addresses come from ``X-Forwarded-For`` sent by the
trusted loopback proxy (the test client itself).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import SAMPLE_ARTICLE, serving_app

from footnotes.errors import InputError, StoreError
from footnotes.index.answer import Answer
from footnotes.index.ask import Turn, check_history, check_question, recent_history
from footnotes.index.evaluate import load_rows
from footnotes.index.jsonl import read_json_lines
from footnotes.settings import Settings
from footnotes.ui.throttle import Throttle

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
MEGABYTE_QUESTION = "Which missile system? " * 45_455  # 1,000,010 characters: ~1 MB, under
# the default body limit of 1,024 KB, so it reaches the chat's callback
LOGINS = "alice:open-sesame"
TOKEN = "the-right-token"


# --- the core's bounds ---------------------------------------------------------------------


def test_question_bounds_are_the_core_rule() -> None:
    settings = Settings(max_question_chars=10)
    assert check_question("  short?  ", settings) == "short?"
    with pytest.raises(InputError, match=r"11 characters long; at most 10 .*MAX_QUESTION_CHARS"):
        check_question("x" * 11, settings)
    with pytest.raises(InputError, match="empty"):
        check_question("   ", settings)
    assert Settings().max_question_chars == 4000


def test_history_bounds_refuse_and_recent_history_keeps_whole_recent_pairs() -> None:
    settings = Settings(max_history_turns=4, max_history_chars=30)
    history = [t for i in range(3) for t in (Turn("user", f"q{i}"), Turn("assistant", f"a{i}"))]
    check_history(history[-4:], settings)
    with pytest.raises(InputError, match="6 messages; at most 4"):
        check_history(history, settings)
    with pytest.raises(InputError, match="31 characters; at most 30"):
        check_history([Turn("user", "x" * 31)], settings)
    assert recent_history(history, settings) == history[-4:]
    long = [Turn("user", "x" * 20), Turn("assistant", "y" * 5), Turn("user", "z" * 20)]
    assert recent_history(long, settings) == [long[2]]  # 45 characters would pass 30
    assert recent_history([Turn("assistant", "a"), Turn("user", "b")], settings)[0].role == "user"
    assert recent_history(history, Settings(max_history_turns=3)) == history[-2:]  # whole pairs


# --- the throttle, on a clock the test moves -----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def attempt(throttle: Throttle, address: str, failed: bool = True) -> float | None:
    wait = throttle.begin(address)
    if wait is None:
        throttle.end(address, failed)
    return wait


def test_throttle_locks_an_address_after_its_failures_and_only_that_address() -> None:
    clock = Clock()
    throttle = Throttle(3, window=300, lockout=60, clock=clock)
    assert [attempt(throttle, "10.0.0.1") for _ in range(3)] == [None, None, None]
    wait = throttle.begin("10.0.0.1")
    assert wait == 60  # locked for the whole lockout
    assert throttle.begin("10.0.0.1") == 60  # a right password too: nothing gets through
    assert attempt(throttle, "10.0.0.2", failed=False) is None  # another address is not locked
    clock.now += 59
    assert throttle.begin("10.0.0.1") == pytest.approx(1)
    clock.now += 1
    assert attempt(throttle, "10.0.0.1") is None  # the lockout is over, and forgotten
    assert attempt(throttle, "10.0.0.1") is None


def test_throttle_counts_only_failures_inside_the_window() -> None:
    clock = Clock()
    throttle = Throttle(3, window=300, lockout=60, clock=clock)
    for _ in range(10):  # two failures every 301 s never make three within 300 s
        assert attempt(throttle, "10.0.0.1") is None
        assert attempt(throttle, "10.0.0.1") is None
        clock.now += 301
    assert attempt(throttle, "10.0.0.1", failed=False) is None


def test_throttle_counts_attempts_in_flight() -> None:
    throttle = Throttle(3, window=300, lockout=60, clock=Clock())
    assert [throttle.begin("10.0.0.1") for _ in range(3)] == [None, None, None]
    assert throttle.begin("10.0.0.1") == 1.0  # a fourth concurrent guess must wait
    assert [throttle.end("10.0.0.1", failed=True) for _ in range(3)] == [False, False, True]
    assert throttle.begin("10.0.0.1") == 60


def test_throttle_memory_is_bounded() -> None:
    clock = Clock()
    throttle = Throttle(3, window=300, lockout=60, max_addresses=100, clock=clock)
    for i in range(1000):
        attempt(throttle, f"10.1.{i // 250}.{i % 250}")
    assert throttle.tracked() <= 100
    clock.now += 301
    attempt(throttle, "10.9.9.9")
    assert throttle.tracked() == 1  # the old entries were pruned
    for _ in range(3):
        attempt(throttle, "10.9.9.8")
    clock.now += 61
    attempt(throttle, "10.9.9.7")
    assert throttle.tracked() == 2  # the expired lockout was pruned too


# --- batch and eval files, a line at a time -------------------------------------------------


def test_json_lines_name_the_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(b'\xef\xbb\xbf{"question": "a?"}\r\n\n   \n{"question": "b?"}')
    assert list(read_json_lines(good, 1024)) == [(1, {"question": "a?"}), (4, {"question": "b?"})]
    cases = {
        b'{"question": "a?"}\n{"question": "caf\xe9?"}\n': "2: not UTF-8 text",
        b'{"question": "a?"}\n\n{"question": \n': "3: invalid JSON",
        b'{"question": "a?"}\n' + b'{"question": "' + b"x" * 2000 + b'"}\n': "2: line longer than",
    }
    for n, (data, reason) in enumerate(cases.items()):
        path = tmp_path / f"bad{n}.jsonl"
        path.write_bytes(data)
        seen = []
        with pytest.raises(InputError) as caught:
            seen.extend(read_json_lines(path, 1024))
        assert str(caught.value).startswith(f"{path}:{reason}"), caught.value
        assert seen == [(1, {"question": "a?"})]  # the lines before it were read
    with pytest.raises(InputError, match="cannot read"):
        list(read_json_lines(tmp_path / "missing.jsonl", 1024))


def test_eval_rows_are_held_to_the_question_and_history_bounds(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 26
    lines = [
        json.dumps({"question": "fine?", "answers": ["x"]}),
        json.dumps({"question": "y" * 4001}),
        json.dumps({"question": "ok?", "history": history}),
    ]
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{rows}:2: the question is 4,001 characters"):
        load_rows(rows)
    rows.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{rows}:2: the history has 52 messages"):
        load_rows(rows)
    assert len(load_rows(rows, Settings(max_history_turns=52))) == 2
    rows.write_bytes(b'{"question": "fine?"}\n{"question": 7}\n')
    with pytest.raises(InputError, match=rf"^{rows}:2: not an eval row"):
        load_rows(rows)


# --- a served application -------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("requests") / "store"


@pytest.fixture(scope="module")
def library(store_dir: Path, embed_model: Any) -> Any:
    from footnotes.index.library import Library

    lib = Library(Settings(store=store_dir, collection="test"), embed_model)
    assert lib.ingest([SAMPLE_ARTICLE]).counts["added"] == 1
    return lib


def served_settings(store_dir: Path, **overrides: Any) -> Settings:
    return Settings(store=store_dir, collection="test", **overrides)


@pytest.fixture(scope="module")
def small_body(store_dir: Path, library: Any) -> Iterator[str]:
    """A server with a 64 KB body limit."""
    with serving_app(served_settings(store_dir, max_body_kb=64), library) as url:
        yield url


@pytest.fixture(scope="module")
def small_body_qa(store_dir: Path, library: Any) -> Iterator[str]:
    """The same under the root path /qa."""
    settings = served_settings(store_dir, max_body_kb=64, root_path="/qa")
    with serving_app(settings, library) as url:
        yield url


def raw_post(url: str, path: str, headers: dict[str, str], chunks: list[bytes]) -> bytes:
    """POST ``path`` on a raw socket: the headers, then ``chunks`` chunked (never the last,
    empty chunk, so the body is never complete), or nothing when a Content-Length is given;
    then read one response. A server that waited for the whole body would time out here."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        framing = {} if "Content-Length" in headers else {"Transfer-Encoding": "chunked"}
        head = {"Host": parts.netloc, "Content-Type": "application/json", **framing, **headers}
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        sock.sendall(f"POST {parts.path}{path} HTTP/1.1\r\n{lines}\r\n".encode())
        for chunk in chunks:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        response = b""
        while b"\r\n\r\n" not in response:
            got = sock.recv(65536)
            assert got, f"connection closed before a response: {response!r}"
            response += got
        head_bytes, _, body = response.partition(b"\r\n\r\n")
        length = int(next(
            line.split(b":", 1)[1] for line in head_bytes.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ))  # fmt: skip
        while len(body) < length:
            body += sock.recv(65536)
        return head_bytes + b"\r\n\r\n" + body


def status_and_detail(response: bytes) -> tuple[int, str]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("served", ["small_body", "small_body_qa"])
@pytest.mark.parametrize("route", ["/api/ask", "/gradio_api/queue/join", "/login"])
def test_a_large_body_is_refused_before_it_is_sent(
    request: pytest.FixtureRequest, served: str, route: str
) -> None:
    url = request.getfixturevalue(served)
    kind = "application/x-www-form-urlencoded" if route == "/login" else "application/json"
    # Headers announcing 60 MB, and not one byte of the body.
    announced = raw_post(
        url, route, {"Content-Type": kind, "Content-Length": str(60 * 1024 * 1024)}, []
    )
    assert status_and_detail(announced) == (
        413,
        "the request body is larger than the 64 KB limit (FOOTNOTES_MAX_BODY_KB)",
    )
    # Chunked, no length: 80 KB of an unfinished body; the 413 comes back meanwhile.
    streamed = raw_post(url, route, {"Content-Type": kind}, [b"[" + b" " * 20_000] * 4)
    assert status_and_detail(streamed)[0] == 413
    with httpx.Client(base_url=url, timeout=60) as http:  # and the server is still serving
        small = http.post("/api/ask", json={"question": QUESTION})
        assert small.status_code == 200 and small.json()["answered"] is True


@pytest.mark.slow
def test_uploads_are_exempt_from_the_body_limit(small_body: str, library: Any) -> None:
    text = ("The harbour ferry leaves at nine. " * 6000).encode()  # ~200 KB, over 64 KB
    with httpx.Client(base_url=small_body, timeout=120) as http:
        ours = http.post(
            "/api/documents", data={"collection": "big-ones"}, files=[("files", ("big.txt", text))]
        )
        assert ours.status_code == 200, ours.text
        assert ours.json()["files"][0]["status"] == "added"
        gradios = http.post("/gradio_api/upload", files=[("files", ("big.txt", text))])
        assert gradios.status_code == 200, gradios.text
        (stored,) = gradios.json()
        assert Path(stored).read_bytes() == text
        # Only POST to the upload routes is exempt.
        other = http.post(
            "/api/documents/big.txt/text", content=text, headers={"content-type": "text/plain"}
        )
        assert other.status_code == 413


@pytest.fixture(scope="module", params=["", "/qa"])
def guarded(request: pytest.FixtureRequest, store_dir: Path, library: Any) -> Iterator[str]:
    """A server with logins, a token and a throttle of 3 failures, at / and under /qa."""
    settings = served_settings(
        store_dir, auth=LOGINS, api_token=TOKEN, login_max_failures=3, root_path=request.param
    )
    with serving_app(settings, library) as url:
        yield url


def client_at(url: str, address: str) -> httpx.Client:
    """A client that the server sees at ``address`` (told by the trusted loopback proxy)."""
    return httpx.Client(base_url=url, timeout=60, headers={"X-Forwarded-For": address})


@pytest.mark.slow
def test_failed_logins_lock_the_address_out_and_no_other(
    guarded: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="footnotes")
    suffix = "qa" if guarded.endswith("/qa") else "root"
    attacker, user = f"10.1.0.{len(suffix)}", f"10.2.0.{len(suffix)}"
    wrong = [f"guess-{suffix}-{n}" for n in range(4)]
    with client_at(guarded, attacker) as http:
        for password in wrong[:3]:
            refused = http.post("/login", data={"username": "alice", "password": password})
            assert refused.status_code == 400  # gradio's "Incorrect credentials."
        locked = http.post("/login", data={"username": "alice", "password": wrong[3]})
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 300
        assert "too many failed logins" in locked.json()["detail"]
        right = http.post("/login", data={"username": "alice", "password": "open-sesame"})
        assert right.status_code == 429  # even the right password, from there
        assert http.get("/api/documents", headers={"Authorization": f"Bearer {TOKEN}"}).is_success
    with client_at(guarded, user) as http:
        ok = http.post("/login", data={"username": "alice", "password": "open-sesame"})
        assert ok.status_code == 200 and ok.json() == {"success": True}
    lines = [r for r in caplog.records if r.name == "footnotes" and attacker in r.getMessage()]
    assert [r.getMessage() for r in lines] == [
        f"{attacker}: 3 failed logins within 300 s; refusing it for 300 s (HTTP 429)"
    ]
    assert lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(p in logged for p in [*wrong, "open-sesame"])


@pytest.mark.slow
def test_wrong_api_tokens_lock_the_address_out_and_no_other(guarded: str) -> None:
    suffix = "qa" if guarded.endswith("/qa") else "root"
    attacker, user = f"10.3.0.{len(suffix)}", f"10.4.0.{len(suffix)}"
    with client_at(guarded, attacker) as http:
        for n in range(3):
            wrong = http.get("/api/documents", headers={"Authorization": f"Bearer wrong-{n}"})
            assert wrong.status_code == 401
        locked = http.post("/api/ask", json={"question": QUESTION})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        right = http.get("/api/documents", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 429
        page = http.post("/login", data={"username": "alice", "password": "open-sesame"})
        assert page.status_code == 200  # the chat's door is counted apart
    with client_at(guarded, user) as http:
        right = http.get("/api/documents", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and [d["id"] for d in right.json()] == [SAMPLE_ARTICLE.name]


@pytest.mark.slow
def test_concurrent_requests_with_the_right_token_are_never_throttled(guarded: str) -> None:
    """One intranet app (one address) sending many good requests at once: none is an
    attempt at a token, so none is held back (the limit is 3 failures here)."""
    from concurrent.futures import ThreadPoolExecutor

    suffix = "qa" if guarded.endswith("/qa") else "root"
    with client_at(guarded, f"10.5.0.{len(suffix)}") as http:

        def documents(_: int) -> int:
            got = http.get("/api/documents", headers={"Authorization": f"Bearer {TOKEN}"})
            return got.status_code

        with ThreadPoolExecutor(12) as pool:
            assert set(pool.map(documents, range(48))) == {200}


@pytest.mark.slow
def test_an_untrusted_peer_cannot_pick_its_address(store_dir: Path, library: Any) -> None:
    settings = served_settings(
        store_dir, auth=LOGINS, login_max_failures=2, trusted_proxies="192.0.2.1"
    )
    wrong = {"username": "a", "password": "b"}
    with serving_app(settings, library) as url:
        for n in range(2):  # a new X-Forwarded-For each time: still one address, 127.0.0.1
            with client_at(url, f"10.5.0.{n}") as http:
                assert http.post("/login", data=wrong).status_code == 400
        with client_at(url, "10.5.0.9") as http:
            assert http.post("/login", data=wrong).status_code == 429


def test_uvicorn_is_told_which_proxies_to_trust() -> None:
    from footnotes.ui.server import uvicorn_options

    assert Settings().trusted_proxies == "127.0.0.1,::1"
    options = uvicorn_options(Settings(trusted_proxies="10.0.0.7", port=8123))
    assert options["forwarded_allow_ips"] == "10.0.0.7" and options["proxy_headers"] is True
    assert options["port"] == 8123


# --- the API's answers to bad requests ------------------------------------------------------


@pytest.fixture(scope="module")
def api(store_dir: Path, library: Any) -> Iterator[httpx.Client]:
    with (
        serving_app(served_settings(store_dir), library) as url,
        httpx.Client(base_url=url, timeout=120) as http,
    ):
        yield http


@pytest.mark.slow
def test_over_long_questions_and_histories_are_400(api: httpx.Client) -> None:
    long = api.post("/api/ask", json={"question": "x" * 4001})
    assert long.status_code == 400
    assert long.json()["detail"] == (
        "the question is 4,001 characters long; at most 4,000 are allowed "
        "(FOOTNOTES_MAX_QUESTION_CHARS)"
    )
    at_limit = api.post("/api/ask", json={"question": QUESTION + " " * (4000 - len(QUESTION))})
    assert at_limit.status_code == 200 and at_limit.json()["answered"] is True
    turns = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "It."}]
    many = api.post("/api/ask", json={"question": "And why?", "history": turns * 26})
    assert many.status_code == 400 and "52 messages; at most 50" in many.json()["detail"]
    big = [
        {"role": "user", "content": "y" * 30_000},
        {"role": "assistant", "content": "z" * 20_001},
    ]
    heavy = api.post("/api/ask", json={"question": "And why?", "history": big})
    assert heavy.status_code == 400 and "50,001 characters" in heavy.json()["detail"]


@pytest.mark.slow
def test_wrong_methods_are_405_and_unknown_api_routes_404(api: httpx.Client) -> None:
    for method, path, allow in [
        ("GET", "/api/ask", "POST"),
        ("PUT", "/api/documents", "GET, POST"),
        ("GET", "/api/documents/x.txt", "DELETE"),
        ("POST", "/api/documents/x.txt/text", "DELETE, GET"),  # DELETE: the id x.txt/text
    ]:
        response = api.request(method, path)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow
        assert response.json()["detail"] == f"{method} is not allowed on {path}; use {allow}"
    unknown = api.get("/api/nothing")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no API route /api/nothing"


@pytest.mark.slow
def test_invalid_json_says_so(api: httpx.Client) -> None:
    response = api.post(
        "/api/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "invalid JSON body: Expecting value (at character 13)"


@pytest.mark.slow
def test_an_upload_with_nothing_ingested_is_422(api: httpx.Client) -> None:
    def upload(*files: tuple[str, bytes]) -> httpx.Response:
        return api.post(
            "/api/documents",
            data={"collection": "nothing-in"},
            files=[("files", f) for f in files],
        )

    failed = upload(("a.pdf", b"%PDF-1.7\nno pdf"), ("b.txt", b"\x00\x01 binary"))
    assert failed.status_code == 422
    detail = failed.json()["detail"]
    assert detail.startswith("no file of the upload was ingested: a.pdf:") and "b.txt:" in detail
    mixed = upload(("a.pdf", b"%PDF-1.7\nno pdf"), ("tool.exe", b"MZ"))
    assert mixed.status_code == 422 and "'.exe'" in mixed.json()["detail"]
    assert upload(("tool.exe", b"MZ")).status_code == 415  # all unsupported stays 415
    partial = upload(("a.pdf", b"%PDF-1.7\nno pdf"), ("ok.txt", b"The ferry leaves at nine."))
    assert partial.status_code == 207


class FailingLibrary:
    """A library whose store fails in the ways a server can: for the 5xx statuses."""

    def __init__(self, library: Any) -> None:
        self._library = library
        self.settings = library.settings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)

    def ask(self, *args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("unexpected /srv/secret/path")

    def documents(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError("cannot open collection 'test': disk I/O error")


@pytest.mark.slow
def test_server_faults_are_5xx_with_one_line(
    store_dir: Path, library: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="footnotes")
    with (
        serving_app(served_settings(store_dir), FailingLibrary(library)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        bug = http.post("/api/ask", json={"question": QUESTION})
        assert bug.status_code == 500
        assert (
            bug.json()["detail"] == "internal error (RuntimeError); the server log has the details"
        )
        store = http.get("/api/documents")
        assert store.status_code == 500
        assert store.json()["detail"] == "cannot open collection 'test': disk I/O error"
    logged = [r for r in caplog.records if r.name == "footnotes"]
    assert any(r.exc_info and "POST /api/ask failed" in r.getMessage() for r in logged)


# --- the chat -------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_chat_refuses_a_megabyte_question_with_the_reason(
    library: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import gradio as gr

    from footnotes.ui import chat

    caplog.set_level(logging.INFO, logger="footnotes")
    assert len(MEGABYTE_QUESTION) > 1_000_000
    with pytest.raises(gr.Error) as caught:
        next(chat.respond(library, MEGABYTE_QUESTION, [], None))
    assert "at most 4,000 are allowed" in caught.value.message
    assert caught.value.print_exception is False  # gradio prints no traceback for it
    (line,) = [r for r in caplog.records if r.name == "footnotes"]
    assert line.getMessage().startswith("chat: the question is 1,000,010 characters long")
    assert line.exc_info is None


@pytest.mark.slow
def test_an_empty_question_is_a_hint_not_an_error(
    library: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from footnotes.ui import chat

    caplog.set_level(logging.DEBUG, logger="footnotes")
    (shown,) = list(chat.respond(library, "   ", [], None))
    _, conversation, _, textbox = shown
    assert conversation == []
    assert textbox["placeholder"] == chat.EMPTY_HINT and textbox["value"] == ""
    assert [r for r in caplog.records if r.name == "footnotes"] == []


@pytest.mark.slow
def test_the_chat_asks_after_and_keeps_only_the_recent_turns(
    store_dir: Path, embed_model: Any
) -> None:
    from footnotes.index.library import Library
    from footnotes.ui import chat

    small = Library(served_settings(store_dir, max_history_turns=2), embed_model)
    conversation: list[Any] = []
    for question in [QUESTION, "When did the leaders sign the agreements?", "What threat?"]:
        *_, (_, conversation, _, _) = chat.respond(small, question, conversation, None)
    assert len(conversation) == 2  # the one exchange that fits, and the new one
    assert [e.answer.question for e in conversation] == [
        "When did the leaders sign the agreements?",
        "What threat?",
    ]
    assert chat.history(chat.kept(conversation, small.settings))[0].content == "What threat?"


@pytest.mark.slow
def test_the_served_chat_refuses_a_megabyte_question(store_dir: Path, library: Any) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with serving_app(served_settings(store_dir), library) as url:
        client = Client(url + "/", verbose=False)
        with pytest.raises(AppError, match="at most 4,000 are allowed"):
            client.predict(MEGABYTE_QUESTION, api_name="/ask")
        messages, _, textbox = client.predict(QUESTION, api_name="/ask")  # the session goes on
        assert textbox == "" and len(messages) == 2


@pytest.mark.slow
def test_the_textbox_holds_at_most_the_question_limit(store_dir: Path, embed_model: Any) -> None:
    from footnotes.index.library import Library
    from footnotes.ui import chat

    settings = served_settings(store_dir, max_question_chars=1234)
    blocks = chat.build_chat(Library(settings, embed_model), settings)
    (box,) = [b for b in blocks.blocks.values() if getattr(b, "elem_id", "") == "fn-question"]
    assert box.max_length == 1234

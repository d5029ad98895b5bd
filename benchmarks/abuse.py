"""The request attacks of issue #9 at full size, against a real ``footnotes serve``.

Serves the sample article with logins and an API token set (real model, real Chroma
store in a temporary folder), then, each against the running server:

* a 1 MB question through the chat (``gradio_client``, the page's own ``ask`` event),
  with ``/api/ask`` timed meanwhile;
* a 60 MB JSON body to ``/api/ask``, sent 64 KB at a time: how much was sent when the
  413 came back;
* 40 wrong passwords to ``/login`` and 40 wrong tokens to ``/api`` from one address,
  then the right ones from another;
* a large upload (a 3,000-sentence text: seconds to read and embed) while a small
  upload and a question from another user are timed.

Prints the figures; asserts nothing about time.

    python benchmarks/abuse.py
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "samples" / "belarus-russia-security-alliance.txt"
BIN = Path(sys.executable).parent
TOKEN = "bench-token"
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "FOOTNOTES_STORE": str(store),
        "FOOTNOTES_AUTH": "alice:open-sesame",
        "FOOTNOTES_API_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    done = subprocess.run(
        [str(BIN / "footnotes"), "ingest", str(ARTICLE)], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    port = _free_port()
    log = open(store / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [str(BIN / "footnotes"), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit("the server did not come up")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _api(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)


def megabyte_question(url: str, pid: int) -> None:
    from gradio_client import Client

    client = Client(f"{url}/", auth=("alice", "open-sesame"), verbose=False)
    latencies: list[float] = []
    stop = threading.Event()

    def ask_meanwhile() -> None:
        with _api(url) as api:
            while not stop.is_set():
                started = time.perf_counter()
                api.post("/api/ask", json={"question": QUESTION})
                latencies.append(time.perf_counter() - started)

    meanwhile = threading.Thread(target=ask_meanwhile)
    meanwhile.start()
    started = time.perf_counter()
    try:
        client.predict("Which missile system? " * 45_455, api_name="/ask")
        outcome = "answered (!)"
    except Exception as exc:  # gradio_client raises AppError with the message
        outcome = f"refused: {str(exc)[:110]}"
    took = time.perf_counter() - started
    time.sleep(1)
    stop.set()
    meanwhile.join()
    print(f"1 MB chat question: {outcome}")
    print(
        f"  {took:.2f} s to the refusal; /api/ask meanwhile: {len(latencies)} answers, "
        f"slowest {max(latencies):.2f} s; server RSS {_rss_mb(pid):.0f} MB"
    )


def huge_json_body(url: str) -> None:
    parts = urlsplit(url)
    size = 60 * 1024 * 1024
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"POST /api/ask HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        )
        started = time.perf_counter()
        sock.sendall(head.encode())
        sock.settimeout(0.01)
        sent, reply = 0, b""
        chunk = b"x" * 65536
        while sent < size and b"\r\n\r\n" not in reply:
            try:
                sock.sendall(chunk)
                sent += len(chunk)
            except OSError:
                break
            with contextlib.suppress(TimeoutError, BlockingIOError):
                reply += sock.recv(65536)
        sock.settimeout(10)
        while b"\r\n\r\n" not in reply:
            got = sock.recv(65536)
            if not got:
                break
            reply += got
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace")
    print(
        f"60 MB JSON body: {status!r} after {time.perf_counter() - started:.3f} s, "
        f"{sent / 1024:.0f} KB of {size // 1024} KB sent"
    )


def logins_and_tokens(url: str) -> None:
    for door in ("logins", "API tokens"):
        statuses: list[int] = []
        started = time.perf_counter()
        headers = {"X-Forwarded-For": "10.9.9.9"}  # loopback is a trusted proxy
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for n in range(40):
                if door == "logins":
                    r = http.post("/login", data={"username": "alice", "password": f"guess{n}"})
                else:
                    r = http.get("/api/documents", headers={"Authorization": f"Bearer guess{n}"})
                statuses.append(r.status_code)
        took = time.perf_counter() - started
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        first = statuses.index(429) + 1 if 429 in statuses else None
        with httpx.Client(base_url=url, headers={"X-Forwarded-For": "10.8.8.8"}) as http:
            if door == "logins":
                ok = http.post("/login", data={"username": "alice", "password": "open-sesame"})
            else:
                ok = http.get("/api/documents", headers={"Authorization": f"Bearer {TOKEN}"})
        print(
            f"40 wrong {door} from one address: {counts} in {took:.2f} s, 429 from attempt "
            f"{first}; the right one from another address: {ok.status_code}"
        )


def slow_upload(url: str, work: Path) -> None:
    lines = [
        f"Record {i} notes that the beacon near gate {i} was inspected in week {i % 52}."
        for i in range(3000)
    ]
    big = work / "ledger.txt"
    big.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    small = work / "memo.txt"
    small.write_text("The night ferry to Vardø leaves from pier 7.\n", encoding="utf-8")
    timings: dict[str, float] = {}

    def upload(path: Path, key: str) -> None:
        started = time.perf_counter()
        with _api(url) as api, path.open("rb") as handle:
            r = api.post("/api/documents", files=[("files", (path.name, handle))])
        assert r.status_code == 200, r.text
        timings[key] = time.perf_counter() - started

    with _api(url) as api:
        started = time.perf_counter()
        api.post("/api/ask", json={"question": QUESTION})
        alone = time.perf_counter() - started
    slow = threading.Thread(target=upload, args=(big, "large upload"))
    slow.start()
    time.sleep(1.0)  # the large file is being read and embedded
    upload(small, "small upload meanwhile")
    with _api(url) as api:
        started = time.perf_counter()
        answer = api.post(
            "/api/ask", json={"question": "Which pier does the night ferry leave from?"}
        )
        timings["question meanwhile"] = time.perf_counter() - started
    running = slow.is_alive()
    slow.join()
    print(
        f"slow upload (3,000 sentences): large upload {timings['large upload']:.1f} s; "
        f"meanwhile a small upload {timings['small upload meanwhile']:.2f} s and a question "
        f"{timings['question meanwhile']:.2f} s (alone {alone:.2f} s), answered "
        f"{answer.json()['answered']}; large upload still running then: {running}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        process, url = _serve(work / "store")
        try:
            print(f"footnotes serve (real model) at {url}, RSS {_rss_mb(process.pid):.0f} MB")
            megabyte_question(url, process.pid)
            huge_json_body(url)
            logins_and_tokens(url)
            slow_upload(url, work)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

"""Shared fixtures: an isolated store per test, one embedding model per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from footnotes.index.library import Library

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SAMPLE_ARTICLE = SAMPLES / "belarus-russia-security-alliance.txt"

# The repository's sibling ``../shared`` holds read-only test data that CI has and a user
# who clones the repository does not: the tests that need it skip, saying why.
SHARED = ROOT.parent / "shared"
SOLANA_PDF = SHARED / "data" / "blockchain_solana" / "source_files" / "BlockchainSolana.pdf"
needs_shared = pytest.mark.skipif(
    not SOLANA_PDF.is_file(),
    reason=(
        f"needs the outside Solana dataset at {SOLANA_PDF.relative_to(SHARED.parent)}, which is "
        "not part of the repository: CI has it; to run these, put a copy of the project's "
        "shared/ folder beside the clone"
    ),
)
BIN = Path(sys.executable).parent  # the venv's bin: `chroma` and `footnotes` live here


def free_port() -> int:
    """A loopback port nothing listens on (the OS picks one that is free now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """A real ``chroma run`` server on a loopback port, its data in ``path``; it can be
    stopped and started again on the same port and data (an outage)."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.parent / f"chroma-server-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, polls: int = 600) -> None:
        chroma = BIN / "chroma"
        assert chroma.exists(), f"{chroma} is missing: is chromadb installed in this venv?"
        # The Rust server has no product telemetry and exports OpenTelemetry only when
        # configured; ANONYMIZED_TELEMETRY=False also turns off any client telemetry.
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [str(chroma), "run", "--path", str(self.path), "--port", str(self.port),
                 "--host", "127.0.0.1"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
        for _ in range(polls):  # x 0.1 s: generous, for a loaded CI machine
            if self._process.poll() is not None or self.alive():
                break
            time.sleep(0.1)
        if self._process.poll() is not None or not self.alive():
            pytest.fail(
                f"chroma server did not come up on {self.url} (exit {self._process.poll()}):\n"
                + self.log.read_text(errors="replace")[-2000:]
            )

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as response:
                return response.status == 200 and "heartbeat" in response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


@contextmanager
def chroma_server(path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the store at ``tmp_path`` and make sure nothing can reach OpenAI."""
    monkeypatch.setenv("FOOTNOTES_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="session")
def embed_model() -> HuggingFaceEmbedding:
    """The bundled model, loaded once per session (loading costs seconds)."""
    from footnotes.index.embedding import load_embedding

    return load_embedding(Settings())


@pytest.fixture(scope="session")
def onnx_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx") / "store"


@pytest.fixture(scope="session")
def torch_encoder(embed_model: Any) -> Any:
    """The torch fp32 encoder: the session's model if that is its backend."""
    from footnotes.index.embedding import load_embedding

    if embed_model.backend == "torch":
        return embed_model
    return load_embedding(Settings(embed_backend="torch"))


@pytest.fixture(scope="session")
def onnx_encoders(onnx_store: Path) -> dict[str, Any]:
    """Both ONNX backends, built into ``onnx_store`` (fp32 export, then int8 from it)."""
    from footnotes.index.embedding import load_embedding

    return {
        b: load_embedding(Settings(store=onnx_store, embed_backend=b))
        for b in ("onnx", "onnx-int8")
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a store in this test's ``tmp_path``."""
    return Settings(store=tmp_path / "store", collection="test")


@contextmanager
def serving_app(settings: Settings, library: Library) -> Iterator[str]:
    """``build_app(settings, library)`` under uvicorn on a free loopback port, in a thread;
    yields its base URL (with the root path, no trailing slash)."""
    import uvicorn

    from footnotes.ui.server import build_app

    app = build_app(settings, library)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="on", forwarded_allow_ips=settings.trusted_proxies
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not server.started:
        started.wait(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}{settings.root_path}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def make_pdf(pages: list[list[str]], header: str | None = None, footer: str | None = None) -> bytes:
    """A PDF of Helvetica text lines, one list of lines a page, written by hand (no
    installed package writes PDF text); ``{n}`` in the header or footer is the page number."""

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    def show(x: int, y: int, lines: list[str]) -> str:
        shown = " T* ".join(f"({escape(line)}) Tj" for line in lines)
        return f"BT /F1 10 Tf 14 TL {x} {y} Td {shown} ET\n"

    count = len(pages)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids ["
        + " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
        + f"] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, lines in enumerate(pages, start=1):
        content = show(72, 760, [header.format(n=n)]) if header else ""
        content += show(72, 720, lines)
        if footer:
            content += show(280, 40, [footer.format(n=n)])
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * (n - 1)} 0 R >>"
        )
        data = content.encode("latin-1")
        objects.append(f"<< /Length {len(data)} >>\nstream\n{content}endstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out

"""Several processes, one collection: two ``footnotes serve`` processes on one real Chroma
server (``chroma run``), with ``footnotes ingest`` writing meanwhile; and the server
going down and coming back. Each process keeps its own lexical index (its own store
folder) and follows the others' writes through the store's change log."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BIN, SAMPLE_ARTICLE, ChromaServer, free_port

pytestmark = pytest.mark.slow

COLLECTION = "shared"
HARBOUR = (
    "# Velmora harbour\n\nThe harbour at Velmora shelters forty-two fishing boats in winter. "
    "Its harbour master is Ilse Varga, who keeps the only key to the boathouse.\n"
)
HARBOUR_QUESTION = "How many fishing boats shelter in the harbour at Velmora?"
STARTUP_SECONDS = 240  # model load and imports, on a loaded CI machine


@dataclass
class Cluster:
    chroma: ChromaServer
    urls: list[str]
    root: Path

    def env(self, store: Path) -> dict[str, str]:
        return {
            **os.environ,
            "FOOTNOTES_CHROMA_URL": self.chroma.url,
            "FOOTNOTES_STORE": str(store),
            "FOOTNOTES_COLLECTION": COLLECTION,
            "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"footnotes serve exited {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"footnotes serve did not answer on {url}:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    chroma = ChromaServer(root / "chroma")
    chroma.start()
    cluster = Cluster(chroma, [], root)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        first = _cli(cluster, root / "cli", "ingest", str(SAMPLE_ARTICLE))
        assert first.returncode == 0, first.stderr
        for name in ("a", "b"):
            port = free_port()
            log = root / f"serve-{name}.log"
            with open(log, "wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(BIN / "footnotes"), "serve", "--port", str(port)],
                        env=cluster.env(root / name),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
            cluster.urls.append(f"http://127.0.0.1:{port}")
            _wait_healthy(cluster.urls[-1], processes[-1], log)
        yield cluster
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        chroma.stop()


def _cli(cluster: Cluster, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "footnotes"), *args],
        env=cluster.env(store),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _ask(url: str, question: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cited(answer: dict[str, Any]) -> set[str]:
    return {c["document"] for c in answer["citations"] + answer["related"]}


def test_a_write_through_one_process_is_answered_by_the_others_at_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = cluster.urls
    # The CLI ingests a folder meanwhile, from a third process.
    folder = tmp_path / "ledgers"
    folder.mkdir()
    for i in range(12):
        (folder / f"ledger-{i}.txt").write_text(
            f"Ledger {i} of the Quarnby archive is kept by the steward Orlaith{i}.\n", "utf-8"
        )
    ingesting = subprocess.Popen(
        [str(BIN / "footnotes"), "ingest", str(folder)],
        env=cluster.env(cluster.root / "cli"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        upload = httpx.post(
            f"{a}/api/documents",
            files=[("files", ("velmora.md", HARBOUR.encode(), "text/markdown"))],
            timeout=120,
        )
        assert upload.status_code == 200, upload.text
        # The very next question to the other process finds it: no wait, no rebuild.
        answer = _ask(b, HARBOUR_QUESTION)
        assert answer["answered"], answer
        assert answer["citations"][0]["document"] == "velmora.md"
        assert "forty-two" in answer["citations"][0]["quote"]
    finally:
        _, err = ingesting.communicate(timeout=600)
    assert ingesting.returncode == 0, err
    for url in (a, b):
        answer = _ask(url, "Who keeps ledger 7 of the Quarnby archive?")
        assert answer["answered"] and answer["citations"][0]["document"] == "ledger-7.txt"

    # Removed through one process: never cited by either after the removal returns.
    removed = httpx.delete(f"{b}/api/documents/velmora.md", timeout=60)
    assert removed.status_code == 200, removed.text
    for url in (a, b):
        for question in (HARBOUR_QUESTION, "Who keeps the key to the boathouse at Velmora?"):
            assert "velmora.md" not in _cited(_ask(url, question))
    # The CLI removes too (its folder, synced empty): the servers follow.
    for file in folder.iterdir():
        file.unlink()
    assert _cli(cluster, cluster.root / "cli", "ingest", str(folder)).returncode == 0
    for url in (a, b):
        answer = _ask(url, "Who keeps ledger 7 of the Quarnby archive?")
        assert not {d for d in _cited(answer) if d.startswith("ledger-")}


def test_a_chroma_outage_is_503_and_the_next_request_after_it_works(cluster: Cluster) -> None:
    a, b = cluster.urls
    assert _ask(a, "Which missile system did Lukashenka ask Putin to deploy?")["answered"]
    cluster.chroma.stop()
    try:
        for url in (a, b):
            down = httpx.post(f"{url}/api/ask", json={"question": "Which missile?"}, timeout=60)
            assert down.status_code == 503, down.text
            assert "Chroma server" in down.json()["detail"]
            listing = httpx.get(f"{url}/api/documents", timeout=60)
            assert listing.status_code == 503, listing.text
        run = _cli(cluster, cluster.root / "cli", "ask", "Which missile?")
        assert run.returncode != 0 and "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "Chroma server" in lines[0], run.stderr
    finally:
        cluster.chroma.start()
    for url in (a, b):  # no restart of either process
        answer = _ask(url, "Which missile system did Lukashenka ask Putin to deploy?")
        assert answer["answered"] and "Oreshnik" in answer["citations"][0]["quote"]

"""Hostile files against a serving process (issue #9): what each costs, and whether the
server's memory comes back.

The attacks found on ``footnotes serve``, generated at full size:

* ``inflate.docx``: 1.2 MB whose document.xml inflates to 1.2 GB of whitespace
* ``paragraphs-400k.docx``: 4 KB holding 400,000 empty paragraphs (``<w:p/>``, 2 MB)
* ``paragraphs-50mb.docx``: 80 KB holding 50 MB of ``<w:p/>`` (8.3 million)
* ``nested.html``: 30 MB of nested ``<div>``

Each is uploaded (``POST /api/documents``, one file an upload, one after another) to a
server on loopback: ``build_app`` and a ``Library``, as ``footnotes serve`` wires them,
its ingests parsing with the parser ``make_parser(settings)`` gives (a pool of worker
processes, or in-process for ``FOOTNOTES_PARSE_WORKERS=0``). For each: the outcome
and reason, seconds to the response, the server's RSS (``VmRSS``, sampled every 20 ms)
before, at peak and 1 s after the response, and the peak of its worker processes' RSS
together. A small
.txt is uploaded first (it loads the model and, with workers, starts one) and last.

Modes: ``in-process`` (limits, no worker), ``worker`` (limits and the worker's caps),
``worker, limits raised`` (every parsing limit set far above the attacks, so the
worker's 1024 MB and 120 s caps are what stop them); ``--unprotected`` adds in-process
with the limits raised, which is about what the server did before (it can take many
minutes: each upload there has a 300 s client timeout).

``--overhead`` measures what a worker costs instead: the parse (``load`` +
``split_passages``) of 300 small .txt files and of the kernel documentation's
reStructuredText sources (``/usr/share/doc/linux-doc-6.1/html/_sources``, 3,184 files),
in-process and through a one-worker pool, and a full ingest of the 300 files both ways.

Encoder: the bundled all-MiniLM-L6-v2 (``--tiny`` for the tiny random BERT of
``benchmarks/scale.py``). Figures are printed, never asserted.

Run::

    python benchmarks/hostile.py
    python benchmarks/hostile.py --modes worker --unprotected
    python benchmarks/hostile.py --modes "in-process, limits raised" --files inflate.docx
    python benchmarks/hostile.py --overhead
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KERNEL_DOCS = Path("/usr/share/doc/linux-doc-6.1/html/_sources")
W = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RAISED = {
    "FOOTNOTES_MAX_DOCX_INFLATED_MB": "100000",
    "FOOTNOTES_MAX_DOCX_PARAGRAPHS": "1000000000",
    "FOOTNOTES_MAX_HTML_MB": "1000",
    "FOOTNOTES_MAX_HTML_DEPTH": "100000000",
    "FOOTNOTES_MAX_HTML_ELEMENTS": "1000000000",
}
MODES: dict[str, dict[str, str]] = {
    "in-process": {"FOOTNOTES_PARSE_WORKERS": "0"},
    "worker": {"FOOTNOTES_PARSE_WORKERS": "4"},
    "worker, limits raised": {"FOOTNOTES_PARSE_WORKERS": "4", **RAISED},
    "in-process, limits raised": {"FOOTNOTES_PARSE_WORKERS": "0", **RAISED},
}


# --- the files ---------------------------------------------------------------------------

_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def write_docx(path: Path, filler: bytes, count: int) -> None:
    """A minimal .docx: one paragraph of text, then ``filler`` ``count`` times, streamed."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="'
        + W
        + b'"><w:body><w:p><w:r><w:t>The lamp in the hall is blue.</w:t></w:r></w:p>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(head)
            per = max(1, (1 << 20) // len(filler))
            left = count
            while left > 0:
                part.write(filler * min(per, left))
                left -= per
            part.write(b"</w:body></w:document>")


def attacks(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = [
        (folder / "inflate.docx", lambda p: write_docx(p, b" ", 1_200_000_000)),
        (folder / "paragraphs-400k.docx", lambda p: write_docx(p, b"<w:p/>", 400_000)),
        (folder / "paragraphs-50mb.docx", lambda p: write_docx(p, b"<w:p/>", 50_000_000 // 6)),
        (
            folder / "nested.html",
            lambda p: p.write_bytes(b"<html><body>" + b"<div>" * (30_000_000 // 5)),
        ),
    ]
    for path, make in made:
        if not path.exists():
            make(path)
    return [path for path, _ in made]


# --- the server --------------------------------------------------------------------------


def serve_child(port: int) -> None:
    """The server process: ``footnotes serve``'s wiring (its Library parses with the parser
    ``make_parser(settings)`` gives, from the environment the parent set)."""
    import logging

    import uvicorn

    from footnotes.index.library import Library
    from footnotes.settings import Settings
    from footnotes.ui.server import build_app

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    settings = Settings(host="127.0.0.1", port=port)
    library = Library.from_settings(settings)
    uvicorn.run(build_app(settings, library), host="127.0.0.1", port=port, log_level="warning")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.extend(int(c) for c in children.read().split())
    except OSError:
        pass
    return found


class Sampler:
    """The server's RSS and its children's together, every 20 ms, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.workers_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb(self.pid))
            workers = sum(_rss_mb(c) for c in _children(self.pid))
            self.workers_peak = max(self.workers_peak, workers)
            self._stop.wait(0.02)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_mode(mode: str, files: list[Path], work: Path, model: str) -> list[dict[str, Any]]:
    import httpx

    port = _free_port()
    store = work / mode.replace(", ", "-").replace(" ", "-")
    shutil.rmtree(store, ignore_errors=True)  # every mode starts from an empty store
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "FOOTNOTES_STORE": str(store),
        "FOOTNOTES_EMBED_MODEL": model,
        **MODES[mode],
    }
    log = (work / f"{port}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-child", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    rows: list[dict[str, Any]] = []
    note = work / "note.txt"
    note.write_text("The kettle in the kitchen is green.\n", encoding="utf-8")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            for _ in range(600):
                if server.poll() is not None:
                    raise RuntimeError(f"the server exited ({server.returncode}); see {log.name}")
                try:
                    if client.get("/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            for path in [note, *files, note]:
                rows.append(upload(client, server.pid, path, mode))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return rows


def upload(client: Any, pid: int, path: Path, mode: str) -> dict[str, Any]:
    import httpx

    time.sleep(1.0)
    before = _rss_mb(pid)
    with Sampler(pid) as sampler:
        started = time.perf_counter()
        try:
            with path.open("rb") as data:
                response = client.post("/api/documents", files={"files": (path.name, data)})
            body = response.json()
            refused = {"status": f"HTTP {response.status_code}", "reason": body.get("detail")}
            got = body["files"][0] if "files" in body else refused
            status, reason = got["status"], got["reason"]
        except httpx.TimeoutException:
            status, reason = "(no answer)", "no response within 300 s"
        seconds = time.perf_counter() - started
    time.sleep(1.0)
    return {
        "mode": mode,
        "file": path.name,
        "size": path.stat().st_size,
        "status": status,
        "reason": reason,
        "seconds": seconds,
        "before": before,
        "peak": max(sampler.peak, before),
        "after": _rss_mb(pid),
        "workers_peak": sampler.workers_peak,
    }


def print_attacks(rows: list[dict[str, Any]], model: str) -> None:
    print(f"encoder: {model}; server RSS in MB (VmRSS, sampled every 20 ms)")
    print(
        f"{'mode':<26} {'file':<21} {'size':>8} {'status':<8} {'s':>6} "
        f"{'before':>7} {'peak':>7} {'after':>7} {'workers':>8}  reason"
    )
    for r in rows:
        size = f"{r['size'] / 1e6:.2f}M" if r["size"] >= 1e5 else f"{r['size'] / 1e3:.1f}K"
        reason = str(r["reason"]).split(": ", 1)[-1] if r["reason"] else ""
        print(
            f"{r['mode']:<26} {r['file']:<21} {size:>8} {r['status']:<8} {r['seconds']:>6.2f} "
            f"{r['before']:>7.0f} {r['peak']:>7.0f} {r['after']:>7.0f} "
            f"{r['workers_peak']:>8.0f}  {reason}"
        )


# --- what a worker costs -----------------------------------------------------------------


def small_files(folder: Path, count: int = 300) -> list[Path]:
    """``count`` .txt files of about 150 words, from the sample article's sentences."""
    import random

    sentences = (HERE.parent / "samples" / "belarus-russia-security-alliance.txt").read_text(
        encoding="utf-8"
    )
    words = sentences.split()
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    paths = []
    for n in range(count):
        start = rng.randrange(0, len(words) - 150)
        path = folder / f"note-{n:03d}.txt"
        path.write_text(" ".join(words[start : start + 150]) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def overhead(work: Path, model: str) -> None:
    from footnotes.index.embedding import load_embedding
    from footnotes.index.replica import Replica
    from footnotes.index.store import Store
    from footnotes.index.sync import Ingestor
    from footnotes.ingest.limits import ParseLimits
    from footnotes.ingest.worker import InProcessParser, ParseJob, Parser, ParserPool
    from footnotes.settings import Settings

    limits = ParseLimits.defaults()
    corpora = {"300 small .txt": small_files(work / "small")}
    if KERNEL_DOCS.is_dir():
        corpora["linux-doc _sources"] = sorted(p for p in KERNEL_DOCS.rglob("*") if p.is_file())

    def parse_all(parser: Parser, files: list[Path]) -> float:
        started = time.perf_counter()
        for path in files:
            job = ParseJob(path, path.name, limits, 160, path.read_bytes())
            try:
                parser.parse(job)
            except Exception:  # a corpus file that fails costs its time all the same
                continue
        return time.perf_counter() - started

    starts = []
    for _ in range(5):
        with ParserPool(workers=1) as pool:
            tiny = corpora["300 small .txt"][0]
            started = time.perf_counter()
            pool.parse(ParseJob(tiny, tiny.name, limits, 160))
            starts.append(time.perf_counter() - started)
    each = ", ".join(f"{s * 1000:.0f}" for s in starts)
    print(
        "worker start (a fresh pool's first parse of a small file): "
        f"median {statistics.median(starts) * 1000:.0f} ms of 5 ({each})"
    )
    print(
        f"{'corpus':<20} {'files':>6} {'in-process s':>13} {'worker s':>9} {'overhead ms/file':>17}"
    )
    for name, files in corpora.items():
        inproc = min(parse_all(InProcessParser(), files) for _ in range(2))
        with ParserPool(workers=1) as pool:
            pool.parse(ParseJob(files[0], files[0].name, limits, 160))  # started, not timed
            worker = min(parse_all(pool, files) for _ in range(2))
        per = (worker - inproc) / len(files) * 1000
        print(f"{name:<20} {len(files):>6} {inproc:>13.2f} {worker:>9.2f} {per:>17.2f}")

    settings = Settings(store=work / "ingest-store", embed_model=model)
    encoder = load_embedding(settings)
    makers: dict[str, Callable[[], Parser]] = {
        "in-process": InProcessParser,
        "worker": lambda: ParserPool(1),
    }
    times: dict[str, list[float]] = {label: [] for label in makers}
    for round_ in range(3):  # alternating, so a busy spell of the machine hits both
        for label, make in makers.items():
            store = Store(
                _client(work / f"ingest-{label}-{round_}"), "bench", create=True, page_size=1000
            )
            parser = make()
            try:
                replica = Replica.open(store, settings)
                started = time.perf_counter()
                report = Ingestor(replica, lambda: encoder, settings, parser).sync([work / "small"])
                times[label].append(time.perf_counter() - started)
            finally:
                parser.close()
            assert report.counts["added"] == 300, report.counts
    for label, seconds in times.items():
        each = ", ".join(f"{t:.2f}" for t in seconds)
        print(f"ingest of the 300 small files, {label} (pool start included): {each} s")


def _client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(str(path), ChromaSettings(anonymized_telemetry=False))


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="in-process,worker,worker, limits raised")
    parser.add_argument("--unprotected", action="store_true", help="add in-process, raised")
    parser.add_argument("--overhead", action="store_true", help="what a worker costs instead")
    parser.add_argument("--tiny", action="store_true", help="the tiny random encoder")
    parser.add_argument("--workdir", type=Path, help="keep files and stores here")
    parser.add_argument("--files", help="only these attack files (comma-separated names)")
    parser.add_argument("--serve-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.serve_child)
        return
    os.environ.update(
        HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", GRADIO_ANALYTICS_ENABLED="False"
    )
    model = "bundled:all-MiniLM-L6-v2"
    if args.tiny:
        sys.path.insert(0, str(HERE))
        from scale import tiny_encoder

        model = str(tiny_encoder())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="footnotes-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.overhead:
        overhead(work, model)
        return
    files = attacks(work / "files")
    if args.files:
        files = [f for f in files if f.name in args.files.split(",")]
    modes = [m for m in MODES if m in {s.strip() for s in _split_modes(args.modes)}]
    if args.unprotected:
        modes.append("in-process, limits raised")
    rows: list[dict[str, Any]] = []
    for mode in modes:
        rows.extend(run_mode(mode, files, work, model))
    print_attacks(rows, "the bundled all-MiniLM-L6-v2" if not args.tiny else "tiny random BERT")
    print(f"work folder: {work}")


def _split_modes(text: str) -> list[str]:
    """``"in-process,worker,worker, limits raised"``: mode names hold ", " themselves."""
    names: list[str] = []
    for part in text.split(","):
        if part.startswith(" ") and names:
            names[-1] += "," + part
        else:
            names.append(part)
    return names


if __name__ == "__main__":
    main()

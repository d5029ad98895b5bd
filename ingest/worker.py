"""Parsing untrusted files where a parser's bug cannot take the server with it.

A parse is ``load`` then ``split_passages`` (:func:`parse`). :class:`ParserPool`
runs each one in a long-lived worker process with an address-space cap
(``RLIMIT_AS``, set in the child) and a time limit (the parent kills the worker
when it is over), so a file that makes a parser grow or spin fails alone, with
a reason naming the limit, and the memory goes back to the system with the
process. Workers are started with ``spawn``: the server has threads and torch
loaded, which a fork would copy in an unsafe state. Each parses many files in
turn; one that dies, times out or runs out of memory is killed and replaced on
the next parse, and one whose RSS has grown past ``parse_retire_mb`` after a
file is retired, since Python keeps the memory it freed. Each concurrent
:meth:`ParserPool.parse` gets a worker of its own, started on demand up to
``parse_workers``, so a hostile file's 120 s parse delays no other upload. A
worker exits when its parent does (it watches its parent's pid).

``concurrent.futures.ProcessPoolExecutor`` does none of this per task: a
worker killed on a timeout breaks the whole executor.

Cost, measured on this machine (2 cores, shared; ``python benchmarks/hostile.py
--overhead``, four runs): a worker starts in 0.6 to 0.7 s (median of 5; the interpreter
and the parsers' imports) and idles at 60 MB RSS. A file parsed through one costs 0.3 to
0.6 ms more than in-process over 300 small .txt files, and 0.5 to 1.3 ms more over the
kernel documentation's 3,184 reStructuredText sources (10 to 14 s in-process: the
document and its passages are pickled back). Ingesting the 300 files with the bundled
model, rounds alternating, best of 3: 31.9 s through a worker, 31.3 s in-process.
With workers, the server's RSS stayed within 4 MB through every attack of issue #9, the
limits raised or not (``python benchmarks/hostile.py``).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from footnotes.errors import DocumentError, FootnotesError, LimitExceeded
from footnotes.ingest.limits import ParseLimits, setting_name
from footnotes.ingest.model import Document, Passage

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from footnotes.settings import Settings

START_TIMEOUT = 60.0
"""Seconds a new worker may take to start (interpreter, imports) before it is a failure:
about 0.7 s on an idle machine, far longer on a loaded CI runner."""


@dataclass(frozen=True)
class ParseJob:
    """One file to parse. ``data``, when given, is the file's bytes already read (an
    in-process parse uses them; a worker reads the file itself rather than receive them)."""

    path: Path
    doc_id: str
    limits: ParseLimits
    passage_words: int
    data: bytes | None = None


@dataclass(frozen=True)
class Parsed:
    document: Document
    passages: list[Passage]


def parse(job: ParseJob) -> Parsed:
    """The parse itself: raises :class:`FootnotesError` with a one-line reason."""
    from footnotes.ingest.loaders import load
    from footnotes.ingest.passages import split_passages

    document = load(job.path, job.doc_id, job.data, job.limits)
    return Parsed(document, split_passages(document, job.passage_words))


class Parser(Protocol):
    """What :class:`~footnotes.index.sync.Ingestor` parses with."""

    def parse(self, job: ParseJob) -> Parsed: ...

    def prestart(self) -> None:
        """Get ready for a first file in the background (a server calls it at start)."""

    def close(self) -> None: ...


class InProcessParser:
    """Parses in the calling process (``FOOTNOTES_PARSE_WORKERS=0``): the limits hold,
    but neither memory nor time is capped beyond them."""

    def parse(self, job: ParseJob) -> Parsed:
        return parse(job)

    def prestart(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcessParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_parser(settings: Settings) -> InProcessParser | ParserPool:
    """A :class:`ParserPool` as configured, or an in-process parser for ``parse_workers=0``."""
    if settings.parse_workers == 0:
        return InProcessParser()
    return ParserPool.from_settings(settings)


class ParserPool:
    """Worker processes that parse files, one file at a time each (see the module doc).

    :meth:`parse` is thread-safe and blocks only while all ``workers`` are busy.
    Raises :class:`LimitExceeded` for a file over the time or memory cap,
    :class:`DocumentError` for a worker that died on it, and whatever the parse
    raised otherwise.
    """

    def __init__(
        self, workers: int = 4, timeout: float = 120.0, memory_mb: int = 1024, retire_mb: int = 256
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be positive (got {workers})")
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.retire_mb = retire_mb
        self._idle: list[_Worker] = []
        self._running = 0  # idle or busy
        self._closed = False
        self._turn = threading.Condition()
        self._finalizer = weakref.finalize(self, _stop_all, self._idle)

    @classmethod
    def from_settings(cls, settings: Settings) -> ParserPool:
        return cls(
            settings.parse_workers,
            settings.parse_timeout,
            settings.parse_memory_mb,
            settings.parse_retire_mb,
        )

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> int:
        """Worker processes alive now, idle or busy."""
        with self._turn:
            return self._running

    @property
    def idle(self) -> int:
        """Worker processes started and waiting for a file."""
        with self._turn:
            return len(self._idle)

    def close(self) -> None:
        """Stop the idle workers now, the busy ones when their file is done."""
        with self._turn:
            self._closed = True
            idle, self._idle[:] = list(self._idle), []
            self._running -= len(idle)
            self._turn.notify_all()
        for worker in idle:
            worker.stop()

    def prestart(self) -> None:
        """Start one worker in a background thread, so that the first upload does not wait
        for its interpreter and imports (2.0 s of a 2.1 s upload at 30k passages, measured
        with ``benchmarks/scale.py``). A worker that cannot start is left to the first
        parse, which names the reason."""

        def start() -> None:
            try:
                worker = self._acquire()
            except Exception:
                return
            self._release(worker, keep=True)

        threading.Thread(target=start, name="footnotes-parser-prestart", daemon=True).start()

    def parse(self, job: ParseJob) -> Parsed:
        try:
            worker = self._acquire()
        except _WorkerLost as lost:
            raise self._lost(job, lost) from None
        keep = False
        try:
            outcome, value, retire = worker.run(replace(job, data=None), self.timeout)
            keep = not retire
        except _WorkerLost as lost:
            outcome, value = "lost", self._lost(job, lost)
        finally:
            self._release(worker, keep)
        if outcome == "memory":
            raise self._over_memory(job)
        if isinstance(value, Parsed):
            return value
        raise value

    def _lost(self, job: ParseJob, lost: _WorkerLost) -> FootnotesError:
        if lost.starting:
            return DocumentError(
                f"{job.path}: no parser process could be started "
                f"({_exit_reason(lost.exitcode)}; is {setting_name('parse_memory_mb')} too low?)"
            )
        if lost.timed_out:
            return LimitExceeded(
                f"{job.path}: took longer than the {self.timeout:g} s parse limit "
                f"({setting_name('parse_timeout')})"
            )
        if lost.exitcode == -9:  # SIGKILL: the kernel's OOM killer, most likely
            return DocumentError(
                f"{job.path}: the parser process was killed (SIGKILL) reading it, "
                "most likely out of memory"
            )
        return DocumentError(
            f"{job.path}: the parser process died reading it ({_exit_reason(lost.exitcode)})"
        )

    def _over_memory(self, job: ParseJob) -> LimitExceeded:
        return LimitExceeded(
            f"{job.path}: needed more than the {self.memory_mb} MB parse memory cap "
            f"({setting_name('parse_memory_mb')})"
        )

    def _acquire(self) -> _Worker:
        with self._turn:
            while True:
                if self._closed:
                    raise RuntimeError("the parser pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._running -= 1  # died while idle (OOM-killed, say): replace it
                    worker.stop()
                if self._running < self.workers:
                    self._running += 1
                    break
                self._turn.wait()
        try:
            return _Worker.start(self.memory_mb, self.retire_mb)
        except BaseException:
            with self._turn:
                self._running -= 1
                self._turn.notify()
            raise

    def _release(self, worker: _Worker, keep: bool) -> None:
        with self._turn:
            keep = keep and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._running -= 1
            self._turn.notify()
        if not keep:
            worker.stop()


class _WorkerLost(Exception):
    """A worker that is gone: over the time limit (and killed), died, or never started."""

    def __init__(self, timed_out: bool, exitcode: int | None, starting: bool = False) -> None:
        super().__init__(timed_out, exitcode, starting)
        self.timed_out = timed_out
        self.exitcode = exitcode
        self.starting = starting


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    @classmethod
    def start(cls, memory_mb: int, retire_mb: int) -> _Worker:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        conn, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, memory_mb, retire_mb, os.getpid()),
            name="footnotes-parser",
            daemon=True,
        )
        process.start()
        child.close()
        worker = cls(process, conn)
        try:
            if _wait(conn, process, START_TIMEOUT) == "reply" and conn.recv() == "ready":
                return worker
        except (EOFError, OSError):
            pass
        except BaseException:
            worker.stop()
            raise
        worker.stop()
        raise _WorkerLost(False, process.exitcode, starting=True)

    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, job: ParseJob, timeout: float) -> tuple[str, Any, bool]:
        """Send ``job``; return (outcome, result or error, whether the worker retires), or
        raise :class:`_WorkerLost` when the worker took longer than ``timeout`` (it is
        killed) or died."""
        try:
            self.conn.send(job)
            state = _wait(self.conn, self.process, timeout)
            if state == "reply":
                reply: tuple[str, Any, bool] = self.conn.recv()
                return reply
        except (EOFError, OSError):
            state = "died"
        if state == "timeout":
            self.process.kill()
        self.process.join()
        raise _WorkerLost(state == "timeout", self.process.exitcode)

    def stop(self) -> None:
        """End the process: EOF on its pipe ends its loop; killed if it lingers."""
        self.conn.close()
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _wait(conn: Connection, process: BaseProcess, timeout: float) -> str:
    """``"reply"`` once a reply can be read, ``"died"`` if the process ends first, or
    ``"timeout"``."""
    from multiprocessing.connection import wait

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        ready = wait([conn, process.sentinel], left)
        if conn in ready:
            return "reply"
        if ready:  # the sentinel alone: it ended, perhaps with its reply still in the pipe
            return "reply" if conn.poll() else "died"


def _stop_all(workers: list[_Worker]) -> None:
    for worker in list(workers):
        worker.stop()


def _exit_reason(exitcode: int | None) -> str:
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


# --- in the worker process ------------------------------------------------------------

NEAR_CAP = 64 << 20
"""A failed parse whose address space came within this of the cap is put down to memory:
near the cap, libxml2 fails small allocations and lxml reports them as XML errors of its
own ("unknown error", measured on 50 MB of ``<w:p/>`` under 1024 MB), not MemoryError."""


def _serve(conn: Connection, memory_mb: int, retire_mb: int, parent: int) -> None:
    """The worker's loop: a job in, ``(outcome, value, retire)`` out, until EOF or its
    parent is gone; after a reply that says ``retire`` it exits. This process is its own
    entry point, so it sets its own limits and log levels."""
    import importlib
    import logging
    import resource

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings about malformed files
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # The parsers load before the cap: it bounds what parsing takes, not the imports.
    for module in ("bs4", "charset_normalizer", "docx", "pypdf", "footnotes.ingest.passages"):
        importlib.import_module(module)

    cap = memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        outcome, value = _run(job, cap)
        near_cap = _status_bytes("VmPeak") >= cap - NEAR_CAP
        retire = outcome == "memory" or near_cap or _status_bytes("VmRSS") > retire_mb << 20
        try:
            conn.send((outcome, value, retire))
        except MemoryError:
            outcome, retire = "memory", True
            conn.send((outcome, None, retire))
        del value
        if retire:
            return  # the heap may be fragmented or half-built: the memory goes with the process


def _run(job: ParseJob, cap: int) -> tuple[str, Any]:
    """``("ok", Parsed)``, ``("error", FootnotesError)`` or ``("memory", None)``."""
    try:
        return ("ok", parse(job))
    except MemoryError:
        return ("memory", None)
    except LimitExceeded as exc:  # a limit's own reason is the better one
        return ("error", exc)
    except Exception as exc:  # a parser's own bug on a strange file: that file fails alone
        if _out_of_memory(exc) or _status_bytes("VmPeak") >= cap - NEAR_CAP:
            return ("memory", None)
        if isinstance(exc, FootnotesError):
            return ("error", exc)
        return (
            "error",
            DocumentError(f"{job.path}: cannot read ({exc.__class__.__name__}: {exc})"),
        )


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` or an error it was raised from is an allocation failure (lxml
    reports some as an XML error, "Memory allocation failed")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError) or "memory allocation failed" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _status_bytes(field: str) -> int:
    """A size from ``/proc/self/status`` (``VmRSS``: resident now, ``VmPeak``: the
    largest address space so far, what ``RLIMIT_AS`` bounds), in bytes; 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)

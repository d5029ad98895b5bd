"""Hostile files (issue #9): each attack found on ``footnotes serve``, generated at a
small size that keeps its shape, with the setting lowered so that the limit is what
stops it. A file over a limit fails alone, with a one-line reason naming the file,
the limit and its variable; the other files of the sync are ingested and nothing
already stored is lost. The parser pool's caps: a worker over its time or memory
cap, or killed, fails that file alone, and the next file still parses; concurrent
parses get workers of their own; workers end with their parent.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import ROOT, make_pdf

from footnotes.errors import DocumentError, LimitExceeded
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor, SyncReport
from footnotes.ingest.limits import ParseLimits
from footnotes.ingest.loaders import load
from footnotes.ingest.worker import InProcessParser, ParseJob, Parser, ParserPool
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

W = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
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


def docx(
    body: bytes = b"", *, repeat: int = 0, doctype: bytes = b"", extra_parts: int = 0
) -> bytes:
    """A minimal .docx (the three parts Word needs): one paragraph of text, then ``body``
    ``repeat`` times, streamed into the archive as the attacks were."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + doctype + b"<w:document "
        b'xmlns:w="' + W + b'" xmlns:x="' + W + b'"><w:body>'
        b"<w:p><w:r><w:t>The lamp in the hall is blue.</w:t></w:r></w:p>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _TYPES)
        archive.writestr("_rels/.rels", _RELS)
        for n in range(extra_parts):
            archive.writestr(f"customXml/item{n}.xml", b"<x/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(head)
            per = max(1, (1 << 20) // max(len(body), 1))
            left = repeat
            while left > 0:
                part.write(body * min(per, left))
                left -= per
            part.write(b"</w:body></w:document>")
    return buffer.getvalue()


def lying_docx() -> bytes:
    """A .docx whose zip directory says its document.xml inflates to 100 bytes, when it
    inflates to 3 MB (the uncompressed size of its central directory entry rewritten)."""
    with zipfile.ZipFile(io.BytesIO(docx(b" ", repeat=3 << 20))) as honest:
        parts = {name: honest.read(name) for name in honest.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    data = bytearray(buffer.getvalue())
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        if data[entry + 46 : entry + 46 + 17] == b"word/document.xml":
            data[entry + 24 : entry + 28] = (100).to_bytes(4, "little")
        entry = data.find(b"PK\x01\x02", entry + 4)
    return bytes(data)


def pdf(pages: list[str]) -> bytes:
    """A PDF with one line of text a page (Helvetica), written by hand."""
    return make_pdf([[text] for text in pages])


GOOD = {  # a harmless file of each format, stored under the attack's name first
    "docx": lambda: docx(),
    "html": lambda: b"<html><body><p>The lamp in the hall is blue.</p></body></html>",
    "pdf": lambda: pdf(["The lamp in the hall is blue."]),
    "txt": lambda: b"The lamp in the hall is blue.\n",
}

ATTACKS: list[tuple[str, Callable[[], bytes], dict[str, Any], str]] = [
    # 1.2 MB of .docx whose document.xml inflates to 1.2 GB of whitespace, at 3 MB
    (
        "inflate.docx",
        lambda: docx(b" ", repeat=3 << 20),
        {"max_docx_inflated_mb": 2},
        "inflates past the 2 MB limit (FOOTNOTES_MAX_DOCX_INFLATED_MB)",
    ),
    # 400,000 (4 KB) and 8 million (80 KB) empty paragraphs, at 5,000
    (
        "paragraphs.docx",
        lambda: docx(b"<w:p/>", repeat=5000),
        {"max_docx_paragraphs": 1000},
        "has more than the 1,000-paragraph limit (FOOTNOTES_MAX_DOCX_PARAGRAPHS)",
    ),
    (  # the same namespace bound to another prefix is counted all the same
        "prefixed.docx",
        lambda: docx(b"<x:p/>", repeat=5000),
        {"max_docx_paragraphs": 1000},
        "has more than the 1,000-paragraph limit (FOOTNOTES_MAX_DOCX_PARAGRAPHS)",
    ),
    (
        "parts.docx",
        lambda: docx(extra_parts=30),
        {"max_docx_parts": 10},
        "has more than the 10-part limit (FOOTNOTES_MAX_DOCX_PARTS)",
    ),
    (
        "long.docx",
        lambda: docx(b"<w:p><w:r><w:t>" + b"word " * 40 + b"</w:t></w:r></w:p>", repeat=50),
        {"max_text_chars": 1000},
        "has more text than the 1,000-character limit (FOOTNOTES_MAX_TEXT_CHARS)",
    ),
    # 30 MB of nested <div>, at 15 KB (under the size limit, so the depth stops it)
    (
        "nested.html",
        lambda: b"<html><body>" + b"<div>" * 3000 + b"deep",
        {"max_html_depth": 100},
        "nests elements deeper than the 100-level limit (FOOTNOTES_MAX_HTML_DEPTH)",
    ),
    (
        "nested-big.html",
        lambda: b"<html><body>" + b"<div>" * 300_000,
        {"max_html_mb": 1},
        "is larger than the 1 MB limit (FOOTNOTES_MAX_HTML_MB)",
    ),
    (
        "flat.html",
        lambda: b"<html><body>" + b"<b>x</b>" * 3000,
        {"max_html_elements": 1000},
        "has more than the 1,000-element limit (FOOTNOTES_MAX_HTML_ELEMENTS)",
    ),
    (
        "pages.pdf",
        lambda: pdf([f"Page {n}." for n in range(30)]),
        {"max_pdf_pages": 10},
        "has 30 pages, more than the 10-page limit (FOOTNOTES_MAX_PDF_PAGES)",
    ),
    (  # any real extraction of a page takes longer than a nanosecond
        "slow.pdf",
        lambda: pdf([f"Page {n} has words." for n in range(5)]),
        {"max_pdf_seconds": 1e-9},
        "text extraction passed the 1e-09 s limit at page 1 (FOOTNOTES_MAX_PDF_SECONDS)",
    ),
    (
        "long.txt",
        lambda: b"The lamp in the hall is blue. " * 100,
        {"max_text_chars": 1000},
        "has more text than the 1,000-character limit (FOOTNOTES_MAX_TEXT_CHARS)",
    ),
]


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    with ParserPool(workers=2, timeout=120, memory_mb=1024) as shared:
        yield shared


@pytest.fixture(params=["in-process", "worker"])
def parser(request: pytest.FixtureRequest, pool: ParserPool) -> Parser:
    return pool if request.param == "worker" else InProcessParser()


def sync(
    store: Store, settings: Settings, model: HuggingFaceEmbedding, parser: Parser, folder: Path
) -> SyncReport:
    return Ingestor(Replica.open(store, settings), lambda: model, settings, parser).sync([folder])


def outcome(report: SyncReport, doc_id: str) -> Any:
    return next(o for o in report.outcomes if o.document == doc_id)


@pytest.mark.parametrize(
    ("name", "make", "lowered", "expected"), ATTACKS, ids=[a[0] for a in ATTACKS]
)
def test_a_file_over_a_limit_fails_alone_and_loses_nothing(
    tmp_path: Path,
    settings: Settings,
    embed_model: HuggingFaceEmbedding,
    parser: Parser,
    name: str,
    make: Callable[[], bytes],
    lowered: dict[str, Any],
    expected: str,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "article.txt").write_text(
        "# Notes\n\nThe door of the shed is red. The gate is painted white.\n", encoding="utf-8"
    )
    (folder / name).write_bytes(GOOD[name.rsplit(".", 1)[1]]())
    store = Store.from_settings(settings)
    first = sync(store, settings, embed_model, parser, folder)
    assert first.counts["added"] == 2, first.outcomes
    kept = store.get_document(name)
    assert kept is not None

    (folder / name).write_bytes(make())  # the attack replaces the stored file
    (folder / "fresh.txt").write_text("The kettle in the kitchen is green.\n", encoding="utf-8")
    report = sync(store, settings.model_copy(update=lowered), embed_model, parser, folder)

    failed = outcome(report, name)
    assert failed.status == "failed"
    assert failed.reason == f"{folder / name}: {expected}"
    assert outcome(report, "fresh.txt").status == "added"
    assert outcome(report, "fresh.txt").passages == 1
    assert outcome(report, "article.txt").status == "unchanged"
    still = store.get_document(name)  # the stored version is kept whole
    assert still is not None and still.content_hash == kept.content_hash
    assert "lamp in the hall is blue" in store.document_text(name)
    assert "green" in store.document_text("fresh.txt")


def test_a_docx_whose_zip_directory_lies_about_its_size_fails(tmp_path: Path) -> None:
    path = tmp_path / "liar.docx"
    path.write_bytes(lying_docx())
    with pytest.raises(DocumentError) as exc:
        load(path, "liar", limits=_lowered(max_docx_inflated_mb=2))
    reason = str(exc.value)
    assert reason.startswith(f"{path}: ") and "\n" not in reason
    assert "inflates past the 2 MB limit" in reason or "not a valid DOCX" in reason


def test_docx_entities_are_neither_resolved_nor_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    xxe = tmp_path / "xxe.docx"
    external = f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'.encode()
    xxe.write_bytes(docx(b"<w:p><w:r><w:t>&x;</w:t></w:r></w:p>", repeat=1, doctype=external))
    assert "TOPSECRET" not in load(xxe, "xxe").text

    laughs = b'<!DOCTYPE d [<!ENTITY a "lollollollollollollollollollol">' + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), b"&%s;" % bytes([97 + i]) * 10) for i in range(9)
    )
    bomb = tmp_path / "laughs.docx"
    bomb.write_bytes(
        docx(b"<w:p><w:r><w:t>&j;</w:t></w:r></w:p>", repeat=1, doctype=laughs + b"]>")
    )
    with pytest.raises(DocumentError) as exc:
        load(bomb, "laughs")
    assert str(exc.value).startswith(f"{bomb}: ") and "\n" not in str(exc.value)


def test_limits_under_the_defaults_read_real_files_whole(tmp_path: Path) -> None:
    """The checks count what they should: files just under each limit load in full."""
    limits = _lowered(max_docx_paragraphs=1001, max_html_depth=100, max_pdf_pages=3)
    paragraphs = tmp_path / "paragraphs.docx"
    paragraphs.write_bytes(docx(b"<w:p><w:r><w:t>More.</w:t></w:r></w:p>", repeat=1000))
    assert load(paragraphs, "p", limits=limits).text.count("More.") == 1000
    nested = tmp_path / "nested.html"
    nested.write_bytes(b"<html><body>" + b"<div>" * 97 + b"deep words" + b"</div>" * 97)
    assert load(nested, "n", limits=limits).text == "deep words"
    pages = tmp_path / "pages.pdf"
    pages.write_bytes(pdf(["One.", "Two.", "Three."]))
    assert load(pages, "p", limits=limits).pages == 3


def _lowered(**update: Any) -> ParseLimits:
    return ParseLimits.from_settings(Settings(**update))


# --- the worker pool -----------------------------------------------------------------


def slow_docx() -> bytes:
    """400,000 empty paragraphs (4 KB on disk): about 18 s for python-docx on this machine."""
    return docx(b"<w:p/>", repeat=400_000)


def _job(path: Path, **lowered: Any) -> ParseJob:
    return ParseJob(path, path.name, _lowered(**lowered), 160)


def _workers() -> set[int]:
    import multiprocessing

    return {p.pid for p in multiprocessing.active_children() if p.name == "footnotes-parser"}


def test_a_worker_over_its_time_limit_is_killed_and_the_next_file_parses(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a-slow.docx").write_bytes(slow_docx())
    (folder / "b-note.txt").write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    store = Store.from_settings(settings)
    lowered = settings.model_copy(update={"max_docx_paragraphs": 10**7})
    with ParserPool(workers=1, timeout=0.5) as one:
        report = sync(store, lowered, embed_model, one, folder)
        assert one.running == 1  # the killed worker was replaced, for b-note.txt

    slow = outcome(report, "a-slow.docx")
    assert slow.status == "failed"
    assert slow.reason == (
        f"{folder / 'a-slow.docx'}: took longer than the 0.5 s parse limit "
        "(FOOTNOTES_PARSE_TIMEOUT)"
    )
    assert outcome(report, "b-note.txt").status == "added"
    assert store.get_document("a-slow.docx") is None


@pytest.mark.parametrize(
    "make",
    [
        # python-docx reads the part whole: MemoryError
        pytest.param(lambda: docx(b" ", repeat=300 << 20), id="inflates-to-300MB"),
        # lxml builds a tree of 1 million elements: libxml2's allocations fail, and lxml
        # says "unknown error"
        pytest.param(lambda: docx(b"<w:p/>", repeat=1_000_000), id="1M-paragraphs"),
    ],
)
def test_a_worker_over_its_memory_cap_fails_that_file_and_is_replaced(
    tmp_path: Path, make: Callable[[], bytes]
) -> None:
    big = tmp_path / "big.docx"
    big.write_bytes(make())
    note = tmp_path / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    unlimited = {"max_docx_inflated_mb": 10_000, "max_docx_paragraphs": 10**8}
    with ParserPool(workers=1, memory_mb=256) as capped:
        with pytest.raises(LimitExceeded) as exc:
            capped.parse(_job(big, **unlimited))
        assert str(exc.value) == (
            f"{big}: needed more than the 256 MB parse memory cap (FOOTNOTES_PARSE_MEMORY_MB)"
        )
        assert capped.running == 0
        parsed = capped.parse(_job(note))
        assert parsed.document.text == "The lamp in the hall is blue.\n"
        assert [p.text for p in parsed.passages] == ["The lamp in the hall is blue."]


def test_workers_are_reused_and_retired_when_they_grow(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    before = _workers()
    with ParserPool(workers=1, retire_mb=10_000) as keeping:
        keeping.parse(_job(note))
        first = _workers() - before
        keeping.parse(_job(note))
        assert _workers() - before == first and len(first) == 1  # the same process, again
    with ParserPool(workers=1, retire_mb=1) as retiring:  # every worker is over 1 MB
        retiring.parse(_job(note))
        assert retiring.running == 0
    assert _workers() - before == set()


def test_prestart_readies_one_worker_that_the_first_parse_uses(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    before = _workers()
    with ParserPool(workers=2, retire_mb=10_000) as pool:
        pool.prestart()
        deadline = time.monotonic() + 60
        while pool.idle == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.idle == 1 and pool.running == 1  # started before any file came
        started = _workers() - before
        assert pool.parse(_job(note)).passages[0].text == "The lamp in the hall is blue."
        assert _workers() - before == started and pool.running == 1  # no second start
    assert _workers() - before == set()


def test_a_hostile_parse_does_not_delay_another_users_file(tmp_path: Path) -> None:
    slow = tmp_path / "slow.docx"
    slow.write_bytes(slow_docx())
    note = tmp_path / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    before = _workers()
    errors: list[BaseException] = []

    def hostile() -> None:
        try:
            two.parse(_job(slow, max_docx_paragraphs=10**7))
        except DocumentError as exc:
            errors.append(exc)

    with ParserPool(workers=2, timeout=600) as two:
        two.parse(_job(note))  # one worker started, and waiting
        busy = _workers() - before
        assert len(busy) == 1 and two.idle == 1
        first = threading.Thread(target=hostile)
        first.start()
        for _ in range(600):  # the hostile file has taken it
            if two.idle == 0:
                break
            time.sleep(0.1)
        assert two.idle == 0
        parsed = two.parse(_job(note))  # meanwhile, on a second worker
        assert parsed.document.text.startswith("The lamp")
        assert first.is_alive()  # the hostile parse is still going
        assert two.running == 2
        os.kill(busy.pop(), signal.SIGKILL)  # as the OOM killer would
        first.join(60)
        assert two.running == 1
    assert len(errors) == 1
    assert str(errors[0]) == (
        f"{slow}: the parser process was killed (SIGKILL) reading it, most likely out of memory"
    )


def test_workers_exit_when_their_parent_dies(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from footnotes.ingest.limits import ParseLimits\n"
        "from footnotes.ingest.worker import ParseJob, ParserPool\n"
        "if __name__ == '__main__':\n"
        "    pool = ParserPool(workers=1)\n"
        "    pool.parse(ParseJob(Path(sys.argv[1]), 'n', ParseLimits.defaults(), 160))\n"
        "    import multiprocessing\n"
        "    print(multiprocessing.active_children()[0].pid, flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    (tmp_path / "parent.py").write_text(script, encoding="utf-8")
    parent = subprocess.run(
        [sys.executable, str(tmp_path / "parent.py"), str(note)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert parent.returncode == -9, parent.stderr
    worker = int(parent.stdout.split()[0])
    for _ in range(100):  # it looks for its parent every second
        if not _running(worker):
            break
        time.sleep(0.1)
    assert not _running(worker)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False

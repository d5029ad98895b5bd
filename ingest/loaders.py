"""Files to documents: exact text plus structure (headings, paragraphs, pages).

Built on the well-kept parsers directly (pypdf, python-docx, BeautifulSoup,
charset-normalizer) rather than llama-index's file readers, because those
flatten a file to one string and drop what citations need: which offsets are
headings, and where each PDF page begins and ends in the text.

Contract: ``load(path, doc_id)`` returns a :class:`Document` or raises
:class:`UnsupportedFileError` / :class:`DocumentError` with a one-line reason;
a file over one of its :class:`ParseLimits` raises :class:`LimitExceeded`
(checked as in ``ingest/limits.py``, before the expensive step where it can be).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from footnotes.errors import (
    DocumentError,
    EmptyDocumentError,
    LimitExceeded,
    UnsupportedFileError,
)
from footnotes.ingest.headings import RST_ADORNMENT, md_heading
from footnotes.ingest.limits import (
    ParseLimits,
    check_docx,
    check_html_size,
    check_pdf_pages,
    check_text,
    parse_html,
    pdf_overtime,
)
from footnotes.ingest.model import Block, Document
from footnotes.ingest.reflow import page_paragraphs

READER_VERSION = 4
"""Bumped whenever a loader reads a file's text or structure differently (1: the first
release; 2: PDF reflow, reStructuredText as its own format, docx titles, more rst prose;
3: an rst version note read with its directive's name, an audit event's names not text;
4: an rst title in one passage with the text under it, sentences cut within blocks).
A document stored by another version is read again by the next sync though its bytes are
unchanged, so a store never keeps the text an older reader made."""

FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".rst": "rst",
    ".rst.txt": "rst",  # Sphinx's copies of its sources (``_sources/*.rst.txt``)
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def file_suffix(path: Path) -> str:
    """The lower-cased suffix that names ``path``'s type: ``.rst.txt`` when the name ends
    so (read as reStructuredText, not plain text), else the last suffix."""
    name = path.name.lower()
    return ".rst.txt" if name.endswith(".rst.txt") else path.suffix.lower()


def file_format(path: Path) -> str:
    """The format name for ``path``, or raise :class:`UnsupportedFileError`."""
    fmt = FORMATS.get(file_suffix(path))
    if fmt is None:
        supported = ", ".join(sorted(FORMATS))
        raise UnsupportedFileError(
            f"{path}: unsupported type {path.suffix or '(none)'!r}; supported: {supported}"
        )
    return fmt


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: what decides whether a file changed."""
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """:func:`content_hash` of the file at ``path``, read a megabyte at a time (the file
    is never whole in memory); raises ``OSError``."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load(
    path: Path, doc_id: str, data: bytes | None = None, limits: ParseLimits | None = None
) -> Document:
    """Read ``path`` (or the bytes already read from it) into a :class:`Document`, within
    ``limits`` (default: the :class:`Settings` defaults)."""
    limits = limits if limits is not None else ParseLimits.defaults()
    fmt = file_format(path)
    if data is None:
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise DocumentError(f"{path}: file vanished before it could be read") from exc
        except OSError as exc:
            raise DocumentError(f"{path}: cannot read ({exc.strerror})") from exc
    if not data.strip():
        raise EmptyDocumentError(f"{path}: empty file")
    reader = _READERS[fmt]
    text, blocks, title, pages = reader(path, data, limits)
    if not blocks or not text.strip():
        raise EmptyDocumentError(f"{path}: no text found")
    return Document(
        id=doc_id,
        title=title or _title_from_name(path),
        format=fmt,
        text=text,
        content_hash=content_hash(data),
        blocks=tuple(blocks),
        pages=pages,
    )


_Parsed = tuple[str, list[Block], str | None, int | None]


def _title_from_name(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip() or path.name


# --- plain text and markdown -------------------------------------------------


def decode_text(path: Path, data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM dropped), else a confident detection, else refuse."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{path}: binary data, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    # On short text the detector can rank a look-alike codepage (cp1257, cp1250) first and
    # turn "naïve" into "naļve"; take cp1252, the commonest legacy encoding, when it reads
    # the bytes about as cleanly.
    western = next((m for m in results if m.encoding == "cp1252"), None)
    if best is not None and western is not None and western.chaos <= best.chaos + 0.1:
        best = western
    if best is None or best.chaos > 0.2:
        raise DocumentError(f"{path}: not valid UTF-8 and no text encoding could be detected")
    text = str(best)
    if _looks_binary(text):
        raise DocumentError(f"{path}: binary data, not text")
    return text


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f\v")
    return controls > max(1, len(sample) // 100)


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank runs of ``text[start:end]`` between blank lines, trimmed."""
    spans = []
    pos = start
    for m in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def _is_plain_heading(text: str, a: int, b: int) -> bool:
    """A one-line paragraph of a few words with no closing punctuation."""
    line = text[a:b]
    return (
        "\n" not in line
        and 0 < len(line.split()) <= 12
        and len(line) <= 100
        and line[-1] not in '.!?:;,\u2026"\u201d'
        and line.lstrip()[:1] not in {"\u2022", "-", "*"}
    )


def _decode_within(path: Path, data: bytes, limits: ParseLimits) -> str:
    # No encoding takes more than 4 bytes a character: over 4x the limit in bytes is over it.
    check_text(path, len(data) // 4, limits)
    text = decode_text(path, data)
    check_text(path, len(text), limits)
    return text


def _read_txt(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    text = _decode_within(path, data, limits)
    blocks = [
        Block(a, b, heading=_is_plain_heading(text, a, b))
        for a, b in _paragraphs(text, 0, len(text))
    ]
    headings = [text[b.start : b.end] for b in blocks if b.heading]
    title = next((h for h in headings if len(h.split()) >= 3), headings[0] if headings else None)
    return text, blocks, title, None


def _read_md(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    text = _decode_within(path, data, limits)
    blocks: list[Block] = []
    title = None
    for a, b in _paragraphs(text, 0, len(text)):
        # A heading line may sit directly above its paragraph: split it off.
        pos = a
        for line in re.finditer(r"[^\r\n]*", text[a:b]):  # CRLF: keep "\r" out of headings
            la, lb = a + line.start(), a + line.end()
            heading = md_heading(text[la:lb]) if la < lb else None
            if heading is None:
                continue
            if pos < la:
                blocks.extend(Block(s, e) for s, e in _paragraphs(text, pos, la))
            blocks.append(Block(la, lb, heading=True))
            if title is None:
                title = text[la + heading[1] : la + heading[2]]
            pos = lb
        if pos < b:
            blocks.extend(Block(s, e) for s, e in _paragraphs(text, pos, b))
    return text, blocks, title, None


def heading_text(document: Document, block: Block) -> str:
    """The words of a heading block, without markdown's ``#`` marks or reStructuredText's
    inline markup."""
    raw = document.text[block.start : block.end]
    if document.format == "rst":
        return _rst_plain(raw)
    m = md_heading(raw) if document.format == "md" else None
    return (raw[m[1] : m[2]] if m else raw).strip()


# --- reStructuredText ---------------------------------------------------------

# An explicit markup start: a comment, directive, target, footnote or substitution.
_RST_EXPLICIT = re.compile(r"[ \t]*\.\.(?:[ \t]|$)")
_RST_DIRECTIVE = re.compile(r"[ \t]*\.\.[ \t]+([\w:+.-]+)::[ \t]*")
# A footnote or citation, whose text is read: ``.. [1]``, ``.. [#]``, ``.. [#note]``, ``.. [CIT]``.
_RST_FOOTNOTE = re.compile(r"[ \t]*\.\.[ \t]+\[[^\]\s]+\](?:[ \t]+|$)")
# A directive option (``:maxdepth: 1``); not a line of its body that starts with a role.
_RST_OPTION = re.compile(r"[ \t]+:[^:`\s][^:`]*:(?:[ \t]|$)")
# Directives whose body is not prose a reader reads: tables of contents, file lists,
# images, index entries, raw output, authors' addresses, the kernel's source extracts
# (kernel-doc: a path and options). Others (note, warning, only, figure captions,
# list-table cells, code-block...) keep theirs.
_RST_SKIPPED = frozenset(
    [
        "toctree",
        "include",
        "literalinclude",
        "image",
        "raw",
        "index",
        "highlight",
        "contents",
        "sectnum",
        "meta",
        "tabularcolumns",
        "sectionauthor",
        "moduleauthor",
        "codeauthor",
        "kernel-doc",
        "kernel-include",
        "kernel-abi",
        "kernel-feat",
    ]
)
# Directives whose argument is not text to read (a language, a condition, a path, a name);
# the others' is: a note's first line, a function's signature, a table's or rubric's title.
_RST_NAME_ARGUMENT = frozenset(
    [
        "code-block",
        "code",
        "sourcecode",
        "only",
        "ifconfig",
        "figure",
        "kernel-figure",
        "kernel-render",
        "module",
        "currentmodule",
        "cssclass",
        "doctest",
        "testcode",
        "testsetup",
        "testcleanup",
        "testoutput",
        "productionlist",
        "default-role",
        "role",
        "c:namespace",
        "audit-event",
    ]
)
_RST_VERSIONED = frozenset(["versionadded", "versionchanged", "deprecated", "deprecated-removed"])
_RST_VERSIONS = re.compile(r"[\d.]+(?:[ \t]+[\d.]+)?")
_RST_ROLE = re.compile(r":[\w:+.-]+:`!?([^`<]*?)(?:\s*<[^`>]*>)?`")
_RST_LITERAL = re.compile(r"``([^`]+)``|\*\*([^*]+)\*\*|\*([^*]+)\*|`([^`]+)`_{0,2}")


def _rst_plain(raw: str) -> str:
    """A heading's words without inline markup: ``:keyword:`!if` Statements`` -> "if Statements"."""
    plain = _RST_ROLE.sub(lambda m: m.group(1), raw)
    plain = _RST_LITERAL.sub(lambda m: next(g for g in m.groups() if g is not None), plain)
    return " ".join(plain.split())


def _read_rst(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    """reStructuredText: the text is the file's, blocks are its paragraphs and section
    titles (a line underlined, and optionally overlined, by one punctuation character
    repeated at least as long as the title). Explicit markup (``.. `` comments, targets,
    directive names and options, and the whole body of the directives in
    ``_RST_SKIPPED``) is left out of the blocks, so never a passage nor the title. What
    a reader reads stays: a directive's body, its argument when that is text (a note's
    first line, a signature; a version number only with the sentence under it) and a
    footnote's text (``benchmarks/rst_prose.py`` measures the share kept)."""
    text = _decode_within(path, data, limits)
    lines: list[tuple[int, int]] = []  # each line's span, without its line break
    pos = 0
    for m in re.finditer(r"\r\n|\r|\n", text):
        lines.append((pos, m.start()))
        pos = m.end()
    lines.append((pos, len(text)))
    blocks: list[Block] = []
    title: str | None = None
    paragraph: list[tuple[int, int]] = []

    def flush() -> None:
        if paragraph:
            blocks.extend(
                Block(a, b) for a, b in _paragraphs(text, paragraph[0][0], paragraph[-1][1])
            )
            paragraph.clear()

    def line(i: int) -> str:
        return text[lines[i][0] : lines[i][1]] if 0 <= i < len(lines) else ""

    def underlines(i: int, words: str) -> bool:
        return bool(RST_ADORNMENT.fullmatch(line(i))) and len(line(i).rstrip()) >= len(words)

    skip_indent: int | None = None  # inside a skipped explicit block: its indentation
    i = 0
    while i < len(lines):
        current = line(i)
        indent = len(current) - len(current.lstrip())
        if skip_indent is not None:
            if not current.strip() or indent > skip_indent:
                i += 1
                continue
            skip_indent = None
        if not current.strip():
            flush()
            i += 1
            continue
        if _RST_EXPLICIT.match(current):
            flush()
            directive = _RST_DIRECTIVE.match(current)
            footnote = _RST_FOOTNOTE.match(current)
            if footnote is not None:  # its label goes; its text is read as a paragraph
                if current[footnote.end() :].strip():
                    paragraph.append((lines[i][0] + footnote.end(), lines[i][1]))
                i += 1
                continue
            if directive is None or directive.group(1).lower() in _RST_SKIPPED:
                skip_indent = indent  # a comment, target or skipped directive: all of it
                i += 1
                continue
            # The directive's name and options go; its argument, when text, and body stay.
            name, argument = directive.group(1).lower(), current[directive.end() :].strip()
            follows = line(i + 1)
            continued = (
                bool(follows.strip())
                and len(follows) - len(follows.lstrip()) > indent
                and not _RST_OPTION.match(follows)
            )
            lone_version = name in _RST_VERSIONED and _RST_VERSIONS.fullmatch(argument)
            if argument and name not in _RST_NAME_ARGUMENT and (continued or not lone_version):
                # A version is read with what it dates: "deprecated:: 2.3 Use mkstemp
                # instead." says what 2.3 is, which "2.3 Use mkstemp instead." does not.
                start = directive.start(1) if name in _RST_VERSIONED else directive.end()
                paragraph.append((lines[i][0] + start, lines[i][1]))
            i += 1
            if i < len(lines) and _RST_OPTION.match(line(i)):
                flush()
                while i < len(lines) and _RST_OPTION.match(line(i)):
                    i += 1
            continue
        words = current.strip()
        over = RST_ADORNMENT.fullmatch(current)
        if (
            over
            and i + 2 < len(lines)
            and line(i + 2).rstrip()
            and (line(i + 2).rstrip()[0] == current[0] and underlines(i + 2, line(i + 1).strip()))
        ):
            i += 1  # an overlined title: the title is the next line
            current, words = line(i), line(i).strip()
            over = None
        elif over:  # a transition, or an adornment of nothing: not text
            flush()
            i += 1
            continue
        if underlines(i + 1, words) and not paragraph:
            flush()
            a = lines[i][0] + (len(current) - len(current.lstrip()))
            blocks.append(Block(a, a + len(words), heading=True))
            if title is None:
                title = _rst_plain(words) or None
            i += 2
            continue
        paragraph.append(lines[i])
        i += 1
    flush()
    return text, blocks, title, None


# --- built documents: html, docx, pdf -----------------------------------------


class _Builder:
    """Accumulates blocks into one text, recording each block's offsets; raises
    :class:`LimitExceeded` as soon as the text is over ``limits.max_text_chars``."""

    def __init__(self, path: Path, limits: ParseLimits) -> None:
        self.path = path
        self.limits = limits
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []

    def add(
        self, content: str, heading: bool = False, page: int | None = None, separator: str = "\n\n"
    ) -> None:
        content = content.strip()
        if not content:
            return
        if self.parts:
            self.parts.append(separator)
            self.length += len(separator)
        start = self.length
        self.parts.append(content)
        self.length += len(content)
        check_text(self.path, self.length, self.limits)
        self.blocks.append(Block(start, self.length, heading=heading, page=page))

    def text(self) -> str:
        return "".join(self.parts)


_HTML_SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_HTML_BLOCKS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "aside",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "dd",
    "dt",
    "dl",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "details",
    "summary",
    "body",
    "html",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "hr",
}
_HTML_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def _read_html(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    from bs4.element import NavigableString, PageElement, PreformattedString, Tag

    check_html_size(path, data, limits)
    try:
        soup = parse_html(path, data, limits)
    except (LimitExceeded, MemoryError):
        raise
    except Exception as exc:  # bs4 raises assorted errors on broken markup
        raise DocumentError(f"{path}: cannot parse HTML ({exc})") from exc
    builder = _Builder(path, limits)
    pending: list[str] = []

    def flush(heading: bool = False) -> None:
        content = re.sub(r"\s+", " ", "".join(pending)).strip()
        pending.clear()
        builder.add(content, heading=heading)

    # Depth first with a stack of (children left, is a block), not recursion: the depth is
    # a setting (FOOTNOTES_MAX_HTML_DEPTH), not bounded by Python's recursion limit.
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(soup.children), False)]
    while stack:
        children, block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if block:
                flush()
            continue
        if isinstance(child, PreformattedString):  # comments, <!doctype>, <?pi?>
            continue
        if isinstance(child, NavigableString):
            pending.append(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _HTML_SKIP:
            continue
        if child.name in _HTML_HEADINGS:
            flush()
            pending.append(child.get_text(" "))
            flush(heading=True)
        elif child.name in _HTML_BLOCKS:
            flush()
            stack.append((iter(child.children), True))
        else:
            stack.append((iter(child.children), False))
    flush()
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else None
    if not title:
        first = next((b for b in builder.blocks if b.heading), None)
        title = builder.text()[first.start : first.end] if first else None
    return builder.text(), builder.blocks, title or None, None


_DOCX_DEFAULT_TITLE = "Word Document"


def _read_docx(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    """python-docx, after :func:`check_docx`. ``Paragraph.style`` runs an XPath over the
    styles part on every call (about 1 ms: 400,000 empty paragraphs took 59 s), so blank
    paragraphs are skipped before it and style names are looked up once per style id
    (``_p.style``: python-docx has no public accessor for a paragraph's style id).
    The title is the first Heading or Title paragraph, else the stated title."""
    import io
    import zipfile

    check_docx(path, data, limits)
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"{path}: not a valid DOCX file ({exc.__class__.__name__})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # python-docx raises lxml and package errors
        raise DocumentError(f"{path}: cannot read DOCX ({exc})") from exc
    builder = _Builder(path, limits)
    title: str | None = None
    styles: dict[str | None, str] = {}
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [c.text.strip() for c in row.cells if c.text.strip()]
                builder.add(" | ".join(dict.fromkeys(cells)))
            continue
        content = item.text.replace("\r", "")
        if not content.strip():
            continue
        style_id = item._p.style
        if style_id not in styles:
            styles[style_id] = (item.style.name if item.style is not None else "") or ""
        style = styles[style_id]
        is_heading = style.startswith("Heading") or style == "Title"
        builder.add(content, heading=is_heading)
        if is_heading and title is None and content.strip():
            title = " ".join(content.split())
    if title is None:
        # A file without document properties gets python-docx's made-up ones, titled
        # "Word Document": that says nothing about this document.
        stated = (document.core_properties.title or "").strip()
        title = stated if stated and stated != _DOCX_DEFAULT_TITLE else None
    return builder.text(), builder.blocks, title, None


def _read_pdf(path: Path, data: bytes, limits: ParseLimits) -> _Parsed:
    """pypdf, page by page: the page count is checked before any text is extracted, the
    elapsed time and the text's length after each page. The pages' lines become the
    paragraphs a reader sees (:func:`page_paragraphs`: hyphenated words joined, soft line
    breaks made spaces, running headers, footers and page numbers dropped), each a block
    on its page. pypdf logs its warnings about malformed files to the ``pypdf`` logger;
    the entry points quiet it, not this function."""
    import io
    import time

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(f"{path}: PDF is encrypted")
        check_pdf_pages(path, len(reader.pages), limits)
        started = time.monotonic()
        page_texts: list[str] = []
        length = 0
        for number, page in enumerate(reader.pages, start=1):
            page_texts.append(page.extract_text() or "")
            length += len(page_texts[-1])
            check_text(path, length, limits)
            if time.monotonic() - started > limits.max_pdf_seconds:
                raise pdf_overtime(path, number, limits)
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(
            f"{path}: not a readable PDF ({exc.__class__.__name__}: {exc})"
        ) from exc
    builder = _Builder(path, limits)
    for number, paragraphs in enumerate(page_paragraphs(page_texts), start=1):
        for paragraph in paragraphs:
            builder.add(paragraph, page=number)
    title = None
    try:
        meta = reader.metadata
        title = (meta.title or "").strip() if meta else None
    except (PyPdfError, ValueError, KeyError, TypeError):
        title = None
    return builder.text(), builder.blocks, title or None, len(page_texts)


_READERS: dict[str, Callable[[Path, bytes, ParseLimits], _Parsed]] = {
    "txt": _read_txt,
    "md": _read_md,
    "rst": _read_rst,
    "html": _read_html,
    "docx": _read_docx,
    "pdf": _read_pdf,
}

"""The data ingest produces: a document's exact text, its structure, its passages.

Every span is a pair of character offsets into ``Document.text``; the
invariant ``document.text[p.start:p.end] == p.text`` holds for every passage
of every format, and is what lets a citation be shown in its source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """A structural unit of a document: a heading or a paragraph, on one page."""

    start: int
    end: int
    heading: bool = False
    page: int | None = None


@dataclass(frozen=True)
class Document:
    """A file read into text. ``blocks`` are in order and never overlap."""

    id: str
    title: str
    format: str
    text: str
    content_hash: str
    blocks: tuple[Block, ...]
    pages: int | None = None


@dataclass(frozen=True)
class Passage:
    """A retrievable span of a document, with where it sits in the source."""

    document_id: str
    index: int
    start: int
    end: int
    text: str
    title: str
    section: str | None = None
    page: int | None = None
    sentences: tuple[tuple[int, int], ...] = ()
    """The passage's sentences, as offsets into the document text."""

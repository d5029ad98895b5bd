"""Documents to passages that follow the document's structure.

Hand-written because llama-index's node parsers re-find each chunk with
``str.find`` to set ``start_char_idx`` (wrong for repeated text, missing when
whitespace was normalised) and know nothing of pages or headings. Here a
passage is always a slice of the document text: blocks (headings, paragraphs)
are packed up to a target size, a long paragraph is cut at sentence
boundaries, and a passage never crosses a page, a heading, or text that is in
no block (reStructuredText's directives and comments) other than a heading's
underline or the bare ``..`` of a directive whose block reads its name (a
version note). Sentences are cut within blocks, so a heading is its own
sentence and markup between blocks is in none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from footnotes.ingest.headings import RST_ADORNMENT
from footnotes.ingest.loaders import heading_text
from footnotes.ingest.model import Block, Document, Passage
from footnotes.ingest.sentences import split_sentences, word_count


def split_passages(document: Document, target_words: int = 160) -> list[Passage]:
    """Cut ``document`` into passages of about ``target_words`` words.

    Guarantees, for every passage ``p``: ``document.text[p.start:p.end] == p.text``,
    ``p.text`` is not blank, all of ``p`` lies on one page, and every character of it
    that is not white space lies in a block, in a heading's underline (a
    reStructuredText title stays with the text under it) or in a version note's ``..``;
    every sentence lies in a block.
    """
    if target_words < 1:
        raise ValueError(f"target_words must be positive (got {target_words})")
    passages: list[Passage] = []
    for units, section in _spans(document, target_words):
        start, end = units[0].start, units[-1].end
        passages.append(
            Passage(
                document_id=document.id,
                index=len(passages),
                start=start,
                end=end,
                text=document.text[start:end],
                title=document.title,
                section=section,
                page=units[0].page,
                sentences=tuple(
                    s for u in units for s in split_sentences(document.text, u.start, u.end)
                ),
            )
        )
    return passages


class SentenceLike(Protocol):
    """Whatever knows its document's title and its section heading: a passage, or a
    stored sentence."""

    @property
    def title(self) -> str: ...
    @property
    def section(self) -> str | None: ...


def embedding_text(passage: SentenceLike, sentence: str) -> str:
    """What is embedded for a sentence of ``passage``: the sentence read with the
    document's title and its section heading, the way a reader meets it.

    Used when ``Settings.embed_context`` is on. The stored text (and every citation)
    stays the bare sentence; only its vector carries the context. A sentence that leans
    on its heading or title (":Author: Vinay Sajip" under "Logging HOWTO") is then found
    by a question that names them. On a single document the shared title dilutes every
    vector alike, so it is off by default (figures in the README).
    """

    def bare(text: str) -> str:
        return text.strip().rstrip(".:").strip()

    named = {bare(sentence).casefold()}
    parts: list[str] = []
    for part in map(bare, (passage.title, passage.section or "")):
        if part and part.casefold() not in named:
            parts.append(part)
            named.add(part.casefold())
    return ". ".join([*parts, sentence])


def _units(document: Document, target_words: int) -> Iterator[tuple[Block, int]]:
    """Blocks, with paragraphs over the target cut into sentence runs; yields (unit, words)."""
    text = document.text
    for block in document.blocks:
        words = word_count(text[block.start : block.end])
        if block.heading or words <= target_words:
            yield block, words
            continue
        run: list[tuple[int, int]] = []
        run_words = 0
        for s, e in split_sentences(text, block.start, block.end):
            w = word_count(text[s:e])
            if run and run_words + w > target_words:
                yield Block(run[0][0], run[-1][1], page=block.page), run_words
                run, run_words = [], 0
            run.append((s, e))
            run_words += w
        if run:
            yield Block(run[0][0], run[-1][1], page=block.page), run_words


def _joins(text: str, before: Block, start: int) -> bool:
    """Whether what lies between ``before`` and the unit at ``start`` lets them share a
    passage: white space, a heading's underline ("--------" under "Refund window"),
    which the heading block leaves out, or the bare ``..`` of a directive whose name the
    unit reads ("deprecated:: 2.3 Use mkstemp instead." under the signature it dates).
    Anything else (a directive's name, a comment) is in no block and must not be cited,
    so it separates them."""
    gap = text[before.end : start]
    if gap.strip() in ("", ".."):
        return True
    return before.heading and all(
        RST_ADORNMENT.fullmatch(line.strip()) for line in gap.splitlines() if line.strip()
    )


def _spans(document: Document, target_words: int) -> Iterator[tuple[list[Block], str | None]]:
    """Each passage's units, in order, and its section heading."""
    section: str | None = None
    current: list[Block] = []
    current_words = 0
    current_section: str | None = None

    def flush() -> Iterator[tuple[list[Block], str | None]]:
        if current:
            yield current, current_section

    for unit, words in _units(document, target_words):
        starts_new = (
            not current
            or unit.page != current[0].page
            or (unit.heading and not all(b.heading for b in current))
            or current_words + words > target_words
            or not _joins(document.text, current[-1], unit.start)
        )
        if starts_new:
            yield from flush()
            current, current_words = [], 0
        if unit.heading:
            section = heading_text(document, unit)
        if all(b.heading for b in current):
            current_section = section
        current.append(unit)
        current_words += words
    yield from flush()

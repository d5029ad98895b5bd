"""The chat's HTML: answers with clickable markers, their sources, a document view.

The one module that builds HTML, as pure functions of their arguments (no
gradio, no store). Every value that comes from a document or a user (titles,
sections, quotes, passages, questions, file names) goes through
:func:`html.escape` on its own before it is placed in markup, and a highlight
is made by escaping the text before, inside and after the quote separately,
so a document holding ``<script>``, ``<img onerror=...>`` or a ``javascript:``
link shows those characters and runs nothing. Nothing here emits a URL.

Hooks for the page's script and the tests: a marker is
``<a class="fn-cite" href="#source-T-N">[N]</a>`` (gradio's chatbot sanitiser
drops ``data-*`` attributes but keeps a fragment link and a class); the source
it points to is ``<li id="source-T-N" data-turn="T" data-cite="N">`` in the
``section.fn-turn[data-turn=T]`` of the Sources panel; its "Open in document"
button carries ``data-open``, ``data-turn`` and ``data-cite``. ``T`` counts the
answers of the conversation from 0. The document view is a ``div.fn-dialog``
(beside the chat, over the Sources panel) whose close button carries
``data-close``; an empty view is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from footnotes.index.answer import Answer, Citation
from footnotes.ingest.headings import heading_lines


@dataclass(frozen=True)
class Source:
    """A citation as shown: the quote's offsets inside ``citation.passage``."""

    citation: Citation
    start: int
    end: int


@dataclass(frozen=True)
class Exchange:
    """One answered (or declined) question of a conversation, ready to show."""

    answer: Answer
    sources: tuple[Source, ...] = ()
    related: tuple[Source, ...] = ()


def quote_span(citation: Citation, document_text: str | None = None) -> tuple[int, int]:
    """Where ``citation.quote`` sits in ``citation.passage``.

    The citation holds document offsets; with the document's text the
    passage is found around them, so a quote that occurs twice in its passage
    is highlighted where it was cited. Without the text (the document was
    removed), the first occurrence stands in.
    """
    passage, length = citation.passage, citation.end - citation.start
    if document_text is not None:
        lowest = max(0, citation.end - len(passage))
        at = document_text.find(passage, lowest, citation.start + len(passage))
        while 0 <= at <= citation.start:
            if at + len(passage) >= citation.end:
                return citation.start - at, citation.start - at + length
            at = document_text.find(passage, at + 1, citation.start + len(passage))
    at = passage.find(citation.quote)
    return (at, at + len(citation.quote)) if at >= 0 else (0, 0)


def highlight(text: str, start: int, end: int, doc_format: str = "") -> str:
    """``text`` escaped, with ``text[start:end]`` in a ``<mark>``; in an ``md`` or ``rst``
    text, its heading lines shown as headings.

    A heading is a ``<span role="heading" aria-level="N">`` holding its whole line,
    whose markup (``#`` marks, an underline) is in a ``span.fn-h-mark`` the page hides:
    a span, not ``<hN>``, because the text keeps its own line breaks (``pre-wrap``) and
    a ``<mark>`` may hold it. Only presentation changes: the text between the tags is
    ``text`` exactly, the mark holds exactly ``text[start:end]``, and a heading that the
    quote cuts across (begins or ends inside it) is left plain rather than split. A
    ``#`` line of a txt document is the text's own, never a heading.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} is outside a text of {len(text)} characters")
    mark = (start, end)
    spans: list[tuple[int, int, int, str, str]] = []  # (start, end, rank, open, close)
    if start < end:
        spans.append((start, end, 1, "<mark>", "</mark>"))
    for h in heading_lines(text, doc_format):
        if _crosses((h.start, h.end), mark):
            continue
        level = min(h.level, 6)
        spans.append(
            (
                h.start,
                h.end,
                0,
                f'<span class="fn-h fn-h{level}" role="heading" aria-level="{level}">',
                "</span>",
            )
        )
        for part in ((h.start, h.words[0]), (h.words[1], h.end)):
            # Markup is hidden unless that would hide (part of) the quote.
            inside_mark = mark[0] <= part[0] and part[1] <= mark[1] and mark != part
            if part[0] < part[1] and (_disjoint(part, mark) or inside_mark):
                spans.append((*part, 2, '<span class="fn-h-mark" aria-hidden="true">', "</span>"))
    return _nested(text, spans)


def _disjoint(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[1] <= b[0] or b[1] <= a[0] or b[0] == b[1]


def _crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether spans ``a`` and ``b`` overlap without one holding the other."""
    inside = (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1])
    return not _disjoint(a, b) and not inside


def _nested(text: str, spans: list[tuple[int, int, int, str, str]]) -> str:
    """``text`` escaped piece by piece, with each span's tags around its characters;
    the spans nest (none crosses another), the outer first where two start together."""
    out: list[str] = []
    open_: list[tuple[int, str]] = []  # (end, closing tag), innermost last
    pos = 0
    for a, b, _, opening, closing in sorted(spans, key=lambda s: (s[0], -s[1], s[2])):
        while open_ and open_[-1][0] <= a:
            end, tag = open_.pop()
            out += [escape(text[pos:end]), tag]
            pos = end
        out += [escape(text[pos:a]), opening]
        pos = a
        open_.append((b, closing))
    while open_:
        end, tag = open_.pop()
        out += [escape(text[pos:end]), tag]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def segments(answer: Answer) -> list[tuple[str, int | None]]:
    """The answer as shown, cut into text and markers: ``(text, None)`` or ``("[n]", n)``.

    Built from the answer's sentences and their citation numbers, never by reading
    markers back out of its text (a quote may hold bracketed numbers of its own).
    """
    out: list[tuple[str, int | None]] = []
    for i, sentence in enumerate(answer.shown()):
        out.append(((" " if i else "") + sentence.text, None))
        for n in sentence.citations:
            out.extend([(" ", None), (f"[{n}]", n)])
    return out


def question_html(question: str) -> str:
    """A user's message."""
    return f'<div class="fn-question">{escape(question)}</div>'


def writing_html(text: str) -> str:
    """A language model's words as they arrive, before its sentences are checked."""
    return (
        f'<div class="fn-answer fn-writing">{escape(text)}'
        '<span class="fn-writing-note"> … writing; every sentence is checked against '
        "its sources before it is shown</span></div>"
    )


def _notice(answer: Answer) -> str:
    if not answer.notice:
        return ""
    return f'<div class="fn-answer-notice" role="status">{escape(answer.notice)}</div>'


def _marker(n: int, turn: int) -> str:
    return f'<a class="fn-cite" href="#source-{turn}-{n}" title="Show source {n}">[{n}]</a>'


def _dropped(answer: Answer) -> str:
    dropped = [s for s in answer.sentences if s.dropped]
    if not dropped or not answer.answered:
        return ""
    items = "".join(
        f"<li>\u201c{escape(s.text)}\u201d: {escape(s.reason or 'not supported')}</li>"
        for s in dropped
    )
    count = "1 sentence" if len(dropped) == 1 else f"{len(dropped)} sentences"
    return (
        f'<div class="fn-dropped">{count} the language model wrote left out, '
        f"not supported by its sources:<ul>{items}</ul></div>"
    )


def answer_html(answer: Answer, turn: int) -> str:
    """The assistant's message: the answer, each marker a link to its source.

    An abstention is set apart: a notice, no markers. A sentence the model wrote
    that its sources do not support is marked (``FOOTNOTES_LLM_UNSUPPORTED=flag``)
    or listed as left out (the default); a ``notice`` (the model failed) comes first.
    """
    if not answer.answered:
        related = ""
        if answer.related:
            related = (
                '<div class="fn-abstain-more">Related passages are listed beside the chat; '
                "none of them answers the question.</div>"
            )
        return (
            f'<div class="fn-answer fn-abstain" role="note">{_notice(answer)}'
            '<div class="fn-abstain-label">Not in the documents</div>'
            f'<div class="fn-abstain-text">{escape(answer.answer)}</div>{related}</div>'
        )
    parts: list[str] = []
    for i, sentence in enumerate(answer.shown()):
        markers = "".join(" " + _marker(n, turn) for n in sentence.citations)
        text = escape(sentence.text)
        if not sentence.supported:
            why = escape(sentence.reason or "not supported by its sources")
            text = (
                f'<span class="fn-unsupported" title="{why}">{text}</span>{markers} '
                '<span class="fn-unsupported-label">not supported by its sources</span>'
            )
        else:
            text += markers
        parts.append((" " if i else "") + text)
    kind = " fn-written" if answer.mode == "llm" else ""
    return f'<div class="fn-answer{kind}">{_notice(answer)}{"".join(parts)}{_dropped(answer)}</div>'


def _where(citation: Citation) -> str:
    bits = []
    if citation.page is not None:
        bits.append(f"page {citation.page}")
    if citation.section and citation.section != citation.title:
        bits.append(f"§ {escape(citation.section)}")
    return " · ".join(bits)


def _source_item(source: Source, turn: int, kind: str) -> str:
    c = source.citation
    where = _where(c)
    where_html = f'<div class="fn-where">{where}</div>' if where else ""
    label = f'<span class="fn-source-n">[{c.n}]</span> ' if kind == "source" else ""
    return (
        f'<li class="fn-source fn-{"cited" if kind == "source" else kind}" '
        f'id="{kind}-{turn}-{c.n}" data-turn="{turn}" '
        f'data-cite="{c.n}" tabindex="-1">'
        f'<div class="fn-source-head">{label}<span class="fn-title">{escape(c.title)}</span>'
        f'<span class="fn-doc-id">{escape(c.document)}</span></div>{where_html}'
        f'<blockquote class="fn-passage">{highlight(c.passage, source.start, source.end, c.format)}'
        "</blockquote>"
        f'<button type="button" class="fn-open" data-open="{kind}" data-turn="{turn}" '
        f'data-cite="{c.n}">Open in document</button></li>'
    )


def _turn_section(exchange: Exchange, turn: int, visible: bool) -> str:
    answer = exchange.answer
    hidden = "" if visible else " hidden"
    asked = f'<p class="fn-asked">{escape(answer.question)}</p>'
    if answer.answered:
        items = "".join(_source_item(s, turn, "source") for s in exchange.sources)
        body = f'<h3 class="fn-heading">Sources</h3><ol class="fn-source-list">{items}</ol>'
    else:
        body = (
            '<div class="fn-abstain-note" role="note">No answer in the documents: nothing in '
            "them states this, so nothing is cited.</div>"
        )
        if exchange.related:
            items = "".join(_source_item(s, turn, "related") for s in exchange.related)
            body += (
                '<h3 class="fn-heading fn-related-heading">Related passages</h3>'
                f'<ul class="fn-source-list fn-related-list">{items}</ul>'
            )
    kind = "answered" if answer.answered else "abstained"
    return f'<section class="fn-turn fn-{kind}" data-turn="{turn}"{hidden}>{asked}{body}</section>'


def sources_html(conversation: Sequence[Exchange]) -> str:
    """The Sources panel: every answer's sources, the latest one shown.

    Earlier answers' sources stay in the page (hidden) so their markers still
    work: clicking one shows its answer's section.
    """
    if not conversation:
        return (
            '<div class="fn-sources-panel"><p class="fn-empty">Ask a question: the sentences '
            "its answer is made of appear here, each in its passage.</p></div>"
        )
    last = len(conversation) - 1
    sections = "".join(_turn_section(e, t, t == last) for t, e in enumerate(conversation))
    return f'<div class="fn-sources-panel">{sections}</div>'


def document_html(
    citation: Citation,
    text: str,
    doc_format: str = "",
    pages: int | None = None,
) -> str:
    """A whole document's text, with the cited quote highlighted at its offsets."""
    meta = [escape(doc_format.upper())] if doc_format else []
    if citation.page is not None:
        meta.append(f"page {citation.page}" + (f" of {pages}" if pages else ""))
    if citation.section and citation.section != citation.title:
        meta.append(f"§ {escape(citation.section)}")
    meta_html = f'<div class="fn-doc-meta">{" · ".join(meta)}</div>' if meta else ""
    start, end = citation.start, citation.end
    if text[start:end] != citation.quote:
        found = text.find(citation.quote)  # the document changed since the answer
        start, end = (found, found + len(citation.quote)) if found >= 0 else (0, 0)
    return (
        f'<div class="fn-document" data-document="{escape(citation.document)}">'
        f'<div class="fn-doc-head"><span class="fn-title">{escape(citation.title)}</span>'
        f'<span class="fn-doc-id">{escape(citation.document)}</span></div>{meta_html}'
        f'<div class="fn-doc-text">{highlight(text, start, end, doc_format)}</div></div>'
    )


def notice_html(message: str, kind: str = "info") -> str:
    """A short message in place of a panel's content."""
    return f'<div class="fn-notice fn-notice-{escape(kind)}">{escape(message)}</div>'


def dialog_html(body: str, label: str) -> str:
    """The document view: ``body`` (markup made here) in a panel beside the chat, with a
    close button. ``label`` names it for assistive technology."""
    return (
        f'<div class="fn-dialog" role="dialog" aria-modal="false" aria-label="{escape(label)}">'
        '<div class="fn-dialog-bar"><span class="fn-dialog-title">Document</span>'
        '<button type="button" class="fn-close" data-close="1" title="Close (Esc)">'
        "Close</button></div>"
        f'<div class="fn-dialog-body">{body}</div></div>'
    )


UPLOAD_STAGES = {
    "waiting": "waiting",
    "reading": "reading…",
    "embedding": "embedding",
    "done": "stored",
    "added": "added",
    "updated": "updated",
    "unchanged": "unchanged",
    "removed": "removed",
    "failed": "failed",
    "skipped": "skipped",
}
"""What each stage of an uploaded file is called in the upload panel."""


@dataclass(frozen=True)
class UploadRow:
    """One uploaded file as the upload panel shows it: its stage (a key of
    :data:`UPLOAD_STAGES`), the passages stored, the sentences embedded of its
    ``sentences`` (while embedding, and once stored) and, for a failure, the reason."""

    name: str
    stage: str
    passages: int | None = None
    reason: str = ""
    embedded: int = 0
    sentences: int = 0


def _upload_stage(row: UploadRow) -> str:
    """The Progress cell: "embedding 120/480 sentences", "added, 480 sentences"..."""
    label = UPLOAD_STAGES.get(row.stage, row.stage)
    if row.stage == "embedding":
        return f"{label} {row.embedded}/{row.sentences} sentences"
    if row.stage in ("added", "updated") and row.sentences:
        return f"{label}, {row.sentences} sentence{'' if row.sentences == 1 else 's'}"
    return label


def upload_html(rows: Sequence[UploadRow]) -> str:
    """The upload panel: each file of the upload, where it stands or how it ended."""
    if not rows:
        return '<h3 class="fn-heading">Upload</h3>' + notice_html(
            "Files you add are listed here, each with its progress and result."
        )
    done = sum(1 for r in rows if r.stage not in ("waiting", "reading", "embedding"))
    body = "".join(
        f'<tr class="fn-upload-{escape(r.stage)}">'
        f'<td class="fn-cell-name" title="{escape(r.name)}">{escape(r.name)}</td>'
        f'<td class="fn-cell-stage">{escape(_upload_stage(r))}</td>'
        f'<td class="fn-cell-n">{"" if r.passages is None else r.passages}</td>'
        f'<td class="fn-cell-reason">{escape(r.reason)}</td></tr>'
        for r in rows
    )
    return (
        '<div class="fn-upload" role="status"><h3 class="fn-heading">Upload</h3>'
        f'<p class="fn-upload-count">{done} of {len(rows)} '
        'files done</p><table class="fn-table"><thead><tr><th>File</th><th>Progress</th>'
        f"<th>Passages</th><th>Reason</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def table_html(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table of plain values (the Library's documents): headers never wrap, and each
    cell carries its whole text as a tooltip, since long titles are cut to fit."""
    if not rows:
        return '<h3 class="fn-heading">Documents</h3>' + notice_html("No documents yet.")
    head = "".join(f'<th class="fn-col-{escape(h.lower())}">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="fn-col-{escape(h.lower())}" title="{escape(str(v))}">{escape(str(v))}</td>'
            for h, v in zip(headers, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        '<h3 class="fn-heading">Documents</h3>'
        f'<table class="fn-table fn-documents-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )

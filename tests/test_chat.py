"""The chat's rendering and callbacks, called directly; and the chat served to gradio_client.

Rendering is checked on hand-made answers (markers, offsets, abstention,
escaping); the callbacks run against a real :class:`Library` (the session's
model, a store in a temporary folder, the sample article ingested), shared by
the module. Escaping is checked by parsing the HTML: only the markup the
renderer writes may appear as tags, and a document's ``<script>`` must come
back as text.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import SAMPLE_ARTICLE

from footnotes.index.answer import FLAG, Answer, Citation, Sentence, joined, quoted
from footnotes.index.library import Library
from footnotes.index.sync import FileOutcome, FileProgress
from footnotes.settings import Settings
from footnotes.ui import chat, render
from footnotes.ui.render import Exchange, Source

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

ARTICLE_ID = SAMPLE_ARTICLE.name
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
FOLLOW_UP = "What threat did he cite?"
ORESHNIK = "Lukashenka requested that Putin deploy the Oreshnik strategic missile system"
NATO = "an alleged threat from NATO units in Poland and Lithuania"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
JS_LINK = "[pilot rules](javascript:window.__pwned=3)"
RAW_LINK = '<a href="javascript:window.__pwned=4">rules</a>'
PAYLOADS = (SCRIPT, IMG, JS_LINK, RAW_LINK)
RENDERED_TAGS = {
    "div", "a", "section", "p", "h3", "ol", "ul", "li", "span", "blockquote", "mark", "button",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


# --- a parsed view of rendered HTML -------------------------------------------------------


class Parsed(HTMLParser):
    """Tags, attributes and text of an HTML fragment, and the text inside each ``<mark>``."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self.marks: list[str] = []
        self.before_mark: str | None = None  # the text before the first <mark>
        self.headings: list[tuple[str, str]] = []  # (aria-level, the words shown)
        self.hidden: list[str] = []  # the text of each element the page hides
        self._in_mark = 0
        self._open: list[str] = []  # "heading", "hidden" or "" for each open element
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        if tag == "mark":
            if self.before_mark is None:
                self.before_mark = "".join(self.chunks)
            self._in_mark += 1
            self.marks.append("")
        if named.get("role") == "heading":
            self.headings.append((named.get("aria-level") or "", ""))
            self._open.append("heading")
        elif named.get("aria-hidden") == "true":
            self.hidden.append("")
            self._open.append("hidden")
        else:
            self._open.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self._in_mark -= 1
        self._open.pop()

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._in_mark:
            self.marks[-1] += data
        if "hidden" in self._open:
            self.hidden[-1] += data
        elif "heading" in self._open:
            level, words = self.headings[-1]
            self.headings[-1] = (level, words + data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def attrs(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.tags if name in a]


def assert_inert(markup: str) -> Parsed:
    """Only the renderer's own tags; no event handler; links only to the page's own ids."""
    parsed = Parsed(markup)
    for tag, attrs in parsed.tags:
        assert tag in RENDERED_TAGS, f"unexpected <{tag}> in {markup[:200]}"
        assert not any(name.startswith("on") for name in attrs), attrs
        assert "src" not in attrs and "style" not in attrs, attrs
    assert all(href.startswith("#") for href in parsed.attrs("href"))
    return parsed


def citation(n: int, quote: str, passage: str, start: int, *, document: str = "doc.txt",
             title: str = "A document", page: int | None = None,
             section: str | None = None, fmt: str = "txt") -> Citation:  # fmt: skip
    return Citation(n, document, title, fmt, page, section, start, start + len(quote), quote,
                    passage, 0.5)  # fmt: skip


# --- rendering ----------------------------------------------------------------------------

FERRY = "The ferry leaves at nine."
RETURN = "It returns at six [2] each evening."
PASSAGE = f"Harbour notes. {FERRY} {RETURN}"


def ferry_answer() -> Answer:
    c1 = citation(1, FERRY, PASSAGE, 100 + PASSAGE.index(FERRY))
    c2 = citation(2, RETURN, PASSAGE, 100 + PASSAGE.index(RETURN))
    return quoted("When does the ferry run?", [c1, c2])


def test_every_marker_links_to_its_source_in_the_panel() -> None:
    answer = ferry_answer()
    exchange = Exchange(answer, tuple(Source(c, *render.quote_span(c)) for c in answer.citations))
    message = assert_inert(render.answer_html(answer, turn=0))
    panel = assert_inert(render.sources_html([exchange]))
    links = [a["href"] for t, a in message.tags if t == "a"]
    assert links == ["#source-0-1", "#source-0-2"]
    ids = set(panel.attrs("id"))
    assert {link[1:] for link in links} <= ids
    # the document's own "[2]" inside the second quote is shown as "(2)", not a third marker
    shown = RETURN.replace("[2]", "(2)")
    assert message.text == answer.answer == f"{FERRY} [1] {shown} [2]"
    assert render.segments(answer) == [
        (FERRY, None),
        (" ", None),
        ("[1]", 1),
        (f" {shown}", None),
        (" ", None),
        ("[2]", 2),
    ]


def test_quote_is_highlighted_where_it_was_cited_not_where_it_first_occurs() -> None:
    repeated = "Check the tide table."
    passage = f"{repeated} The pier is old. {repeated} Then sail."
    document = "Intro line.\n" + passage + "\nMore text."
    second = document.index(repeated, document.index("pier"))
    cited = citation(1, repeated, passage, second)
    start, end = render.quote_span(cited, document)
    offset = document.index(passage)
    assert (start, end) == (second - offset, second - offset + len(repeated))
    markup = render.highlight(passage, start, end)
    assert Parsed(markup).marks == [repeated]
    assert Parsed(markup).before_mark == passage[:start]
    # without the document, the first occurrence stands in
    assert render.quote_span(cited, None) == (0, len(repeated))


def test_highlight_escapes_before_quote_and_after_separately() -> None:
    text = "a < b & c. The <b>quote</b> & more. Then x > y."
    start = text.index("The")
    end = text.index("Then") - 1
    markup = render.highlight(text, start, end)
    assert markup == (
        "a &lt; b &amp; c. <mark>The &lt;b&gt;quote&lt;/b&gt; &amp; more.</mark> Then x &gt; y."
    )
    assert Parsed(markup).text == text
    with pytest.raises(ValueError, match="outside"):
        render.highlight(text, 5, len(text) + 1)


NOTES = "# Team notes\n\nThe ferry <b>leaves</b> at nine.\n\n## C# pilots ##\nBoard at noon."
TUTORIAL = "=====\nTides\n=====\n\nHigh at noon.\n\nNeaps\n-----\n\nLow in spring.\n"


def shown(citation: Citation, document: str) -> tuple[Parsed, Parsed]:
    """``citation`` in the Sources panel and in the document view of ``document``."""
    source = Source(citation, *render.quote_span(citation, document))
    panel = assert_inert(render.sources_html([Exchange(quoted("?", [citation]), (source,))]))
    view = assert_inert(render.document_html(citation, document, citation.format))
    return panel, view


def test_md_headings_are_shown_as_headings_and_txt_hash_lines_are_not() -> None:
    document = "Intro.\n\n" + NOTES
    ferry = "The ferry <b>leaves</b> at nine."
    md = citation(1, ferry, NOTES, document.index(ferry), document="notes.md", fmt="md")
    for parsed in shown(md, document):
        assert parsed.headings == [("1", "Team notes"), ("2", "C# pilots")]
        assert parsed.hidden == ["# ", "## ", " ##"]  # only the marks are hidden
        assert parsed.marks == [ferry] and NOTES in parsed.text  # the text is untouched
    txt = replace(md, document="notes.txt", format="txt")
    for parsed in shown(txt, document):
        assert parsed.headings == [] and parsed.hidden == []
        assert parsed.marks == [ferry] and NOTES in parsed.text


def test_a_quoted_heading_stays_highlighted_exactly_and_reads_without_its_marks() -> None:
    heading = "## C# pilots ##"
    md = citation(1, heading, NOTES, NOTES.index(heading), fmt="md")
    panel, view = shown(md, NOTES)
    assert panel.marks == view.marks == [heading]
    assert view.headings == [("1", "Team notes"), ("2", "C# pilots")]
    assert Parsed(render.answer_html(quoted("?", [md]), 0)).text == "C# pilots [1]"
    txt = replace(md, format="txt")
    assert Parsed(render.answer_html(quoted("?", [txt]), 0)).text == "## C# pilots ## [1]"
    # A quote that begins inside a heading and runs on: that heading is left plain.
    across = NOTES[NOTES.index("notes") : NOTES.index(" at nine")]
    parsed = Parsed(render.highlight(NOTES, NOTES.index("notes"), NOTES.index(" at nine"), "md"))
    assert parsed.marks == [across] and parsed.headings == [("2", "C# pilots")]
    assert parsed.text == NOTES


def test_rst_titles_are_shown_as_headings_without_their_underlines() -> None:
    rst = citation(1, "High at noon.", TUTORIAL, TUTORIAL.index("High"), fmt="rst")
    view = assert_inert(render.document_html(rst, TUTORIAL, "rst"))
    assert view.headings == [("1", "Tides"), ("2", "Neaps")]
    assert view.hidden == ["=====\n", "\n=====", "\n-----"]
    assert view.marks == ["High at noon."] and view.text.endswith(TUTORIAL)


def test_abstention_looks_different_and_lists_related_passages() -> None:
    related = citation(1, FERRY, PASSAGE, 100 + PASSAGE.index(FERRY))
    declined = Answer("Who built the pier?", "The documents do not say.", False, [], [related])
    message = assert_inert(render.answer_html(declined, turn=3))
    assert "fn-abstain" in message.attrs("class")[0]
    assert not [a for t, a in message.tags if t == "a"]  # no markers
    assert "Not in the documents" in message.text
    exchange = Exchange(declined, (), (Source(related, *render.quote_span(related)),))
    panel = assert_inert(render.sources_html([exchange]))
    headings = [c for c in panel.attrs("class") if "fn-heading" in c]
    assert headings == ["fn-heading fn-related-heading"]
    assert "Related passages" in panel.text and "Sources" not in panel.text
    assert panel.attrs("id") == ["related-0-1"]  # its turn in the panel; no "source-" id
    assert panel.marks == [FERRY]
    answered = assert_inert(render.answer_html(ferry_answer(), turn=0))
    assert "fn-abstain" not in " ".join(answered.attrs("class"))


def written_ferry_answer(flag: bool) -> Answer:
    """A model's answer: one supported sentence, one with an invented hour."""
    c1 = citation(1, FERRY, PASSAGE, 100 + PASSAGE.index(FERRY))
    good = Sentence("The ferry sails at nine.", [1])
    bad = Sentence(
        "It sails again at ten.", [1] if flag else [], False, "states 10 (it cited [1])",
        dropped=not flag,
    )  # fmt: skip
    return Answer("When does the ferry run?", joined([good, bad]), True, [c1], mode="llm",
                  sentences=[good, bad])  # fmt: skip


def test_a_written_answer_shows_only_supported_sentences_and_says_what_was_left_out() -> None:
    answer = written_ferry_answer(flag=False)
    assert answer.answer == "The ferry sails at nine. [1]"
    message = assert_inert(render.answer_html(answer, turn=0))
    assert [a["href"] for t, a in message.tags if t == "a"] == ["#source-0-1"]
    assert message.text.startswith("The ferry sails at nine. [1]")
    assert "left out" in message.text and "It sails again at ten." in message.text
    assert "states 10" in message.text
    assert "fn-unsupported" not in " ".join(message.attrs("class"))


def test_a_flagged_sentence_is_marked_and_keeps_its_markers() -> None:
    answer = written_ferry_answer(flag=True)
    assert answer.answer == f"The ferry sails at nine. [1] It sails again at ten. [1] {FLAG}"
    message = assert_inert(render.answer_html(answer, turn=0))
    flagged = [a for t, a in message.tags if t == "span" and a.get("class") == "fn-unsupported"]
    assert len(flagged) == 1 and "states 10" in flagged[0]["title"]
    assert "not supported by its sources" in message.text
    assert [a["href"] for t, a in message.tags if t == "a"] == ["#source-0-1", "#source-0-1"]


def test_a_notice_and_the_words_being_written_are_shown_as_text() -> None:
    answer = replace(ferry_answer(), notice=f"the language model did not answer {SCRIPT}")
    message = assert_inert(render.answer_html(answer, turn=0))
    assert f"the language model did not answer {SCRIPT}" in message.text
    assert "fn-answer-notice" in " ".join(message.attrs("class"))
    declined = replace(answer, answered=False, citations=[], sentences=[], answer="No.")
    assert "did not answer" in assert_inert(render.answer_html(declined, turn=0)).text
    writing = assert_inert(render.writing_html(f"The ferry {IMG} [1"))
    assert writing.text.startswith(f"The ferry {IMG} [1")
    assert not [a for t, a in writing.tags if t == "a"]


def test_markup_from_documents_and_users_is_shown_as_text_everywhere() -> None:
    hostile = " ".join(PAYLOADS)
    quote = f"The pilot boards with {SCRIPT} a ladder and {IMG} gloves."
    passage = f"{JS_LINK} first. {quote} {RAW_LINK} last."
    cited = citation(1, quote, passage, 40 + passage.index(quote), document=f"{IMG}.md",
                     title=f"Notes {SCRIPT}", section=f"Rules {RAW_LINK}", page=2)  # fmt: skip
    answer = quoted(f"What does the pilot board with? {IMG}", [cited])
    exchange = Exchange(answer, (Source(cited, *render.quote_span(cited)),))
    document = "x" * 40 + passage
    views = {
        "question": render.question_html(answer.question),
        "answer": render.answer_html(answer, 0),
        "sources": render.sources_html([exchange]),
        "document": render.document_html(cited, document, "md", 3),
        "notice": render.notice_html(hostile),
        "dialog": render.dialog_html(render.notice_html(hostile), f"Document {IMG}"),
        "upload": render.upload_html([render.UploadRow(f"{IMG}.md", "failed", None, hostile)]),
        "documents": render.table_html(["Document", "Title"], [[f"{IMG}.md", f"Notes {SCRIPT}"]]),
    }
    for name, markup in views.items():
        assert_inert(markup)
        assert "<script" not in markup and "<img" not in markup, name
    assert IMG in Parsed(views["question"]).text
    assert SCRIPT in Parsed(views["answer"]).text
    assert Parsed(views["sources"]).marks == [quote]
    assert Parsed(views["document"]).marks == [quote]
    assert "MD · page 2 of 3" in Parsed(views["document"]).text
    assert f"Notes {SCRIPT}" in Parsed(views["sources"]).text
    assert RAW_LINK in Parsed(views["document"]).text and JS_LINK in Parsed(views["document"]).text
    assert hostile in Parsed(views["upload"]).text and f"{IMG}.md" in Parsed(views["upload"]).text
    assert f"Notes {SCRIPT}" in Parsed(views["documents"]).attrs(
        "title"
    )  # the whole title on hover


def test_library_tables_say_where_each_file_stands_and_cut_long_titles() -> None:
    rows = [
        render.UploadRow("a.md", "added", 3, "", 480, 480),
        render.UploadRow("b.pdf", "reading"),
        render.UploadRow("c.txt", "waiting"),
        render.UploadRow("d.xyz", "skipped", None, "d.xyz: unsupported type"),
        render.UploadRow("e.txt", "embedding", None, "", 120, 480),
    ]
    panel = Parsed(render.upload_html(rows))
    cells = [c.strip() for c in panel.chunks if c.strip()]
    assert "2 of 5 files done" in panel.text  # added and skipped are done; three are not
    at = cells.index("a.md")
    assert cells[at : at + 3] == ["a.md", "added, 480 sentences", "3"]
    assert cells[cells.index("e.txt") + 1] == "embedding 120/480 sentences"
    assert "reading…" in panel.text and "d.xyz: unsupported type" in panel.text
    title = "A very long title " * 10
    table = Parsed(render.table_html(chat.DOCUMENT_HEADERS, [["x.pdf", title, "pdf", 3, 9, "t"]]))
    assert title in table.attrs("title")
    assert "fn-col-ingested" in table.attrs("class")


# --- callbacks on a real library ------------------------------------------------------------


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embed_model: HuggingFaceEmbedding) -> Library:
    """The sample article in collection ``test`` of a store in a temporary folder."""
    root = tmp_path_factory.mktemp("chat")
    settings = Settings(store=root / "store", collection="test", max_upload_mb=1)
    library = Library(settings, embed_model)
    report = library.ingest([SAMPLE_ARTICLE])
    assert report.count("added") == 1
    return library


@pytest.fixture(scope="module")
def asked(library: Library) -> list[tuple[chat.Messages, list[Exchange], Any, str]]:
    """Every yield of the chat answering QUESTION in a new conversation."""
    return list(chat.respond(library, QUESTION, [], None))


@pytest.mark.slow
def test_a_quoted_answer_arrives_at_once_with_its_sources(
    asked: list[tuple[chat.Messages, list[Exchange], Any, str]],
) -> None:
    assert len(asked) == 1  # no replay of a finished answer: it is shown when ready
    messages, conversation, sources, textbox = asked[-1]
    assert textbox == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert len(conversation) == 1 and conversation[0].answer.answered
    answer = Parsed(messages[1]["content"])
    assert ORESHNIK in answer.text
    assert "#source-0-1" in answer.attrs("href")
    panel = assert_inert(sources)
    assert "source-0-1" in panel.attrs("id")
    assert any(ORESHNIK in mark for mark in panel.marks)
    first = conversation[0].sources[0]
    c = first.citation
    assert c.passage[first.start : first.end] == c.quote  # located at its offsets
    assert SAMPLE_ARTICLE.read_text(encoding="utf-8")[c.start : c.end] == c.quote


@pytest.mark.slow
def test_follow_up_is_answered_from_the_conversation(
    library: Library, asked: list[tuple[chat.Messages, list[Exchange], Any, str]]
) -> None:
    conversation = asked[-1][1]
    turns = chat.history(conversation)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[0].content == QUESTION and "<" not in turns[1].content
    *_, (messages, after, sources, _) = chat.respond(library, FOLLOW_UP, conversation, None)
    assert len(conversation) == 1  # the session's value is not changed in place
    assert len(after) == 2 and [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert NATO in after[1].answer.answer
    assert "#source-1-1" in Parsed(messages[3]["content"]).attrs("href")
    sections = [a for t, a in Parsed(sources).tags if t == "section"]
    assert [(s["data-turn"], "hidden" in s) for s in sections] == [("0", True), ("1", False)]


@pytest.mark.slow
def test_open_in_document_shows_the_whole_text_scrolled_to_the_quote(
    library: Library, asked: list[tuple[chat.Messages, list[Exchange], Any, str]]
) -> None:
    conversation = asked[-1][1]
    c = conversation[0].answer.citations[0]
    markup = chat.open_document(library, conversation, None, "source", 0, 1)
    parsed = assert_inert(markup)
    text = SAMPLE_ARTICLE.read_text(encoding="utf-8")
    assert parsed.marks == [c.quote]
    assert parsed.text.endswith(text) and (parsed.before_mark or "").endswith(text[: c.start])
    missing = chat.open_document(library, conversation, None, "source", 0, 9)
    assert "no source 9" in Parsed(missing).text
    view = Parsed(chat.document_view(library, conversation, None, {"turn": 0, "n": 1}))
    assert view.marks == [c.quote] and ("div", "dialog") in [
        (t, a.get("role")) for t, a in view.tags
    ]
    assert "data-close" in {name for _, a in view.tags for name in a}  # it can be closed
    broken = chat.document_view(library, conversation, None, {"turn": "x"})
    assert "could not be opened" in Parsed(broken).text
    assert chat.new_conversation()[3] == chat.CLOSED == ""  # clearing closes the document


@pytest.mark.slow
def test_empty_question_is_a_hint_and_empty_collection_is_refused(library: Library) -> None:
    import gradio as gr

    ((chatbot, conversation, sources, textbox),) = list(chat.respond(library, "   ", [], None))
    assert textbox["placeholder"].startswith("Type a question first")  # no gr.Error for it
    assert conversation == [] and chatbot == sources == gr.skip()
    with pytest.raises(gr.Error, match="empty") as caught:
        next(chat.respond(library, QUESTION, [], "nothing-here"))
    assert caught.value.print_exception is False  # an expected error: no traceback


@pytest.mark.slow
def test_upload_panel_counts_each_files_sentences_while_they_are_embedded(
    library: Library, tmp_path: Path
) -> None:
    text = " ".join(f"Quay {i} was rebuilt in {1900 + i} after the storm." for i in range(150))
    big = tmp_path / "quays.txt"
    big.write_text(text, encoding="utf-8")
    panels = [
        Parsed(panel).text for panel, _ in chat.upload(library, library.settings, [big], "quays")
    ]
    seen = [tuple(map(int, m)) for p in panels for m in re.findall(r"embedding (\d+)/(\d+)", p)]
    assert seen, panels
    total = seen[0][1]
    assert total >= 150 and {n for _, n in seen} == {total}
    assert any(0 < done < total for done, _ in seen), seen  # between two batches of 64
    assert [done for done, _ in seen] == sorted(set(done for done, _ in seen))
    assert f"added, {total} sentences" in panels[-1] and "embedding" not in panels[-1]


@pytest.mark.slow
def test_upload_adds_files_and_reports_each_failure(library: Library, tmp_path: Path) -> None:
    settings = library.settings
    good = tmp_path / "harbour.md"
    good.write_text("# Harbour notes\n\nThe ferry to Kelvin island leaves at nine each day.\n")
    odd = tmp_path / "table.xyz"
    odd.write_text("not a document")
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    big = tmp_path / "big.txt"
    big.write_text("Many words here. " * 70_000)  # over the 1 MB limit
    steps = list(chat.upload(library, settings, [good, odd, empty, big], "uploads"))
    panels = [Parsed(panel).text for panel, _ in steps]
    outcomes = steps[-1][1]
    got = {o.document: (o.status, o.reason) for o in outcomes}
    assert got["harbour.md"] == ("added", "")
    assert got["table.xyz"][0] == "skipped" and "unsupported type" in got["table.xyz"][1]
    assert got["empty.txt"][0] == "failed" and "empty" in got["empty.txt"][1]
    assert got["big.txt"][0] == "failed" and "1 MB limit" in got["big.txt"][1]
    assert str(tmp_path) not in " ".join(o.reason for o in outcomes)  # no server paths
    # every file waits, then each is read (the unsupported one is refused by its name) and ends
    assert "0 of 4 files done" in panels[0] and panels[0].count("waiting") == 4
    assert "reading…" in panels[1] and panels[1].count("waiting") == 3
    assert any("1 of 4 files done" in p and "added, 2 sentences" in p for p in panels), panels
    assert "4 of 4 files done" in panels[-1] and "1 MB limit" in panels[-1]
    assert "added, 2 sentences" in panels[-1]  # the heading and the sentence under it
    assert not any(word in panels[-1] for word in ("reading", "waiting", "embedding"))
    again = list(chat.adding(library, settings, [good], "uploads"))
    assert again[0] == (0, None)
    assert [(i, o.status) for i, o in again if isinstance(o, FileOutcome)] == [(0, "unchanged")]
    assert {o.stage for _, o in again[1:-1] if isinstance(o, FileProgress)} <= {
        "reading",
        "unchanged",
    }  # nothing embedded again
    folder = settings.uploads() / "uploads"
    assert sorted(p.name for p in folder.iterdir()) == ["harbour.md"]
    rows = chat.document_rows(library, "uploads")
    assert [r[:5] for r in rows] == [["harbour.md", "Harbour notes", "md", "", 1]]
    assert [r[0] for r in chat.document_rows(library, None)] == [ARTICLE_ID]  # other collection

    message = chat.remove_document(library, "harbour.md", "uploads")
    assert message == "Removed harbour.md from uploads."
    assert chat.document_rows(library, "uploads") == []
    assert not (folder / "harbour.md").exists()
    again = chat.remove_document(library, "harbour.md", "uploads")
    assert again == "harbour.md is not in the collection uploads."


# --- served: gradio_client against a launched chat --------------------------------------------


@pytest.fixture(scope="module")
def launched(library: Library) -> Iterator[str]:
    """``build_chat`` launched on a free loopback port; yields its URL."""
    blocks = chat.build_chat(library, library.settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                  quiet=True, **chat.page_options())  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        blocks.close()


@pytest.mark.slow
def test_client_gets_a_cited_answer_and_sessions_stay_apart(launched: str) -> None:
    from gradio_client import Client

    first = Client(launched, verbose=False)
    messages, sources, textbox = first.predict(QUESTION, api_name="/ask")
    assert textbox == ""
    answer = Parsed(messages[1]["content"][0]["text"])
    assert ORESHNIK in answer.text and "#source-0-1" in answer.attrs("href")
    assert any(ORESHNIK in mark for mark in Parsed(sources).marks)

    other = Client(launched, verbose=False)
    theirs, _, _ = other.predict("When did the leaders sign the agreements?", api_name="/ask")
    assert len(theirs) == 2  # a new session starts its own conversation
    mine, _, _ = first.predict(FOLLOW_UP, api_name="/ask")
    assert len(mine) == 4 and NATO in Parsed(mine[3]["content"][0]["text"]).text


@pytest.mark.slow
def test_collection_selector_shows_only_with_several_collections(
    tmp_path: Path, embed_model: HuggingFaceEmbedding
) -> None:
    import gradio as gr

    def selector(blocks: gr.Blocks) -> Any:
        found = [b for b in blocks.blocks.values() if getattr(b, "elem_id", "") == "fn-collection"]
        assert len(found) == 1
        return found[0]

    settings = Settings(store=tmp_path / "store", collection="solo")
    library = Library(settings, embed_model)
    assert library.collections() == ["solo"]
    assert selector(chat.build_chat(library, settings)).visible is False
    library.store("second")
    assert selector(chat.build_chat(library, settings)).visible is True

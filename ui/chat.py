"""The chat in the browser: ask, follow up, and see every cited sentence in its source.

Wiring only. The callbacks are plain functions of a :class:`Library` and the
session's values, so they are tested directly; :func:`build_chat` binds them
to gradio components. Per-session values (the conversation, the selected
collection) live in ``gr.State``; nothing per-user lives in this module.

All markup comes from ``ui/render.py``, which escapes every value taken from a
document or a user. The chatbot renders it as HTML without Markdown (a
document's ``[text](javascript:...)`` stays text) and keeps gradio's own
sanitiser on as a second guard. A click on a marker ``[n]`` is handled in the
page (``ui/static/page.js``): it shows that answer's sources and brings source ``n``
into view; "Open in document" asks the server for the whole text, shown in a
panel over the Sources panel, beside the chat (``ui/static/document.js``), so
the conversation and the question box stay where they were. Clearing the chat
(its trash icon or "New conversation") clears the conversation, the Sources
panel and the document view alike, and stops an answer still being written.
While an answer is being written the Ask button says so and is disabled; a
second Enter then shows a short note and keeps the text in the box (the
page's script), rather than being lost.

A question is held to the core's bounds (``index/ask.py``): an over-long one
is refused at once with the reason, and only the most recent exchanges that
fit the history bounds are asked after and kept in the session. An error the
user can act on is shown, and logged as one line, never as a traceback; an
empty question only changes the textbox's hint.

The Library tab lists each uploaded file in one panel, with where it stands
(waiting, being read, "embedding 120/480 sentences", then its outcome and
reason), updated while each file is read and embedded; the documents are a
table whose headers never wrap and whose long titles are cut, with the whole
title on hover.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import gradio as gr

from footnotes.errors import FootnotesError, InputError
from footnotes.index.answer import Answer, Citation, Delta
from footnotes.index.ask import Turn, recent_history
from footnotes.index.library import Library
from footnotes.index.sync import FileOutcome, FileProgress
from footnotes.ingest.loaders import FORMATS
from footnotes.settings import Settings
from footnotes.ui import render
from footnotes.ui.render import Exchange, Source, UploadRow
from footnotes.ui.uploads import check_name

DOCUMENT_HEADERS = ["Document", "Title", "Format", "Pages", "Passages", "Ingested"]
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
Messages = list[dict[str, str]]
PLACEHOLDER = "Ask a question; follow-ups may say “he” or “it”."
EMPTY_HINT = "Type a question first; follow-ups may say “he” or “it”."  # may stay: still true
log = logging.getLogger("footnotes")


def refusal(exc: FootnotesError | str) -> gr.Error:
    """A core error (or a message) as the chat shows it. It is expected, so the log gets
    one line and no traceback: ``gr.Error`` prints one unless told not to."""
    message = str(exc)
    log.log(logging.INFO if isinstance(exc, (str, InputError)) else logging.WARNING,
            "chat: %s", message)  # fmt: skip
    return gr.Error(message, print_exception=False)


# --- chat ------------------------------------------------------------------------------


def history(conversation: Sequence[Exchange]) -> list[Turn]:
    """The conversation as plain-text turns for :meth:`Library.ask` (never HTML)."""
    turns: list[Turn] = []
    for exchange in conversation:
        turns.append(Turn("user", exchange.answer.question))
        turns.append(Turn("assistant", exchange.answer.answer))
    return turns


def kept(conversation: Sequence[Exchange], settings: Settings) -> list[Exchange]:
    """The most recent exchanges whose turns fit the history bounds (the core's
    :func:`recent_history`): what a question is asked after, and what the session keeps."""
    turns = recent_history(history(conversation), settings)
    return list(conversation[len(conversation) - len(turns) // 2 :]) if turns else []


def messages(conversation: Sequence[Exchange]) -> Messages:
    """The chatbot's messages for a conversation."""
    out: Messages = []
    for turn, exchange in enumerate(conversation):
        out.append({"role": "user", "content": render.question_html(exchange.answer.question)})
        out.append({"role": "assistant", "content": render.answer_html(exchange.answer, turn)})
    return out


def exchange(library: Library, answer: Answer, collection: str | None) -> Exchange:
    """An answer with each quote located in its passage (see :func:`render.quote_span`)."""
    texts: dict[str, str | None] = {}

    def located(citation: Citation) -> Source:
        if citation.document not in texts:
            try:
                texts[citation.document] = library.document_text(citation.document, collection)
            except FootnotesError:
                texts[citation.document] = None
        return Source(citation, *render.quote_span(citation, texts[citation.document]))

    return Exchange(
        answer,
        tuple(located(c) for c in answer.citations),
        tuple(located(c) for c in answer.related),
    )


def respond(
    library: Library,
    question: str,
    conversation: list[Exchange],
    collection: str | None,
) -> Iterator[tuple[Any, list[Exchange], Any, Any]]:
    """Answer ``question`` after ``conversation``, showing a language model's words as it
    writes them.

    Yields (chatbot messages, conversation, Sources panel, textbox). A quoted
    (extractive) answer is shown once, when it is ready. A written one first
    shows the model's words as they arrive, then is replaced by the checked
    answer and its sources; the textbox is emptied once, when the question is
    taken, so what the user types meanwhile stays. The conversation asked
    after, and kept, is the most recent that fits the history bounds
    (:func:`kept`), plus the new exchange.

    An empty question yields once, changing only the textbox's placeholder to a
    hint. Raises ``gr.Error`` with the reason when nothing can be answered
    (a question over the length limit, an empty collection, the store down).
    """
    if not (question or "").strip():
        yield gr.skip(), conversation, gr.skip(), gr.update(value="", placeholder=EMPTY_HINT)
        return
    conversation = kept(conversation, library.settings)
    try:
        events = library.ask_stream(question, history(conversation), collection)
        before = messages(conversation)
        asked = {"role": "user", "content": render.question_html(question.strip())}
        written, box = "", ""
        for event in events:
            if isinstance(event, Delta):
                written += event.text
                shown = {"role": "assistant", "content": render.writing_html(written)}
                yield [*before, asked, shown], conversation, gr.skip(), box
                box = gr.skip()
            else:
                answer = event
    except FootnotesError as exc:
        raise refusal(exc) from exc
    conversation = [*conversation, exchange(library, answer, collection)]
    yield messages(conversation), conversation, render.sources_html(conversation), box


def open_document(
    library: Library,
    conversation: Sequence[Exchange],
    collection: str | None,
    kind: str,
    turn: int,
    n: int,
) -> str:
    """The document view for citation ``n`` (or related passage ``n``) of answer ``turn``."""
    if not 0 <= turn < len(conversation):
        return render.notice_html("That answer is no longer in this conversation.")
    ex = conversation[turn]
    pool = ex.answer.related if kind == "related" else ex.answer.citations
    citation = next((c for c in pool if c.n == n), None)
    if citation is None:
        return render.notice_html(f"Answer {turn + 1} has no source {n}.")
    store = library.store(collection)
    record = store.get_document(citation.document)
    if record is None:
        return render.notice_html(
            f"{citation.document} is no longer in the library; it was removed after this answer."
        )
    text = store.document_text(citation.document)
    return render.document_html(citation, text, record.format, record.pages)


def document_view(
    library: Library,
    conversation: Sequence[Exchange],
    collection: str | None,
    opened: dict[str, Any],
) -> str:
    """The document view for a click sent by the page (``{kind, turn, n}``, see
    ``static/page.js``): :func:`open_document` in its panel, or a notice there saying
    why it cannot be shown."""
    try:
        kind = str(opened.get("kind") or "source")
        turn, n = int(opened["turn"]), int(opened["n"])
    except (KeyError, TypeError, ValueError):
        body = render.notice_html("That source could not be opened.")
    else:
        try:
            body = open_document(library, conversation, collection, kind, turn, n)
        except FootnotesError as exc:
            body = render.notice_html(str(exc), "error")
    return render.dialog_html(body, "Document")


def new_conversation() -> tuple[Messages, list[Exchange], str, str]:
    """Cleared chatbot, conversation, Sources panel and (closed) document view."""
    return [], [], render.sources_html([]), CLOSED


CLOSED = ""
"""The document view when no document is open."""


def answering() -> Any:
    """The Ask button while an answer is being written: disabled, and saying so."""
    return gr.update(value="Answering…", interactive=False)


def ready() -> Any:
    """The Ask button when the chat takes a question."""
    return gr.update(value="Ask", interactive=True)


# --- library ---------------------------------------------------------------------------


def document_rows(library: Library, collection: str | None) -> list[list[Any]]:
    """One row per stored document: id, title, format, pages, passages, when ingested."""
    return [
        [r.id, r.title, r.format, r.pages if r.pages is not None else "", r.passages,
         r.ingested_at.replace("T", " ").replace("+00:00", " UTC")]
        for r in library.documents(collection)
    ]  # fmt: skip


def adding(
    library: Library,
    settings: Settings,
    files: Sequence[str | Path],
    collection: str | None,
) -> Iterator[tuple[int, FileProgress | FileOutcome | None]]:
    """Add uploaded files to the collection one by one, saying where each stands.

    Yields ``(i, None)`` as file ``i`` is taken, ``(i, progress)`` as the core
    reads and embeds it (:class:`FileProgress`, while it happens), then
    ``(i, outcome)`` when it is done. Each file is kept under its sanitised name
    (the document id); one that is too large, of an unsupported type or
    unreadable fails alone with its reason, and the file it would have replaced
    is put back.
    """
    limit = settings.max_upload_mb * 1024 * 1024
    for i, raw in enumerate(files):
        source = Path(raw)
        name, refused = check_name(source.name)  # the API's rule for upload names, shared
        if refused is not None:
            yield i, refused
            continue
        yield i, None
        for step in _add_one(library, source, name, limit, settings, collection):
            yield i, step


def upload(
    library: Library,
    settings: Settings,
    files: Sequence[str | Path],
    collection: str | None,
) -> Iterator[tuple[str, list[FileOutcome]]]:
    """The upload panel as the files are added: yields (panel, outcomes so far), first
    with every file waiting, then after each change of a file's row (its stage, or the
    sentences embedded so far)."""
    rows = [UploadRow(check_name(Path(f).name)[0] or Path(f).name, "waiting") for f in files]
    outcomes: list[FileOutcome] = []
    yield render.upload_html(rows), outcomes
    for i, step in adding(library, settings, files, collection):
        row = rows[i]
        if step is None:
            rows[i] = UploadRow(row.name, "reading")
        elif isinstance(step, FileProgress):
            rows[i] = UploadRow(
                row.name, step.stage, None, step.reason, step.embedded, step.sentences
            )
        else:
            outcomes.append(step)
            rows[i] = UploadRow(
                step.document or row.name, step.status,
                None if step.status in ("failed", "skipped") else step.passages,
                step.reason, row.embedded, row.sentences,
            )  # fmt: skip
        if rows[i] != row or not isinstance(step, FileProgress):
            yield render.upload_html(rows), outcomes


def _add_one(
    library: Library,
    source: Path,
    name: str,
    limit: int,
    settings: Settings,
    collection: str | None,
) -> Iterator[FileProgress | FileOutcome]:
    """Add one upload: its progress as the core reports it, then its outcome.

    :meth:`Library.add_files` runs in a thread of its own, so its progress can be
    yielded while it works; when several events arrive between two looks, only the
    latest is yielded. The thread is waited for even if this generator is closed
    early: the upload is finished, never left half done.
    """
    try:
        size = source.stat().st_size
    except OSError as exc:
        yield FileOutcome(name, "failed", name, f"{name}: cannot read the upload ({exc.strerror})")
        return
    if size > limit:
        yield FileOutcome(
            name, "failed", name,
            f"{name}: larger than the {settings.max_upload_mb} MB limit (FOOTNOTES_MAX_UPLOAD_MB)",
        )  # fmt: skip
        return
    heard: queue.SimpleQueue[FileProgress | None] = queue.SimpleQueue()
    with ThreadPoolExecutor(1, thread_name_prefix="footnotes-upload") as pool:
        added = pool.submit(
            library.add_files, [(name, source)], collection, copy=True, progress=heard.put
        )
        added.add_done_callback(lambda _: heard.put(None))  # put after its last event
        finished = False
        while not finished:
            events = [heard.get()]
            while not heard.empty():
                events.append(heard.get_nowait())
            finished = events[-1] is None
            latest = [e for e in events if e is not None]
            if latest:
                yield latest[-1]
        try:
            (outcome,) = added.result().outcomes
        except FootnotesError as exc:
            outcome = FileOutcome(name, "failed", name, str(exc))
    yield outcome


def remove_document(library: Library, doc_id: str | None, collection: str | None) -> str:
    """Remove a document (and its uploaded file); a sentence saying what happened."""
    if not doc_id:
        return "Choose a document to remove."
    name = library.store(collection).name
    if not library.remove(doc_id, name):
        return f"{doc_id} is not in the collection {name}."
    return f"Removed {doc_id} from {name}."


# --- the page --------------------------------------------------------------------------


def theme() -> gr.themes.Base:
    """System fonts only: the page loads no font from anywhere."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def page_options() -> dict[str, Any]:
    """What ``gr.mount_gradio_app`` / ``Blocks.launch`` need besides the Blocks (its theme)."""
    return {"theme": theme()}


def _static(name: str) -> str:
    """A file of ``ui/static/``: the page's own CSS and JS, shipped with the package."""
    return (resources.files("footnotes.ui") / "static" / name).read_text(encoding="utf-8")


def build_chat(library: Library, settings: Settings) -> gr.Blocks:
    """The chat and library tabs over ``library``; mount with :func:`page_options`."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio reads it when it would phone home
    default = settings.collection

    def choices() -> list[str]:
        try:
            return library.collections()
        except FootnotesError as exc:  # the Chroma server is down: say so, keep the page
            raise refusal(exc) from exc

    def ask(
        question: str, conversation: list[Exchange], collection: str
    ) -> Iterator[tuple[Any, list[Exchange], Any, Any]]:
        yield from respond(library, question, conversation, collection)

    def show_document(conversation: list[Exchange], collection: str, evt: gr.EventData) -> str:
        # sent by static/page.js: trigger('click', {kind, turn, n})
        opened = {key: getattr(evt, key, None) for key in ("kind", "turn", "n")}
        return document_view(library, conversation, collection, opened)

    def pick_collection(name: str) -> tuple[Any, ...]:
        if name not in choices():
            raise refusal(f"no collection {name!r}")
        rows = document_rows(library, name)
        table = render.table_html(DOCUMENT_HEADERS, rows)
        return (name, *new_conversation(), table, _remove_choices(rows))

    def refresh(collection: str) -> tuple[Any, ...]:
        names = choices()
        if collection not in names:
            collection = default
        rows = document_rows(library, collection)
        selector = gr.update(choices=names, value=collection, visible=len(names) > 1)
        table = render.table_html(DOCUMENT_HEADERS, rows)
        return collection, selector, table, _remove_choices(rows)

    def add(files: list[str] | None, collection: str) -> Iterator[tuple[Any, ...]]:
        if not files:
            yield render.notice_html("Choose one or more files to add."), *[gr.skip()] * 3
            return
        outcomes: list[FileOutcome] = []
        for panel, so_far in upload(library, settings, files, collection):
            outcomes = so_far
            yield panel, gr.skip(), gr.skip(), gr.skip()
        failed = [o for o in outcomes if o.status in ("failed", "skipped")]
        if failed:
            gr.Warning(f"{len(failed)} of {len(outcomes)} files were not added: see their reasons.")
        rows = document_rows(library, collection)
        yield gr.skip(), render.table_html(DOCUMENT_HEADERS, rows), _remove_choices(rows), None

    def remove(doc_id: str | None, collection: str) -> tuple[Any, ...]:
        message = remove_document(library, doc_id, collection)
        rows = document_rows(library, collection)
        table = render.table_html(DOCUMENT_HEADERS, rows)
        return render.notice_html(message), table, _remove_choices(rows)

    # Gradio keeps its own copy of every file uploaded in the page; once ingested, the
    # library holds the file, so Gradio's copies over an hour old are deleted (checked hourly).
    blocks = gr.Blocks(title="Footnotes", analytics_enabled=False, delete_cache=(3600, 3600))
    with blocks:
        conversation = gr.State([])
        collection = gr.State(default)
        try:
            names = library.collections()
        except FootnotesError:  # the Chroma server is down at start: the page still comes up
            names = [default]
        with gr.Row():
            gr.Markdown("## Footnotes\nAnswers from your documents, each sentence cited.")
            selector = gr.Dropdown(
                names, value=default, label="Collection", visible=len(names) > 1,
                interactive=True, elem_id="fn-collection", scale=0, min_width=220,
            )  # fmt: skip
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="fn-chatbot", label="Conversation", height=520,
                        render_markdown=False, sanitize_html=True, latex_delimiters=[],
                        buttons=[], feedback_options=None, allow_tags=False,
                        placeholder="Ask about your documents.",
                    )  # fmt: skip
                    with gr.Row():
                        textbox = gr.Textbox(
                            placeholder=PLACEHOLDER, label="Question", show_label=False,
                            elem_id="fn-question", scale=5, autofocus=True,
                            max_length=settings.max_question_chars,
                        )  # fmt: skip
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=110,
                                         elem_id="fn-ask")  # fmt: skip
                    clear = gr.Button("New conversation", size="sm")
                with gr.Column(scale=2):
                    sources = gr.HTML(
                        render.sources_html([]), elem_id="fn-sources",
                        js_on_load=_static("page.js"),
                        head=f"<style>{_static('chat.css')}</style>",
                        container=True, label="Sources",
                    )  # fmt: skip
                    document = gr.HTML(
                        CLOSED, elem_id="fn-document", js_on_load=_static("document.js"),
                        container=False, padding=False,
                    )  # fmt: skip
            with gr.Tab("Library", id="library") as library_tab:
                files = gr.File(
                    label="Add documents", file_count="multiple", type="filepath",
                    file_types=sorted(FORMATS), elem_id="fn-upload",
                )  # fmt: skip
                add_button = gr.Button("Add to library", variant="primary", elem_id="fn-add")
                outcomes = gr.HTML(
                    render.upload_html([]), label="Upload", elem_id="fn-outcomes",
                    container=True,
                )  # fmt: skip
                documents = gr.HTML(
                    render.table_html(DOCUMENT_HEADERS, []), label="Documents",
                    elem_id="fn-documents", container=True,
                )  # fmt: skip
                with gr.Row():
                    to_remove = gr.Dropdown([], label="Document to remove", scale=3)
                    remove_button = gr.Button("Remove", variant="stop", scale=1)
                removed = gr.HTML("", elem_id="fn-removed")

        chat_outputs = [chatbot, conversation, sources, textbox]
        ask_inputs = [textbox, conversation, collection]
        # The button is disabled first and enabled again after the answer, even a failed one.
        taken = gr.on([textbox.submit, send.click], answering, None, send, queue=False,
                      show_progress="hidden", api_visibility="private")  # fmt: skip
        answered = taken.then(ask, ask_inputs, chat_outputs, api_name="ask",
                              show_progress_on=[chatbot])  # fmt: skip
        answered.then(ready, None, send, queue=False, show_progress="hidden",
                      api_visibility="private")  # fmt: skip
        cleared = [chatbot, conversation, sources, document]
        for trigger in (clear.click, chatbot.clear):  # the chatbot's trash icon is a clear too
            # An answer still being written is stopped first, or it would bring the old
            # conversation back; the chat is cleared once it has stopped.
            stopped = trigger(ready, None, send, queue=False, show_progress="hidden",
                              api_visibility="private", cancels=[answered])  # fmt: skip
            stopped.then(new_conversation, None, cleared, api_visibility="private")
        sources.click(show_document, [conversation, collection], document,
                      api_visibility="private", show_progress="hidden")  # fmt: skip
        document.clear(lambda: CLOSED, None, document, queue=False, show_progress="hidden",
                       api_visibility="private")  # fmt: skip
        library_outputs = [collection, chatbot, conversation, sources, document, documents,
                           to_remove]  # fmt: skip
        selector.input(pick_collection, selector, library_outputs, api_visibility="private")
        refresh_outputs = [collection, selector, documents, to_remove]
        blocks.load(refresh, collection, refresh_outputs, api_visibility="private")
        library_tab.select(refresh, collection, refresh_outputs, api_visibility="private")
        add_button.click(add, [files, collection], [outcomes, documents, to_remove, files],
                         api_visibility="private", show_progress="hidden")  # fmt: skip
        remove_button.click(remove, [to_remove, collection], [removed, documents, to_remove],
                            api_visibility="private")  # fmt: skip
    return blocks


def _remove_choices(rows: list[list[Any]]) -> Any:
    return gr.update(choices=[str(r[0]) for r in rows], value=None)

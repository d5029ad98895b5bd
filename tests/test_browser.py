"""The chat in a real browser: Debian's chromium, driven by Playwright, against ``build_app``.

The application (API and chat, as ``footnotes serve`` builds it) runs under
uvicorn on a free loopback port; one :class:`Library` (the session's model,
a store in a temporary folder, the sample article ingested) is shared by the
module. The page must work offline: every request it makes is recorded and
must go to the test server. The answered chat is saved to ``docs/chat.png``.

What a reader does with the page is checked as they would do it: clearing the
chat (its trash icon, "New conversation"), typing and pressing Enter while a
language model's answer streams, sending an empty question, opening a document
beside the chat, and uploading several files to the Library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest
from conftest import ROOT, SAMPLE_ARTICLE, serving_app

from footnotes.index.library import Library
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from playwright.sync_api import Browser, Page

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
SECOND = "When did the leaders sign the package of agreements?"
TIMEOUT = 60_000  # ms, for an answer; the first one per server builds the lexical index
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
JS_LINK = "[pilot rules](javascript:window.__pwned=3)"
RAW_LINK = '<a href="javascript:window.__pwned=4">the rules</a>'
HOSTILE = (
    f"# Pilot notes {IMG}\n\n"
    f"The harbour pilot boards every ship with a rope ladder {SCRIPT} and a lamp.\n\n"
    f"Pilots must read the {JS_LINK} and {RAW_LINK} before boarding at night.\n"
)

SCROLL_CHAT_TO_TOP = """
document.querySelectorAll('#fn-chatbot *').forEach((e) => {
  if (e.scrollHeight > e.clientHeight + 4) e.scrollTop = 0;
});
"""

if not CHROMIUM.exists():  # pragma: no cover - the machine and CI have it
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embed_model: HuggingFaceEmbedding) -> Library:
    """The article in collection ``test``; an empty second collection ``scratch``."""
    root = tmp_path_factory.mktemp("browser")
    settings = Settings(store=root / "store", collection="test", upload_dir=root / "uploads")
    library = Library(settings, embed_model)
    assert library.ingest([SAMPLE_ARTICLE]).count("added") == 1
    library.store("scratch")
    return library


@contextmanager
def serving(settings: Settings, library: Library) -> Iterator[str]:
    """The app under uvicorn (``conftest.serving_app``); yields the chat page's URL."""
    with serving_app(settings, library) as url:
        yield url + "/"


@pytest.fixture(scope="module")
def url(library: Library) -> Iterator[str]:
    with serving(library.settings, library) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@contextmanager
def opened(browser: Browser, url: str) -> Iterator[tuple[Page, list[str]]]:
    """A new browser session on ``url``, and the list of every URL it requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.locator("#fn-question textarea").wait_for()
    try:
        yield page, requests
    finally:
        context.close()


def ask(page: Page, question: str, answers: int) -> None:
    """Ask in the chat and wait until it shows ``answers`` finished answers with their sources."""
    page.locator("#fn-question textarea").fill(question)
    page.locator("#fn-question textarea").press("Enter")
    page.locator(f'#fn-sources section.fn-turn[data-turn="{answers - 1}"]').wait_for(
        state="attached"
    )


def assert_stayed_local(requests: list[str], url: str) -> None:
    here = urlparse(url)
    elsewhere = [r for r in requests if urlparse(r).netloc != here.netloc]
    assert requests and not elsewhere, elsewhere
    assert all(urlparse(r).path.startswith(here.path) for r in requests)


def test_clicking_a_marker_brings_its_quote_to_the_front(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with opened(browser, url) as (page, requests):
        ask(page, QUESTION, answers=1)
        first_answer = page.locator("#fn-chatbot .fn-answer").first
        expect(first_answer).to_contain_text("Oreshnik")
        ask(page, SECOND, answers=2)  # the panel now shows the second answer's sources
        source = page.locator("#source-0-1")
        quote = source.locator("mark")
        expect(quote).to_be_hidden()

        first_answer.locator('a.fn-cite[href="#source-0-1"]').click()

        expect(quote).to_be_visible()
        expect(quote).to_contain_text("Oreshnik")
        expect(quote).to_be_in_viewport()
        expect(source).to_have_class(re.compile(r"\bfn-active\b"))
        expect(page.locator('#fn-sources section.fn-turn[data-turn="1"]')).to_be_hidden()
        page.evaluate(SCROLL_CHAT_TO_TOP)
        page.wait_for_timeout(1300)  # let the flash fade before the picture
        # The README's screenshot is refreshed only on request, so a test run leaves the tree clean.
        shot = (
            ROOT / "docs" / "chat.png"
            if os.environ.get("FOOTNOTES_UPDATE_SCREENSHOT") == "1"
            else tmp_path / "chat.png"
        )
        page.screenshot(path=str(shot), full_page=True)
        assert_stayed_local(requests, url)


def test_a_document_opens_beside_the_chat_and_the_question_box_stays(
    browser: Browser, url: str
) -> None:
    from playwright.sync_api import expect

    with opened(browser, url) as (page, _):
        ask(page, QUESTION, answers=1)
        box = page.locator("#fn-question textarea")
        expect(box).to_be_in_viewport()
        before = page.evaluate("window.scrollY")
        page.locator("#source-0-1").get_by_role("button", name="Open in document").click()

        dialog = page.get_by_role("dialog")
        view = dialog.locator(".fn-doc-text mark")
        expect(view).to_contain_text("Oreshnik")
        expect(view).to_be_in_viewport()  # scrolled to the quote inside the panel
        article = SAMPLE_ARTICLE.read_text(encoding="utf-8")
        assert dialog.locator(".fn-doc-text").inner_text().split() == article.split()
        assert page.evaluate("window.scrollY") == before  # the page did not move
        expect(box).to_be_in_viewport(ratio=1)
        beside, over = box.bounding_box(), dialog.bounding_box()
        assert beside and over and beside["x"] + beside["width"] <= over["x"]  # not covered
        expect(page.locator("#fn-chatbot .fn-answer").first).to_be_in_viewport()

        box.fill(SECOND)  # the conversation goes on with the document open
        box.press("Enter")
        page.locator('#fn-sources section.fn-turn[data-turn="1"]').wait_for(state="attached")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_have_count(0)
        expect(box).to_be_focused()

        page.locator("#source-1-1").get_by_role("button", name="Open in document").click()
        expect(dialog.locator(".fn-doc-text mark")).to_be_in_viewport()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)


@pytest.mark.parametrize("how", ["trash icon", "New conversation"])
def test_clearing_the_chat_forgets_the_conversation(browser: Browser, url: str, how: str) -> None:
    from playwright.sync_api import expect

    with opened(browser, url) as (page, _):
        ask(page, QUESTION, answers=1)
        ask(page, SECOND, answers=2)
        page.locator("#source-1-1").get_by_role("button", name="Open in document").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        if how == "trash icon":
            page.locator("#fn-chatbot").get_by_role("button", name="Clear").click()
        else:
            page.get_by_role("button", name="New conversation").click()

        sources = page.locator("#fn-sources")
        expect(sources.locator("section.fn-turn")).to_have_count(0)  # empty before asking again
        expect(sources).to_contain_text("Ask a question")
        expect(page.get_by_role("dialog")).to_have_count(0)
        expect(page.locator("#fn-chatbot .fn-answer")).to_have_count(0)

        ask(page, QUESTION, answers=1)
        expect(page.locator("#fn-chatbot .fn-question")).to_have_count(1)
        answer = page.locator("#fn-chatbot .fn-answer")
        expect(answer).to_have_count(1)
        expect(answer).to_contain_text("Oreshnik")
        hrefs = answer.locator("a.fn-cite").evaluate_all("links => links.map(a => a.hash)")
        assert hrefs and all(h.startswith("#source-0-") for h in hrefs), hrefs  # no old markers
        expect(sources.locator("section.fn-turn")).to_have_count(1)
        expect(sources.locator(".fn-asked")).to_have_text(QUESTION)


def test_an_empty_question_gets_a_hint_and_no_error_badge(
    browser: Browser, url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import expect

    with opened(browser, url) as (page, _):
        box = page.locator("#fn-question textarea")
        box.press("Enter")
        expect(box).to_have_attribute("placeholder", re.compile("^Type a question first"))
        for typed in ("", "   "):
            box.fill(typed)
            page.get_by_role("button", name="Ask", exact=True).click()
            page.wait_for_timeout(700)  # an error badge would show by now
            expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()
        box.fill("  ")
        box.press("Enter")
        page.wait_for_timeout(700)
        expect(page.get_by_text("Error", exact=True)).to_have_count(0)
        expect(page.locator(".toast-wrap .toast-body")).to_have_count(0)
        expect(page.locator("#fn-chatbot .fn-question")).to_have_count(0)
        expect(page.locator("#fn-sources")).to_contain_text("Ask a question")
    assert "Traceback" not in capfd.readouterr().err


def test_a_hostile_document_is_shown_as_text_and_runs_nothing(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    notes = tmp_path / "pilot-notes.md"
    notes.write_text(HOSTILE, encoding="utf-8")
    with opened(browser, url) as (page, requests):
        page.locator("#fn-collection input").click()
        page.get_by_role("option", name="scratch").click()
        page.get_by_role("tab", name="Library").click()
        page.locator("#fn-upload input[type=file]").set_input_files(str(notes))
        page.locator("#fn-upload").get_by_text("pilot-notes.md").first.wait_for()
        page.locator("#fn-add").click()
        expect(page.locator("#fn-outcomes")).to_contain_text("added")
        expect(page.locator("#fn-documents")).to_contain_text(f"Pilot notes {IMG}")

        page.get_by_role("tab", name="Chat").click()
        ask(page, "What does the harbour pilot board every ship with?", answers=1)
        answer = page.locator("#fn-chatbot .fn-answer").first
        expect(answer).to_contain_text(f"rope ladder {SCRIPT} and a lamp")
        sources = page.locator("#fn-sources")
        expect(sources).to_contain_text(f"Pilot notes {IMG}")
        sources.get_by_role("button", name="Open in document").first.click()
        document = page.locator("#fn-document .fn-doc-text")
        expect(document).to_contain_text(JS_LINK)
        expect(document).to_contain_text(RAW_LINK)

        for region in ("#fn-chatbot .fn-answer", "#fn-sources", "#fn-document", "#fn-documents"):
            assert page.locator(f"{region} img, {region} script").count() == 0, region
        assert page.locator('a[href^="javascript:"]').count() == 0
        assert page.evaluate("window.__pwned") is None

        page.get_by_role("tab", name="Library").click()
        page.get_by_label("Document to remove").click()
        page.get_by_role("option", name="pilot-notes.md").click()
        page.get_by_role("button", name="Remove").click()
        expect(page.locator("#fn-removed")).to_have_text("Removed pilot-notes.md from scratch.")
        expect(page.locator("#fn-documents")).not_to_contain_text("pilot-notes.md")
        assert page.evaluate("window.__pwned") is None
        assert_stayed_local(requests, url)


def test_the_chat_answers_under_a_root_path(browser: Browser, library: Library) -> None:
    from playwright.sync_api import expect

    settings = library.settings.model_copy(update={"root_path": "/qa"})
    with serving(settings, library) as url, opened(browser, url) as (page, requests):
        assert url.endswith("/qa/")
        ask(page, QUESTION, answers=1)
        page.locator('#fn-chatbot a.fn-cite[href="#source-0-1"]').click()
        quote = page.locator("#source-0-1 mark")
        expect(quote).to_be_visible()
        expect(quote).to_contain_text("Oreshnik")
        assert_stayed_local(requests, url)


def test_the_chat_shows_a_models_words_as_it_writes_then_the_checked_answer(
    browser: Browser, library: Library
) -> None:
    import time

    from fake_llm import fake_llm
    from playwright.sync_api import expect

    from footnotes.index.llm import make_writer

    invented = "Putin promised forty such systems by March 2026"

    def reply(messages: list[dict[str, str]]) -> str:
        lines = dict(
            (m.group(2), m.group(1))
            for m in re.finditer(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE)
        )
        oreshnik = next(n for text, n in lines.items() if "Oreshnik strategic" in text)
        return (
            f"Lukashenka asked Putin to station the Oreshnik missile system in Belarus "
            f"[{oreshnik}]. {invented} [{oreshnik}]."
        )

    with fake_llm() as fake:
        fake.reply, fake.delay = reply, 0.15
        settings = library.settings.model_copy(
            update={"llm": "openai", "llm_url": fake.openai_url, "llm_model": "fake"}
        )
        writing = Library(settings, library.embed_model, writer=make_writer(settings))
        with serving(settings, writing) as url, opened(browser, url) as (page, requests):
            page.locator("#fn-question textarea").fill(QUESTION)
            page.locator("#fn-question textarea").press("Enter")
            partial = page.locator("#fn-chatbot .fn-writing")
            expect(partial).to_contain_text("Lukashenka asked")
            seen = [partial.inner_text()]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                # Read in one step: between a count and a read the answer may replace it.
                text = page.eval_on_selector_all(
                    "#fn-chatbot .fn-writing", "els => els.length ? els[0].innerText : null"
                )
                if text is None:
                    break
                if text and text != seen[-1]:
                    seen.append(text)
                page.wait_for_timeout(50)
            assert len(seen) >= 3, seen  # the words grew on screen, several times
            assert any("forty such systems" in s for s in seen)
            answer = page.locator("#fn-chatbot .fn-answer.fn-written")
            expect(answer).to_contain_text("in Belarus.")
            expect(answer.locator("a.fn-cite")).to_have_count(1)
            expect(answer.locator(".fn-dropped")).to_contain_text(invented)
            expect(page.locator("#source-0-1 mark")).to_contain_text("Oreshnik")

            fake.fail = 500
            page.locator("#fn-question textarea").fill(QUESTION)
            page.locator("#fn-question textarea").press("Enter")
            notice = page.locator("#fn-chatbot .fn-answer-notice")
            expect(notice).to_contain_text("the language model did not answer (HTTP 500)")
            assert_stayed_local(requests, url)


@contextmanager
def writing_server(library: Library, delay: float) -> Iterator[str]:
    """An LLM-mode chat whose fake model writes the first evidence line back, a word
    every ``delay`` seconds; yields its URL."""
    from fake_llm import fake_llm

    from footnotes.index.llm import make_writer

    def reply(messages: list[dict[str, str]]) -> str:
        line = re.search(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE)
        assert line is not None
        return f"{line.group(2).rstrip('.')} [{line.group(1)}]."

    with fake_llm() as fake:
        fake.reply, fake.delay = reply, delay
        settings = library.settings.model_copy(
            update={"llm": "openai", "llm_url": fake.openai_url, "llm_model": "fake"}
        )
        writing = Library(settings, library.embed_model, writer=make_writer(settings))
        with serving(settings, writing) as url:
            yield url


def test_typing_while_an_answer_streams_is_kept_and_a_second_enter_is_refused_visibly(
    browser: Browser, library: Library
) -> None:
    from playwright.sync_api import expect

    with writing_server(library, 0.3) as url, opened(browser, url) as (page, _):
        box = page.locator("#fn-question textarea")
        button = page.locator("#fn-ask")
        box.fill(QUESTION)
        box.press("Enter")
        writing = page.locator("#fn-chatbot .fn-writing")
        expect(writing).to_be_visible()
        expect(button).to_be_disabled()
        expect(button).to_have_text("Answering…")

        box.press_sequentially("What threat", delay=40)  # typed while the words arrive
        box.press("Enter")  # refused, and the reader is told so
        note = page.locator("#fn-busy")
        expect(note).to_be_visible()
        expect(note).to_contain_text("Still answering")
        expect(writing).to_be_visible()  # the answer was still streaming all along
        box.press_sequentially(" did he cite?", delay=40)
        assert box.input_value() == "What threat did he cite?"

        page.locator('#fn-sources section.fn-turn[data-turn="0"]').wait_for(state="attached")
        expect(writing).to_have_count(0)
        expect(button).to_be_enabled()
        expect(button).to_have_text("Ask")
        expect(note).to_be_hidden()
        expect(box).to_have_value("What threat did he cite?")  # survived to the end
        expect(page.locator("#fn-chatbot .fn-question")).to_have_count(1)  # nothing queued

        box.press("Enter")  # now it is taken
        page.locator('#fn-sources section.fn-turn[data-turn="1"]').wait_for(state="attached")
        expect(page.locator("#fn-chatbot .fn-question").nth(1)).to_have_text(
            "What threat did he cite?"
        )
        expect(box).to_have_value("")


UPLOAD_STATES = """
() => {
  window.__states = [];
  const panel = document.getElementById('fn-outcomes');
  new MutationObserver(() => window.__states.push(panel.innerText))
    .observe(panel, {childList: true, subtree: true, characterData: true});
}
"""


def test_upload_shows_each_files_progress_in_one_place(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    title = "Harbour regulations for the pilots of the northern approaches " * 3
    files = {
        "ferry.md": f"# {title.strip()}\n\n" + "The ferry leaves at nine each day. " * 40,
        "empty.txt": "   \n",
        "tides.txt": " ".join(  # several encoder batches of 64 sentences
            f"On day {i} the tide turned at the harbour mouth at {i % 12 + 1} o'clock."
            for i in range(400)
        ),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with opened(browser, url) as (page, _):
        page.locator("#fn-collection input").click()
        page.get_by_role("option", name="scratch").click()
        page.get_by_role("tab", name="Library").click()
        page.locator("#fn-upload input[type=file]").set_input_files(
            [str(tmp_path / name) for name in files]
        )
        page.locator("#fn-upload").get_by_text("tides", exact=True).wait_for()
        page.evaluate(UPLOAD_STATES)
        page.locator("#fn-add").click()

        panel = page.locator("#fn-outcomes")
        # 441 sentences to embed: give a busy machine time (the expectations default to 5 s).
        expect(panel).to_contain_text("3 of 3 files done", timeout=120_000)
        rows = panel.locator("tbody tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(0)).to_contain_text("ferry.md")
        expect(rows.nth(0)).to_contain_text("added")
        expect(rows.nth(1)).to_contain_text("failed")
        expect(rows.nth(1)).to_contain_text("empty")  # with its reason
        expect(rows.nth(2)).to_contain_text("added")
        states: list[str] = page.evaluate("window.__states")
        assert any("reading…" in s and "waiting" in s for s in states), states
        assert any("1 of 3 files done" in s for s in states), states  # updated file by file
        # the large file's sentences are counted as they are embedded, batch by batch
        counted = [
            (at, int(m[1]), int(m[2]))
            for at, s in enumerate(states)
            for m in re.finditer(r"tides\.txt\s+embedding (\d+)/(\d+) sentences", s)
        ]
        assert counted, states
        total = counted[0][2]
        assert total >= 400 and {n for _, _, n in counted} == {total}, counted
        done = [n for _, n, _ in counted]
        assert done == sorted(done) and any(0 < n < total for n in done), counted
        finished = next(at for at, s in enumerate(states) if f"added, {total} sentences" in s)
        assert counted[0][0] < finished  # counted while embedding, before it was done
        expect(rows.nth(2)).to_contain_text(f"added, {total} sentences")

        table = page.locator("#fn-documents table")
        expect(table).to_contain_text("ferry.md")
        heights = table.locator("th").evaluate_all("ths => ths.map(th => th.clientHeight)")
        assert max(heights) < 2 * min(heights) and max(heights) < 40, heights  # one line each
        ingested = table.locator("th", has_text="Ingested").bounding_box()
        assert ingested and ingested["x"] + ingested["width"] <= 1400  # not pushed off screen
        cell = table.locator("td.fn-col-title", has_text="Harbour regulations")
        expect(cell).to_have_attribute("title", title.strip())  # the whole title on hover
        assert cell.evaluate("td => td.scrollWidth > td.clientWidth")  # cut to fit

        # The md document's heading shows as a heading, without its "#" (issue #11).
        page.get_by_role("tab", name="Chat").click()
        ask(page, "When does the ferry leave?", answers=1)
        expect(page.locator("#source-0-1")).to_contain_text("ferry.md")
        page.locator("#source-0-1").get_by_role("button", name="Open in document").click()
        view = page.get_by_role("dialog").locator(".fn-doc-text")
        heading = view.get_by_role("heading", level=1)
        expect(heading).to_have_text(title.strip(), use_inner_text=True)
        expect(view.locator("mark")).to_have_text("The ferry leaves at nine each day.")
        assert view.inner_text().lstrip().startswith("Harbour regulations")


def test_clearing_while_an_answer_streams_stops_it(browser: Browser, library: Library) -> None:
    from playwright.sync_api import expect

    with writing_server(library, 0.3) as url, opened(browser, url) as (page, _):
        box = page.locator("#fn-question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        expect(page.locator("#fn-chatbot .fn-writing")).to_be_visible()
        page.get_by_role("button", name="New conversation").click()
        expect(page.locator("#fn-chatbot .fn-writing")).to_have_count(0)
        expect(page.locator("#fn-ask")).to_be_enabled()
        expect(page.locator("#fn-sources")).to_contain_text("Ask a question")

        box.press_sequentially(SECOND, delay=20)  # typed, as a reader would
        box.press("Enter")  # had the first answer gone on, it would come first
        page.locator('#fn-sources section.fn-turn[data-turn="0"]').wait_for(state="attached")
        expect(page.locator("#fn-chatbot .fn-question")).to_have_count(1)
        expect(page.locator("#fn-chatbot .fn-question")).to_have_text(SECOND)
        expect(page.locator("#fn-sources .fn-asked")).to_have_text(SECOND)

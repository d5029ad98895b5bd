"""The ingest layer on every format: exact offsets, structure, and refusals.

No embedding model is needed: these tests read files into documents, cut
passages and sentences, and check the invariants citations depend on.
"""

from __future__ import annotations

import html
import io
import random
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from conftest import SAMPLE_ARTICLE, SOLANA_PDF, make_pdf, needs_shared
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from footnotes.errors import DocumentError, EmptyDocumentError, UnsupportedFileError
from footnotes.ingest.discover import discover
from footnotes.ingest.loaders import heading_text, load
from footnotes.ingest.model import Document, Passage
from footnotes.ingest.passages import split_passages
from footnotes.ingest.reflow import page_paragraphs
from footnotes.ingest.sentences import split_sentences, word_count

PROPERTY = hyp_settings(max_examples=50, deadline=None)
# Building and parsing a .docx costs ~0.1 s, so that property gets fewer examples.
PROPERTY_DOCX = hyp_settings(max_examples=30, deadline=None)


# --- the checks every document and its passages must pass ---------------------


def check_passages(doc: Document, passages: list[Passage], target: int) -> None:
    """Assert the passage contract for ``doc`` cut at ``target`` words."""
    text = doc.text
    assert passages, "a document with text must yield passages"
    covered = bytearray(len(text))
    headings = [b for b in doc.blocks if b.heading]
    previous_end = 0
    for i, p in enumerate(passages):
        assert (p.index, p.document_id, p.title) == (i, doc.id, doc.title)
        assert text[p.start : p.end] == p.text
        assert p.text.strip(), f"blank passage {i}"
        assert p.text == p.text.strip(), f"passage {i} is not trimmed: {p.text!r}"
        assert previous_end <= p.start < p.end, f"passage {i} overlaps or is out of order"
        previous_end = p.end
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)

        # A passage never crosses a heading: any headings it holds come first.
        inside = [b for b in doc.blocks if b.start < p.end and p.start < b.end]
        kinds = [b.heading for b in inside]
        assert kinds == sorted(kinds, reverse=True), f"passage {i} crosses a heading"

        before = [b for b in headings if b.start < p.end]
        assert p.section == (heading_text(doc, before[-1]) if before else None)

        if doc.format == "pdf":
            assert doc.pages is not None and 1 <= p.page <= doc.pages  # type: ignore[operator]
            page_blocks = [b for b in doc.blocks if b.page == p.page]
            assert page_blocks, f"passage {i} on page {p.page}, which has no blocks"
            assert page_blocks[0].start <= p.start and p.end <= page_blocks[-1].end
            assert all(b.page == p.page for b in inside)
        else:
            assert p.page is None

        # Over the target only when the passage is one unit that cannot be cut.
        if word_count(p.text) > target:
            whole_heading = any((b.start, b.end) == (p.start, p.end) for b in headings)
            one_sentence = len(split_sentences(text, p.start, p.end)) == 1
            assert whole_heading or one_sentence, f"passage {i} is over {target} words"

    missing = [i for i, c in enumerate(text) if not c.isspace() and not covered[i]]
    if doc.format == "rst":  # its directives and comments are in no block: in no passage
        in_block = bytearray(len(text))
        for b in doc.blocks:
            in_block[b.start : b.end] = b"\x01" * (b.end - b.start)
        missing = [i for i in missing if in_block[i]]
        # A title's underline is in no block but stays with its title and the text under it.
        citable = bytearray(in_block)
        for b, after in zip(doc.blocks, doc.blocks[1:]):
            lines = [x.strip() for x in text[b.end : after.start].splitlines() if x.strip()]
            underline = (
                b.heading and lines and all(set(x) == {x[0]} and not x[0].isalnum() for x in lines)
            )
            if underline or lines == [".."]:  # or the ".." of a directive the block names
                citable[b.end : after.start] = b"\x01" * (after.start - b.end)
        for p in passages:
            stray = [c for i, c in enumerate(p.text, p.start) if not citable[i]]
            assert not "".join(stray).strip(), f"passage {p.index} holds text of no block"
            for s, e in p.sentences:
                assert all(in_block[s:e]) or not text[s:e].strip(), (
                    f"passage {p.index}: sentence {text[s:e]!r} is not within a block"
                )
    assert not missing, f"characters in no passage, first at {missing[0]}: {text[missing[0]]!r}"


def check_blocks(doc: Document) -> None:
    """Blocks are in order, never overlap, and are trimmed slices of the text."""
    end = 0
    for b in doc.blocks:
        assert end <= b.start < b.end <= len(doc.text)
        chunk = doc.text[b.start : b.end]
        assert chunk == chunk.strip() and chunk
        end = b.end


def load_and_check(path: Path, targets: tuple[int, ...] = (20, 60, 160)) -> Document:
    doc = load(path, path.stem)
    check_blocks(doc)
    for target in targets:
        check_passages(doc, split_passages(doc, target), target)
    return doc


# --- the real files ----------------------------------------------------------


def test_sample_article_passages_are_exact_slices() -> None:
    doc = load_and_check(SAMPLE_ARTICLE)
    assert doc.text == SAMPLE_ARTICLE.read_bytes().decode("utf-8-sig")
    assert doc.title == "Security above all: A revised Belarus\u2013Russia alliance"
    assert doc.format == "txt" and doc.pages is None
    sections = {p.section for p in split_passages(doc, 160)}
    assert {doc.title, "Commentary"} <= sections


@needs_shared
def test_solana_pdf_passages_stay_on_their_page() -> None:
    doc = load_and_check(SOLANA_PDF, targets=(40, 160))
    assert doc.format == "pdf" and doc.pages == 27
    assert all(b.page is not None and 1 <= b.page <= 27 for b in doc.blocks)
    pages = [b.page for b in doc.blocks]
    assert pages == sorted(pages), "blocks must follow the page order"
    passages = split_passages(doc, 160)
    assert {p.page for p in passages} == set(range(1, 28))
    assert "Solana" in doc.text


@needs_shared
def test_solana_pdf_text_reads_as_prose() -> None:
    """Issue #11: no word split at a line end, no page-number line, no line break inside a
    paragraph; every passage and sentence still indexes the text exactly, on its page."""
    doc = load_and_check(SOLANA_PDF, targets=(160,))
    text = doc.text
    assert not re.search(r"[^\W\d_]-\s*\n", text), "a word is split at a line end"
    assert not re.search(r"(?<!\n)\n(?!\n)", text), "a line break inside a paragraph"
    for p in split_passages(doc, 160):
        assert text[p.start : p.end] == p.text
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end and text[s:e] == text[s:e].strip()
        for line in p.text.split("\n"):
            assert not re.fullmatch(r"(?:page\s+)?[-\u2013]?\s*\d{1,3}\s*[-\u2013]?", line.strip())
    on = {n: [text[b.start : b.end] for b in doc.blocks if b.page == n] for n in (1, 2, 3, 4)}
    # "block-" ends page 1 and "chain market size" begins page 2: the word stays on page 1.
    assert on[1][-1].endswith("the global blockchain")
    assert on[2][0].startswith("market size is expected to grow from USD 3.0 billion")
    assert on[2][0].count("blockchain applications") == 1  # "block-" / "chain app" mid-page
    assert on[4][0].startswith("tionary") is False and on[3][-1].endswith("from the evolutionary")
    assert "decentralized database running on a peer-to-peer network" in text  # "peer-to-" kept
    assert "well-articulated" in text and "integrity that blockchain systems" in text


def test_pdf_lines_become_paragraphs(tmp_path: Path) -> None:
    body = [
        [
            "The harbour lights of the northern coast are kept by a small crew of",
            "volunteers, who meet every week, in all weathers, in the old light-",
            "house by the pier.",
            "Radio Net",
            "The keepers run a well-known peer-to-peer radio net, which is used to warn",
            "the mainland of storms, and a log of every call that is not in non-",
            "English words is kept, with its time and place, in the harbour log-",
        ],
        [
            "book, beside the lamp.",
            "- The first duty is the lamp.",
            "- The second duty is the radio net.",
        ],
        ["3", "The crew changes every spring, when the boats return to the harbour."],
    ]
    path = tmp_path / "coastal_survey.pdf"
    path.write_bytes(make_pdf(body, header="Coastal Survey Report 2024", footer="Page {n} of 3"))
    doc = load_and_check(path)
    assert doc.pages == 3 and doc.title == "coastal survey"
    assert [(doc.text[b.start : b.end], b.page) for b in doc.blocks] == [
        (
            "The harbour lights of the northern coast are kept by a small crew of volunteers, "
            "who meet every week, in all weathers, in the old lighthouse by the pier.",
            1,
        ),
        ("Radio Net", 1),
        (
            "The keepers run a well-known peer-to-peer radio net, which is used to warn the "
            "mainland of storms, and a log of every call that is not in non-English words is "
            "kept, with its time and place, in the harbour logbook,",
            1,
        ),
        ("beside the lamp.", 2),
        ("- The first duty is the lamp.", 2),
        ("- The second duty is the radio net.", 2),
        ("The crew changes every spring, when the boats return to the harbour.", 3),
    ]


@pytest.mark.parametrize(
    "number", ["3", "Page 3", "page 3 of 12", "3 of 12", "- 3 -", "\u2013 3 \u2013", "3/12", "iv"]
)
def test_page_number_lines_are_dropped_at_a_page_edge_only(number: str) -> None:
    top = f"{number}\nA page that starts with its number, and goes on with its text."
    bottom = f"The text of a page that ends with its number.\n{number}"
    middle = "One line.\nTwo lines.\n" + number + "\nThree lines.\nFour lines."
    first, last, inside = page_paragraphs([top, bottom, middle])
    assert first == ["A page that starts with its number, and goes on with its text."]
    assert last == ["The text of a page that ends with its number."]
    assert number in " ".join(inside)  # mid-page: text, kept


def test_running_headers_need_half_the_pages() -> None:
    bodies = ["Spring came early.", "Boats went out.", "Storms hit in May.", "Nets were mended.",
              "Fish ran late.", "Ice closed the bay."]  # fmt: skip
    pages = [f"Annual Report {n}\n{body}" for n, body in enumerate(bodies, start=1)]
    assert page_paragraphs(pages) == [[body] for body in bodies]
    few = [pages[0], "Other words.\nMore words.", "Other words.\nMore words.", "Other."]
    assert page_paragraphs(few)[0][0].startswith("Annual Report 1")  # on one page of four


# --- generated documents --------------------------------------------------------

LETTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\u00e9\u00fc\u00e7\u00f1\u00f80123456789"
)
SPECIAL_WORDS = ["R&D", "x<y", "AT&T", "\u201cquoted\u201d", "it\u2019s", "e.g.", "U.S."]

plain_word = st.text(alphabet=LETTERS, min_size=1, max_size=10)
body_word = st.one_of(
    st.tuples(
        st.sampled_from(["", "", "", "\u201c", "\u2018", "("]),
        plain_word,
        st.sampled_from(["", "", "", ",", ";", "\u201d", "\u2019", ")", "\u2014"]),
    ).map("".join),
    st.sampled_from(SPECIAL_WORDS),
)


@st.composite
def sentences(draw: st.DrawFn) -> str:
    words = draw(st.lists(body_word, min_size=1, max_size=25))
    gaps = draw(
        st.lists(
            st.sampled_from([" ", " ", " ", "\u00a0"]),
            min_size=len(words) - 1,
            max_size=len(words) - 1,
        )
    )
    body = words[0] + "".join(g + w for g, w in zip(gaps, words[1:], strict=True))
    end = draw(st.sampled_from([".", ".", "!", "?", ".\u201d", "\u2026"]))
    return body + end


heading_words = st.lists(plain_word, min_size=1, max_size=8).map(" ".join)


@dataclass(frozen=True)
class Item:
    """One block of a generated document."""

    kind: str  # "h", "p", "ul", "table"
    parts: tuple[str, ...]  # heading text / sentences / bullet items / cells row-major
    level: int = 1
    cols: int = 0


items = st.one_of(
    st.builds(Item, st.just("h"), st.tuples(heading_words), st.integers(1, 3)),
    st.builds(Item, st.just("p"), st.lists(sentences(), min_size=1, max_size=8).map(tuple)),
    st.builds(Item, st.just("ul"), st.lists(sentences(), min_size=1, max_size=4).map(tuple)),
)
documents = st.lists(items, min_size=1, max_size=10)


@dataclass
class Rendered:
    """A generated file and the blocks a loader must find in it."""

    data: bytes
    text: str | None  # the exact document text, where the format keeps the file's text
    blocks: list[tuple[str, bool]]  # (block text, is heading)
    headings: list[str]
    title: str | None = None  # an explicit title the file declares


def _md_or_txt(doc: list[Item], fmt: str, draw: st.DrawFn) -> Rendered:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.booleans())
    marker = draw(st.sampled_from(["- ", "* ", "\u2022 "]))
    pieces: list[str] = []
    blocks: list[tuple[str, bool]] = []
    for i, item in enumerate(doc):
        if item.kind == "h":
            hashes = "#" * item.level
            closing = draw(st.sampled_from(["", "", " " + hashes])) if fmt == "md" else ""
            block = f"{hashes} {item.parts[0]}{closing}" if fmt == "md" else item.parts[0]
        elif item.kind == "p":
            joins = draw(
                st.lists(
                    st.sampled_from([" ", " ", "\n"]),
                    min_size=len(item.parts),
                    max_size=len(item.parts),
                )
            )
            block = "".join(s + j for s, j in zip(item.parts, joins, strict=True))[:-1]
        else:
            block = "\n".join(marker + s for s in item.parts)
        if i:
            # In markdown a heading may sit directly on the line above or below its neighbour.
            near_heading = fmt == "md" and "h" in (item.kind, doc[i - 1].kind)
            options = ["\n\n", "\n\n\n", "\n \t\n"] + (["\n"] * 2 if near_heading else [])
            pieces.append(draw(st.sampled_from(options)))
        pieces.append(block)
        blocks.append((block.replace("\n", newline), item.kind == "h"))
    text = "".join(pieces).replace("\n", newline)
    if draw(st.booleans()):
        text += newline
    data = text.encode("utf-8-sig" if bom else "utf-8")
    headings = [item.parts[0] for item in doc if item.kind == "h"]
    return Rendered(data, text, blocks, headings)


def _html_text(sentence: str, draw: st.DrawFn) -> str:
    """Markup for ``sentence``: escaped, with named entities and inline tags."""
    out = html.escape(sentence, quote=False)
    if draw(st.booleans()):
        out = out.replace("\u00a0", "&nbsp;").replace("\u201c", "&ldquo;")
        out = out.replace("\u00e9", "&eacute;").replace("\u2019", "&#8217;")
    if draw(st.booleans()) and " " in out:
        head, _, tail = out.partition(" ")
        out = f"<b>{head}</b> <em>{tail}</em>"
    return out


def _html(doc: list[Item], draw: st.DrawFn) -> Rendered:
    def norm(s: str) -> str:
        return " ".join(s.split())

    title = draw(st.one_of(st.none(), heading_words))
    head = "<style>.SECRET_STYLE_1 { color: red }</style><script>var SECRET_SCRIPT_1;</script>"
    if title is not None:
        head = f"<title>\n  {html.escape(title)}\n</title>" + head
    body: list[str] = []
    blocks: list[tuple[str, bool]] = []
    for item in doc:
        if item.kind == "h":
            body.append(f"<h{item.level}>{html.escape(item.parts[0])}</h{item.level}>")
            blocks.append((norm(item.parts[0]), True))
        elif item.kind == "p":
            inner = "\n    ".join(_html_text(s, draw) for s in item.parts)
            wrap = draw(st.sampled_from(["<p>{}</p>", "<div><p>{}</p></div>", "<p>{}"]))
            body.append(wrap.format(inner))
            blocks.append((norm(" ".join(item.parts)), False))
        else:
            lis = "".join(f"\n  <li>{_html_text(s, draw)}</li>" for s in item.parts)
            body.append(f"<ul>{lis}\n</ul>")
            blocks.extend((norm(s), False) for s in item.parts)
        if draw(st.booleans()):
            body.append(
                draw(
                    st.sampled_from(
                        [
                            "<script>document.write('SECRET_SCRIPT_2 <p>x</p>');</script>",
                            "<style>p::after { content: 'SECRET_STYLE_2' }</style>",
                            "<noscript><p>SECRET_NOSCRIPT</p></noscript>",
                            "<!-- SECRET_COMMENT -->",
                        ]
                    )
                )
            )
    page = f"<!doctype html>\n<html><head>{head}</head>\n<body>\n" + "\n".join(body)
    page += "\n</body></html>\n"
    headings = [norm(item.parts[0]) for item in doc if item.kind == "h"]
    return Rendered(page.encode("utf-8"), None, blocks, headings, title)


def _docx(doc: list[Item], draw: st.DrawFn) -> Rendered:
    document = docx.Document()
    blocks: list[tuple[str, bool]] = []
    for item in doc:
        if item.kind == "h":
            document.add_heading(item.parts[0], level=min(item.level, 2))
            blocks.append((item.parts[0], True))
        elif item.kind == "p":
            paragraph = " ".join(item.parts)
            document.add_paragraph(paragraph)
            blocks.append((paragraph, False))
        else:
            for s in item.parts:
                document.add_paragraph(s, style="List Bullet")
                blocks.append((s, False))
        if draw(st.integers(0, 3)) == 0:
            cols = draw(st.integers(1, 3))
            rows = draw(
                st.lists(
                    st.lists(heading_words, min_size=cols, max_size=cols), min_size=1, max_size=3
                )
            )
            table = document.add_table(rows=len(rows), cols=cols)
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
                blocks.append((" | ".join(dict.fromkeys(row)), False))
    buffer = io.BytesIO()
    document.save(buffer)
    headings = [item.parts[0] for item in doc if item.kind == "h"]
    return Rendered(buffer.getvalue(), None, blocks, headings)


def _load_rendered(tmp: Path, name: str, rendered: Rendered) -> Document:
    path = tmp / name
    path.write_bytes(rendered.data)
    doc = load(path, "gen")
    check_blocks(doc)
    assert [(doc.text[b.start : b.end], b.heading) for b in doc.blocks] == rendered.blocks
    assert [heading_text(doc, b) for b in doc.blocks if b.heading] == rendered.headings
    assert doc.pages is None and all(b.page is None for b in doc.blocks)
    return doc


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("generated")


@PROPERTY
@given(doc=documents, target=st.integers(20, 200), data=st.data())
def test_generated_markdown(
    gen_dir: Path, doc: list[Item], target: int, data: st.DataObject
) -> None:
    rendered = _md_or_txt(doc, "md", data.draw)
    loaded = _load_rendered(gen_dir, "doc.md", rendered)
    assert loaded.text == rendered.text
    assert loaded.title == (rendered.headings[0] if rendered.headings else "doc")
    check_passages(loaded, split_passages(loaded, target), target)


@PROPERTY
@given(doc=documents, target=st.integers(20, 200), data=st.data())
def test_generated_text(gen_dir: Path, doc: list[Item], target: int, data: st.DataObject) -> None:
    rendered = _md_or_txt(doc, "txt", data.draw)
    loaded = _load_rendered(gen_dir, "doc.txt", rendered)
    assert loaded.text == rendered.text
    long_heading = [h for h in rendered.headings if len(h.split()) >= 3]
    expected_title = (long_heading or rendered.headings or ["doc"])[0]
    assert loaded.title == expected_title
    check_passages(loaded, split_passages(loaded, target), target)


@PROPERTY
@given(doc=documents, target=st.integers(20, 200), data=st.data())
def test_generated_html(gen_dir: Path, doc: list[Item], target: int, data: st.DataObject) -> None:
    rendered = _html(doc, data.draw)
    loaded = _load_rendered(gen_dir, "doc.html", rendered)
    assert "SECRET_" not in loaded.text
    assert "<" not in loaded.text.replace("x<y", "")  # tags gone, entities decoded
    expected_title = rendered.title or (rendered.headings[0] if rendered.headings else "doc")
    assert loaded.title == " ".join(expected_title.split())
    check_passages(loaded, split_passages(loaded, target), target)


@PROPERTY_DOCX
@given(doc=documents, target=st.integers(20, 200), data=st.data())
def test_generated_docx(gen_dir: Path, doc: list[Item], target: int, data: st.DataObject) -> None:
    rendered = _docx(doc, data.draw)
    loaded = _load_rendered(gen_dir, "doc.docx", rendered)
    assert loaded.title == (rendered.headings[0] if rendered.headings else "doc")
    check_passages(loaded, split_passages(loaded, target), target)


# --- fixed examples of each generated format ------------------------------------

ARTICLE = """# Minsk and Moscow

The alliance was revised in 2024. Dr. Ivanova said it \u201cchanges little.\u201d

## Nuclear weapons

Russia stationed tactical weapons in Belarus, e.g. Iskander systems.
- First point of the doctrine.
- Second point of the doctrine.

## Economy

Trade rose sharply.\u00a0Prices did not.
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_markdown_sections_follow_headings(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "minsk.md"
    path.write_bytes(ARTICLE.replace("\n", newline).encode())
    doc = load_and_check(path)
    assert doc.title == "Minsk and Moscow"
    assert [heading_text(doc, b) for b in doc.blocks if b.heading] == [
        "Minsk and Moscow",
        "Nuclear weapons",
        "Economy",
    ]
    by_section: dict[str | None, str] = {}
    for p in split_passages(doc, 20):
        by_section[p.section] = by_section.get(p.section, "") + p.text
    assert "Iskander" in by_section["Nuclear weapons"]
    assert by_section["Economy"].endswith("Prices did not.")


def test_markdown_closing_hashes_are_marks_only_after_a_space(tmp_path: Path) -> None:
    path = tmp_path / "langs.md"
    path.write_text("# Notes on C#\n\nIt compiles.\n\n## Tools ##\n\nThey run.\n")
    doc = load_and_check(path)
    assert doc.title == "Notes on C#"
    assert [heading_text(doc, b) for b in doc.blocks if b.heading] == ["Notes on C#", "Tools"]
    assert [doc.text[b.start : b.end] for b in doc.blocks if b.heading] == [
        "# Notes on C#",
        "## Tools ##",
    ]


def test_html_drops_scripts_and_titles_sections(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>\n  Alliance   Report\n</title>"
        "<style>body { font: SECRET_STYLE }</style>"
        "<script>var SECRET_SCRIPT = 1;</script></head><body>"
        "<nav><noscript>SECRET_NOSCRIPT</noscript></nav>"
        "<h1>The Treaty &amp; its Terms</h1><p>Signed in Minsk&nbsp;on 8 December.</p>"
        "<template><p>SECRET_TEMPLATE</p></template>"
        "<h2>Forces</h2><ul><li>Regional grouping of <b>forces</b>.</li><li>Air defence.</li></ul>"
        "<script>document.write('SECRET_SCRIPT_2')</script></body></html>",
        encoding="utf-8",
    )
    doc = load_and_check(path)
    assert "SECRET" not in doc.text
    assert doc.title == "Alliance Report"
    assert [doc.text[b.start : b.end] for b in doc.blocks] == [
        "The Treaty & its Terms",
        "Signed in Minsk on 8 December.",
        "Forces",
        "Regional grouping of forces.",
        "Air defence.",
    ]
    sections = [p.section for p in split_passages(doc, 20)]
    assert sections == ["The Treaty & its Terms", "Forces"]


def test_html_without_title_uses_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "untitled_page.html"
    path.write_text("<body><p>Intro text.</p><h2>Real Heading</h2><p>Body.</p></body>")
    assert load(path, "x").title == "Real Heading"
    path.write_text("<body><p>Only text.</p></body>")
    assert load(path, "x").title == "untitled page"


def test_docx_headings_paragraphs_and_table(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Security Pact", level=1)
    document.add_paragraph("The pact was signed in Minsk.\u00a0It covers nuclear weapons.")
    document.add_heading("Members", level=2)
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Country", "Joined"], ["Belarus", "1999"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("   ")
    document.add_paragraph("Closing remarks.")
    path = tmp_path / "pact.docx"
    document.save(path)
    doc = load_and_check(path)
    assert doc.title == "Security Pact"
    assert [(doc.text[b.start : b.end], b.heading) for b in doc.blocks] == [
        ("Security Pact", True),
        ("The pact was signed in Minsk.\u00a0It covers nuclear weapons.", False),
        ("Members", True),
        ("Country | Joined", False),
        ("Belarus | 1999", False),
        ("Closing remarks.", False),
    ]
    passages = split_passages(doc, 160)
    assert [p.section for p in passages] == ["Security Pact", "Members"]


def _without_core_properties(data: bytes) -> bytes:
    """A .docx with no ``docProps/core.xml`` (as many tools write it): python-docx then
    makes up properties of its own, titled "Word Document"."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename == "docProps/core.xml":
                continue
            body = source.read(item)
            if item.filename == "_rels/.rels":
                body = re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", body)
            target.writestr(item, body)
    return out.getvalue()


def test_docx_title_is_its_first_heading_not_made_up_properties(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("A line before any heading.")
    document.add_heading("Team   notes", level=2)
    document.add_paragraph("We meet on Mondays.")
    buffer = io.BytesIO()
    document.save(buffer)
    path = tmp_path / "meeting_2024.docx"
    path.write_bytes(_without_core_properties(buffer.getvalue()))
    assert docx.Document(str(path)).core_properties.title == "Word Document"
    assert load_and_check(path).title == "Team notes"
    plain = docx.Document()
    plain.add_paragraph("Only a paragraph, no heading.")
    plain.save(buffer := io.BytesIO())
    path.write_bytes(_without_core_properties(buffer.getvalue()))
    assert load(path, "m").title == "meeting 2024"
    plain.core_properties.title = "Minutes of the Harbour Board"
    plain.save(path)
    assert load(path, "m").title == "Minutes of the Harbour Board"


RST = """.. SPDX-License-Identifier: GPL-2.0

.. _harbour-guide:

====================================
The :ref:`Harbour <harbour>` Guide
====================================

.. contents::
   :local:

Boats moor at the *north* pier.
They leave at dawn.

.. note::
   :class: tip

   Tides change twice a day.

Lights
------

The lamp is lit at dusk::

   light --lamp north

.. toctree::
   :maxdepth: 1

   lights/lamps
   lights/radio

..
   A comment of several lines,
   not text.

----------

``Radio`` net
~~~~~~~~~~~~~

The radio net warns the mainland.
"""


@pytest.mark.parametrize(("name", "newline"), [("guide.rst", "\n"), ("guide.rst.txt", "\r\n")])
def test_rst_sections_follow_its_headings(tmp_path: Path, name: str, newline: str) -> None:
    path = tmp_path / name
    path.write_bytes(RST.replace("\n", newline).encode())
    doc = load_and_check(path)
    assert doc.format == "rst" and doc.text == RST.replace("\n", newline)
    assert doc.title == "The Harbour Guide"
    headings = [b for b in doc.blocks if b.heading]
    assert [doc.text[b.start : b.end] for b in headings] == [
        "The :ref:`Harbour <harbour>` Guide",
        "Lights",
        "``Radio`` net",
    ]
    assert [heading_text(doc, b) for b in headings] == ["The Harbour Guide", "Lights", "Radio net"]
    assert [doc.text[b.start : b.end] for b in doc.blocks if not b.heading] == [
        f"Boats moor at the *north* pier.{newline}They leave at dawn.",
        "Tides change twice a day.",
        "The lamp is lit at dusk::",
        "light --lamp north",
        "The radio net warns the mainland.",
    ]
    passages = split_passages(doc, 20)
    by_section = {p.section: p.text for p in passages}
    assert by_section["Lights"].endswith("light --lamp north")
    # A title shares its passage with the text under it (its underline between them is in
    # no sentence), so the sentence after a title that ranks high is there to stand in.
    lights = next(p for p in passages if p.section == "Lights")
    assert [doc.text[a:b] for a, b in lights.sentences] == [
        "Lights",
        "The lamp is lit at dusk::",
        "light --lamp north",
    ]
    radio = next(p for p in passages if p.section == "Radio net")
    assert [doc.text[a:b] for a, b in radio.sentences] == [
        "``Radio`` net",
        "The radio net warns the mainland.",
    ]
    assert "SPDX" not in " ".join(by_section.values()) and "lights/lamps" not in str(by_section)


RST_DIRECTIVES = """Mooring
=======

.. note:: Boats must moor before dusk.
   The harbour master checks each night.

.. warning::

   Tides run fast at the north pier.

.. function:: moor(boat, pier=None)

   Tie *boat* to *pier*.

   .. audit-event:: harbour.moor boat,pier harbour.moor

   .. versionchanged:: 3.2
      :program:`moor` also takes a rope.

   .. versionadded:: 3.1

.. list-table:: Berths
   :header-rows: 1

   * - Berth
     - Length
   * - North
     - Forty metres

.. only:: html

   Click a berth to see its boats.

.. figure:: harbour.png
   :alt: the harbour

   The harbour at dawn.

Ferries leave at nine [#]_.

.. [#] Except on Sundays, when they leave at ten.
"""


def test_rst_directive_bodies_arguments_and_footnotes_are_text(tmp_path: Path) -> None:
    path = tmp_path / "mooring.rst.txt"
    path.write_text(RST_DIRECTIVES)
    doc = load_and_check(path)
    paragraphs = [doc.text[b.start : b.end] for b in doc.blocks if not b.heading]
    assert paragraphs == [
        "Boats must moor before dusk.\n   The harbour master checks each night.",
        "Tides run fast at the north pier.",
        "moor(boat, pier=None)",
        "Tie *boat* to *pier*.",
        "versionchanged:: 3.2\n      :program:`moor` also takes a rope.",  # a role, not an option
        "Berths",
        "* - Berth\n     - Length\n   * - North\n     - Forty metres",
        "Click a berth to see its boats.",
        "The harbour at dawn.",
        "Ferries leave at nine [#]_.",
        "Except on Sundays, when they leave at ten.",
    ]  # the lone "3.1", the audit event's names, the figure's path and every option are not text
    sentences = {doc.text[a:b] for p in split_passages(doc, 160) for a, b in p.sentences}
    assert "Boats must moor before dusk." in sentences
    assert "Tides run fast at the north pier." in sentences
    assert "Except on Sundays, when they leave at ten." in sentences


def test_rst_version_note_shares_the_passage_of_what_it_dates(tmp_path: Path) -> None:
    path = tmp_path / "tides.rst"
    path.write_text(
        ".. function:: mktemp(suffix='')\n\n   .. deprecated:: 2.3\n      Use mkstemp "
        "instead.\n\n   Return a name.\n\n.. note::\n\n   Names are unique.\n"
    )
    doc = load_and_check(path)
    passages = split_passages(doc, 160)
    # The bare ".." before "deprecated:: 2.3" is markup of the note: the signature, its
    # version note and its description are one passage, so the note follows the name.
    # A directive whose name is in no block (".. note::") still starts a passage.
    assert [[doc.text[a:b] for a, b in p.sentences] for p in passages] == [
        ["mktemp(suffix='')", "deprecated:: 2.3\n      Use mkstemp instead.", "Return a name."],
        ["Names are unique."],
    ]


def test_rst_txt_files_are_found_as_rst(tmp_path: Path) -> None:
    (tmp_path / "a.rst.txt").write_text(RST)
    (tmp_path / "b.RST").write_text(RST)
    (tmp_path / "c.txt").write_text("Plain text.")
    found = discover([tmp_path])
    assert [s.doc_id for s in found.sources] == ["a.rst.txt", "b.RST", "c.txt"]
    assert [load(s.path, s.doc_id).format for s in found.sources] == ["rst", "rst", "txt"]


def test_split_passages_rejects_bad_target(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Some text.")
    with pytest.raises(ValueError, match="0"):
        split_passages(load(path, "a"), 0)


# --- decoding and refusals ------------------------------------------------------


def test_text_keeps_crlf_and_drops_bom(tmp_path: Path) -> None:
    raw = "Title Line Here\r\n\r\nFirst \u201cquoted\u201d line.\r\nSecond\u00a0line.\r\n"
    path = tmp_path / "notes.txt"
    path.write_bytes(b"\xef\xbb\xbf" + raw.encode("utf-8"))
    doc = load_and_check(path)
    assert doc.text == raw
    start = doc.text.index("First")
    assert doc.text[start:].startswith("First \u201cquoted\u201d line.\r\nSecond")
    assert doc.title == "Title Line Here"


def test_markdown_text_is_the_file_text(tmp_path: Path) -> None:
    raw = "# Heading\r\n\r\nBody \u2018text\u2019 here.\r\n"
    path = tmp_path / "n.md"
    path.write_bytes(raw.encode("utf-8-sig"))
    assert load(path, "n").text == raw


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        (
            "latin-1",
            "Le gar\u00e7on a mang\u00e9 une cr\u00e8me br\u00fbl\u00e9e \u00e0 la fen\u00eatre. "
            "O\u00f9 est la biblioth\u00e8que? No\u00ebl approche, et les \u00e9l\u00e8ves sont "
            "tr\u00e8s contents.\n",
        ),
        (
            "cp1252",
            "El ni\u00f1o comi\u00f3 una pi\u00f1a en la ma\u00f1ana. \u00bfD\u00f3nde "
            "est\u00e1 la estaci\u00f3n? Se\u00f1or Mu\u00f1oz lleg\u00f3 tarde.\n",
        ),
        (
            "cp1252",
            "The caf\u00e9 served a na\u00efve r\u00e9sum\u00e9 \u2014 \u201cquoted\u201d "
            "text, d\u00e9j\u00e0 vu \u2014 with 5 \u20ac coins.\n",
        ),
    ],
)
def test_legacy_encodings_are_detected(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    assert load(path, "l").text == text


def _one_line_error(exc: pytest.ExceptionInfo[DocumentError], path: Path) -> None:
    message = str(exc.value)
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["blob.txt", "blob.md"])
def test_binary_named_as_text_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    for data in (random.Random(0).randbytes(4000), bytes(range(1, 256)) * 16):
        path.write_bytes(data)
        with pytest.raises(DocumentError) as exc:
            load(path, "b")
        assert not isinstance(exc.value, EmptyDocumentError)
        _one_line_error(exc, path)


@pytest.mark.parametrize("name", ["e.txt", "e.md", "e.html", "e.pdf", "e.docx"])
@pytest.mark.parametrize("data", [b"", b"  \r\n\t\n \n"])
def test_empty_files_are_empty_documents(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(EmptyDocumentError) as exc:
        load(path, "e")
    _one_line_error(exc, path)


def test_files_without_text_are_empty_documents(tmp_path: Path) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<html><head><title>T</title><script>x()</script></head><body> </body></html>")
    empty_docx = tmp_path / "blank.docx"
    document = docx.Document()
    document.add_paragraph("   ")
    document.save(empty_docx)
    spaces = tmp_path / "nbsp.txt"
    spaces.write_text("\u00a0\u00a0\n\u2003\n")
    for path in (page, empty_docx, spaces):
        with pytest.raises(EmptyDocumentError) as exc:
            load(path, "e")
        _one_line_error(exc, path)


def _zip_not_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    return buffer.getvalue()


def _truncated_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Some text that will be cut off.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()[:2000]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("random.pdf", lambda: random.Random(1).randbytes(5000)),
        pytest.param(
            "half.pdf",
            lambda: SOLANA_PDF.read_bytes()[: SOLANA_PDF.stat().st_size // 2],
            marks=needs_shared,
        ),
        pytest.param("head.pdf", lambda: SOLANA_PDF.read_bytes()[:1000], marks=needs_shared),
        ("fake.pdf", lambda: b"%PDF-1.7\n" + b"garbage\n" * 100),
        ("zip.docx", _zip_not_docx),
        ("random.docx", lambda: random.Random(2).randbytes(5000)),
        ("cut.docx", _truncated_docx),
    ],
)
def test_corrupt_files_raise_one_line_document_error(
    tmp_path: Path, name: str, make: Callable[[], bytes]
) -> None:
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(DocumentError) as exc:
        load(path, "c")
    _one_line_error(exc, path)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    odd = tmp_path / "sheet.xlsx"
    odd.write_bytes(b"data")
    with pytest.raises(UnsupportedFileError, match="xlsx"):
        load(odd, "x")
    gone = tmp_path / "gone.txt"
    with pytest.raises(DocumentError) as exc:
        load(gone, "g")
    _one_line_error(exc, gone)


def test_content_hash_follows_bytes_not_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Same words.")
    b.write_text("Same words.")
    assert load(a, "a").content_hash == load(b, "b").content_hash
    b.write_text("Same words!")
    assert load(a, "a").content_hash != load(b, "b").content_hash


# --- sentences ----------------------------------------------------------------


def sentence_texts(text: str) -> list[str]:
    spans = split_sentences(text)
    for s, e in spans:
        assert text[s:e] == text[s:e].strip() and s < e
    return [text[s:e] for s, e in spans]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Some fruits, e.g. Apples, are red. Others are not.",
            ["Some fruits, e.g. Apples, are red.", "Others are not."],
        ),
        (
            "Dr. Smith met Prof. Jones. They talked.",
            ["Dr. Smith met Prof. Jones.", "They talked."],
        ),
        ("The U.S. Army moved in. Nobody left.", ["The U.S. Army moved in.", "Nobody left."]),
        (
            "President A. Lukashenka met V. Putin in Minsk. They signed it.",
            ["President A. Lukashenka met V. Putin in Minsk.", "They signed it."],
        ),
        (
            "He said, \u201cWe will stay.\u201d Then he left. \u2018Fine.\u2019 She agreed.",
            [
                "He said, \u201cWe will stay.\u201d",
                "Then he left.",
                "\u2018Fine.\u2019",
                "She agreed.",
            ],
        ),
        ("Why? Because! Yes\u2026 Done.", ["Why?", "Because!", "Yes\u2026", "Done."]),
        (
            "Key points:\n\u2022 First point\n\u2022 Second point\n- third one\n1. numbered",
            [
                "Key points:",
                "\u2022 First point",
                "\u2022 Second point",
                "- third one",
                "1. numbered",
            ],
        ),
        (
            "Heading without stop\n\nBody starts here.",
            ["Heading without stop", "Body starts here."],
        ),
        (
            "It costs 3.5 dollars. See fig. 2 for more.",
            ["It costs 3.5 dollars.", "See fig. 2 for more."],
        ),
        ("  Padded sentence.   \r\n  ", ["Padded sentence."]),
        ("", []),
        (" \n\t ", []),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentence_texts(text) == expected


def test_sentences_in_a_range_stay_in_it() -> None:
    text = "Outside. Inside one. Inside two. Outside again."
    start, end = text.index("Inside"), text.index(" Outside again")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["Inside one.", "Inside two."]
    with pytest.raises(ValueError, match="bad range"):
        split_sentences(text, 10, 5)
    with pytest.raises(ValueError, match="bad range"):
        split_sentences(text, 0, len(text) + 1)


SENTENCE_ALPHABET = "abcXYZ \u00a0\n\r\t.!?\u2026\"'\u201c\u201d\u2018\u2019()-\u20221"


@PROPERTY
@given(text=st.text(alphabet=SENTENCE_ALPHABET, max_size=300), data=st.data())
def test_sentence_spans_cover_the_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = split_sentences(text, start, end)
    previous = start
    covered: set[int] = set()
    for s, e in spans:
        assert previous <= s < e <= end
        assert not text[s].isspace() and not text[e - 1].isspace()
        covered.update(range(s, e))
        previous = e
    assert covered >= {i for i in range(start, end) if not text[i].isspace()}


_NOT_ABBREVIATIONS = st.text(alphabet="bdfhjkmqwxyz", min_size=2, max_size=8)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.lists(_NOT_ABBREVIATIONS, min_size=1, max_size=12),
            st.sampled_from([".", "!", "?", ".\u201d", "?\u2019", "\u2026"]),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([" ", "  ", "\n", " \u00a0"]),
)
def test_plain_sentences_split_exactly(parts: list[tuple[list[str], str]], gap: str) -> None:
    sentences_in = [" ".join(words).capitalize() + end for words, end in parts]
    assert sentence_texts(gap.join(sentences_in)) == sentences_in

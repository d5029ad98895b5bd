"""PDF page text as people read it: paragraphs, not the lines a page was set in.

pypdf gives each page's text line by line, as laid out: a word hyphenated at a
line or page end is split ("block-" / "chain"), every line ends in a newline,
and the running header or footer and the page number are lines like any other.
A reader sees none of that; nor should a quote, a sentence's embedding or a
passage. :func:`page_paragraphs` turns the pages' lines into each page's
paragraphs; the loader joins them into the document text, so the offsets
invariant holds on the text as read.

Rules, each decided from the document itself (no dictionary is shipped):

- *Running lines*: a line among the first or last two of a page whose text, digits
  normalised, is among the first or last two of at least half the pages (and of
  three or more) is a header or footer; a line there that is only a page number
  ("3", "Page 3", "3 of 12", "- 3 -", "iv") is one too. Both are dropped.
- *Hyphens*: a line ending in a letter and "-" before a line starting lower-case
  is a word split for the line: the halves are joined ("block-" "chain" ->
  "blockchain"), unless the first half is itself hyphenated ("peer-to-" "peer") or
  part of an address ("https://example.com/en-" "us"), the document writes the
  word with its hyphen mid-line and never without ("peer-" "to-peer"), or, when the
  document never writes the joined word, a half is one that makes compounds
  ("self-" "organizing", "decision-" "making"). A line-end hyphen before an
  upper-case letter or a digit ("non-" "English", "2020-" "2025") is kept, with no
  space. A word split across a page break goes whole to the page it starts on.
- *Line breaks*: a break is soft (a space) when the next line starts lower-case or
  goes on a hyphenated word, or when the line is nearly as long as the document's
  full lines (80% of its 80th percentile) and the next one is not a heading after a
  sentence's end; it is a paragraph break otherwise (after a short line: a
  paragraph's last line, a heading, a figure's label), and before a bulleted or
  numbered line.

Measured on the BlockchainSolana paper (27 pages, pypdf 7.1): of its 192 words
hyphenated at a line end, 181 are joined and 11 kept (peer-to-peer, user-friendly,
decision-making, two addresses...), with none joined wrongly that a reading found;
its 26 page-number lines are dropped (it has no other running line); 741 line
breaks become spaces and 354 stay paragraph breaks. Its page hit went from 0.948
to 0.966 citing 331 characters instead of 378 (``benchmarks/solana_questions.py``).
"""

from __future__ import annotations

import re
from collections import Counter

_ZONE = 2  # lines at the top and at the bottom of a page where furniture sits
_PAGE_NUMBER = re.compile(
    r"(?:page\s+)?[-\u2013\u2014]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-\u2013\u2014]?"
    r"(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)
_BULLET = re.compile(r"(?:[\u2022\u25aa\u25cf\u25e6\u2023\u2013*-]|\d{1,2}[.)]|\([a-z0-9]\))\s")
_WORD = re.compile(r"[^\W\d_]+")
_COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
_SENTENCE_END = ".!?:"
# Halves that make a hyphenated compound, not a word split for the line ("self-" "organizing",
# "decision-" "making"), when the document never writes the joined word.
_COMPOUND_FIRST = frozenset(["self", "cross", "well", "high", "low", "user", "non"])
_COMPOUND_SECOND = frozenset(
    [
        "based",
        "driven",
        "oriented",
        "friendly",
        "like",
        "wide",
        "level",
        "scale",
        "free",
        "specific",
        "aware",
        "related",
        "centric",
        "intensive",
        "making",
        "time",
        "grained",
        "term",
        "side",
    ]
)


def page_paragraphs(pages: list[str]) -> list[list[str]]:
    """Each page's paragraphs, in order, from each page's extracted text.

    Returns one list per page (empty for a page with no text left); every paragraph is
    non-blank, has no newline, no running header or footer and no page number.
    """
    pages_lines = [_lines(page) for page in pages]
    running = _running(pages_lines)
    pages_lines = [_without_furniture(lines, running) for lines in pages_lines]
    words, compounds = _vocabulary(pages_lines)
    width = _full_width(pages_lines)
    previous: list[str] | None = None
    for lines in pages_lines:
        if previous and lines and _splits_word(previous[-1], lines[0]):
            head, _, rest = lines[0].partition(" ")
            previous[-1] = _glue(previous[-1], head, words, compounds)
            lines[:1] = [rest] if rest else []
        previous = lines or previous
    return [_paragraphs(lines, width, words, compounds) for lines in pages_lines]


def _lines(page: str) -> list[str]:
    """A page's non-blank lines, each with its runs of white space made one space."""
    out = []
    for line in page.replace("\x00", "").splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _zone(lines: list[str]) -> list[int]:
    return sorted(
        set(range(min(_ZONE, len(lines)))) | set(range(max(0, len(lines) - _ZONE), len(lines)))
    )


def _running(pages_lines: list[list[str]]) -> set[str]:
    """Keys of the lines that sit at the top or bottom of at least half the pages."""
    if len(pages_lines) < 3:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages_lines:
        seen.update({_key(lines[i]) for i in _zone(lines)})
    need = max(3, (len(pages_lines) + 1) // 2)
    return {key for key, count in seen.items() if count >= need}


def _without_furniture(lines: list[str], running: set[str]) -> list[str]:
    drop = {
        i for i in _zone(lines) if _key(lines[i]) in running or _PAGE_NUMBER.fullmatch(lines[i])
    }
    return [line for i, line in enumerate(lines) if i not in drop]


def _vocabulary(pages_lines: list[list[str]]) -> tuple[set[str], set[str]]:
    """The words the document writes whole, and the hyphenated ones it writes mid-line."""
    words: set[str] = set()
    compounds: set[str] = set()
    for lines in pages_lines:
        for line in lines:
            body = line[:-1] if line.endswith("-") else line
            words.update(w.lower() for w in _WORD.findall(body.replace("-", " ")))
            compounds.update(c.lower() for c in _COMPOUND.findall(body))
    return words, compounds


def _full_width(pages_lines: list[list[str]]) -> int:
    """The length of a full line of the document's body text (its 80th percentile)."""
    lengths = sorted(len(line) for lines in pages_lines for line in lines)
    return lengths[int(len(lengths) * 0.8)] if lengths else 0


def _split_half(line: str) -> str | None:
    """The first half of a word ``line`` ends by splitting (its last word, when that ends
    in a letter and a hyphen), without the hyphen; else None."""
    last = line[line.rfind(" ") + 1 :]
    return last[:-1] if len(last) >= 2 and last[-1] == "-" and last[-2].isalpha() else None


def _splits_word(line: str, following: str) -> bool:
    return _split_half(line) is not None and following[:1].islower()


def _glue(line: str, following: str, words: set[str], compounds: set[str]) -> str:
    """``line`` and the line after it, joined as a reader reads them."""
    first = _split_half(line)
    if first is not None and following[:1].islower():
        rest = _WORD.match(following)
        second = rest.group(0) if rest else ""
        whole = (first + second).lower()
        if (
            "-" in first
            or "/" in first
            or (f"{first}-{second}".lower() in compounds and whole not in words)
        ):
            return line + following
        if whole not in words and (
            first.lower() in _COMPOUND_FIRST or second.lower() in _COMPOUND_SECOND
        ):
            return line + following
        return line[:-1] + following
    if line.endswith("-") and following[:1].isalnum():
        return line + following
    return f"{line} {following}"


def _paragraphs(lines: list[str], width: int, words: set[str], compounds: set[str]) -> list[str]:
    paragraphs: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if not current:
            current = line
        elif _soft_break(lines[i - 1], line, width):
            current = _glue(current, line, words, compounds)
        else:
            paragraphs.append(current)
            current = line
    if current:
        paragraphs.append(current)
    return paragraphs


def _soft_break(line: str, following: str, width: int) -> bool:
    if _BULLET.match(following):
        return False
    if following[:1].islower() or (_split_half(line) is not None and following[:1].isalnum()):
        return True
    if len(line) < 0.8 * width:
        return False
    heading = len(following) < 0.6 * width and following[-1] not in ".,;:!?)"
    return not (line[-1] in _SENTENCE_END and heading)

"""Where a marked-up text's headings are: Markdown's ``#`` lines, reStructuredText's
underlined titles.

One reading of a heading line for the loaders (which make heading blocks and section
names of them) and the chat (which shows those lines as headings rather than as raw
``# Team notes``): what the heading's words are, what is markup around them, and its
level. Pure functions of the text; every span is offsets into the text given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A section adornment: one punctuation character repeated (docutils allows any of these).
RST_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+[ \t]*")
_MD_OPEN = re.compile(r" {0,3}(#{1,6})[ \t]+")
# A closing sequence: #s after a space, or the whole rest ("### ###" is an empty heading).
_MD_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_LINE = re.compile(r"[^\r\n]*")
_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class HeadingLine:
    """A heading in a text: ``text[start:end]`` is all of it, markup included (a Markdown
    line from its first ``#``; a reStructuredText title with its underline and overline),
    ``text[words[0]:words[1]]`` the words it shows. ``level`` counts from 1."""

    start: int
    end: int
    words: tuple[int, int]
    level: int


def md_heading(line: str) -> tuple[int, int, int] | None:
    """A Markdown ATX heading line's level and the offsets of its words in ``line``, or
    None. As CommonMark reads it: up to three spaces, one to six ``#`` and a space; a
    closing run of ``#`` only after a space, so "# C#" is the heading "C#"."""
    opened = _MD_OPEN.match(line)
    if opened is None or "\n" in line or "\r" in line:
        return None
    start = opened.end()
    rest = line[start:]
    closed = _MD_CLOSE.search(rest)
    end = start + (closed.start() if closed else len(rest.rstrip(" \t")))
    return len(opened.group(1)), start, max(start, end)


def heading_lines(text: str, fmt: str) -> list[HeadingLine]:
    """The headings of ``text`` in format ``fmt`` (``md`` or ``rst``; none for others),
    in order. A reStructuredText title's level is the order in which its adornment
    style (the character, and whether it is overlined) first appears in ``text``, as
    docutils assigns it: a part of a document may number its levels from another one."""
    if fmt == "md":
        return _md_lines(text)
    if fmt == "rst":
        return _rst_lines(text)
    return []


def _md_lines(text: str) -> list[HeadingLine]:
    out = []
    for m in _LINE.finditer(text):
        found = md_heading(m.group()) if m.group() else None
        if found is not None and found[1] < found[2]:
            level, a, b = found
            out.append(HeadingLine(m.start(), m.end(), (m.start() + a, m.start() + b), level))
    return out


def _rst_lines(text: str) -> list[HeadingLine]:
    lines: list[tuple[int, int]] = []  # each line's span, without its line break
    pos = 0
    for m in _BREAK.finditer(text):
        lines.append((pos, m.start()))
        pos = m.end()
    lines.append((pos, len(text)))

    def line(i: int) -> str:
        return text[lines[i][0] : lines[i][1]] if 0 <= i < len(lines) else ""

    def adornment(i: int) -> str | None:
        m = RST_ADORNMENT.fullmatch(line(i))
        return m.group(1) if m else None

    styles: dict[tuple[str, bool], int] = {}
    out = []
    for i in range(len(lines)):
        words = line(i).strip()
        under = adornment(i + 1)
        if not words or adornment(i) or under is None or len(line(i + 1).rstrip()) < len(words):
            continue
        over = adornment(i - 1) == under and len(line(i - 1).rstrip()) >= len(words)
        first = i - 1 if over else i
        if line(first - 1).strip():
            continue  # the last line of a paragraph, or an adornment of something else
        level = styles.setdefault((under, over), len(styles) + 1)
        a = lines[i][0] + len(line(i)) - len(line(i).lstrip())
        out.append(HeadingLine(lines[first][0], lines[i + 1][1], (a, a + len(words)), level))
    return out

"""Sentence boundaries as character offsets.

Hand-written because citations need exact offsets: llama-index's splitters
(and nltk's punkt through them) return strings and recover positions with
``str.find``, which misplaces repeated text and loses it when whitespace is
normalised. This splitter only ever reports spans of the text it was given.
"""

from __future__ import annotations

import re
from itertools import pairwise

# Words that end in a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "al",
        "fig",
        "figs",
        "eq",
        "eqs",
        "no",
        "nos",
        "vol",
        "pp",
        "p",
        "ed",
        "eds",
        "approx",
        "dept",
        "est",
        "inc",
        "ltd",
        "co",
        "corp",
        "gen",
        "col",
        "lt",
        "sgt",
        "rev",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
    ]
)

# A candidate boundary: terminal punctuation, optional closing quotes or
# brackets, then whitespace.
_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_BULLET_LINE = re.compile(r"\n(?=[ \t]*(?:[\u2022\u25aa\u25cf\u2013*-]|\d+[.)])\s)")


def _is_boundary(text: str, end: int) -> bool:
    """Whether a sentence really ends at ``end`` (just after its punctuation)."""
    match = re.search(r"(\S+)$", text[:end])
    word = match.group(1) if match else ""
    bare = word.rstrip("\"'\u201d\u2019)]").rstrip(".!?\u2026").lstrip("(\"'\u201c\u2018[")
    if word.rstrip("\"'\u201d\u2019)]").endswith("."):
        if bare.lower() in _ABBREVIATIONS:
            return False
        if len(bare) == 1 and bare.isalpha():  # an initial: "A. Lukashenka"
            return False
        if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", bare):  # "U.S", "e.g"
            return False
    rest = text[end:].lstrip()
    if not rest:
        return True
    first = rest[0]
    return not first.islower()


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences.

    Returns ``(start, end)`` offsets into ``text``, in order, covering every
    non-blank character of the range; each span is trimmed of surrounding
    whitespace. Blank lines and bulleted lines always start a new sentence.
    """
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"bad range {start}:{end} for a text of {len(text)} characters")
    cuts = {start, end}
    segment = text[start:end]
    for pattern in (_BLANK_LINE, _BULLET_LINE):
        for m in pattern.finditer(segment):
            cuts.add(start + m.end())
    for m in _END.finditer(segment):
        if _is_boundary(segment, m.end()):
            cuts.add(start + m.end())
    spans: list[tuple[int, int]] = []
    ordered = sorted(cuts)
    for a, b in pairwise(ordered):
        s, e = _trim(text, a, b)
        if s < e:
            spans.append((s, e))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def word_count(text: str) -> int:
    """Whitespace-separated words, the unit of passage sizes."""
    return len(text.split())

"""What parsing one file may cost, and the cheap checks that hold it to that.

A file over a limit fails alone with :class:`LimitExceeded`, one line naming
the file, the limit and the ``FOOTNOTES_*`` variable that sets it; the others
in the sync are ingested. Each check runs before the expensive step it
guards, where the format allows: a .docx's zip directory and its streamed
inflate (python-docx reads every part into memory before anything else), its
paragraphs counted in the inflated XML before python-docx makes an object of
each, an HTML tree's depth and size while BeautifulSoup builds it, a PDF's
page count before any text is extracted and the time taken between pages.

The defaults, measured on this machine:

- A .docx whose document.xml inflates to 1.2 GB of whitespace (1.2 MB on disk)
  took the server from 0.8 to 3.1 GB RSS: about 2 bytes for each inflated one,
  so 200 MB inflated costs about 400 MB. Real documents inflate to a few MB,
  more with pictures; 1,000 parts is far above a real one (tens, and one a picture).
- python-docx took 1.5 ms a paragraph, nearly all of it in style lookups; with
  those cached (``loaders._read_docx``) 100,000 paragraphs of text take 6.5 s
  and 400,000 empty ones 18 s. 100,000 is a 2,000-page book; 50 MB of
  ``<w:p/>`` is 8 million, refused in 0.04 s by the count.
- BeautifulSoup's html.parser builds about 30,000 elements a second, at about
  1.1 KB each (1 million: 28 s, 1.1 GB). The largest of the 5,306 pages of the
  kernel and Python documentation has 100,194 elements (4.1 MB) and the deepest
  nests 28 levels; 250,000 elements (about 9 s, 300 MB), 20 MB and 256 levels
  leave room for 2.5, 5 and 9 times those.
- pypdf extracts about 17 pages a second (BlockchainSolana: 27 pages in 1.6 s):
  2,000 pages and 90 s.
- 20 million characters of text is about 3 million words (several thousand
  pages); every stage after parsing grows with it.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from footnotes.errors import LimitExceeded
from footnotes.settings import Settings

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

MB = 1 << 20


@dataclass(frozen=True)
class ParseLimits:
    """The limits one parse runs under; field names are the :class:`Settings` fields."""

    max_docx_inflated_mb: int
    max_docx_parts: int
    max_docx_paragraphs: int
    max_html_mb: int
    max_html_depth: int
    max_html_elements: int
    max_pdf_pages: int
    max_pdf_seconds: float
    max_text_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @classmethod
    def defaults(cls) -> ParseLimits:
        """The :class:`Settings` defaults (not the environment): for callers with no settings."""
        return cls(**{f.name: Settings.model_fields[f.name].default for f in fields(cls)})


def setting_name(field: str) -> str:
    """The environment variable of a :class:`Settings` field: ``FOOTNOTES_MAX_HTML_MB``."""
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def exceeded(path: Path | str, what: str, field: str) -> LimitExceeded:
    """The error for ``path`` over the limit ``field``: ``"<path>: <what> (FOOTNOTES_...)"``."""
    return LimitExceeded(f"{path}: {what} ({setting_name(field)})")


def check_text(path: Path, length: int, limits: ParseLimits) -> None:
    """Raise when a document's text of ``length`` characters is over the limit."""
    if length > limits.max_text_chars:
        raise exceeded(
            path,
            f"has more text than the {limits.max_text_chars:,}-character limit",
            "max_text_chars",
        )


# --- docx ------------------------------------------------------------------------

_PARAGRAPH = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?p[\s/>]")
"""A paragraph element under any namespace prefix (``<w:p>``, ``<w:p/>``, ``<a:p ...>``),
not ``<w:pPr>``: a hostile file may bind WordprocessingML to another prefix."""


def check_docx(path: Path, data: bytes, limits: ParseLimits) -> None:
    """Refuse a .docx before python-docx reads it: too many parts, too many bytes
    inflated (the zip directory's sizes, then the bytes an actual inflate yields, since
    a directory can lie; CPython's zipfile also stops at the directory's size and then
    fails the CRC, so the count is a second line), or too many paragraphs. Streams each
    part once, a megabyte at a time; a corrupt archive is left for python-docx to report."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return
    cap = limits.max_docx_inflated_mb * MB
    with archive:
        parts = archive.infolist()
        if len(parts) > limits.max_docx_parts:
            raise exceeded(
                path, f"has more than the {limits.max_docx_parts:,}-part limit", "max_docx_parts"
            )
        if sum(p.file_size for p in parts) > cap:
            raise _inflates_past(path, limits)
        inflated = paragraphs = 0
        for part in parts:
            carry = b""
            try:
                stream = archive.open(part)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError):
                return
            with stream:
                while True:
                    try:
                        chunk = stream.read(MB)
                    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                        return  # bad CRC, truncated data: python-docx says so
                    if not chunk:
                        break
                    inflated += len(chunk)
                    if inflated > cap:
                        raise _inflates_past(path, limits)
                    buffer = carry + chunk
                    # A match holds one "<": cut at the last one, if a tag may be unfinished.
                    cut = buffer.rfind(b"<")
                    if cut < 0 or len(buffer) - cut > 40:
                        cut = len(buffer)
                    paragraphs += len(_PARAGRAPH.findall(buffer, 0, cut))
                    carry = buffer[cut:]
                    if paragraphs > limits.max_docx_paragraphs:
                        raise exceeded(
                            path,
                            f"has more than the {limits.max_docx_paragraphs:,}-paragraph limit",
                            "max_docx_paragraphs",
                        )


def _inflates_past(path: Path, limits: ParseLimits) -> LimitExceeded:
    return exceeded(
        path,
        f"inflates past the {limits.max_docx_inflated_mb} MB limit",
        "max_docx_inflated_mb",
    )


# --- html ------------------------------------------------------------------------


def check_html_size(path: Path, data: bytes, limits: ParseLimits) -> None:
    if len(data) > limits.max_html_mb * MB:
        raise exceeded(path, f"is larger than the {limits.max_html_mb} MB limit", "max_html_mb")


def parse_html(path: Path, data: bytes, limits: ParseLimits) -> BeautifulSoup:
    """``BeautifulSoup(data, "html.parser")``, stopped as soon as the tree it builds
    nests deeper or holds more elements than the limits allow (30 MB of nested
    ``<div>`` took 102 s and 4.9 GB before a RecursionError; 10 MB of them now
    stop at the 257th level in 0.16 s)."""
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    class LimitedSoup(BeautifulSoup):
        def pushTag(self, tag: Tag) -> None:
            # The soup itself is the first tag pushed, so the stack is depth + 1.
            if len(self.tagStack) > limits.max_html_depth:
                raise exceeded(
                    path,
                    f"nests elements deeper than the {limits.max_html_depth}-level limit",
                    "max_html_depth",
                )
            counts[0] += 1
            if counts[0] > limits.max_html_elements + 1:
                raise exceeded(
                    path,
                    f"has more than the {limits.max_html_elements:,}-element limit",
                    "max_html_elements",
                )
            super().pushTag(tag)

    counts = [0]  # not an attribute: BeautifulSoup answers unknown attributes with find()
    return LimitedSoup(data, "html.parser")


# --- pdf -------------------------------------------------------------------------


def check_pdf_pages(path: Path, pages: int, limits: ParseLimits) -> None:
    if pages > limits.max_pdf_pages:
        raise exceeded(
            path,
            f"has {pages:,} pages, more than the {limits.max_pdf_pages:,}-page limit",
            "max_pdf_pages",
        )


def pdf_overtime(path: Path, page: int, limits: ParseLimits) -> LimitExceeded:
    return exceeded(
        path,
        f"text extraction passed the {limits.max_pdf_seconds:g} s limit at page {page:,}",
        "max_pdf_seconds",
    )

"""Receiving uploads: safe file names, and a streamed multipart body with a size limit.

Built on python-multipart's push parser (what Starlette itself uses) rather than
``Request.form()``, because the form parser spools every file whole before the
route sees it: here the bytes are counted as they arrive and the body is
refused with 413 the moment it passes ``max_upload_mb``, with nothing kept.
"""

import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from starlette.concurrency import run_in_threadpool

from footnotes.errors import UnsupportedFileError
from footnotes.index.sync import FileOutcome
from footnotes.ingest.loaders import file_format

FILES_FIELD = "files"
MAX_FILES = 100
_MAX_FIELD = 1024
_UNSAFE_CHARS = re.compile(r"[^\w.()+,=@ -]+")
# Browsers send a file name in multipart/form-data with these three characters
# percent-encoded (WHATWG HTML, "multipart/form-data encoding algorithm"); nothing else is.
_FORM_ESCAPES = re.compile(r"%(22|0A|0D)", re.IGNORECASE)


def safe_name(sent: str) -> str:
    """A file name that is safe as a base name in the uploads folder, or "" if none is left.

    Undoes the browser's form escapes (``%22`` is ``"``), keeps only the last path
    component (``/`` or ``\\``), drops control characters, replaces each run of other
    unsafe characters with one ``_`` (``my "notes".txt`` -> ``my _notes_.txt``; nothing
    is percent-encoded), and strips leading and trailing dots and spaces (no hidden
    files, no ``..``).
    """
    name = _FORM_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), sent)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable())
    name = _UNSAFE_CHARS.sub("_", name).strip(" .")
    if len(name.encode("utf-8")) > 200:
        stem, suffix = os.path.splitext(name)
        name = (
            stem.encode("utf-8")[: 200 - len(suffix.encode("utf-8"))]
            .decode("utf-8", "ignore")
            .rstrip(" .")
            + suffix
        )
    return name if name not in ("", ".", "..") else ""


def check_name(sent: str) -> tuple[str, FileOutcome | None]:
    """The safe name for a file sent as ``sent``, and, if it is refused, why.

    Refused: a name with nothing usable left, or a type Footnotes does not read.
    """
    name = safe_name(sent)
    if not name:
        return "", FileOutcome("", "failed", sent, f"{sent!r}: no usable file name")
    try:
        file_format(Path(name))
    except UnsupportedFileError as exc:
        return name, FileOutcome(name, "skipped", sent, str(exc))
    return name, None


class TooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


@dataclass
class Received:
    """One uploaded file, staged: the name it was sent with and where its bytes are."""

    sent: str
    staged: Path
    size: int = 0


@dataclass
class Upload:
    """A parsed upload: the staged files, in order, and the collection form field."""

    files: list[Received] = field(default_factory=list)
    collection: str | None = None


class MultipartReceiver:
    """Streams a ``multipart/form-data`` body: file parts to staging files, counting bytes."""

    def __init__(self, staging: Path, limit: int, charset: str = "utf-8") -> None:
        self.staging = staging
        self.limit = limit
        self.charset = charset
        self.upload = Upload()
        self.received = 0
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._file: Received | None = None
        self._handle: IO[bytes] | None = None
        self._field: str | None = None
        self._field_data = bytearray()
        self._pending: list[tuple[IO[bytes], bytes]] = []
        self._handles: list[IO[bytes]] = []

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            return raw.decode("latin-1")

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._file = None
        self._handle = None
        self._field = None
        self._field_data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        name = self._decode(options.get(b"name", b""))
        if b"filename" not in options:
            self._field = name
            return
        if name != FILES_FIELD:
            raise BadUpload(f"upload files in the form field {FILES_FIELD!r}, not {name!r}")
        if len(self.upload.files) >= MAX_FILES:
            raise BadUpload(f"at most {MAX_FILES} files per upload")
        staged = self.staging / f"{len(self.upload.files)}.part"
        self._file = Received(self._decode(options[b"filename"]), staged)
        self._handle = staged.open("wb")
        self._handles.append(self._handle)
        self.upload.files.append(self._file)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None and self._handle is not None:
            self.received += end - start
            if self.received > self.limit:
                raise TooLarge
            self._file.size += end - start
            self._pending.append((self._handle, data[start:end]))
        elif self._field is not None:
            self._field_data += data[start:end]
            if len(self._field_data) > _MAX_FIELD:
                raise BadUpload(f"form field {self._field!r} is longer than {_MAX_FIELD} bytes")

    def on_part_end(self) -> None:
        if self._handle is not None:
            self._pending.append((self._handle, b""))  # b"" marks: close after writing
        elif self._field == "collection":
            self.upload.collection = self._decode(bytes(self._field_data)).strip() or None

    def on_end(self) -> None:
        self.ended = True

    def flush(self) -> None:
        """Write the file data parsed so far (called in a worker thread)."""
        pending, self._pending = self._pending, []
        for handle, chunk in pending:
            if chunk:
                handle.write(chunk)
            else:
                handle.close()

    def close(self) -> None:
        """Close every staging file (the caller removes the staging folder)."""
        for handle in self._handles:
            handle.close()

    async def receive(self, boundary: bytes, chunks: AsyncIterator[bytes]) -> Upload:
        from python_multipart.multipart import MultipartParser

        parser = MultipartParser(boundary, {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        })  # fmt: skip
        async for chunk in chunks:
            if chunk:
                parser.write(chunk)
                if self._pending:
                    await run_in_threadpool(self.flush)
        parser.finalize()
        if not self.ended:
            raise BadUpload("the multipart body ends before its closing boundary")
        return self.upload

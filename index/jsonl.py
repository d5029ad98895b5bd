"""JSON lines read one line at a time, for ``ask --batch`` and ``eval`` question files.

A question file may be large or hostile, so it is never read whole: each line
is read with a byte limit (``max_body_kb``, the API's body limit, since a line
is the same shape as an ``/api/ask`` body), decoded and parsed alone, and a
bad one is reported as ``FILE:N: reason``, the way compilers name a line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from footnotes.errors import InputError

_BOM = b"\xef\xbb\xbf"


def at(path: Path, number: int, reason: object) -> InputError:
    """The error for line ``number`` of ``path``: ``FILE:N: reason``."""
    return InputError(f"{path}:{number}: {reason}")


def read_json_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of ``path``, counted from 1.

    Raises :class:`InputError` (``FILE:N: reason``) at the first line that is longer
    than ``max_line_bytes``, not UTF-8, or not JSON, and ``FILE: reason`` when the file
    cannot be read; the lines before it have been yielded.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(max_line_bytes + 1)
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
            if not raw:
                return
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                reason = f"line longer than {max_line_bytes:,} bytes (FOOTNOTES_MAX_BODY_KB)"
                raise at(path, number, reason)
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 text (byte {exc.start + 1} of the line)"
                raise at(path, number, reason) from exc
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise at(path, number, f"invalid JSON ({exc.msg}, column {exc.colno})") from exc
            yield number, value

"""Which files a sync covers: folders walked, types checked, document ids given.

A document's id is its path relative to the folder it was found in, or its
file name when the file is named directly. Hidden files and folders are
left out. Nothing is read here but the folder listings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from footnotes.errors import FootnotesError
from footnotes.ingest.loaders import FORMATS, file_format, file_suffix


@dataclass(frozen=True)
class Source:
    """A file to ingest, and the document it becomes."""

    path: Path
    doc_id: str
    root: str  # the folder it was found in, "" for a file named directly


@dataclass(frozen=True)
class Rejected:
    """A path that will not be ingested: ``missing`` (a failure) or of an unsupported type."""

    document: str
    path: str
    reason: str
    missing: bool = False


@dataclass
class Discovery:
    """What the given paths hold."""

    sources: list[Source] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> Discovery:
    """Files to ingest (supported types, folders walked recursively, in sorted order)."""
    found = Discovery()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            root = path.resolve()
            found.folders.append(root)
            for file in sorted(_walk(root)):
                rel = file.relative_to(root).as_posix()
                if file_suffix(file) not in FORMATS:
                    reason = f"unsupported type {file.suffix or '(none)'!r}"
                    found.rejected.append(Rejected(rel, str(file), reason))
                    continue
                found.sources.append(Source(file, rel, str(root)))
        elif path.is_file():
            try:
                file_format(path)
            except FootnotesError as exc:
                found.rejected.append(Rejected(path.name, str(path), str(exc)))
                continue
            found.sources.append(Source(path.resolve(), path.name, ""))
        else:
            reason = f"{path}: no such file or folder"
            found.rejected.append(Rejected(path.name, str(path), reason, missing=True))
    return found


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name

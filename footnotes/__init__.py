"""Footnotes: answers from your documents, every claim cited to the exact sentence.

Layers, data flowing one way: ``footnotes.ingest`` (files -> documents ->
passages) -> ``footnotes.index`` (store, retrieval, answers) -> ``footnotes.ui``
(CLI, chat, HTTP API). Heavy libraries load only where they are used.
"""

from footnotes.errors import (
    ConfigError,
    DocumentError,
    EmptyDocumentError,
    FootnotesError,
    InputError,
    LimitExceeded,
    NotFound,
    StoreError,
    UnsupportedFileError,
)
from footnotes.settings import Settings

__all__ = [
    "ConfigError",
    "DocumentError",
    "EmptyDocumentError",
    "FootnotesError",
    "InputError",
    "LimitExceeded",
    "NotFound",
    "Settings",
    "StoreError",
    "UnsupportedFileError",
]
